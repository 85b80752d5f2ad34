"""Migration to SCRAM at login on the default passwd-file backend (issue 6).

A user holding only a SHA512-CRYPT hash (as a Dovecot passwd-file has it)
cannot use SCRAM-SHA-256 at first; after one PLAIN login over TLS the
server has stored SCRAM-SHA-256 keys and the current default hash, and
SCRAM-SHA-256 works.
"""
import shutil
import subprocess
import time

import pytest

from conftest import Instance

PASSWORD = "tr0ub4dor-and-3-more"


def sha512_crypt(pw):
    out = subprocess.run(["mkpasswd", "-m", "sha-512", pw], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def gsasl_scram(inst, user, pw):
    """gsasl's own SMTP client (it sends EHLO and STARTTLS itself)."""
    cp = subprocess.run(
        ["gsasl", "--smtp", f"--connect=127.0.0.1:{inst.ports['submission']}",
         "-m", "SCRAM-SHA-256", "-a", user, "-p", pw, "--x509-ca-file=",
         "--verbose", "--no-cb"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    out = cp.stdout + cp.stderr
    return (0 if cp.returncode == 0 and "235 2.7.0" in out else 1), out


@pytest.mark.skipif(shutil.which("mkpasswd") is None or shutil.which("gsasl") is None,
                    reason="needs mkpasswd (whois) and gsasl")
def test_sha512_crypt_user_migrates_to_scram(postern, tmp_path):
    inst = Instance(postern, tmp_path).init()
    users = inst.dir / "users"
    users.write_text(f"carol@example.test:{{SHA512-CRYPT}}{sha512_crypt(PASSWORD)}::::::\n")
    inst.start()
    try:
        rc, out = gsasl_scram(inst, "carol@example.test", PASSWORD)
        assert rc != 0, "SCRAM must fail before the migration:\n" + out
        c = inst.client("submission")
        c.expect(220)
        c.ehlo_ok()
        c.starttls()
        c.ehlo_ok()
        r = c.auth_plain("carol@example.test", PASSWORD)
        assert r.code == 235, repr(r)
        c.close()
        deadline = time.time() + 10
        while time.time() < deadline and "scram-sha-256=" not in users.read_text():
            time.sleep(0.1)
        text = users.read_text()
        assert "scram-sha-256={SCRAM-SHA-256}" in text
        assert "{ARGON2ID}" in text, "rehashed to the current default"
        assert PASSWORD not in text
        rc, out = gsasl_scram(inst, "carol@example.test", PASSWORD)
        assert rc == 0, "SCRAM-SHA-256 after the migration:\n" + out
        assert "event=credential-upgrade" in inst.log_text()
    finally:
        inst.stop()


@pytest.mark.skipif(shutil.which("mkpasswd") is None, reason="needs mkpasswd (whois)")
def test_concurrent_first_logins_upgrade_once(postern, tmp_path):
    """Eight clients log in at once as a user with an old hash: every login
    succeeds and the credential is upgraded (hashed again) only once."""
    import threading
    inst = Instance(postern, tmp_path).init()
    users = inst.dir / "users"
    users.write_text(f"dave@example.test:{{SHA512-CRYPT}}{sha512_crypt(PASSWORD)}::::::\n")
    inst.start()
    try:
        clients = []
        for _ in range(8):
            c = inst.client("submission")
            c.expect(220)
            c.ehlo_ok()
            c.starttls()
            c.ehlo_ok()
            clients.append(c)
        codes = []
        go = threading.Barrier(len(clients))

        def login(c):
            go.wait()
            codes.append(c.auth_plain("dave@example.test", PASSWORD).code)

        threads = [threading.Thread(target=login, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for c in clients:
            c.close()
        assert codes == [235] * 8, codes
        deadline = time.time() + 10
        while time.time() < deadline and "{ARGON2ID}" not in users.read_text():
            time.sleep(0.1)
        time.sleep(0.5)
        assert "{ARGON2ID}" in users.read_text()
        n = inst.log_text().count("event=credential-upgrade")
        assert n == 1, f"{n} upgrades for one login:\n{inst.log_tail()}"
    finally:
        inst.stop()
