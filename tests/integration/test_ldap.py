"""The ldap passdb against a real slapd on loopback (tests/integration/backends.py):
bind mode and password mode, StartTLS and ldaps, RCPT checks, and slapd killed
mid-run (454 4.7.0, then recovery without restarting Postern).

Skipped when slapd is not installed (Debian: slapd ldap-utils).
"""

import os
import signal
import subprocess
import time

import pytest

from backends import LDAP_USERS, READER_DN, READER_PASSWORD, BASE_DN, Slapd
from conftest import assert_reply

CAROL = "carol@example.test"
DAVE = "dave@example.test"       # employeeType: disabled
ERIN = "erin@example.test"       # {SSHA}: the directory knows it, pw_verify does not


def pw(user):
    return LDAP_USERS[user][0]


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    s = Slapd(tmp_path_factory.mktemp("ldap")).setup().start()
    yield s
    s.stop()


@pytest.fixture
def slapd_up(slapd):
    """slapd, running (a test that killed it may have failed half-way)."""
    if slapd.proc is None or slapd.proc.poll() is not None:
        slapd.start()
    return slapd


def ldap_config(slapd, mode="bind", uri=None, **extra):
    # the auth cache off: every answer below comes from slapd
    cfg = [("auth", "passdb", "ldap:"), ("auth", "cache_size", "0"),
           ("ldap", "uri", uri or slapd.uri),
           ("ldap", "base", BASE_DN),
           ("ldap", "mode", mode),
           ("ldap", "alias_attribute", "mail mailLocalAddress"),
           ("ldap", "disabled_attribute", "employeeType"),
           ("ldap", "timeout", "3s")]
    if mode == "password":
        pwfile = slapd.dir / "reader.pw"
        pwfile.write_text(READER_PASSWORD + "\n")
        cfg += [("ldap", "bind_dn", READER_DN), ("ldap", "bind_password_file", str(pwfile))]
    cfg += [("ldap", k, v) for k, v in extra.items()]
    return cfg


def login(inst, user, password, listener="submission"):
    """The reply to AUTH PLAIN after STARTTLS (or on implicit TLS)."""
    with inst.client(listener) as c:
        c.expect(220)
        c.ehlo_ok()
        if listener == "submission":
            c.starttls()
            c.ehlo_ok()
        r = c.auth_plain(user, password)
        c.quit()
        return r


def rcpt(inst, address):
    with inst.client("mx") as c:
        c.expect(220)
        c.ehlo_ok()
        assert_reply(c.mail("someone@elsewhere.test"), 250)
        r = c.rcpt(address)
        c.quit()
        return r


@pytest.mark.parametrize("mode", ["bind", "password"])
def test_login(make_server, slapd_up, mode):
    inst = make_server(config=ldap_config(slapd_up, mode), users={})
    assert_reply(login(inst, CAROL, pw(CAROL)), 235, "2.7.0")
    # the login is the address: any case, as LDAP compares mail
    assert_reply(login(inst, CAROL.upper(), pw(CAROL), "smtps"), 235, "2.7.0")
    assert_reply(login(inst, CAROL, "wrong-password"), 535, "5.7.8")
    assert_reply(login(inst, "nobody@example.test", "whatever-1"), 535, "5.7.8")
    # disabled: right password, still the one failure reply
    assert_reply(login(inst, DAVE, pw(DAVE)), 535, "5.7.8")
    # filter injection: "carol*" must not match carol's entry
    assert_reply(login(inst, "carol*", pw(CAROL)), 535, "5.7.8")
    assert_reply(login(inst, "*", pw(CAROL)), 535, "5.7.8")
    if mode == "bind":
        # the directory checks {SSHA}, which Postern itself does not know
        assert_reply(login(inst, ERIN, pw(ERIN)), 235, "2.7.0")
    else:
        assert_reply(login(inst, ERIN, pw(ERIN)), 535, "5.7.8")
    log = inst.log_text()
    for user, (secret, _) in LDAP_USERS.items():
        assert secret not in log, f"{user}'s password in the server log"
    assert READER_PASSWORD not in log


def test_starttls_and_ldaps(make_server, slapd_up):
    inst = make_server(config=ldap_config(slapd_up, "password", starttls="yes",
                                          ca_file=str(slapd_up.ca_file)), users={})
    assert_reply(login(inst, CAROL, pw(CAROL)), 235, "2.7.0")
    inst2 = make_server(config=ldap_config(slapd_up, "bind", uri=slapd_up.ldaps_uri,
                                           ca_file=str(slapd_up.ca_file)), users={})
    assert_reply(login(inst2, CAROL, pw(CAROL)), 235, "2.7.0")
    assert_reply(login(inst2, CAROL, "wrong-password"), 535, "5.7.8")


def test_tls_certificate_checked(make_server, slapd_up, tmp_path):
    """A server certificate that does not verify: temporary failure, not a login."""
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", tmp_path / "k.pem", "-out", other_ca, "-days", "1",
                    "-subj", "/CN=other"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    inst = make_server(config=ldap_config(slapd_up, "bind", uri=slapd_up.ldaps_uri,
                                          ca_file=str(other_ca)), users={})
    assert_reply(login(inst, CAROL, pw(CAROL)), 454, "4.7.0")


@pytest.mark.parametrize("mode", ["bind", "password"])
def test_rcpt_lookup(make_server, slapd_up, mode):
    inst = make_server(config=ldap_config(slapd_up, mode), users={})
    assert_reply(rcpt(inst, CAROL), 250)
    assert_reply(rcpt(inst, "nobody@example.test"), 550, "5.1.1")


@pytest.mark.parametrize("mode", ["bind", "password"])
def test_slapd_killed_and_back(make_server, slapd_up, mode):
    inst = make_server(config=ldap_config(slapd_up, mode), users={})
    # warm the connection pool so the restart has stale connections to survive
    for _ in range(3):
        assert_reply(login(inst, CAROL, pw(CAROL)), 235, "2.7.0")
    slapd_up.kill()
    assert_reply(login(inst, CAROL, pw(CAROL)), 454, "4.7.0")
    assert_reply(login(inst, CAROL, "wrong-password"), 454, "4.7.0")
    assert_reply(rcpt(inst, CAROL), 451)
    slapd_up.start()
    # no Postern restart: the first request after slapd is back works
    assert_reply(login(inst, CAROL, pw(CAROL)), 235, "2.7.0")
    assert_reply(login(inst, CAROL, "wrong-password"), 535, "5.7.8")
    assert_reply(rcpt(inst, CAROL), 250)
    assert inst.alive()
    log = inst.log_text()
    assert "unavailable" in log and "reachable again" in log


def test_slapd_hung(make_server, slapd_up):
    """slapd stopped (SIGSTOP): the [ldap] timeout turns the wait into a 454."""
    inst = make_server(config=ldap_config(slapd_up, "bind", timeout="1s"), users={})
    assert_reply(login(inst, CAROL, pw(CAROL)), 235, "2.7.0")
    os.kill(slapd_up.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        assert_reply(login(inst, CAROL, pw(CAROL)), 454, "4.7.0")
        assert time.monotonic() - t0 < 10
    finally:
        os.kill(slapd_up.proc.pid, signal.SIGCONT)
    assert_reply(login(inst, CAROL, pw(CAROL)), 235, "2.7.0")
