"""The dovecot passdb against a real Dovecot auth process (tests/integration/
backends.py): Postern as a client of Dovecot's auth protocol on its UNIX
socket, like Postfix's smtpd_sasl_type = dovecot. Logins, nologin users, RCPT
checks through auth-userdb, and Dovecot killed mid-run (454 4.7.0, then
recovery without restarting Postern).

Skipped when Dovecot is not installed (Debian: dovecot-core).
"""

import pytest

from backends import Dovecot
from conftest import assert_reply

FRANK = "frank@example.test"
GRACE = "grace@example.test"     # nologin: Dovecot verifies, then refuses


def pw(user):
    return Dovecot.USERS[user][0]


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    d = Dovecot(tmp_path_factory.mktemp("dovecot")).setup().start()
    yield d
    d.cleanup()


@pytest.fixture
def dovecot_up(dovecot):
    if dovecot.proc is None or dovecot.proc.poll() is not None:
        dovecot.start()
    return dovecot


def dovecot_config(d, userdb=True):
    cfg = [("auth", "passdb", f"dovecot:{d.client_socket}"),
           ("auth", "cache_size", "0"),        # every answer comes from Dovecot
           ("dovecot", "timeout", "5s")]
    if userdb:
        cfg.append(("dovecot", "userdb_socket", str(d.userdb_socket)))
    return cfg


def login(inst, user, password, listener="submission"):
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


def test_login(make_server, dovecot_up):
    inst = make_server(config=dovecot_config(dovecot_up), users={})
    assert_reply(login(inst, FRANK, pw(FRANK)), 235, "2.7.0")
    assert_reply(login(inst, FRANK, pw(FRANK), "smtps"), 235, "2.7.0")
    assert_reply(login(inst, FRANK, "wrong-password"), 535, "5.7.8")
    assert_reply(login(inst, "nobody@example.test", "whatever-1"), 535, "5.7.8")
    assert_reply(login(inst, GRACE, pw(GRACE)), 535, "5.7.8")
    # a password with a TAB cannot break the request line (it is base64)
    assert_reply(login(inst, FRANK, pw(FRANK) + "\tresp=x"), 535, "5.7.8")
    log = inst.log_text()
    for user, (secret, _) in Dovecot.USERS.items():
        assert secret not in log, f"{user}'s password in the server log"


def test_rcpt_lookup(make_server, dovecot_up):
    inst = make_server(config=dovecot_config(dovecot_up), users={})
    assert_reply(rcpt(inst, FRANK), 250)
    assert_reply(rcpt(inst, "nobody@example.test"), 550, "5.1.1")


def test_rcpt_without_userdb_socket(make_server, dovecot_up):
    """No auth-userdb: RCPT checks are a temporary failure, never 550."""
    inst = make_server(config=dovecot_config(dovecot_up, userdb=False), users={})
    assert_reply(rcpt(inst, FRANK), 451)
    assert_reply(login(inst, FRANK, pw(FRANK)), 235, "2.7.0")


def test_dovecot_killed_and_back(make_server, dovecot_up):
    inst = make_server(config=dovecot_config(dovecot_up), users={})
    assert_reply(login(inst, FRANK, pw(FRANK)), 235, "2.7.0")
    assert_reply(rcpt(inst, FRANK), 250)
    dovecot_up.kill()
    assert_reply(login(inst, FRANK, pw(FRANK)), 454, "4.7.0")
    assert_reply(login(inst, FRANK, "wrong-password"), 454, "4.7.0")
    assert_reply(rcpt(inst, FRANK), 451)
    dovecot_up.start()
    # no Postern restart: the next request reconnects
    assert_reply(login(inst, FRANK, pw(FRANK)), 235, "2.7.0")
    assert_reply(login(inst, FRANK, "wrong-password"), 535, "5.7.8")
    assert_reply(rcpt(inst, FRANK), 250)
    assert inst.alive()
