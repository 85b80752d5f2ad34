"""SMTP and SMTP AUTH protocol behaviour over raw sockets.

Replies are checked by basic code and enhanced status code; free text only where
the specification fixes it.
"""

import re

import pytest

from conftest import (Closed, assert_reply, b64, headers, simple_message,
                      token)

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture
def plain(server):
    """Submission listener, greeting read, EHLO done, no TLS."""
    c = server.client("submission")
    c.expect(220)
    c.ehlo_ok()
    yield c
    c.close()


@pytest.fixture
def tls(server):
    """Submission listener after STARTTLS and a second EHLO, not authenticated."""
    c = server.client("submission")
    c.expect(220)
    c.ehlo_ok()
    c.starttls()
    c.ehlo_ok()
    yield c
    c.close()


@pytest.fixture
def authed(server):
    c = server.session()
    yield c
    c.close()


@pytest.fixture
def mx(server):
    c = server.client("mx")
    c.expect(220)
    c.ehlo_ok()
    yield c
    c.close()


# -- greeting and EHLO

def test_greeting_220_names_hostname(server):
    with server.client("submission") as c:
        r = c.read_reply()
        assert_reply(r, 220)
        assert r.texts[0].split()[0] == server.hostname, r


def test_implicit_tls_greeting(server):
    with server.client("smtps") as c:
        assert_reply(c.read_reply(), 220)


def test_ehlo_reply_first_line_names_hostname(server):
    with server.client("submission") as c:
        c.expect(220)
        r = c.ehlo_ok()
        assert r.texts[0].split()[0] == server.hostname, r


def test_ehlo_before_tls_capabilities(plain):
    kw = plain.ehlo_ok().keywords()
    for ext in ("STARTTLS", "PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8",
                "ENHANCEDSTATUSCODES"):
        assert ext in kw, f"{ext} not advertised: {sorted(kw)}"


def test_ehlo_before_tls_no_auth(plain):
    kw = plain.ehlo_ok().keywords()
    assert "AUTH" not in kw, f"AUTH advertised before TLS: {kw.get('AUTH')}"


def test_ehlo_after_starttls_advertises_auth_plain_login(tls):
    kw = tls.ehlo_ok().keywords()
    assert "AUTH" in kw, f"AUTH not advertised after TLS: {sorted(kw)}"
    mechs = {m.upper() for m in kw["AUTH"]}
    assert {"PLAIN", "LOGIN"} <= mechs, mechs


def test_ehlo_after_starttls_no_starttls(tls):
    kw = tls.ehlo_ok().keywords()
    assert "STARTTLS" not in kw


def test_ehlo_after_starttls_keeps_extensions(tls):
    kw = tls.ehlo_ok().keywords()
    for ext in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"):
        assert ext in kw, f"{ext} not advertised after TLS: {sorted(kw)}"


def test_implicit_tls_ehlo_advertises_auth_not_starttls(server):
    with server.client("smtps") as c:
        c.expect(220)
        kw = c.ehlo_ok().keywords()
        assert "AUTH" in kw and {"PLAIN", "LOGIN"} <= {m.upper() for m in kw["AUTH"]}, kw
        assert "STARTTLS" not in kw


def test_helo_has_no_extensions(server):
    with server.client("submission") as c:
        c.expect(220)
        r = c.cmd("HELO client.test")
        assert_reply(r, 250)
        assert len(r.lines) == 1, r


def test_command_before_helo_mail_rejected(server):
    with server.client("submission") as c:
        c.expect(220)
        r = c.mail(ALICE)
        assert 500 <= r.code < 600, r


def test_starttls_requires_ehlo_again(server):
    """RFC 3207 §4.2: after TLS the session starts over; MAIL without a new
    EHLO is a bad sequence (or authentication required)."""
    with server.client("submission") as c:
        c.expect(220)
        c.ehlo_ok()
        c.starttls()
        r = c.cmd("AUTH PLAIN " + b64(f"\0{ALICE}\0{server.users[ALICE]}"))
        assert_reply(r, 503, "5.5.1")


# -- STARTTLS

def test_starttls_twice_503(tls):
    assert_reply(tls.cmd("STARTTLS"), 503, "5.5.1")


def test_starttls_on_implicit_tls_listener_refused(server):
    """TLS is already active: refused (503 as for a second STARTTLS, or 502 as
    for a command this listener does not offer), and the session goes on."""
    with server.client("smtps") as c:
        c.expect(220)
        c.ehlo_ok()
        r = c.cmd("STARTTLS")
        assert r.code in (502, 503) and r.enh == "5.5.1", r
        assert_reply(c.cmd("NOOP"), 250, "2.0.0")


def test_starttls_with_argument_501(plain):
    assert_reply(plain.cmd("STARTTLS now"), 501)


# -- AUTH before TLS and before AUTH

def test_auth_plain_before_tls_538(plain, server):
    r = plain.auth_plain(ALICE, server.users[ALICE])
    assert_reply(r, 538, "5.7.11")


def test_auth_login_before_tls_538(plain):
    assert_reply(plain.cmd("AUTH LOGIN"), 538, "5.7.11")


def test_mail_before_auth_530(tls):
    assert_reply(tls.mail(ALICE), 530, "5.7.0")


def test_mail_before_tls_530(plain):
    assert_reply(plain.mail(ALICE), 530, "5.7.0")


def test_rcpt_before_auth_rejected(tls):
    r = tls.rcpt(BOB)
    assert r.code in (503, 530), r


# -- AUTH exchanges

def test_auth_plain_success_235(tls, server):
    assert_reply(tls.auth_plain(ALICE, server.users[ALICE]), 235, "2.7.0")


def test_auth_plain_empty_challenge(tls, server):
    tls.send_line("AUTH PLAIN")
    line = tls.read_line()
    assert line == b"334 ", f"want an empty 334 challenge, got {line!r}"
    r = tls.cmd(b64(f"\0{ALICE}\0{server.users[ALICE]}"))
    assert_reply(r, 235, "2.7.0")


def test_auth_login_success_235(tls, server):
    r = tls.cmd("AUTH LOGIN")
    assert_reply(r, 334)
    assert r.texts[0] == "VXNlcm5hbWU6", r
    r = tls.cmd(b64(ALICE))
    assert_reply(r, 334)
    assert r.texts[0] == "UGFzc3dvcmQ6", r
    assert_reply(tls.cmd(b64(server.users[ALICE])), 235, "2.7.0")


def test_auth_login_initial_response(tls, server):
    r = tls.cmd("AUTH LOGIN " + b64(ALICE))
    assert_reply(r, 334)
    assert r.texts[0] == "UGFzc3dvcmQ6", r
    assert_reply(tls.cmd(b64(server.users[ALICE])), 235, "2.7.0")


def test_auth_mechanism_name_case_insensitive(tls, server):
    r = tls.cmd("auth plain " + b64(f"\0{ALICE}\0{server.users[ALICE]}"))
    assert_reply(r, 235, "2.7.0")


def test_auth_wrong_password_535(tls):
    assert_reply(tls.auth_plain(ALICE, "not-the-password"), 535, "5.7.8")


def test_auth_unknown_user_535(tls):
    assert_reply(tls.auth_plain("nobody@example.test", "whatever"), 535, "5.7.8")


def test_auth_unknown_user_and_wrong_password_same_reply(server):
    replies = []
    for user, pw in ((ALICE, "not-the-password"), ("nobody@example.test", "whatever")):
        with server.client("submission") as c:
            c.expect(220)
            c.ehlo_ok()
            c.starttls()
            c.ehlo_ok()
            replies.append(c.auth_plain(user, pw))
    assert replies[0].lines == replies[1].lines, replies


def test_auth_login_wrong_password_535(tls):
    assert_reply(tls.auth_login(ALICE, "not-the-password"), 535, "5.7.8")


def test_auth_retry_after_failure_succeeds(tls, server):
    assert_reply(tls.auth_plain(ALICE, "not-the-password"), 535, "5.7.8")
    assert_reply(tls.auth_plain(ALICE, server.users[ALICE]), 235, "2.7.0")


def test_auth_malformed_base64_501(tls):
    assert_reply(tls.cmd("AUTH PLAIN !!!not*base64"), 501, "5.5.2")


def test_auth_malformed_base64_continuation_501(tls):
    assert_reply(tls.cmd("AUTH LOGIN"), 334)
    assert_reply(tls.cmd("%%%%"), 501, "5.5.2")


def test_auth_cancel_plain_501(tls):
    assert_reply(tls.cmd("AUTH PLAIN"), 334)
    assert_reply(tls.cmd("*"), 501, "5.7.0")


def test_auth_cancel_login_501(tls):
    assert_reply(tls.cmd("AUTH LOGIN"), 334)
    assert_reply(tls.cmd(b64(ALICE)), 334)
    assert_reply(tls.cmd("*"), 501, "5.7.0")


def test_auth_after_cancel_succeeds(tls, server):
    assert_reply(tls.cmd("AUTH PLAIN"), 334)
    assert_reply(tls.cmd("*"), 501, "5.7.0")
    assert_reply(tls.auth_plain(ALICE, server.users[ALICE]), 235, "2.7.0")


def test_auth_twice_503(authed, server):
    assert_reply(authed.auth_plain(ALICE, server.users[ALICE]), 503, "5.5.1")


def test_auth_inside_transaction_503(authed, server):
    assert_reply(authed.mail(ALICE), 250)
    assert_reply(authed.auth_plain(BOB, server.users[BOB]), 503, "5.5.1")


def test_auth_unknown_mechanism_504(tls):
    assert_reply(tls.cmd("AUTH FOOBAR"), 504, "5.5.4")


def test_auth_without_mechanism_501(tls):
    r = tls.cmd("AUTH")
    assert r.code == 501, r


def test_auth_plain_authzid_other_user_535(tls, server):
    r = tls.auth_plain(ALICE, server.users[ALICE], authzid=BOB)
    assert_reply(r, 535, "5.7.8")


def test_auth_plain_authzid_same_user_235(tls, server):
    r = tls.auth_plain(ALICE, server.users[ALICE], authzid=ALICE)
    assert_reply(r, 235, "2.7.0")


def test_auth_plain_missing_fields_rejected(tls):
    r = tls.cmd("AUTH PLAIN " + b64("justonefield"))
    assert r.code in (501, 535), r


def test_auth_keeps_ehlo_state(authed):
    """After 235 the session keeps its EHLO state: MAIL works at once."""
    assert_reply(authed.mail(ALICE), 250)


# -- simple commands

def test_rset_250(authed):
    assert_reply(authed.cmd("RSET"), 250, "2.0.0")


def test_rset_clears_transaction(authed):
    assert_reply(authed.mail(ALICE), 250)
    assert_reply(authed.cmd("RSET"), 250, "2.0.0")
    assert_reply(authed.rcpt(BOB), 503, "5.5.1")


def test_noop_250(plain):
    assert_reply(plain.cmd("NOOP"), 250, "2.0.0")


def test_vrfy_252(authed):
    assert_reply(authed.cmd(f"VRFY {ALICE}"), 252)


def test_vrfy_unauthenticated_does_not_reveal(plain):
    r1 = plain.cmd(f"VRFY {ALICE}")
    r2 = plain.cmd("VRFY nobody@example.test")
    assert r1.code == r2.code, (r1, r2)


def test_help_214(plain):
    assert_reply(plain.cmd("HELP"), 214)


def test_quit_221_and_close(plain):
    assert_reply(plain.cmd("QUIT"), 221)
    assert plain.wait_closed(), "connection not closed after QUIT"


def test_unknown_command_500(plain):
    r = plain.cmd("FROBNICATE now")
    assert r.code == 500 and r.enh in ("5.5.2", "5.5.1"), r


def test_commands_case_insensitive(plain):
    assert_reply(plain.cmd("noop"), 250, "2.0.0")


def test_rcpt_before_mail_503(authed):
    assert_reply(authed.rcpt(BOB), 503, "5.5.1")


def test_data_before_rcpt_rejected(authed):
    assert_reply(authed.mail(ALICE), 250)
    r = authed.cmd("DATA")
    assert r.code in (503, 554), r


def test_mail_twice_503(authed):
    assert_reply(authed.mail(ALICE), 250)
    assert_reply(authed.mail(ALICE), 503, "5.5.1")


def test_mail_syntax_error_501(authed):
    r = authed.cmd("MAIL FROM:alice-without-brackets")
    assert r.code in (501, 553), r


def test_null_sender_refused_after_auth_unless_configured(authed):
    # issue 7: <> only where [policy] allow_null_sender = yes (test_policy.py)
    assert_reply(authed.cmd("MAIL FROM:<>"), 553, "5.7.1")


def test_unknown_mail_parameter_555(authed):
    r = authed.mail(ALICE, "FROBNICATE=yes")
    assert_reply(r, 555, "5.5.4")


# -- line limits

def test_long_command_line_500_556_and_session_survives(plain):
    r = plain.cmd("NOOP " + "x" * 600)
    assert_reply(r, 500, "5.5.6")
    assert_reply(plain.cmd("NOOP"), 250, "2.0.0")


def test_command_line_of_512_octets_accepted(plain):
    line = "NOOP " + "x" * (512 - 2 - 5)           # 512 with CRLF
    assert len(line) + 2 == 512
    assert_reply(plain.cmd(line), 250, "2.0.0")


def test_long_auth_line_500_556(tls):
    r = tls.cmd("AUTH PLAIN " + "A" * 13000)
    assert_reply(r, 500, "5.5.6")
    assert_reply(tls.cmd("NOOP"), 250, "2.0.0")


def test_long_auth_continuation_500_556(tls):
    assert_reply(tls.cmd("AUTH LOGIN"), 334)
    r = tls.cmd("A" * 13000)
    assert_reply(r, 500, "5.5.6")
    assert_reply(tls.cmd("NOOP"), 250, "2.0.0")


def test_auth_line_over_512_allowed(tls):
    """An AUTH line may be up to 12288 octets: a 2000-octet one is not 'too long'."""
    blob = b64(f"\0{ALICE}\0" + "p" * 1400)
    r = tls.cmd("AUTH PLAIN " + blob)
    assert not (r.code == 500 and r.enh == "5.5.6"), r
    assert r.code in (535, 501), r


def test_long_data_line_rejected_after_dot(authed, server):
    tok = token()
    assert_reply(authed.mail(ALICE), 250)
    assert_reply(authed.rcpt(BOB), 250)
    r = authed.data(simple_message(tok, body="y" * 2000 + "\r\nshort\r\n"))
    assert 500 <= r.code < 600, r
    assert_reply(authed.cmd("NOOP"), 250, "2.0.0")
    assert server.absent(tok) == []


def test_data_line_of_1000_octets_accepted(authed, server):
    tok = token()
    line = "z" * 998                           # 1000 with CRLF
    assert_reply(authed.mail(ALICE), 250)
    assert_reply(authed.rcpt(BOB), 250)
    assert_reply(authed.data(simple_message(tok, body=line + "\r\n")), 250)
    assert len(server.wait_for(tok, users=[BOB])) == 1


def test_too_many_errors_421_and_close(server):
    with server.client("submission") as c:
        c.expect(220)
        c.ehlo_ok()
        r = None
        for _ in range(100):
            try:
                r = c.cmd("FROBNICATE")
            except Closed:
                pytest.fail(f"closed without a 421 (last reply {r!r})")
            if r.code == 421:
                break
            assert r.code == 500, r
        assert r is not None and r.code == 421, f"no 421 after 100 errors: {r!r}"
        assert c.wait_closed(), "connection not closed after 421"


# -- envelope policy

def ehlo_size(c):
    kw = c.ehlo_ok().keywords()
    params = kw.get("SIZE", [])
    return int(params[0]) if params and params[0].isdigit() else None


def test_size_over_limit_552(server):
    with server.session() as c:
        limit = ehlo_size(c)
        assert limit, "SIZE has no limit value"
        assert_reply(c.mail(ALICE, f"SIZE={limit + 1}"), 552, "5.3.4")


def test_size_under_limit_accepted(authed):
    assert_reply(authed.mail(ALICE, "SIZE=1000"), 250)


def test_rcpt_non_local_domain_authenticated_not_refused(authed):
    """Authenticated users may relay: 250 once the queue relays, 451 4.3.0 while
    there is no queue; never a permanent refusal."""
    r = _rcpt(authed, "someone@remote.test")
    assert r.code == 250 or (r.code == 451 and r.enh == "4.3.0"), r


def _rcpt(c, rcpt):
    assert_reply(c.mail(ALICE), 250)
    return c.rcpt(rcpt)


def test_rcpt_unknown_local_user_550(authed):
    assert_reply(_rcpt(authed, "nobody@example.test"), 550, "5.1.1")


def test_rcpt_local_user_250(authed):
    assert_reply(_rcpt(authed, BOB), 250)


def test_rcpt_local_domain_case_insensitive(authed):
    assert_reply(_rcpt(authed, "bob@EXAMPLE.TEST"), 250)


def test_one_bad_recipient_does_not_spoil_others(authed, server):
    tok = token()
    assert_reply(authed.mail(ALICE), 250)
    assert_reply(authed.rcpt("nobody@example.test"), 550, "5.1.1")
    assert_reply(authed.rcpt(BOB), 250)
    assert_reply(authed.data(simple_message(tok)), 250)
    assert len(server.wait_for(tok, users=[BOB])) == 1


def test_accepted_message_is_delivered(authed, server):
    tok = token()
    assert_reply(authed.send_message(ALICE, [BOB], simple_message(tok)), 250)
    assert len(server.wait_for(tok, users=[BOB])) == 1


def test_received_with_esmtpsa_raw(authed, server):
    tok = token()
    assert_reply(authed.send_message(ALICE, [BOB], simple_message(tok)), 250)
    data = server.wait_for(tok, users=[BOB])[0][2]
    rec = headers(data, "Received")[0]
    assert re.search(r"\bwith ESMTPSA\b", rec) and ALICE in rec, rec


# -- pipelining

def test_pipelined_transaction_after_auth(authed, server):
    tok = token()
    authed.send(f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
    assert_reply(authed.read_reply(), 250)
    assert_reply(authed.read_reply(), 250)
    assert_reply(authed.read_reply(), 250)
    assert_reply(authed.read_reply(), 354)
    authed.send(simple_message(tok) + ".\r\n")
    assert_reply(authed.read_reply(), 250)
    assert len(server.wait_for(tok, count=2, users=[ALICE, BOB])) == 2


def test_pipelined_ehlo_mail_rcpt_data_after_auth(authed, server):
    tok = token()
    authed.send(f"EHLO client.test\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n")
    assert_reply(authed.read_reply(), 250)
    assert_reply(authed.read_reply(), 250)
    assert_reply(authed.read_reply(), 250)
    assert_reply(authed.read_reply(), 354)
    authed.send(simple_message(tok) + ".\r\n")
    assert_reply(authed.read_reply(), 250)
    assert len(server.wait_for(tok, users=[BOB])) == 1


def test_pipelined_whole_session_in_one_write(server):
    """Implicit TLS: EHLO, AUTH PLAIN (initial response), MAIL, RCPT, DATA, body, QUIT."""
    tok = token()
    with server.client("smtps") as c:
        c.expect(220)
        c.send(f"EHLO client.test\r\n"
               f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + server.users[ALICE])}\r\n")
        assert_reply(c.read_reply(), 250)
        assert_reply(c.read_reply(), 235, "2.7.0")
        c.send(f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n")
        assert_reply(c.read_reply(), 250)
        assert_reply(c.read_reply(), 250)
        assert_reply(c.read_reply(), 354)
        c.send(simple_message(tok) + ".\r\nQUIT\r\n")
        assert_reply(c.read_reply(), 250)
        assert_reply(c.read_reply(), 221)
    assert len(server.wait_for(tok, users=[BOB])) == 1


# -- MX listener

def test_mx_no_auth_advertised(mx):
    kw = mx.ehlo_ok().keywords()
    assert "AUTH" not in kw, kw


def test_mx_delivers_to_local_user(mx, server):
    tok = token()
    assert_reply(mx.mail("sender@remote.test"), 250)
    assert_reply(mx.rcpt(BOB), 250)
    assert_reply(mx.data(simple_message(tok, sender="sender@remote.test")), 250)
    data = server.wait_for(tok, users=[BOB])
    assert len(data) == 1
    rec = headers(data[0][2], "Received")[0]
    assert re.search(r"\bwith ESMTP\b", rec), rec


def test_mx_null_sender_accepted(mx):
    """Bounces come from <> (RFC 5321 §4.5.5): the MX must take them."""
    assert_reply(mx.cmd("MAIL FROM:<>"), 250)
    assert_reply(mx.rcpt(BOB), 250)


def test_mx_relay_denied_554(mx):
    assert_reply(mx.mail("sender@remote.test"), 250)
    assert_reply(mx.rcpt("someone@elsewhere.test"), 554, "5.7.1")


def test_mx_unknown_local_user_550(mx):
    assert_reply(mx.mail("sender@remote.test"), 250)
    assert_reply(mx.rcpt("nobody@example.test"), 550, "5.1.1")


def test_mx_auth_refused(mx, server):
    r = mx.auth_plain(ALICE, server.users[ALICE])
    assert r.code in (500, 502, 503, 504), r


# -- not SMTP

def test_http_request_closes_session(server):
    with server.client("submission") as c:
        c.expect(220)
        c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n")
        assert c.wait_closed(timeout=15), f"session still open; server sent {c.buf!r}"


def test_mx_starttls_received_with_esmtps(server):
    tok = token()
    with server.client("mx") as c:
        c.expect(220)
        kw = c.ehlo_ok().keywords()
        if "STARTTLS" not in kw:
            pytest.skip("MX listener does not offer STARTTLS")
        c.starttls()
        c.ehlo_ok()
        assert_reply(c.send_message("sender@remote.test", [BOB],
                                    simple_message(tok, sender="sender@remote.test")), 250)
    data = server.wait_for(tok, users=[BOB])
    assert len(data) == 1
    rec = headers(data[0][2], "Received")[0]
    assert re.search(r"\bwith ESMTPS\b", rec), rec
