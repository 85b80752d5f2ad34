"""The administrative subcommands: init, check, user, --help."""

import os
import stat
import subprocess

import pytest

from conftest import DOMAIN, describe, parse_conf, free_ports


@pytest.fixture
def inst_dir(tmp_path, run_postern):
    d = tmp_path / "inst"
    p1, p2, p3 = free_ports(3)
    cp = run_postern("init", d, "--submission", f"127.0.0.1:{p1}",
                     "--smtps", f"127.0.0.1:{p2}", "--mx", f"127.0.0.1:{p3}",
                     "--domain", DOMAIN)
    assert cp.returncode == 0, describe(cp)
    return d


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# -- init

def test_init_creates_instance_files(inst_dir):
    for name in ("postern.conf", "cert.pem", "key.pem", "users"):
        assert (inst_dir / name).is_file(), f"{name} missing"
    for name in ("spool", "mail"):
        assert (inst_dir / name).is_dir(), f"{name}/ missing"
    assert (inst_dir / "users").read_text().strip() == "", "users file is not empty"


def test_init_key_is_private(inst_dir):
    assert mode(inst_dir / "key.pem") == 0o600, oct(mode(inst_dir / "key.pem"))


def test_init_users_file_not_world_accessible(inst_dir):
    assert mode(inst_dir / "users") & 0o007 == 0, oct(mode(inst_dir / "users"))


def test_init_certificate_is_self_signed_ecdsa_p256(inst_dir):
    cp = subprocess.run(["openssl", "x509", "-in", str(inst_dir / "cert.pem"), "-noout",
                         "-text"], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert "id-ecPublicKey" in cp.stdout
    assert "prime256v1" in cp.stdout or "P-256" in cp.stdout
    subj = subprocess.run(["openssl", "x509", "-in", str(inst_dir / "cert.pem"), "-noout",
                           "-subject", "-issuer"], capture_output=True, text=True,
                          timeout=30).stdout.splitlines()
    assert subj[0].split("=", 1)[1].strip() == subj[1].split("=", 1)[1].strip(), subj


def test_init_key_matches_certificate(inst_dir):
    pub_cert = subprocess.run(["openssl", "x509", "-in", str(inst_dir / "cert.pem"),
                               "-noout", "-pubkey"], capture_output=True, timeout=30).stdout
    pub_key = subprocess.run(["openssl", "pkey", "-in", str(inst_dir / "key.pem"),
                              "-pubout"], capture_output=True, timeout=30).stdout
    assert pub_cert and pub_cert == pub_key


def test_init_defaults(tmp_path, run_postern):
    d = tmp_path / "defaults"
    cp = run_postern("init", d)
    assert cp.returncode == 0, describe(cp)
    entries = parse_conf(d / "postern.conf")
    values = {(s, k): v for s, k, v, _ in entries}
    assert values.get(("server", "hostname")) == "localhost"
    assert "example.test" in values.get(("delivery", "local_domains"), "")
    addresses = [v for s, k, v, _ in entries if s.startswith("listener ") and k == "address"]
    assert any("127.0.0.1:5870" in a for a in addresses), addresses
    assert any("127.0.0.1:4650" in a for a in addresses), addresses


def test_init_options_are_written(tmp_path, run_postern):
    d = tmp_path / "opts"
    p1, p2, p3 = free_ports(3)
    cp = run_postern("init", d, "--hostname", "mx.other.test", "--domain", "other.test",
                     "--submission", f"127.0.0.1:{p1}", "--smtps", f"127.0.0.1:{p2}",
                     "--mx", f"127.0.0.1:{p3}")
    assert cp.returncode == 0, describe(cp)
    entries = parse_conf(d / "postern.conf")
    values = {(s, k): v for s, k, v, _ in entries}
    assert values.get(("server", "hostname")) == "mx.other.test"
    assert "other.test" in values.get(("delivery", "local_domains"), "")
    addresses = " ".join(v for s, k, v, _ in entries
                         if s.startswith("listener ") and k == "address")
    for p in (p1, p2, p3):
        assert f"127.0.0.1:{p}" in addresses, addresses


def test_init_refuses_to_overwrite(inst_dir, run_postern):
    before = (inst_dir / "cert.pem").read_bytes()
    conf_before = (inst_dir / "postern.conf").read_bytes()
    cp = run_postern("init", inst_dir)
    assert cp.returncode == 2, describe(cp)
    assert (inst_dir / "cert.pem").read_bytes() == before
    assert (inst_dir / "postern.conf").read_bytes() == conf_before


# -- check

def test_check_fresh_instance_ok(inst_dir, run_postern):
    cp = run_postern("check", "-c", inst_dir / "postern.conf")
    assert cp.returncode == 0, describe(cp)


def _insert_after_section(conf, section, line):
    """Insert `line` right after the [section] header; returns its 1-based number."""
    lines = conf.read_text().splitlines()
    for i, l in enumerate(lines):
        if l.strip().lower() == f"[{section}]":
            lines.insert(i + 1, line)
            conf.write_text("\n".join(lines) + "\n")
            return i + 2
    raise AssertionError(f"[{section}] not found in {conf}")


def test_check_unknown_key_names_file_and_line(inst_dir, run_postern):
    conf = inst_dir / "postern.conf"
    lineno = _insert_after_section(conf, "server", "hostnmae = typo.example.test")
    cp = run_postern("check", "-c", conf)
    assert cp.returncode == 2, describe(cp)
    assert f"postern.conf:{lineno}:" in cp.stderr, describe(cp)


def test_check_bad_value_names_file_and_line(inst_dir, run_postern):
    conf = inst_dir / "postern.conf"
    lineno = _insert_after_section(conf, "server", "max_errors = lots")
    cp = run_postern("check", "-c", conf)
    assert cp.returncode == 2, describe(cp)
    assert f"postern.conf:{lineno}:" in cp.stderr, describe(cp)


def test_check_bad_listener_tls_names_line(inst_dir, run_postern):
    conf = inst_dir / "postern.conf"
    entries = parse_conf(conf)
    tls_lines = [n for s, k, v, n in entries if s.startswith("listener ") and k == "tls"]
    assert tls_lines, "no listener tls key in the generated configuration"
    lines = conf.read_text().splitlines()
    lines[tls_lines[0] - 1] = "tls = sometimes"
    conf.write_text("\n".join(lines) + "\n")
    cp = run_postern("check", "-c", conf)
    assert cp.returncode == 2, describe(cp)
    assert f"postern.conf:{tls_lines[0]}:" in cp.stderr, describe(cp)


def test_check_missing_file_fails(tmp_path, run_postern):
    cp = run_postern("check", "-c", tmp_path / "nope.conf")
    assert cp.returncode in (1, 2), describe(cp)
    assert "nope.conf" in cp.stderr, describe(cp)


def test_serve_refuses_bad_config(inst_dir, run_postern):
    conf = inst_dir / "postern.conf"
    _insert_after_section(conf, "server", "hostnmae = typo.example.test")
    cp = run_postern("serve", "-c", conf, timeout=60)
    assert cp.returncode == 2, describe(cp)


# -- user

def user(run_postern, inst_dir, *args, input=None):
    return run_postern("user", *args[:1], "-c", inst_dir / "postern.conf", *args[1:],
                       input=input)


def test_user_add_and_list(inst_dir, run_postern):
    cp = user(run_postern, inst_dir, "add", "alice@example.test", "--password-stdin",
              input="Alice-Pass-91x\n")
    assert cp.returncode == 0, describe(cp)
    cp = user(run_postern, inst_dir, "list")
    assert cp.returncode == 0, describe(cp)
    assert "alice@example.test" in cp.stdout.split(), describe(cp)
    assert "Alice-Pass-91x" not in (inst_dir / "users").read_text()


def test_user_add_duplicate_fails(inst_dir, run_postern):
    cp = user(run_postern, inst_dir, "add", "alice@example.test", "--password-stdin",
              input="Alice-Pass-91x\n")
    assert cp.returncode == 0, describe(cp)
    before = (inst_dir / "users").read_bytes()
    cp = user(run_postern, inst_dir, "add", "alice@example.test", "--password-stdin",
              input="Other-Pass-93z\n")
    assert cp.returncode != 0, describe(cp)
    assert (inst_dir / "users").read_bytes() == before


def test_user_passwd_changes_hash(inst_dir, run_postern):
    cp = user(run_postern, inst_dir, "add", "alice@example.test", "--password-stdin",
              input="Alice-Pass-91x\n")
    assert cp.returncode == 0, describe(cp)
    before = (inst_dir / "users").read_text()
    cp = user(run_postern, inst_dir, "passwd", "alice@example.test", "--password-stdin",
              input="Alice-Pass-92y\n")
    assert cp.returncode == 0, describe(cp)
    after = (inst_dir / "users").read_text()
    assert after != before
    assert "alice@example.test" in after
    assert "Alice-Pass-92y" not in after


def test_user_passwd_unknown_user_fails(inst_dir, run_postern):
    cp = user(run_postern, inst_dir, "passwd", "nobody@example.test", "--password-stdin",
              input="Nobody-Pass-94w\n")
    assert cp.returncode != 0, describe(cp)


def test_user_del(inst_dir, run_postern):
    for name in ("alice@example.test", "bob@example.test"):
        cp = user(run_postern, inst_dir, "add", name, "--password-stdin", input="Some-Pass-95v\n")
        assert cp.returncode == 0, describe(cp)
    cp = user(run_postern, inst_dir, "del", "alice@example.test")
    assert cp.returncode == 0, describe(cp)
    listed = user(run_postern, inst_dir, "list").stdout.split()
    assert "alice@example.test" not in listed
    assert "bob@example.test" in listed


def test_user_del_unknown_user_fails(inst_dir, run_postern):
    cp = user(run_postern, inst_dir, "del", "nobody@example.test")
    assert cp.returncode != 0, describe(cp)


def test_user_list_empty(inst_dir, run_postern):
    cp = user(run_postern, inst_dir, "list")
    assert cp.returncode == 0, describe(cp)
    assert "@" not in cp.stdout


def test_check_ok_after_users_added(inst_dir, run_postern):
    cp = user(run_postern, inst_dir, "add", "alice@example.test", "--password-stdin",
              input="Alice-Pass-91x\n")
    assert cp.returncode == 0, describe(cp)
    cp = run_postern("check", "-c", inst_dir / "postern.conf")
    assert cp.returncode == 0, describe(cp)


# -- usage

@pytest.mark.parametrize("sub", ["serve", "init", "user", "check", "hash", "version"])
def test_subcommand_help_exits_zero(run_postern, sub):
    cp = run_postern(sub, "--help")
    assert cp.returncode == 0, describe(cp)
    assert (cp.stdout + cp.stderr).strip(), "no help text"


def test_top_level_help_exits_zero(run_postern):
    cp = run_postern("--help")
    assert cp.returncode == 0, describe(cp)
    for sub in ("serve", "init", "user", "check"):
        assert sub in cp.stdout


def test_unknown_subcommand_is_usage_error(run_postern):
    cp = run_postern("frobnicate")
    assert cp.returncode == 2, describe(cp)


def test_unknown_option_is_usage_error(inst_dir, run_postern):
    cp = run_postern("check", "-c", inst_dir / "postern.conf", "--no-such-option")
    assert cp.returncode == 2, describe(cp)
