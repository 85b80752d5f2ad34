"""Attacks and abuse: STARTTLS command injection, SMTP smuggling, broken and
hostile clients. After each, the server must still serve a normal session."""

import random
import socket
import time

import pytest

from conftest import (Closed, assert_reply, b64, headers, simple_message,
                      tls_context, token)

ALICE = "alice@example.test"
BOB = "bob@example.test"


def assert_server_serves(server, listener="submission"):
    """A complete authenticated submission still works."""
    tok = token()
    with server.session(listener) as c:
        assert_reply(c.send_message(ALICE, [BOB], simple_message(tok)), 250)
        c.quit()
    assert len(server.wait_for(tok, users=[BOB])) == 1


# -- STARTTLS injection (CVE-2011-0411)

def test_starttls_pipelined_noop_is_discarded(server):
    with server.client("submission") as c:
        c.expect(220)
        c.ehlo_ok()
        c.send("STARTTLS\r\nNOOP\r\n")
        assert_reply(c.read_reply(), 220)
        assert c.buf == b"", f"plaintext after the 220: {c.buf!r}"
        c.sock = tls_context().wrap_socket(c.sock)
        c.send_line("EHLO client.test")
        r = c.read_reply()
        assert r.code == 250 and len(r.lines) > 1 and r.enh is None, \
            f"first reply over TLS is not the EHLO reply (injected NOOP answered?): {r!r}"
        extra = c.pending(1.0)
        assert extra == b"", f"unexpected data after the EHLO reply: {extra!r}"
        assert_reply(c.cmd("NOOP"), 250, "2.0.0")


def test_starttls_pipelined_auth_is_discarded(server):
    """Injected commands must not run: an injected AUTH must not authenticate."""
    with server.client("submission") as c:
        c.expect(220)
        c.ehlo_ok()
        blob = b64(f"\0{ALICE}\0{server.users[ALICE]}")
        c.send(f"STARTTLS\r\nEHLO evil.test\r\nAUTH PLAIN {blob}\r\n"
               f"MAIL FROM:<{ALICE}>\r\n")
        assert_reply(c.read_reply(), 220)
        assert c.buf == b"", f"plaintext after the 220: {c.buf!r}"
        c.sock = tls_context().wrap_socket(c.sock)
        r = c.cmd("EHLO client.test")
        assert r.code == 250 and len(r.lines) > 1, r
        assert c.pending(1.0) == b""
        # not authenticated and no transaction: MAIL needs AUTH
        assert_reply(c.mail(ALICE), 530, "5.7.0")


def test_starttls_injection_on_mx_listener(server):
    with server.client("mx") as c:
        c.expect(220)
        kw = c.ehlo_ok().keywords()
        if "STARTTLS" not in kw:
            pytest.skip("MX listener does not offer STARTTLS")
        c.send("STARTTLS\r\nNOOP\r\n")
        assert_reply(c.read_reply(), 220)
        assert c.buf == b""
        c.sock = tls_context().wrap_socket(c.sock)
        r = c.cmd("EHLO client.test")
        assert r.code == 250 and len(r.lines) > 1 and r.enh is None, r
        assert c.pending(1.0) == b""


# -- SMTP smuggling (CVE-2023-51764 family)

SMUGGLE_ENDINGS = {
    "lf-dot-lf": "\n.\n",
    "crlf-dot-lf": "\r\n.\n",
    "lf-dot-crlf": "\n.\r\n",
    "cr-dot-crlf": "\r.\r\n",
    "cr-dot-cr": "\r.\r",
    "crlf-dot-cr": "\r\n.\r",
}


@pytest.mark.parametrize("ending", list(SMUGGLE_ENDINGS.values()), ids=list(SMUGGLE_ENDINGS))
def test_smuggling_never_splits_message(server, ending):
    outer, inner = token(), token()
    body = (f"From: <{ALICE}>\r\nTo: <{BOB}>\r\nSubject: outer {outer}\r\n\r\n"
            f"first part {outer}{ending}"
            f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n"
            f"From: <{ALICE}>\r\nSubject: smuggled {inner}\r\n\r\nsmuggled body {inner}\r\n")
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        r = c.data(body)
        extra = c.pending(1.5)
        assert extra == b"", \
            f"more replies after the end of DATA (smuggled commands ran?): {extra!r}"
        assert_reply(r, 554, "5.6.0")
        assert_reply(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    server.absent(inner)                     # give a (wrongly) queued message time
    smuggled = [f for f in server.find(inner) if any(inner in h for h in
                                                      headers(f[2], "Subject"))]
    assert smuggled == [], "the smuggled message was delivered as a message of its own"
    total = server.find(outer) + server.find(inner)
    paths = {str(f[1]) for f in total}
    assert len(paths) <= 1, f"message split in two: {paths}"
    assert len(paths) == 0, f"554 was replied but a message was delivered: {paths}"


@pytest.mark.parametrize("hops,code", [(100, 250), (101, 554)], ids=["100-hops", "101-hops"])
def test_mail_loop_hop_count(server, hops, code):
    """RFC 5321 6.3: a message with more than 100 Received fields is looping."""
    tok = token()
    received = "".join(f"Received: from hop{i}.example.net by hop{i + 1}.example.net; "
                       f"Tue, 24 Nov 2026 10:00:00 +0000\r\n" for i in range(hops))
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        r = c.data(received + simple_message(tok))
        if code == 554:
            assert_reply(r, 554, "5.4.6")
            assert_reply(c.cmd("NOOP"), 250, "2.0.0")
        else:
            assert_reply(r, 250)
    if code == 554:
        assert server.absent(tok) == []
    else:
        assert len(server.wait_for(tok, users=[BOB], timeout=20)) == 1


@pytest.mark.parametrize("bare", ["\n", "\r"], ids=["bare-lf", "bare-cr"])
def test_bare_line_end_in_body_rejected(server, bare):
    tok = token()
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        r = c.data(simple_message(tok, body=f"line one{bare}line two {tok}\r\n"))
        assert_reply(r, 554, "5.6.0")
        assert_reply(c.cmd("NOOP"), 250, "2.0.0")
    assert server.absent(tok) == []


def test_bare_lf_in_headers_rejected(server):
    tok = token()
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        r = c.data(f"Subject: {tok}\nX-Other: y\r\n\r\nbody\r\n")
        assert_reply(r, 554, "5.6.0")
    assert server.absent(tok) == []


def test_session_usable_after_smuggling_rejection(server):
    tok = token()
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        assert_reply(c.data("Subject: x\r\n\r\nbad\n.\nmore\r\n"), 554, "5.6.0")
        assert_reply(c.send_message(ALICE, [BOB], simple_message(tok)), 250)
    assert len(server.wait_for(tok, users=[BOB])) == 1


# -- broken clients

def test_disconnect_mid_data_delivers_nothing(server):
    tok = token()
    c = server.session()
    assert_reply(c.mail(ALICE), 250)
    assert_reply(c.rcpt(BOB), 250)
    assert_reply(c.cmd("DATA"), 354)
    c.send(simple_message(tok) + "more text without an end\r\n")
    c.close()
    assert server.absent(tok, wait=3.0) == [], "a message was delivered without its final dot"
    assert_server_serves(server)


def test_disconnect_mid_data_leaves_no_stray_files(server):
    tok = token()
    c = server.session()
    assert_reply(c.mail(ALICE), 250)
    assert_reply(c.rcpt(BOB), 250)
    assert_reply(c.cmd("DATA"), 354)
    c.send(simple_message(tok))
    c.close()
    time.sleep(1.5)
    tmp = server.maildir(BOB) / "tmp"
    leftovers = [p for p in tmp.iterdir()] if tmp.is_dir() else []
    stray = [p for p in leftovers if tok.encode() in p.read_bytes()]
    assert stray == [], f"partial message left in Maildir tmp/: {stray}"


def test_disconnect_mid_auth(server):
    c = server.client("smtps")
    c.expect(220)
    c.ehlo_ok()
    assert_reply(c.cmd("AUTH LOGIN"), 334)
    c.close()
    assert_server_serves(server, "smtps")


def test_half_open_connections_do_not_block(server):
    socks = []
    try:
        for i in range(200):
            listener = "submission" if i % 2 == 0 else "smtps"
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # one source address each: per-IP limits are not what this tests
            s.bind((f"127.0.1.{i + 2}", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", server.ports[listener]))
            socks.append(s)
        time.sleep(0.5)
        assert_server_serves(server, "submission")
        assert_server_serves(server, "smtps")
    finally:
        for s in socks:
            s.close()
    time.sleep(0.5)
    assert_server_serves(server, "submission")


def test_stalled_tls_handshake_does_not_block(server):
    """A client that sends half a ClientHello and stops must not stall others."""
    s = socket.create_connection(("127.0.0.1", server.ports["smtps"]), timeout=10)
    try:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert_server_serves(server, "smtps")
        assert_server_serves(server, "submission")
    finally:
        s.close()


def _drain_until_closed(c, timeout=15):
    try:
        return c.wait_closed(timeout)
    except OSError:
        return True


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_garbage_plain(server, seed):
    data = random.Random(seed).randbytes(16384)
    c = server.client("submission")
    try:
        c.expect(220)
        try:
            c.send(data)
        except OSError:
            pass
        _drain_until_closed(c, timeout=5)
    finally:
        c.close()
    assert_server_serves(server)


@pytest.mark.parametrize("seed", [4, 5])
def test_random_garbage_into_tls_listener(server, seed):
    data = random.Random(seed).randbytes(16384)
    s = socket.create_connection(("127.0.0.1", server.ports["smtps"]), timeout=10)
    try:
        try:
            s.sendall(data)
            s.settimeout(5)
            while s.recv(65536):
                pass
        except OSError:
            pass
    finally:
        s.close()
    assert_server_serves(server, "smtps")


def test_random_garbage_after_tls(server):
    data = random.Random(6).randbytes(16384)
    c = server.client("submission")
    try:
        c.expect(220)
        c.ehlo_ok()
        c.starttls()
        try:
            c.send(data)
        except OSError:
            pass
        _drain_until_closed(c, timeout=5)
    finally:
        c.close()
    assert_server_serves(server)


def test_garbage_in_auth_exchange(server):
    with server.client("smtps") as c:
        c.expect(220)
        c.ehlo_ok()
        assert_reply(c.cmd("AUTH PLAIN"), 334)
        r = c.cmd(b64(random.Random(7).randbytes(300)))
        assert r.code in (501, 535), r
    assert_server_serves(server, "smtps")


def test_nul_byte_in_command(server):
    with server.client("submission") as c:
        c.expect(220)
        c.send(b"NOOP\x00hidden\r\n")
        r = c.read_reply()
        assert 500 <= r.code < 600, r
        assert_reply(c.cmd("NOOP"), 250, "2.0.0")


def test_megabyte_line_without_newline(server):
    """1 MB without a line end: 500 5.5.6 or a closed connection, not a hang."""
    c = server.client("submission")
    replied = None
    try:
        c.expect(220)
        c.ehlo_ok()
        chunk = b"A" * 65536
        try:
            for _ in range(16):
                c.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            replied = c.read_reply()
        except Closed:
            replied = None              # closed: acceptable
    except socket.timeout:
        pytest.fail("the server neither replied nor closed the connection")
    finally:
        c.close()
    if replied is not None:
        assert_reply(replied, 500, "5.5.6")
    assert_server_serves(server)


def test_megabyte_line_in_data(server):
    """A 1 MB line inside DATA: rejected after the final dot, session alive."""
    tok = token()
    with server.session() as c:
        assert_reply(c.mail(ALICE), 250)
        assert_reply(c.rcpt(BOB), 250)
        assert_reply(c.cmd("DATA"), 354)
        c.send(f"Subject: {tok}\r\n\r\n".encode() + b"B" * (1 << 20) + b"\r\n.\r\n")
        r = c.read_reply()
        assert 500 <= r.code < 600, r
        extra = c.pending(1.0)
        assert extra == b"", f"more than one reply to the DATA block: {extra!r}"
        assert_reply(c.cmd("NOOP"), 250, "2.0.0")
    assert server.absent(tok) == []
    assert_server_serves(server)


def test_many_sequential_sessions(server):
    for _ in range(30):
        with server.client("submission") as c:
            c.expect(220)
            c.ehlo_ok()
            assert_reply(c.cmd("QUIT"), 221)
    assert_server_serves(server)
