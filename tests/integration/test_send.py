"""postern send and postern sendmail, the client end (issue 5).

Against Postern itself (every mechanism it offers, STARTTLS and implicit TLS),
against independent servers (aiosmtpd from sink.py with AUTH PLAIN LOGIN over
TLS; Dovecot's submission service with SCRAM-SHA-256 and PLAIN, relaying into
Postern), against a server whose certificate does not verify, and against a
fake SCRAM server whose signature is wrong. Credentials from every source;
the accounts file; verbose traces never show a password or its base64.
sendmail -t -i from a cron-style shell script, delivered end to end both as a
client of the running server and through the local spool.
"""

import base64
import hashlib
import hmac
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import (USERS, _new_instance, b64, free_ports, have, headers,
                      port_accepts, sanitizer_report, token)

# aiosmtpd warns when AUTH is offered on a connection it cannot see is TLS
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS")

ALICE = "alice@example.test"
BOB = "bob@example.test"
PW = USERS[ALICE]
ALL_MECHS = ("SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 "
             "CRAM-MD5 PLAIN LOGIN")

EXIT_OK, EXIT_LOCAL, EXIT_USAGE, EXIT_CONNECT, EXIT_TLS, EXIT_AUTH, \
    EXIT_REJECTED, EXIT_TEMPFAIL = range(8)
EX_USAGE, EX_NOUSER, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM = 64, 67, 69, 75, 77


# --------------------------------------------------------------------------
# helpers


def clean_env(tmp, **extra):
    """An environment without the caller's accounts or passwords."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("POSTERN_") or k == "POSTERN"}
    env["HOME"] = str(tmp)
    env["XDG_CONFIG_HOME"] = str(Path(tmp) / "xdg")
    env["POSTERN_ACCOUNTS"] = str(Path(tmp) / "no-accounts")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(binary, args, tmp, input=None, env=None, argv0=None, timeout=120):
    if isinstance(input, str):
        input = input.encode()
    cp = subprocess.run([argv0 or binary, *map(str, args)], input=input,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        env=env if env is not None else clean_env(tmp),
                        timeout=timeout)
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    assert not sanitizer_report(cp.stderr), cp.stderr
    return cp


def show(cp):
    return f"exit {cp.returncode}\n--- stderr ---\n{cp.stderr}"


def server_args(inst, listener="submission"):
    """--server, TLS mode and the instance's self-signed certificate."""
    args = ["--server", f"127.0.0.1:{inst.ports[listener]}",
            "--cafile", inst.dir / "cert.pem", "--tls-name", inst.hostname]
    if listener == "smtps":
        args += ["--tls", "implicit"]
    return args


def offered(inst, listener="submission"):
    c = inst.client(listener)
    c.expect(220)
    c.ehlo_ok()
    if listener == "submission":
        c.starttls()
    mechs = c.ehlo_ok().keywords().get("AUTH", [])
    c.quit()
    return mechs


@pytest.fixture(scope="module")
def inst(postern, tmp_path_factory):
    i = _new_instance(postern, tmp_path_factory.mktemp("send"),
                      config=[("auth", "mechanisms", ALL_MECHS)])
    yield i
    problems = i.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + i.log_tail(), pytrace=False)


@pytest.fixture
def server(inst):
    offset = inst.log_size()
    yield inst
    assert inst.alive(), "postern serve died\n" + inst.log_tail()
    assert not sanitizer_report(inst.log_text(offset)), inst.log_tail()


def send_built(postern, inst, tmp, extra, listener="submission", env=None,
               tok=None, rcpt=BOB):
    tok = tok or token()
    args = ["send", *server_args(inst, listener), "--user", ALICE,
            "--from", ALICE, "--to", rcpt, "--subject", f"test {tok}",
            "--body", f"hello {tok}\n", *extra]
    cp = run(postern, args, tmp,
             env=env if env is not None else clean_env(tmp, POSTERN_PASSWORD=PW))
    return cp, tok


# --------------------------------------------------------------------------
# against Postern: every mechanism, both TLS modes


@pytest.mark.parametrize("listener", ["submission", "smtps"])
@pytest.mark.parametrize("mech", ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256",
                                  "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1",
                                  "CRAM-MD5", "PLAIN", "LOGIN"])
def test_mechanism(postern, server, tmp_path, mech, listener):
    if mech not in offered(server, listener):
        pytest.skip(f"{mech} is not offered by this build's server")
    cp, tok = send_built(postern, server, tmp_path, ["--auth", mech, "-v"],
                         listener)
    assert cp.returncode == EXIT_OK, show(cp)
    assert f"* authenticated with {mech}\n" in cp.stderr
    assert "verified" in cp.stderr
    found = server.wait_for(tok, users=[BOB])
    assert len(found) == 1
    assert PW not in cp.stderr


@pytest.mark.parametrize("listener", ["submission", "smtps"])
def test_automatic_choice_is_the_strongest(postern, server, tmp_path, listener):
    cp, tok = send_built(postern, server, tmp_path, ["-v"], listener)
    assert cp.returncode == EXIT_OK, show(cp)
    want = "SCRAM-SHA-256-PLUS" if "SCRAM-SHA-256-PLUS" in offered(
        server, listener) else "SCRAM-SHA-256"
    assert f"* authenticated with {want}\n" in cp.stderr
    assert server.wait_for(tok, users=[BOB])


def test_default_port_465_means_implicit_tls(postern, tmp_path):
    """No --tls: a server on port 465 gets implicit TLS. Checked on the
    trace of a refused connection: no plaintext greeting is waited for."""
    cp = run(postern, ["send", "--server", "127.0.0.1:465", "-v", "--timeout", "5",
                       "--from", ALICE, "--to", BOB, "--subject", "x"], tmp_path)
    # nothing listens there in the test environment: a connection failure,
    # never a usage error
    if cp.returncode == EXIT_CONNECT:
        assert "connect" in cp.stderr
    else:
        pytest.skip("something listens on port 465 here")


def test_plaintext_mechanism_needs_tls(postern, server, tmp_path):
    """--tls none: PLAIN is never sent in clear text unless forced, and the
    server refuses it anyway before TLS."""
    args = ["--tls", "none", "--auth", "PLAIN", "-v"]
    cp, tok = send_built(postern, server, tmp_path, args)
    assert cp.returncode == EXIT_AUTH, show(cp)
    assert "AUTH PLAIN" not in cp.stderr
    # Postern offers no mechanism before TLS on a STARTTLS listener, so the
    # client may stop at "does not offer AUTH" before its own TLS rule.
    assert ("plaintext mechanisms need TLS" in cp.stderr or
            "does not offer AUTH" in cp.stderr), show(cp)
    cp, tok = send_built(postern, server, tmp_path, args + ["--allow-plaintext"])
    assert cp.returncode == EXIT_AUTH, show(cp)
    assert not server.absent(tok)


def test_wrong_password(postern, server, tmp_path):
    cp, tok = send_built(postern, server, tmp_path, [],
                         env=clean_env(tmp_path, POSTERN_PASSWORD="wrong-One-9"))
    assert cp.returncode == EXIT_AUTH, show(cp)
    assert "535" in cp.stderr
    assert "wrong-One-9" not in cp.stderr


def test_recipient_refused(postern, server, tmp_path):
    tok = token()
    args = ["send", *server_args(server), "--user", ALICE, "--from", ALICE,
            "--to", BOB, "--to", "nobody@example.test", "--subject", tok,
            "--body", "partial"]
    cp = run(postern, args, tmp_path, env=clean_env(tmp_path, POSTERN_PASSWORD=PW))
    assert cp.returncode == EXIT_REJECTED, show(cp)
    assert "<nobody@example.test>: 550" in cp.stderr
    assert "sent to 1 of 2 recipients" in cp.stderr
    assert server.wait_for(tok, users=[BOB])


def test_connection_refused(postern, tmp_path):
    port = free_ports(1)[0]
    cp = run(postern, ["send", "--server", f"127.0.0.1:{port}", "--from", ALICE,
                       "--to", BOB, "--subject", "x"], tmp_path)
    assert cp.returncode == EXIT_CONNECT, show(cp)


def test_usage_errors(postern, tmp_path):
    cp = run(postern, ["send", "--from", ALICE, "--to", BOB, "--subject", "x"],
             tmp_path)
    assert cp.returncode == EXIT_USAGE and "no server" in cp.stderr
    cp = run(postern, ["send", "--server", "h", "--tls", "sometimes"], tmp_path)
    assert cp.returncode == EXIT_USAGE
    cp = run(postern, ["send", "--help"], tmp_path)
    assert cp.returncode == 0 and "exit codes" in cp.stdout


# -- certificates


def test_certificate_not_trusted(postern, server, tmp_path):
    """The instance's self-signed certificate is not in the system store:
    refused (both TLS modes) unless --insecure."""
    for listener in ("submission", "smtps"):
        tok = token()
        base = ["send", "--server", f"127.0.0.1:{server.ports[listener]}",
                "--user", ALICE, "--from", ALICE, "--to", BOB,
                "--subject", tok, "--body", "x"]
        if listener == "smtps":
            base += ["--tls", "implicit"]
        env = clean_env(tmp_path, POSTERN_PASSWORD=PW)
        cp = run(postern, base, tmp_path, env=env)
        assert cp.returncode == EXIT_TLS, show(cp)
        assert "not verified" in cp.stderr
        assert not server.absent(tok, wait=0.5)
        cp = run(postern, base + ["--insecure"], tmp_path, env=env)
        assert cp.returncode == EXIT_OK, show(cp)
        assert server.wait_for(tok, users=[BOB])


def test_certificate_wrong_name(postern, server, tmp_path):
    args = ["--server", f"127.0.0.1:{server.ports['submission']}",
            "--cafile", server.dir / "cert.pem", "--tls-name", "other.example.test"]
    cp = run(postern, ["send", *args, "--user", ALICE, "--from", ALICE, "--to",
                       BOB, "--subject", "x"], tmp_path,
             env=clean_env(tmp_path, POSTERN_PASSWORD=PW))
    assert cp.returncode == EXIT_TLS, show(cp)


# -- credentials


def test_password_command(postern, server, tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text(PW + "\n")
    cp, tok = send_built(postern, server, tmp_path,
                         ["--password-command", f"cat {pwfile}"],
                         env=clean_env(tmp_path))
    assert cp.returncode == EXIT_OK, show(cp)
    cp, _ = send_built(postern, server, tmp_path,
                       ["--password-command", "exit 3"], env=clean_env(tmp_path))
    assert cp.returncode == EXIT_LOCAL and "exit 3" in cp.stderr, show(cp)


def test_password_file_and_stdin(postern, server, tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text(PW + "\n")
    cp, tok = send_built(postern, server, tmp_path, ["--password-file", pwfile],
                         env=clean_env(tmp_path))
    assert cp.returncode == EXIT_OK, show(cp)
    tok = token()
    args = ["send", *server_args(server), "--user", ALICE, "--password-stdin",
            "--from", ALICE, "--to", BOB, "--subject", tok, "--body", "stdin"]
    cp = run(postern, args, tmp_path, input=PW + "\n", env=clean_env(tmp_path))
    assert cp.returncode == EXIT_OK, show(cp)
    assert server.wait_for(tok, users=[BOB])


def test_no_password(postern, server, tmp_path):
    cp, _ = send_built(postern, server, tmp_path, [], env=clean_env(tmp_path))
    assert cp.returncode == EXIT_USAGE and "no password" in cp.stderr, show(cp)


def test_message_from_stdin_with_header_recipients(postern, server, tmp_path):
    tok = token()
    msg = (f"From: Alice <{ALICE}>\r\nTo: Bob <{BOB}>\r\nBcc: {ALICE}\r\n"
           f"Subject: {tok}\r\n\r\nbody\r\n.leading dot\r\n")
    cp = run(postern, ["send", *server_args(server), "--user", ALICE], tmp_path,
             input=msg, env=clean_env(tmp_path, POSTERN_PASSWORD=PW))
    assert cp.returncode == EXIT_OK, show(cp)
    for user in (BOB, ALICE):
        (found,) = server.wait_for(tok, users=[user])
        data = found[2]
        assert not headers(data, "Bcc")
        assert b"\n.leading dot" in data.replace(b"\r\n", b"\n")
        assert headers(data, "Date") and headers(data, "Message-ID")


def test_verbose_never_shows_credentials(postern, server, tmp_path):
    secrets = [PW, b64(PW), b64(f"\0{ALICE}\0{PW}"), b64(f"{ALICE}\0{ALICE}\0{PW}")]
    for mech in ("PLAIN", "LOGIN", "SCRAM-SHA-256", "CRAM-MD5"):
        if mech not in offered(server):
            continue
        cp, _ = send_built(postern, server, tmp_path, ["-v", "--auth", mech])
        assert cp.returncode == EXIT_OK, show(cp)
        assert f"C: AUTH {mech}" in cp.stderr
        assert "<masked>" in cp.stderr
        for s in secrets:
            assert s not in cp.stderr, f"{mech}: credential in the trace"
        # the AUTH command lines carry nothing but the mechanism and the mask
        for line in cp.stderr.splitlines():
            if line.startswith("C: AUTH "):
                assert line == f"C: AUTH {mech} <masked>" or line == f"C: AUTH {mech}"
            if line.startswith("C: ") and not line[3:4].isupper():
                assert line in ("C: <masked>", "C: .") or \
                    line.startswith("C: <message:"), line


# -- the accounts file


def write_accounts(tmp_path, text, mode=0o600):
    p = tmp_path / "accounts"
    p.write_text(text)
    p.chmod(mode)
    return p


def account_text(inst, name="work", extra=""):
    return (f"[account {name}]\n"
            f"server = 127.0.0.1:{inst.ports['submission']}\n"
            f"tls = starttls\n"
            f"cafile = {inst.dir / 'cert.pem'}\n"
            f"tls_name = {inst.hostname}\n"
            f"user = {ALICE}\n"
            f"from = {ALICE}\n" + extra)


def test_accounts_file(postern, server, tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text(PW + "\n")
    acc = write_accounts(tmp_path, "# my accounts\ndefault = work\n\n" +
                         account_text(server, extra=f"password_command = cat {pwfile}\n") +
                         "\n[account other]\nserver = 127.0.0.1:1\n")
    env = clean_env(tmp_path, POSTERN_ACCOUNTS=acc)
    tok = token()
    cp = run(postern, ["send", "-a", "work", "--to", BOB, "--subject", tok,
                       "--body", "via account"], tmp_path, env=env)
    assert cp.returncode == EXIT_OK, show(cp)
    assert server.wait_for(tok, users=[BOB])
    tok = token()      # the default account
    cp = run(postern, ["send", "--to", BOB, "--subject", tok, "--body", "x"],
             tmp_path, env=env)
    assert cp.returncode == EXIT_OK, show(cp)
    cp = run(postern, ["send", "-a", "other", "--to", BOB, "--subject", "x",
                       "--from", ALICE], tmp_path, env=env)
    assert cp.returncode == EXIT_CONNECT, show(cp)
    cp = run(postern, ["send", "-a", "missing", "--to", BOB, "--subject", "x"],
             tmp_path, env=env)
    assert cp.returncode == EXIT_USAGE and "no account missing" in cp.stderr


def test_accounts_file_errors(postern, server, tmp_path):
    acc = write_accounts(tmp_path, account_text(server) + "colour = blue\n")
    cp = run(postern, ["send", "-a", "work", "--to", BOB, "--subject", "x"],
             tmp_path, env=clean_env(tmp_path, POSTERN_ACCOUNTS=acc))
    assert cp.returncode == EXIT_USAGE
    assert f"{acc}:8: unknown key 'colour'" in cp.stderr, cp.stderr
    # a password in a file others can read is refused, and not printed
    acc = write_accounts(tmp_path, account_text(server, extra=f"password = {PW}\n"),
                         mode=0o644)
    cp = run(postern, ["send", "-a", "work", "--to", BOB, "--subject", "x"],
             tmp_path, env=clean_env(tmp_path, POSTERN_ACCOUNTS=acc))
    assert cp.returncode == EXIT_USAGE and "others can read it" in cp.stderr
    assert PW not in cp.stderr
    acc.chmod(0o600)
    tok = token()
    cp = run(postern, ["send", "-a", "work", "--to", BOB, "--subject", tok,
                       "--body", "x"], tmp_path,
             env=clean_env(tmp_path, POSTERN_ACCOUNTS=acc))
    assert cp.returncode == EXIT_OK, show(cp)


# --------------------------------------------------------------------------
# OAUTHBEARER, XOAUTH2 and EXTERNAL, when the server side is configured


@pytest.fixture(scope="module")
def oauth_inst(postern, tmp_path_factory):
    try:
        from test_oauth import AUDIENCE, ISSUER, SCOPE, Keys
    except BaseException as e:      # pytest.importorskip raises Skipped
        pytest.skip(f"OAuth test helpers unavailable: {e}")
    keys = Keys()
    i = _new_instance(postern, tmp_path_factory.mktemp("send-oauth"), start=False)
    (i.dir / "jwks.json").write_text(keys.jwks())
    i.set("auth", "mechanisms", "PLAIN LOGIN OAUTHBEARER XOAUTH2")
    i.set("oauth", "jwks", "jwks.json")
    i.set("oauth", "issuer", ISSUER)
    i.set("oauth", "audience", AUDIENCE)
    i.set("oauth", "scope", SCOPE)
    i.start()
    yield i, keys
    problems = i.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + i.log_tail(), pytrace=False)


@pytest.mark.parametrize("mech", ["OAUTHBEARER", "XOAUTH2"])
@pytest.mark.parametrize("listener", ["submission", "smtps"])
def test_oauth2_token(postern, oauth_inst, tmp_path, mech, listener):
    i, keys = oauth_inst
    if mech not in offered(i, listener):
        pytest.skip(f"{mech} not offered")
    tok = token()
    jwt = keys.token()
    cp = run(postern, ["send", *server_args(i, listener), "--user", ALICE,
                       "--auth", mech, "-v", "--from", ALICE, "--to", BOB,
                       "--subject", tok, "--body", "token"], tmp_path,
             env=clean_env(tmp_path, POSTERN_OAUTH2_TOKEN=jwt))
    if cp.returncode == EXIT_AUTH and "535" in cp.stderr:
        pytest.skip("the server does not validate tokens yet")
    assert cp.returncode == EXIT_OK, show(cp)
    assert jwt not in cp.stderr
    assert i.wait_for(tok, users=[BOB])
    # the default with a token is OAUTHBEARER, then XOAUTH2
    cp = run(postern, ["send", *server_args(i, listener), "--user", ALICE,
                       "--oauth2-token-command", f"echo {jwt}", "-v",
                       "--from", ALICE, "--to", BOB, "--subject", tok,
                       "--body", "x"], tmp_path, env=clean_env(tmp_path))
    assert cp.returncode == EXIT_OK, show(cp)
    assert "* authenticated with OAUTHBEARER" in cp.stderr or \
        "OAUTHBEARER" not in offered(i, listener)


@pytest.fixture(scope="module")
def external_inst(postern, tmp_path_factory):
    try:
        from test_external import (add_extra_field, fingerprint, make_ca,
                                   make_client, write_pair)
        from cryptography.hazmat.primitives import serialization
    except BaseException as e:
        pytest.skip(f"EXTERNAL test helpers unavailable: {e}")
    root = tmp_path_factory.mktemp("send-external")
    ca_key, ca_cert = make_ca()
    alice = make_client(ca_key, ca_cert, ALICE)
    i = _new_instance(postern, root, start=False)
    (i.dir / "client-ca.pem").write_bytes(
        ca_cert.public_bytes(serialization.Encoding.PEM))
    i.set("tls", "client_ca", "client-ca.pem")
    i.set_listener("submission", "client_certificates", "request")
    i.set_listener("smtps", "client_certificates", "request")
    i.set("auth", "mechanisms", "PLAIN LOGIN EXTERNAL")
    add_extra_field(i, ALICE, "cert=sha256:" + fingerprint(alice[1]))
    i.start()
    yield i, write_pair(root, "alice", *alice)
    problems = i.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + i.log_tail(), pytrace=False)


@pytest.mark.parametrize("listener", ["submission", "smtps"])
def test_external_client_certificate(postern, external_inst, tmp_path, listener):
    i, (crt, key) = external_inst
    tok = token()
    cp = run(postern, ["send", *server_args(i, listener), "--cert", crt,
                       "--key", key, "-v", "--from", ALICE, "--to", BOB,
                       "--subject", tok, "--body", "cert"], tmp_path)
    if cp.returncode == EXIT_AUTH and "EXTERNAL" not in cp.stderr.split(
            "AUTH", 1)[-1][:400]:
        pytest.skip("the server does not offer EXTERNAL after a client "
                    "certificate yet")
    assert cp.returncode == EXIT_OK, show(cp)
    assert "* authenticated with EXTERNAL" in cp.stderr
    assert i.wait_for(tok, users=[BOB])


# --------------------------------------------------------------------------
# independent servers


@pytest.fixture
def certs(tmp_path):
    from sink import make_certs
    return make_certs(tmp_path / "certs")


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", None])
def test_aiosmtpd_plain_over_tls(postern, smtp_sink, certs, tmp_path, mode, mech):
    sink = smtp_sink(cert=(certs["cert"], certs["key"]),
                     require_starttls=(mode == "starttls"),
                     implicit_tls=(mode == "implicit"),
                     auth={"carol": "carol-Secret-3"})
    tok = token()
    args = ["send", "--server", f"127.0.0.1:{sink.port}", "--tls", mode,
            "--cafile", certs["ca"], "--user", "carol", "-v",
            "--from", "carol@example.net", "--to", "dave@example.net",
            "--subject", tok, "--body", "hello aiosmtpd"]
    if mech:
        args += ["--auth", mech]
    cp = run(postern, args, tmp_path,
             env=clean_env(tmp_path, POSTERN_PASSWORD="carol-Secret-3"))
    assert cp.returncode == EXIT_OK, show(cp)
    (msg,) = sink.wait_for(1)
    assert msg.login == "carol" and msg.tls
    assert msg.rcpt_tos == ["dave@example.net"]
    assert tok.encode() in msg.data
    assert "carol-Secret-3" not in cp.stderr
    assert f"* authenticated with {mech or 'PLAIN'}" in cp.stderr


def test_aiosmtpd_bad_certificate(postern, smtp_sink, certs, tmp_path):
    """A certificate from a CA we were not told to trust: refused; with
    --insecure the message goes through."""
    sink = smtp_sink(cert=(certs["cert"], certs["key"]), require_starttls=True,
                     auth={"carol": "carol-Secret-3"})
    args = ["send", "--server", f"127.0.0.1:{sink.port}", "--user", "carol",
            "--from", "carol@example.net", "--to", "dave@example.net",
            "--subject", "x", "--body", "y"]
    env = clean_env(tmp_path, POSTERN_PASSWORD="carol-Secret-3")
    cp = run(postern, args, tmp_path, env=env)
    assert cp.returncode == EXIT_TLS, show(cp)
    assert not sink.messages
    cp = run(postern, args + ["--insecure"], tmp_path, env=env)
    assert cp.returncode == EXIT_OK, show(cp)
    assert len(sink.wait_for(1)) == 1


def test_aiosmtpd_no_starttls(postern, smtp_sink, tmp_path):
    """A server without STARTTLS: refused unless --tls none; then no PLAIN."""
    sink = smtp_sink(auth={"carol": "carol-Secret-3"})
    args = ["send", "--server", f"127.0.0.1:{sink.port}", "--user", "carol",
            "--from", "carol@example.net", "--to", "dave@example.net",
            "--subject", "x", "--body", "y"]
    env = clean_env(tmp_path, POSTERN_PASSWORD="carol-Secret-3")
    cp = run(postern, args, tmp_path, env=env)
    assert cp.returncode == EXIT_TLS and "STARTTLS" in cp.stderr, show(cp)
    cp = run(postern, args + ["--tls", "none"], tmp_path, env=env)
    assert cp.returncode == EXIT_AUTH, show(cp)
    assert not sink.messages


# -- Dovecot's submission service: SCRAM-SHA-256 from an independent server


class DovecotSubmission:
    """Dovecot 2.3 submission (Debian: dovecot-submissiond) with a
    passwd-file of {PLAIN} passwords, relaying to a Postern MX listener."""

    USER, PASSWORD = "frank@example.test", "frank-Secret-6"

    def __init__(self, root, relay_port, certs):
        self.dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not (os.path.exists(self.dovecot) and
                os.path.exists("/usr/lib/dovecot/submission-login")):
            pytest.skip("Dovecot submission not installed "
                        "(Debian: dovecot-submissiond)")
        self.root = Path(root)
        # short base_dir (UNIX socket paths), readable by dovenull
        self.dir = Path(tempfile.mkdtemp(prefix="pds", dir="/tmp"))
        self.dir.chmod(0o755)
        self.port, self.sport = free_ports(2)
        self.relay_port = relay_port
        self.certs = certs
        self.proc = None

    def start(self):
        d = self.dir
        (d / "home").mkdir()
        (d / "users").write_text(
            f"{self.USER}:{{PLAIN}}{self.PASSWORD}:65534:65534::{d}/home::\n")
        (d / "dovecot.conf").write_text(f"""\
base_dir = {d}/run
state_dir = {d}/state
log_path = {self.root}/dovecot-submission.log
instance_name = postern-send-{d.name}
protocols = submission
listen = 127.0.0.1
ssl = required
ssl_cert = <{self.certs['cert']}
ssl_key = <{self.certs['key']}
auth_mechanisms = plain login scram-sha-256 scram-sha-1
auth_failure_delay = 0
default_internal_user = root
default_login_user = dovenull
first_valid_uid = 1
hostname = localhost
submission_relay_host = 127.0.0.1
submission_relay_port = {self.relay_port}
submission_relay_trusted = yes
mail_location = maildir:{d}/home/Maildir
passdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service submission-login {{
  inet_listener submission {{
    port = {self.port}
  }}
  inet_listener submissions {{
    port = {self.sport}
    ssl = yes
  }}
}}
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
""")
        for p in (d, d / "users", d / "dovecot.conf"):
            p.chmod(p.stat().st_mode | stat.S_IROTH | (
                stat.S_IXOTH if p.is_dir() else 0))
        out = open(self.root / "dovecot-submission.out", "ab")
        self.proc = subprocess.Popen([self.dovecot, "-F", "-c", d / "dovecot.conf"],
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        deadline = time.monotonic() + 30
        while not (port_accepts(self.port) and port_accepts(self.sport)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.skip("Dovecot submission did not start: " +
                            (self.root / "dovecot-submission.out").read_text()[-500:])
            time.sleep(0.1)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def dovecot_sub(inst, tmp_path_factory):
    from sink import make_certs
    root = tmp_path_factory.mktemp("dovecot-sub")
    d = DovecotSubmission(root, inst.ports["mx"], make_certs(root / "certs"))
    d.start()
    yield d
    d.stop()


@pytest.mark.parametrize("listener", ["submission", "submissions"])
@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "PLAIN"])
def test_dovecot_submission(postern, inst, dovecot_sub, tmp_path, mech, listener):
    """SCRAM-SHA-256 and PLAIN over TLS to Dovecot, which relays to Postern's
    MX listener: delivered end to end into bob's Maildir."""
    d = dovecot_sub
    tok = token()
    port = d.port if listener == "submission" else d.sport
    args = ["send", "--server", f"127.0.0.1:{port}", "--cafile", d.certs["ca"],
            "--user", d.USER, "--auth", mech, "-v", "--from", d.USER,
            "--to", BOB, "--subject", tok, "--body", "via dovecot"]
    if listener == "submissions":
        args += ["--tls", "implicit"]
    cp = run(postern, args, tmp_path,
             env=clean_env(tmp_path, POSTERN_PASSWORD=d.PASSWORD))
    assert cp.returncode == EXIT_OK, show(cp)
    assert f"* authenticated with {mech}\n" in cp.stderr
    assert d.PASSWORD not in cp.stderr
    assert inst.wait_for(tok, users=[BOB])


def test_dovecot_submission_wrong_password(postern, dovecot_sub, tmp_path):
    d = dovecot_sub
    cp = run(postern, ["send", "--server", f"127.0.0.1:{d.port}", "--cafile",
                       d.certs["ca"], "--user", d.USER, "--from", d.USER,
                       "--to", BOB, "--subject", "x", "--body", "y"], tmp_path,
             env=clean_env(tmp_path, POSTERN_PASSWORD="not-" + d.PASSWORD))
    assert cp.returncode == EXIT_AUTH, show(cp)


# -- a SCRAM server that cannot prove itself


class FakeScramServer:
    """Plain-TCP SMTP server offering SCRAM-SHA-256 that follows RFC 5802 up
    to its final message, which carries a wrong (or no) server signature."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.sock.accept()
        conn.settimeout(20)
        f = conn.makefile("rwb")

        def say(line):
            f.write(line.encode() + b"\r\n")
            f.flush()

        def hear():
            line = f.readline().decode().rstrip("\r\n")
            self.seen.append(line)
            return line

        try:
            say("220 fake.test ESMTP")
            while True:
                line = hear()
                verb = line.split(" ")[0].upper()
                if verb == "EHLO":
                    say("250-fake.test")
                    say("250 AUTH SCRAM-SHA-256")
                elif verb == "AUTH":
                    first = base64.b64decode(line.split(" ")[2]).decode()
                    bare = first.split(",", 2)[2]
                    cnonce = dict(kv.split("=", 1) for kv in bare.split(","))["r"]
                    sfm = f"r={cnonce}servernonce,s={b64('salt-salt')},i=4096"
                    say("334 " + b64(sfm))
                    hear()                      # client-final with the proof
                    bogus = "v=" + b64(os.urandom(32))
                    if self.mode == "334-wrong-v":
                        say("334 " + b64(bogus))
                        if hear() == "*":
                            say("501 5.7.0 cancelled")
                    elif self.mode == "235-wrong-v":
                        say("235 " + b64(bogus))
                    else:                       # success without any proof
                        say("235 2.7.0 ok")
                elif verb == "QUIT":
                    say("221 bye")
                    break
                elif line == "":
                    break
                else:
                    say("250 ok")
        except (OSError, ValueError, IndexError):
            pass
        finally:
            conn.close()
            self.sock.close()


@pytest.mark.parametrize("mode", ["334-wrong-v", "235-wrong-v", "235-no-v"])
def test_scram_server_signature_checked(postern, tmp_path, mode):
    fake = FakeScramServer(mode)
    cp = run(postern, ["send", "--server", f"127.0.0.1:{fake.port}", "--tls",
                       "none", "--user", ALICE, "--from", ALICE, "--to", BOB,
                       "--subject", "x", "--body", "y", "-v"], tmp_path,
             env=clean_env(tmp_path, POSTERN_PASSWORD=PW))
    fake.thread.join(10)
    assert cp.returncode == EXIT_AUTH, show(cp)
    assert not any(l.upper().startswith("MAIL") for l in fake.seen), fake.seen
    assert "SCRAM" in cp.stderr


# --------------------------------------------------------------------------
# sendmail


CRON_SCRIPT = """#!/bin/sh
# what a cron job or PHP's mail() does: a message with To:, Cc: and Bcc:
# piped into sendmail -t -i
{sendmail} -t -i <<EOF
From: Cron Daemon <{sender}>
To: Bob <{bob}>
Cc: {alice}
Bcc: {alice2}
Subject: cron output {tok}

backup finished {tok}
.
a line with only a dot above; -i keeps it
EOF
"""


def cron(tmp_path, sendmail, tok, env, sender=ALICE):
    script = tmp_path / "cronjob.sh"
    script.write_text(CRON_SCRIPT.format(sendmail=sendmail, sender=sender,
                                         bob=BOB, alice=ALICE, alice2=ALICE,
                                         tok=tok))
    script.chmod(0o755)
    cp = subprocess.run(["/bin/sh", str(script)], env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=120)
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    assert not sanitizer_report(cp.stderr), cp.stderr
    return cp


def check_cron_delivery(inst, tok):
    for user in (BOB, ALICE):
        found = inst.wait_for(tok, users=[user])
        assert len(found) == 1, f"{user}: {found}"
        data = found[0][2]
        assert not headers(data, "Bcc"), "Bcc: must be removed"
        text = data.replace(b"\r\n", b"\n")
        assert b"\n.\na line with only a dot above" in text


def test_sendmail_client_mode_cron(postern, server, tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text(PW + "\n")
    acc = write_accounts(tmp_path, "default = work\n" + account_text(
        server, extra=f"password_file = {pwfile}\n"))
    tok = token()
    cp = cron(tmp_path, f"{postern} sendmail", tok,
              clean_env(tmp_path, POSTERN_ACCOUNTS=acc))
    assert cp.returncode == 0, cp.stderr
    check_cron_delivery(server, tok)


def test_sendmail_symlink_local_spool(postern, server, tmp_path):
    """Installed as "sendmail" (make install's symlink), no account: the
    message goes straight into the local Postern's spool."""
    link = tmp_path / "bin" / "sendmail"
    link.parent.mkdir()
    link.symlink_to(postern)
    tok = token()
    cp = cron(tmp_path, str(link), tok,
              clean_env(tmp_path, POSTERN_CONFIG=server.conf))
    assert cp.returncode == 0, cp.stderr
    check_cron_delivery(server, tok)
    (_, _, data) = server.wait_for(tok, users=[BOB])[0]
    assert headers(data, "Received")
    assert "Postern sendmail" in " ".join(headers(data, "Received"))


def test_sendmail_local_adds_missing_fields(postern, server, tmp_path):
    tok = token()
    cp = run(postern, ["sendmail", "-F", "Backup Job", BOB], tmp_path,
             input=f"Subject: {tok}\n\nno From, no Date\n.\nnot sent\n",
             env=clean_env(tmp_path, POSTERN_CONFIG=server.conf))
    assert cp.returncode == 0, show(cp)
    (_, _, data) = server.wait_for(tok, users=[BOB])[0]
    assert headers(data, "From")[0].startswith('"Backup Job" <')
    assert headers(data, "Date") and headers(data, "Message-ID")
    assert b"not sent" not in data      # without -i, "." ends the message


def test_sendmail_exit_codes(postern, server, tmp_path):
    env = clean_env(tmp_path, POSTERN_CONFIG=server.conf)
    cp = run(postern, ["sendmail", "-t"], tmp_path, input="Subject: x\n\ny\n",
             env=env)
    assert cp.returncode == EX_USAGE, show(cp)
    cp = run(postern, ["sendmail", "-bp"], tmp_path, input="", env=env)
    assert cp.returncode == EX_USAGE, show(cp)
    cp = run(postern, ["sendmail", BOB], tmp_path, input="x\n",
             env=clean_env(tmp_path, POSTERN_CONFIG=tmp_path / "none.conf"))
    assert cp.returncode == EX_UNAVAILABLE, show(cp)
    # client mode: wrong password is EX_NOPERM, unknown recipient EX_NOUSER
    acc = write_accounts(tmp_path, "default = work\n" + account_text(
        server, extra="password = wrong-Password-0\n"))
    cp = run(postern, ["sendmail", BOB], tmp_path, input="Subject: x\n\ny\n",
             env=clean_env(tmp_path, POSTERN_ACCOUNTS=acc))
    assert cp.returncode == EX_NOPERM, show(cp)
    acc = write_accounts(tmp_path, "default = work\n" + account_text(
        server, extra=f"password = {PW}\n"))
    cp = run(postern, ["sendmail", "nobody@example.test"], tmp_path,
             input="Subject: x\n\ny\n", env=clean_env(tmp_path, POSTERN_ACCOUNTS=acc))
    assert cp.returncode == EX_NOUSER, show(cp)


def test_sendmail_spool_needs_permission(postern, server, tmp_path):
    """A user who may not write the spool is told so (EX_NOPERM)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    env = clean_env(tmp_path, POSTERN_CONFIG=server.conf)
    cp = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                         "--clear-groups", postern, "sendmail", BOB],
                        input=b"Subject: x\n\ny\n", env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=60)
    err = cp.stderr.decode()
    assert cp.returncode == EX_NOPERM, err
    assert "permission" in err or "cannot read" in err.lower() or \
        "Permission" in err
