"""Submitting mail with real clients: smtplib, swaks, curl, msmtp."""

import re
import smtplib
import subprocess

import pytest

from conftest import (USERS, assert_reply, have, headers, lf, simple_message, split_message,
                      tls_context, token)

ALICE = "alice@example.test"
BOB = "bob@example.test"
TIMEOUT = 60


def smtp_starttls(server):
    s = smtplib.SMTP("127.0.0.1", server.ports["submission"], local_hostname="client.test",
                     timeout=TIMEOUT)
    s.ehlo()
    s.starttls(context=tls_context())
    s.ehlo()
    return s


def smtp_implicit(server):
    s = smtplib.SMTP_SSL("127.0.0.1", server.ports["smtps"], local_hostname="client.test",
                         context=tls_context(), timeout=TIMEOUT)
    s.ehlo()
    return s


def login_plain(s, user, password):
    s.user, s.password = user, password
    code, resp = s.auth("PLAIN", s.auth_plain)
    assert code == 235, (code, resp)
    assert resp.startswith(b"2.7.0"), resp


def login_login(s, user, password):
    s.user, s.password = user, password
    code, resp = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    assert code == 235, (code, resp)
    assert resp.startswith(b"2.7.0"), resp


def delivered_one(server, tok, user=BOB):
    found = server.wait_for(tok, users=[user])
    assert len(found) == 1, f"want 1 message with {tok} for {user}, found {len(found)}"
    return found[0][2]


def received(data):
    rec = headers(data, "Received")
    assert rec, f"no Received header in:\n{data[:2000]!r}"
    return rec[0]        # the one we added is on top


def assert_esmtpsa(data, login=ALICE):
    rec = received(data)
    assert re.search(r"\bwith ESMTPSA\b", rec), rec
    assert login in rec, rec


# -- smtplib

def test_smtplib_starttls_plain(server):
    tok = token()
    with smtp_starttls(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        refused = s.sendmail(ALICE, [BOB], simple_message(tok))
        assert refused == {}
    assert_esmtpsa(delivered_one(server, tok))


def test_smtplib_starttls_login(server):
    tok = token()
    with smtp_starttls(server) as s:
        login_login(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], simple_message(tok))
    assert_esmtpsa(delivered_one(server, tok))


def test_smtplib_implicit_tls_plain(server):
    tok = token()
    with smtp_implicit(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], simple_message(tok))
    assert_esmtpsa(delivered_one(server, tok))


def test_smtplib_implicit_tls_login(server):
    tok = token()
    with smtp_implicit(server) as s:
        login_login(s, BOB, USERS[BOB])
        s.sendmail(BOB, [ALICE], simple_message(tok, sender=BOB, rcpt=ALICE))
    assert_esmtpsa(delivered_one(server, tok, user=ALICE), login=BOB)


def test_received_header_names_tls_version_and_cipher(server):
    tok = token()
    with smtp_starttls(server) as s:
        cipher, version, _ = s.sock.cipher()
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], simple_message(tok))
    rec = received(delivered_one(server, tok))
    digits = version.replace("TLSv", "")          # "1.3"
    assert digits in rec, f"TLS version {version} not in Received: {rec}"
    assert cipher in rec, f"cipher {cipher} not in Received: {rec}"


def test_received_header_names_server_hostname(server):
    tok = token()
    with smtp_starttls(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], simple_message(tok))
    rec = received(delivered_one(server, tok))
    assert re.search(r"\bby " + re.escape(server.hostname) + r"\b", rec), rec


def test_message_body_delivered_intact(server):
    tok = token()
    msg = simple_message(tok, body="".join(f"line {i} {tok}\r\n" for i in range(500)))
    with smtp_starttls(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], msg)
    data = delivered_one(server, tok)
    assert lf(data).endswith(lf(msg.encode())), "stored message does not end with the " \
        "message as sent"


def test_multiple_recipients(server):
    tok = token()
    with smtp_starttls(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        refused = s.sendmail(ALICE, [ALICE, BOB], simple_message(tok, rcpt=BOB))
        assert refused == {}
    for u in (ALICE, BOB):
        delivered_one(server, tok, user=u)


def test_same_recipient_twice_single_copy_or_two(server):
    """A duplicate RCPT must not break the transaction."""
    tok = token()
    with smtp_starttls(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB, BOB], simple_message(tok))
    found = server.wait_for(tok, users=[BOB])
    assert 1 <= len(found) <= 2


def test_8bitmime_smtputf8_message(server):
    tok = token()
    subject = "Grüße aus Köln — 日本語"
    body = f"Ünïcödé body line {tok}\r\nΕλληνικά\r\n"
    msg = (f"From: <{ALICE}>\r\nTo: <{BOB}>\r\nSubject: {subject} {tok}\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}").encode("utf-8")
    with smtp_starttls(server) as s:
        assert s.has_extn("8bitmime") and s.has_extn("smtputf8")
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], msg, mail_options=["BODY=8BITMIME", "SMTPUTF8"])
    data = delivered_one(server, tok)
    assert subject.encode("utf-8") in data
    assert lf(data).endswith(lf(msg))


def test_dot_stuffed_lines_are_unstuffed(server):
    tok = token()
    body = f".leading dot {tok}\r\n..two dots\r\n.\r\n...\r\nend\r\n"
    msg = simple_message(tok, body=body)
    with smtp_starttls(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], msg)      # smtplib stuffs the dots
    data = delivered_one(server, tok)
    _, stored_body = split_message(data)
    assert stored_body == lf(body.encode()), stored_body


def test_raw_dot_stuffing_unstuffed(server):
    tok = token()
    with server.session() as c:
        r = c.send_message(ALICE, [BOB], simple_message(
            tok, body=f"..stuffed {tok}\r\n..\r\nplain\r\n"))
        assert_reply(r, 250)
        c.quit()
    _, stored_body = split_message(delivered_one(server, tok))
    assert stored_body == f".stuffed {tok}\n.\nplain\n".encode(), stored_body


def test_two_messages_in_one_session(server):
    t1, t2 = token(), token()
    with smtp_starttls(server) as s:
        login_plain(s, ALICE, USERS[ALICE])
        s.sendmail(ALICE, [BOB], simple_message(t1))
        s.sendmail(ALICE, [BOB], simple_message(t2))
    delivered_one(server, t1)
    delivered_one(server, t2)


def test_smtplib_wrong_password_raises(server):
    with smtp_starttls(server) as s:
        s.user, s.password = ALICE, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.auth("PLAIN", s.auth_plain)
        assert e.value.smtp_code == 535


# -- swaks

SWAKS = pytest.mark.skipif(not have("swaks"), reason="swaks not installed")


def swaks(server, tok, *args):
    cmd = ["swaks", "--to", BOB, "--from", ALICE, "--helo", "client.test",
           "--auth-user", ALICE, "--auth-password", USERS[ALICE],
           "--header", f"Subject: swaks {tok}", "--body", f"body {tok}",
           "--timeout", str(TIMEOUT), *args]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT * 2)
    assert cp.returncode == 0, f"swaks exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


@SWAKS
def test_swaks_starttls_plain(server):
    tok = token()
    swaks(server, tok, "--server", f"127.0.0.1:{server.ports['submission']}", "--tls",
          "--auth", "PLAIN")
    assert_esmtpsa(delivered_one(server, tok))


@SWAKS
def test_swaks_starttls_login(server):
    tok = token()
    swaks(server, tok, "--server", f"127.0.0.1:{server.ports['submission']}", "--tls",
          "--auth", "LOGIN")
    assert_esmtpsa(delivered_one(server, tok))


@SWAKS
def test_swaks_implicit_tls_plain(server):
    tok = token()
    swaks(server, tok, "--server", f"127.0.0.1:{server.ports['smtps']}", "--tlsc",
          "--auth", "PLAIN")
    assert_esmtpsa(delivered_one(server, tok))


@SWAKS
def test_swaks_pipelining(server):
    tok = token()
    swaks(server, tok, "--server", f"127.0.0.1:{server.ports['submission']}", "--tls",
          "--auth", "PLAIN", "--pipeline")
    assert_esmtpsa(delivered_one(server, tok))


# -- curl

CURL = pytest.mark.skipif(not have("curl"), reason="curl not installed")


def curl(server, tok, url, tmp_path, *extra):
    f = tmp_path / "mail.txt"
    f.write_bytes(simple_message(tok).encode())
    cmd = ["curl", "--silent", "--show-error", "--max-time", str(TIMEOUT), "-k",
           url, "--mail-from", ALICE, "--mail-rcpt", BOB, "--upload-file", str(f),
           "--user", f"{ALICE}:{USERS[ALICE]}", *extra]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT * 2)
    assert cp.returncode == 0, f"curl exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}"


@CURL
def test_curl_starttls(server, tmp_path):
    tok = token()
    curl(server, tok, f"smtp://127.0.0.1:{server.ports['submission']}", tmp_path,
         "--ssl-reqd")
    assert_esmtpsa(delivered_one(server, tok))


@CURL
def test_curl_implicit_tls(server, tmp_path):
    tok = token()
    curl(server, tok, f"smtps://127.0.0.1:{server.ports['smtps']}", tmp_path)
    assert_esmtpsa(delivered_one(server, tok))


@CURL
def test_curl_auth_login(server, tmp_path):
    tok = token()
    curl(server, tok, f"smtp://127.0.0.1:{server.ports['submission']}", tmp_path,
         "--ssl-reqd", "--login-options", "AUTH=LOGIN")
    assert_esmtpsa(delivered_one(server, tok))


# -- msmtp

@pytest.mark.skipif(not have("msmtp"), reason="msmtp not installed")
@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_msmtp(server, tmp_path, mode):
    tok = token()
    port = server.ports["submission" if mode == "starttls" else "smtps"]
    rc = tmp_path / "msmtprc"
    rc.write_text(
        "defaults\n"
        "account test\n"
        "host 127.0.0.1\n"
        f"port {port}\n"
        "tls on\n"
        f"tls_starttls {'on' if mode == 'starttls' else 'off'}\n"
        "tls_certcheck off\n"
        "auth plain\n"
        f"user {ALICE}\n"
        f"password {USERS[ALICE]}\n"
        f"from {ALICE}\n"
        "domain client.test\n"
        f"timeout {TIMEOUT}\n")
    rc.chmod(0o600)
    cp = subprocess.run(["msmtp", "-C", str(rc), "-a", "test", BOB],
                        input=simple_message(tok).encode(), capture_output=True,
                        timeout=TIMEOUT * 2)
    assert cp.returncode == 0, f"msmtp exited {cp.returncode}\n{cp.stdout!r}\n{cp.stderr!r}"
    assert_esmtpsa(delivered_one(server, tok))
