"""Device credential profiles end to end (issue 6), on the sqlite passdb:

- a fixed sender: the credential may use that address in MAIL FROM and in
  From:/Sender:, nothing else (553 5.7.1 / 550 5.7.1), even where the
  login's own password may
- its own rate cap: 452 4.7.1 before the login's own limit, which the main
  password still has room under
- the relaxed TLS floor: on a `legacy_tls = yes` listener a TLS 1.1 client
  logs in with the credential granted TLSv1.1, and gets 535 5.7.8
  (reason=tls-floor) with the main password or another credential; a
  listener without legacy_tls refuses the TLS 1.1 handshake
"""

import socket
import ssl
import warnings

import pytest

from conftest import USERS, assert_reply, b64, describe, simple_message, token

ALICE = "alice@example.test"
BOB = "bob@example.test"
PRINTER = "printer@example.test"


def sqlite_server(make_server, config=()):
    return make_server(config=[("auth", "passdb", "sqlite:users.db"),
                               ("auth", "mechanisms", "PLAIN LOGIN"), *config])


def app_add(inst, *args):
    cp = inst.cli("user", "app", "add", "-c", inst.conf, *args)
    assert cp.returncode == 0, describe(cp)
    return cp.stdout.strip().splitlines()[-1]


def login(inst, password, user=ALICE):
    c = inst.client("submission")
    c.expect(220)
    c.ehlo_ok()
    c.starttls()
    c.ehlo_ok()
    assert_reply(c.auth_plain(user, password), 235, "2.7.0")
    return c


def test_fixed_sender(make_server):
    # sender_check off: only the credential's pin refuses anything
    inst = sqlite_server(make_server, [("policy", "sender_check", "off")])
    printer = app_add(inst, ALICE, "printer", "--sender", PRINTER)
    c = login(inst, printer)
    assert_reply(c.send_message(PRINTER, [BOB], simple_message(token(), sender=PRINTER)),
                 250)
    r = c.mail(ALICE)
    assert_reply(r, 553, "5.7.1")
    assert "credential printer" in r.text
    assert_reply(c.mail(""), 553, "5.7.1")
    # the envelope is right, the header is not
    assert_reply(c.mail(PRINTER), 250)
    assert_reply(c.rcpt(BOB), 250)
    assert_reply(c.data(simple_message(token(), sender=ALICE)), 550, "5.7.1")
    c.quit()
    # the main password is not pinned
    c = login(inst, USERS[ALICE])
    assert_reply(c.send_message(ALICE, [BOB], simple_message(token())), 250)
    assert_reply(c.send_message(PRINTER, [BOB], simple_message(token(), sender=PRINTER)),
                 250)
    c.quit()
    log = inst.log_text()
    assert "check=mail-from login=alice@example.test credential=printer" in log
    assert "reason=fixed-sender action=refused" in log
    assert "check=header-from" in log


def test_fixed_sender_under_strict(make_server):
    # strict (the default): the pin narrows what the login owns
    inst = sqlite_server(make_server)
    phone = app_add(inst, ALICE, "phone", "--sender", ALICE)
    c = login(inst, phone)
    assert_reply(c.send_message(ALICE, [BOB], simple_message(token())), 250)
    assert_reply(c.mail(BOB), 553, "5.7.1")
    c.quit()


def test_credential_rate_cap(make_server):
    inst = sqlite_server(make_server, [("policy", "messages_per_hour", "4"),
                                       ("policy", "hard_cap_factor", "0")])
    phone = app_add(inst, ALICE, "phone", "--rate-cap", "2")
    c = login(inst, phone)
    for _ in range(2):
        assert_reply(c.send_message(ALICE, [BOB], simple_message(token())), 250)
    r = c.mail(ALICE)
    assert_reply(r, 452, "4.7.1")
    assert "credential phone" in r.text
    c.quit()
    # a new session with the same credential: the count is the credential's
    c = login(inst, phone)
    assert_reply(c.mail(ALICE), 452, "4.7.1")
    c.quit()
    # the login still has room under its own limit of 4
    c = login(inst, USERS[ALICE])
    for _ in range(2):
        assert_reply(c.send_message(ALICE, [BOB], simple_message(token())), 250)
    r = c.mail(ALICE)
    assert_reply(r, 452, "4.7.1")
    assert "credential" not in r.text
    c.quit()
    log = inst.log_text()
    assert "event=limit login=alice@example.test credential=phone reason=messages limit=2" in log
    assert "event=limit login=alice@example.test reason=messages limit=4" in log


# --------------------------------------------------------------------------
# the relaxed TLS floor


def tls11_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


class Tls11:
    """Implicit TLS 1.1 to port; a minimal line client."""

    def __init__(self, port):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            self.sock = tls11_context().wrap_socket(raw)
        except (ssl.SSLError, OSError):
            raw.close()
            raise
        assert self.sock.version() == "TLSv1.1"
        self.f = self.sock.makefile("rb")

    def reply(self):
        lines = []
        while True:
            line = self.f.readline().decode().rstrip("\r\n")
            assert line, "connection closed"
            lines.append(line)
            if line[3:4] != "-":
                return int(line[:3]), line[4:]

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.sock.close()


def tls11_auth(port, password):
    c = Tls11(port)
    try:
        assert c.reply()[0] == 220
        assert c.cmd("EHLO printer.test")[0] == 250
        return c.cmd("AUTH PLAIN " + b64(f"\0{ALICE}\0{password}"))
    finally:
        c.close()


def tls11_possible():
    try:
        tls11_context()
        return True
    except (ValueError, ssl.SSLError):
        return False


@pytest.mark.skipif(not tls11_possible(), reason="this Python/OpenSSL cannot speak TLS 1.1")
def test_legacy_tls_floor(make_server):
    inst = sqlite_server(make_server, [("listener:smtps", "legacy_tls", "yes")])
    printer = app_add(inst, ALICE, "printer", "--tls-floor", "TLSv1.1")
    phone = app_add(inst, ALICE, "phone")
    port = inst.ports["smtps"]
    code, text = tls11_auth(port, printer)
    assert code == 235, text
    code, text = tls11_auth(port, USERS[ALICE])
    assert (code, text.split()[0]) == (535, "5.7.8"), text
    code, text = tls11_auth(port, phone)
    assert (code, text.split()[0]) == (535, "5.7.8"), text
    log = inst.log_text()
    assert log.count("tls=TLSv1.1 reason=tls-floor") == 2
    # TLS 1.2+ on the same listener: everyone as usual
    c = inst.client("smtps")
    c.expect(220)
    c.ehlo_ok()
    assert_reply(c.auth_plain(ALICE, USERS[ALICE]), 235, "2.7.0")
    c.quit()


@pytest.mark.skipif(not tls11_possible(), reason="this Python/OpenSSL cannot speak TLS 1.1")
def test_no_legacy_tls_by_default(make_server):
    inst = sqlite_server(make_server)
    with pytest.raises((ssl.SSLError, OSError)):
        Tls11(inst.ports["smtps"]).close()
    assert inst.alive()


def test_legacy_tls_needs_tls(make_server):
    inst = make_server(start=False)
    inst.set_listener("mx", "tls", "none")
    inst.set_listener("mx", "legacy_tls", "yes")
    cp = inst.cli("check", "-c", inst.conf)
    assert cp.returncode != 0, describe(cp)
    assert "legacy_tls needs tls = starttls or implicit" in cp.stdout + cp.stderr
    inst.set_listener("mx", "legacy_tls", "no")
    inst.set_listener("smtps", "legacy_tls", "yes")
    cp = inst.cli("check", "-c", inst.conf)
    assert cp.returncode == 0, describe(cp)
    assert "legacy_tls = yes" in cp.stdout
