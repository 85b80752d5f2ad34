"""Behaviour that depends on configuration: limits and listener options.
Each test runs its own instance with the settings it needs."""

import re
import socket
import ssl

import pytest

from conftest import Closed, assert_reply, headers, simple_message, tls_context, token

ALICE = "alice@example.test"
BOB = "bob@example.test"


def test_max_message_size_advertised(make_server):
    server = make_server(config=[("server", "max_message_size", "20000")])
    with server.client("submission") as c:
        c.expect(220)
        kw = c.ehlo_ok().keywords()
        assert kw.get("SIZE") == ["20000"], kw.get("SIZE")


def test_message_over_max_size_552_after_dot(make_server):
    server = make_server(config=[("server", "max_message_size", "20000")])
    tok = token()
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        body = "".join(f"{i:05d} " + "x" * 70 + "\r\n" for i in range(500))   # ~38 KB
        r = c.data(simple_message(tok, body=body))
        assert_reply(r, 552, "5.3.4")
        assert_reply(c.cmd("NOOP"), 250, "2.0.0")
    assert server.absent(tok) == []


def test_max_recipients_452(make_server):
    server = make_server(config=[("server", "max_recipients", "2")])
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        assert_reply(c.rcpt(ALICE), 250)
        r = c.rcpt(BOB)
        assert r.code == 452 and r.enh == "4.5.3", r


def test_max_errors_421(make_server):
    server = make_server(config=[("server", "max_errors", "3")])
    with server.client("submission") as c:
        c.expect(220)
        replies = []
        for _ in range(10):
            try:
                r = c.cmd("FROBNICATE")
            except Closed:
                break
            replies.append(r)
            if r.code == 421:
                break
        assert replies and replies[-1].code == 421, replies
        assert len(replies) <= 4, f"421 only after {len(replies)} errors: {replies}"
        assert c.wait_closed()


def test_plaintext_auth_allowed_before_tls_when_configured(make_server):
    server = make_server(config=[("listener:submission", "plaintext_auth", "yes")])
    with server.client("submission") as c:
        c.expect(220)
        kw = c.ehlo_ok().keywords()
        assert "AUTH" in kw and "PLAIN" in [m.upper() for m in kw["AUTH"]], kw
        assert_reply(c.auth_plain(ALICE, server.users[ALICE]), 235, "2.7.0")


def test_listener_mechanisms_restricts_auth(make_server):
    server = make_server(config=[("listener:smtps", "mechanisms", "PLAIN")])
    with server.client("smtps") as c:
        c.expect(220)
        kw = c.ehlo_ok().keywords()
        assert [m.upper() for m in kw.get("AUTH", [])] == ["PLAIN"], kw.get("AUTH")
        assert_reply(c.cmd("AUTH LOGIN"), 504, "5.5.4")


def test_auth_optional_listener_allows_local_delivery_without_auth(make_server):
    server = make_server(config=[("listener:submission", "auth", "optional")])
    tok = token()
    with server.client("submission") as c:
        c.expect(220)
        c.ehlo_ok()
        c.starttls()
        c.ehlo_ok()
        assert_reply(c.mail("someone@remote.test"), 250)
        assert_reply(c.rcpt(BOB), 250)
        assert_reply(c.data(simple_message(tok, sender="someone@remote.test")), 250)
    assert len(server.wait_for(tok, users=[BOB])) == 1


@pytest.mark.parametrize("tls_min", ["TLSv1.3"])
def test_tls_min_version(make_server, tls_min):
    server = make_server(config=[("tls", "min_version", tls_min)])
    ctx = tls_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    s = socket.create_connection(("127.0.0.1", server.ports["smtps"]), timeout=30)
    try:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            ctx.wrap_socket(s).recv(10)
    finally:
        s.close()


def test_plaintext_auth_received_with_esmtpa(make_server):
    server = make_server(config=[("listener:submission", "plaintext_auth", "yes")])
    tok = token()
    with server.client("submission") as c:
        c.expect(220)
        c.ehlo_ok()
        assert_reply(c.auth_plain(ALICE, server.users[ALICE]), 235, "2.7.0")
        assert_reply(c.send_message(ALICE, [BOB], simple_message(tok)), 250)
    found = server.wait_for(tok, users=[BOB])
    assert len(found) == 1
    rec = headers(found[0][2], "Received")[0]
    assert re.search(r"\bwith ESMTPA\b", rec) and ALICE in rec, rec
