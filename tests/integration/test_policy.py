"""Issue 7: relay control, sender ownership, send-as grants, the brute-force guard
(tarpit, bans, stale devices, persistence, Redis sharing), rate limits,
compromised-account containment, submission fix-ups, privacy and the audit log.

Every test runs against a real `postern serve`. The guard's delays are configured
small so the brute-force runs stay fast; 127.0.0.2 serves as a second client
address (the client socket is bound to it).
"""

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (USERS, Closed, assert_reply, headers, simple_message,
                      token, free_ports)

ALICE = "alice@example.test"
BOB = "bob@example.test"
OTHER = "127.0.0.2"

# Small, fast guard settings for the brute-force tests.
FAST_GUARD = [
    ("auth", "failure_delay", "20ms"),
    ("guard", "max_failures", "3"),
    ("guard", "ban_after", "8"),
    ("guard", "delay_base", "100ms"),
    ("guard", "delay_max", "800ms"),
    ("server", "max_errors", "1000"),
]


# --------------------------------------------------------------------------
# helpers


@pytest.fixture
def make_server(make_server):
    """conftest's factory with the guard's loopback allow-list removed (the
    defaults again: no network is trusted)."""
    def make(config=(), **kw):
        return make_server(config=[("guard", "allow_networks", "")] + list(config),
                           **kw)
    return make


def tls_session(inst, listener="submission", source=None):
    """Connected, TLS, EHLO done (no AUTH)."""
    c = inst.client(listener, source=source)
    c.expect(220)
    c.ehlo_ok()
    if listener == "submission":
        c.starttls()
        c.ehlo_ok()
    return c


def login(inst, user=ALICE, source=None, listener="submission"):
    c = tls_session(inst, listener, source)
    assert_reply(c.auth_plain(user, inst.users[user]), 235, "2.7.0")
    return c


def timed_auth(c, user, password):
    t = time.monotonic()
    r = c.auth_plain(user, password)
    return r, time.monotonic() - t


def connect_refused(inst, source=None, listener="submission"):
    """The first reply on a fresh connection (421 when banned)."""
    c = inst.client(listener, source=source)
    try:
        return c.read_reply()
    except Closed:
        return None
    finally:
        c.close()


def wait_until(pred, timeout=10.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def add_extra_fields(inst, user, fields):
    """Append extra fields (passwd-file) to user's line; the driver notices
    the change within a second."""
    users = inst.dir / "users"
    lines = users.read_text().splitlines()
    out = []
    for line in lines:
        if line.startswith(user + ":"):
            line = line + " " + fields
        out.append(line)
    users.write_text("\n".join(out) + "\n")
    time.sleep(1.2)


def spool_envelopes(inst):
    env = inst.dir / "spool" / "env"
    return sorted(env.iterdir()) if env.is_dir() else []


def held_ids(inst):
    ids = []
    for p in spool_envelopes(inst):
        if re.search(r"(?m)^held 1$", p.read_text(errors="replace")):
            ids.append(p.name)
    return ids


def guard_list(inst):
    cp = inst.cli("guard", "list", "-c", inst.conf)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


# --------------------------------------------------------------------------
# relay control


def test_submission_requires_auth_530(make_server):
    inst = make_server()
    c = tls_session(inst)
    assert_reply(c.mail(ALICE), 530, "5.7.0")
    assert_reply(c.rcpt("someone@elsewhere.example"), 503)
    c.quit()


def test_mx_refuses_relay_without_auth_554(make_server):
    inst = make_server()
    c = tls_session(inst, "mx")
    assert_reply(c.mail("someone@outside.example"), 250)
    assert_reply(c.rcpt("victim@elsewhere.example"), 554, "5.7.1")
    assert_reply(c.rcpt(BOB), 250)          # local domains are fine
    c.quit()
    assert "result=relay-denied" in inst.log_text()


def test_trusted_network_may_relay_others_not(make_server):
    inst = make_server(config=[("policy", "trusted_networks", f"{OTHER}/32")])
    c = tls_session(inst, "mx", source=OTHER)
    assert_reply(c.mail("app@outside.example"), 250)
    assert_reply(c.rcpt("someone@elsewhere.example"), 250)
    c.quit()
    c = tls_session(inst, "mx")
    assert_reply(c.mail("app@outside.example"), 250)
    assert_reply(c.rcpt("someone@elsewhere.example"), 554, "5.7.1")
    c.quit()


# --------------------------------------------------------------------------
# sender ownership and send-as


@pytest.fixture
def senders(make_server, tmp_path):
    mapfile = tmp_path / "sender_login"
    mapfile.write_text("# address  logins\n"
                       "team@example.test  bob@example.test, alice@example.test\n"
                       "@partner.example   alice@example.test\n")
    inst = make_server(config=[("policy", "sender_login", str(mapfile))])
    add_extra_fields(inst, ALICE,
                     "sender=alias@example.test sendas=shared@example.test")
    return inst


def test_spoofed_mail_from_refused_553(senders):
    c = login(senders)
    r = c.mail(BOB)
    assert_reply(r, 553, "5.7.1")
    assert "not owned" in r.text
    assert_reply(c.mail(""), 553, "5.7.1")     # <> not allowed by default
    c.quit()
    log = senders.log_text()
    assert re.search(r"event=sender-mismatch check=mail-from login=alice@example.test "
                     r"address=bob@example.test client=127.0.0.1 action=refused", log)


def test_spoofed_header_from_refused_550(senders):
    c = login(senders)
    tok = token()
    r = c.send_message(ALICE, [BOB], simple_message(tok, sender=BOB))
    assert_reply(r, 550, "5.7.1")
    # display names, comments and quoting do not hide the address
    for frm in (f'"{ALICE}" <{BOB}>', f"Alice (the boss) <{BOB}>",
                f"=?utf-8?q?Alice?= <{BOB}>", f"{ALICE}, {BOB}"):
        body = f"From: {frm}\r\nTo: <{BOB}>\r\nSubject: {tok}\r\n\r\nx\r\n"
        assert_reply(c.send_message(ALICE, [BOB], body), 550, "5.7.1")
    # Sender: is checked too
    body = f"From: <{ALICE}>\r\nSender: <{BOB}>\r\nSubject: {tok}\r\n\r\nx\r\n"
    assert_reply(c.send_message(ALICE, [BOB], body), 550, "5.7.1")
    # a From: that cannot be parsed is refused in strict mode
    body = f"From: <{ALICE}\r\nSubject: {tok}\r\n\r\nx\r\n"
    assert_reply(c.send_message(ALICE, [BOB], body), 550, "5.7.1")
    c.quit()
    assert not senders.find(tok)
    assert "check=header-from" in senders.log_text()


def test_own_address_alias_and_grants_accepted(senders):
    c = login(senders)
    toks = []
    for mail_from, header_from in ((ALICE, f"Alice <{ALICE}>"),
                                   ("alias@example.test", "alias@example.test"),
                                   ("shared@example.test", "<shared@example.test>"),
                                   ("team@example.test", "Team <team@example.test>"),
                                   ("anyone@partner.example", "anyone@partner.example")):
        tok = token()
        toks.append(tok)
        body = (f"From: {header_from}\r\nTo: <{BOB}>\r\nSubject: {tok}\r\n"
                f"Message-ID: <{tok}@client.test>\r\n\r\nhello\r\n")
        assert_reply(c.send_message(mail_from, [BOB], body), 250, "2.0.0")
    c.quit()
    for tok in toks:
        assert senders.wait_for(tok, users=[BOB]), tok


def test_send_as_ungranted_refused_both_places(senders):
    c = login(senders, user=BOB)
    # bob has the team@ grant but not alice's shared@ grant
    assert_reply(c.mail("shared@example.test"), 553, "5.7.1")
    tok = token()
    body = f"From: <shared@example.test>\r\nSubject: {tok}\r\n\r\nx\r\n"
    assert_reply(c.send_message(BOB, [ALICE], body), 550, "5.7.1")
    body = f"From: <team@example.test>\r\nSubject: {tok}\r\n\r\nx\r\n"
    assert_reply(c.send_message("team@example.test", [ALICE], body), 250)
    c.quit()


def test_user_show_lists_grants(senders):
    cp = senders.cli("user", "show", "-c", senders.conf, ALICE)
    assert cp.returncode == 0, cp.stderr
    assert "sender: alias@example.test" in cp.stdout
    assert "send-as: shared@example.test" in cp.stdout


def test_warn_mode_accepts_and_logs(make_server):
    inst = make_server(config=[("policy", "sender_check", "warn"),
                               ("policy", "allow_null_sender", "yes")])
    c = login(inst)
    tok = token()
    assert_reply(c.send_message(BOB, [BOB], simple_message(tok, sender=BOB)), 250)
    assert_reply(c.mail(""), 250)               # <> allowed by configuration
    c.quit()
    assert inst.wait_for(tok, users=[BOB])
    assert "action=warned" in inst.log_text()


# --------------------------------------------------------------------------
# the guard


def test_brute_force_50_tarpit_then_ban(make_server):
    inst = make_server(config=FAST_GUARD)
    c = tls_session(inst)
    times, codes = [], []
    for i in range(50):
        try:
            r, dt = timed_auth(c, ALICE, f"guess-{i:03d}")
        except Closed:
            codes.append(None)
            break
        codes.append(r.code)
        times.append(dt)
        if r.code != 535:
            break
    # 8 distinct guesses are answered 535, then the address is banned
    assert codes[:8] == [535] * 8, codes
    assert codes[8] == 454, codes
    # no delay beyond the base for the first three, then it grows
    # (100, 200, 400, 800 ms on top of the password check)
    assert times[7] >= 0.8 and max(times[:3]) < times[7] - 0.5, times
    assert times[6] > times[4] + 0.1 and times[5] > times[3] + 0.1, times
    c.close()
    r = connect_refused(inst)
    assert r is not None and r.code == 421 and r.enh == "4.7.0", r
    # the owner logs in from another address, without any delay
    t = time.monotonic()
    c = login(inst, source=OTHER)
    assert time.monotonic() - t < 2.0
    c.quit()
    log = inst.log_text()
    assert re.search(r"event=ban client=127\.0\.0\.1 until=\S+ reason=auth-failures", log)
    assert "event=tarpit" in log
    assert re.search(r"event=auth result=fail mech=PLAIN login=alice@example.test "
                     r"client=127\.0\.0\.1 listener=\S+ tls=TLSv1\.\d reason=credentials "
                     r"delay_ms=\d+", log)
    assert "127.0.0.1" in guard_list(inst)


def test_default_config_tries_before_delay_and_ban(make_server):
    # the defaults (5 free tries, then 1 s doubling, ban at 10), only the
    # growth capped so the run stays short
    inst = make_server(config=[("auth", "failure_delay", "20ms"),
                               ("guard", "delay_max", "1s"),
                               ("server", "max_errors", "1000")])
    c = tls_session(inst)
    times, codes = [], []
    for i in range(20):
        r, dt = timed_auth(c, ALICE, f"default-{i}")
        codes.append(r.code)
        times.append(dt)
        if r.code != 535:
            break
    assert codes == [535] * 10 + [454], codes
    assert max(times[:5]) < 0.9, times         # max_failures = 5: no extra delay
    assert min(times[5:10]) >= 1.0, times      # then the tarpit
    c.close()
    assert connect_refused(inst).code == 421


def test_stale_password_behind_nat_not_banned(make_server):
    inst = make_server(config=FAST_GUARD)
    c = tls_session(inst)
    for i in range(100):
        r, dt = timed_auth(c, ALICE, "last-years-password")
        assert_reply(r, 535, "5.7.8")
        assert dt < 0.5, (i, dt)                # never tarpitted
    c.close()
    # the office is not banned: everybody else still logs in from it
    c = login(inst, user=BOB)
    c.quit()
    assert "event=ban " not in inst.log_text()


def test_twenty_distinct_passwords_banned(make_server):
    inst = make_server(config=FAST_GUARD[:1] + [
        ("guard", "delay_base", "20ms"), ("guard", "delay_max", "40ms"),
        ("server", "max_errors", "1000")])
    c = tls_session(inst)
    codes = []
    for i in range(20):
        # spraying: one address, many accounts
        user = [ALICE, BOB, "carol@example.test", "dave@example.test"][i % 4]
        codes.append(c.auth_plain(user, f"spray-{i}").code)
    c.close()
    assert codes[:10] == [535] * 10 and set(codes[10:]) == {454}, codes
    assert connect_refused(inst).code == 421


def test_ban_survives_restart_and_unban(make_server):
    inst = make_server(config=FAST_GUARD)
    c = tls_session(inst)
    for i in range(8):
        c.auth_plain(ALICE, f"restart-{i}")
    c.close()
    assert connect_refused(inst).code == 421
    assert inst.stop() == []
    inst.start()
    assert connect_refused(inst).code == 421
    assert connect_refused(inst, source=OTHER).code == 220
    cp = inst.cli("guard", "unban", "-c", inst.conf, "127.0.0.1")
    assert cp.returncode == 0, cp.stderr
    r = wait_until(lambda: (lambda x: x if x and x.code == 220 else None)(
        connect_refused(inst)), timeout=10)
    assert r is not None and r.code == 220
    assert "reason=operator" in inst.log_text()
    login(inst).quit()


# --------------------------------------------------------------------------
# two nodes, one Redis


@pytest.fixture
def redis_server(tmp_path):
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(exe):
        pytest.skip("redis-server is not installed")
    port = free_ports(1)[0]
    d = tmp_path / "redis"
    d.mkdir()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(d),
                             "--daemonize", "no", "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_ban_shared_between_nodes_through_redis(make_server, redis_server):
    cfg = FAST_GUARD + [("guard", "redis", redis_server)]
    a = make_server(config=cfg)
    b = make_server(config=cfg)
    wait_until(lambda: b.log_text().count("event=redis-connected") >= 2)
    assert connect_refused(b).code == 220
    c = tls_session(a)
    for i in range(8):
        c.auth_plain(ALICE, f"node-{i}")
    c.close()
    assert connect_refused(a).code == 421
    r = wait_until(lambda: (lambda x: x if x and x.code == 421 else None)(
        connect_refused(b)), timeout=10)
    assert r is not None and r.code == 421, r
    assert connect_refused(b, source=OTHER).code == 220
    # AUTH on node B is refused too (454), for a session opened before
    assert re.search(r"event=ban client=127\.0\.0\.1 .*reason=auth-failures",
                     b.log_text())


# --------------------------------------------------------------------------
# rate limits and containment


def test_connection_rate_per_address(make_server):
    inst = make_server(config=[("policy", "connection_rate", "5")])
    if time.time() % 60 > 55:          # stay inside one counting minute
        time.sleep(61 - time.time() % 60)
    codes = []
    for _ in range(6):
        r = connect_refused(inst, source=OTHER)
        codes.append(r.code if r else None)
    assert codes == [220] * 5 + [421], codes
    assert connect_refused(inst, source="127.0.0.3").code == 220
    assert "reason=connection-rate" in inst.log_text()


def test_message_rate_limit_hit_and_reset(make_server):
    inst = make_server(config=[("policy", "messages_per_hour", "2"),
                               ("policy", "message_window", "3s"),
                               ("policy", "hard_cap_factor", "0")])
    c = login(inst)
    for _ in range(2):
        assert_reply(c.send_message(ALICE, [BOB], simple_message(token())), 250)
    r = c.mail(ALICE)
    assert_reply(r, 452, "4.7.1")
    assert "Too many messages" in r.text
    time.sleep(3.5)
    assert_reply(c.send_message(ALICE, [BOB], simple_message(token())), 250)
    c.quit()
    assert "event=limit login=alice@example.test reason=messages" in inst.log_text()


def test_recipient_limits(make_server):
    inst = make_server(config=[("policy", "recipients_per_day", "3"),
                               ("policy", "hard_cap_factor", "0"),
                               ("server", "max_recipients", "2")])
    c = login(inst)
    assert_reply(c.mail(ALICE), 250)
    assert_reply(c.rcpt(BOB), 250)
    assert_reply(c.rcpt(ALICE), 250)
    assert_reply(c.rcpt("postmaster@example.test"), 452, "4.5.3")  # per message
    assert_reply(c.data(simple_message(token())), 250)
    assert_reply(c.mail(ALICE), 250)
    assert_reply(c.rcpt(BOB), 250)
    assert_reply(c.rcpt(ALICE), 452, "4.7.1")                      # per day
    c.cmd("RSET")
    c.quit()


def test_per_user_limits_from_the_passdb(make_server):
    """passwd-file extra fields give a login its own limits, below the
    server's: recipients_per_day=2 and messages_per_hour=3 for alice."""
    inst = make_server(config=[("policy", "hard_cap_factor", "0")])
    add_extra_fields(inst, ALICE, "recipients_per_day=2 messages_per_hour=3")
    c = login(inst)
    assert_reply(c.mail(ALICE), 250)
    assert_reply(c.rcpt(BOB), 250)
    assert_reply(c.rcpt(ALICE), 250)
    assert_reply(c.data(simple_message(token())), 250)
    r = c.mail(ALICE)                                              # alice's day
    assert_reply(r, 452, "4.7.1")
    assert "limit 2 per" in r.text, r.text
    c.quit()
    # bob keeps the server's limits
    c = login(inst, BOB)
    assert_reply(c.send_message(BOB, [BOB, ALICE, "postmaster@example.test"],
                                simple_message(token(), sender=BOB)), 250)
    c.quit()


def test_hard_cap_holds_mail_and_notifies(make_server):
    inst = make_server(config=[("policy", "messages_per_hour", "2"),
                               ("policy", "hard_cap_factor", "2")])
    c = login(inst)
    for _ in range(2):
        assert_reply(c.send_message(ALICE, [BOB], simple_message(token())), 250)
    assert_reply(c.mail(ALICE), 452, "4.7.1")
    assert_reply(c.mail(ALICE), 452, "4.7.1")
    # the fifth attempt crosses 2 x 2: accepted, but held
    tok = token()
    assert_reply(c.send_message(ALICE, [BOB], simple_message(tok)), 250)
    tok2 = token()
    assert_reply(c.send_message(ALICE, [BOB], simple_message(tok2)), 250)
    c.quit()
    log = inst.log_text()
    assert re.search(r"event=contained login=alice@example.test client=127\.0\.0\.1 "
                     r"reason=hard-cap-messages action=hold", log)
    assert re.search(r"event=accepted id=\S+ login=alice@example.test .*held=yes", log)
    # notices to the postmaster and the user
    pm = inst.wait_for("Outgoing mail of alice@example.test held",
                       users=["postmaster@example.test"])
    assert pm, "no notice in postmaster's Maildir"
    assert b"postern queue release" in pm[0][2]
    assert inst.wait_for("Outgoing mail of alice@example.test held", users=[ALICE])
    # the held messages are not delivered
    time.sleep(1)
    assert not inst.find(tok, users=[BOB]) and not inst.find(tok2, users=[BOB])
    held = held_ids(inst)
    assert len(held) == 2, held
    assert "alice@example.test" in guard_list(inst)
    # the operator decides: release one, delete the other
    assert inst.cli("queue", "release", "-c", inst.conf, held[0]).returncode == 0
    assert inst.cli("queue", "delete", "-c", inst.conf, held[1]).returncode == 0
    assert inst.wait_for(tok, users=[BOB]) or inst.wait_for(tok2, users=[BOB])
    # and lifts the containment
    assert inst.cli("guard", "unban", "-c", inst.conf, ALICE).returncode == 0
    assert wait_until(lambda: "event=released login=alice@example.test"
                      in inst.log_text())


# --------------------------------------------------------------------------
# fix-ups, privacy, audit


def test_date_and_message_id_added(make_server):
    inst = make_server()
    c = login(inst)
    tok = token()
    body = f"From: <{ALICE}>\r\nTo: <{BOB}>\r\nSubject: {tok}\r\n\r\nno date\r\n"
    assert_reply(c.send_message(ALICE, [BOB], body), 250)
    tok2 = token()
    assert_reply(c.send_message(ALICE, [BOB], simple_message(tok2)), 250)
    c.quit()
    got = inst.wait_for(tok, users=[BOB])
    assert got
    data = got[0][2]
    assert len(headers(data, "Date")) == 1
    mid = headers(data, "Message-ID")
    assert len(mid) == 1 and re.match(r"<[^@>]+@mail\.example\.test>$", mid[0]), mid
    # a message that has them is left alone
    got2 = inst.wait_for(tok2, users=[BOB])
    assert headers(got2[0][2], "Message-ID") == [f"<{tok2}@client.test>"]


def test_privacy_mode_strips_client_address(make_server):
    inst = make_server(config=[("policy", "privacy", "yes")])
    c = login(inst, source=OTHER)
    tok = token()
    assert_reply(c.send_message(ALICE, [BOB], simple_message(tok)), 250)
    c.quit()
    got = inst.wait_for(tok, users=[BOB])
    assert got
    received = " ".join(headers(got[0][2], "Received"))
    assert OTHER not in received and "client.test" not in received, received
    assert "ESMTPSA" in received
    # unauthenticated mail on the MX listener keeps it
    c = tls_session(inst, "mx", source=OTHER)
    tok2 = token()
    assert_reply(c.send_message("x@outside.example", [BOB], simple_message(tok2)), 250)
    c.quit()
    got = inst.wait_for(tok2, users=[BOB])
    assert OTHER in " ".join(headers(got[0][2], "Received"))


def test_audit_log_answers_who_from_where_how(make_server):
    inst = make_server()
    c = login(inst, source=OTHER, listener="smtps")
    r = c.send_message(ALICE, [BOB], simple_message(token()))
    assert_reply(r, 250)
    qid = r.text.split()[-1]
    c.quit()
    log = inst.log_text()
    acc = re.search(rf"session=(\w+) event=accepted id={qid} login=alice@example.test "
                    rf"from=alice@example.test rcpts=1 size=\d+ client=127\.0\.0\.2 "
                    rf"listener=\S+ tls=TLSv1\.\d mech=PLAIN held=no", log)
    assert acc, log[-3000:]
    sid = acc.group(1)
    assert re.search(rf"session={sid} event=auth result=ok mech=PLAIN "
                     rf"login=alice@example.test client=127\.0\.0\.2 listener=\S+ "
                     rf"tls=TLSv1\.\d reason=- delay_ms=0", log)
    # the fail2ban filter shipped in docs/ matches the failure line
    filt = (Path(__file__).resolve().parents[2] / "docs" / "fail2ban.conf").read_text()
    m = re.search(r"^failregex\s*=\s*(.+)$", filt, re.M)
    assert m
    rx = m.group(1).strip().replace("<HOST>", r"(?P<host>[0-9a-fA-F:.]+)")
    c = tls_session(inst)
    c.auth_plain(ALICE, "nope")
    c.quit()
    fails = [l for l in inst.log_text().splitlines() if "result=fail" in l]
    assert fails and re.search(rx, fails[-1]), (rx, fails[-1:])
