"""The durable queue (issue 4): local delivery through the queue service,
`postern queue` against a running and a stopped server, retry after a 4xx,
a DSN in the sender's Maildir after a 5xx, and the SIGKILL crash loop.

The next hop for relayed mail is tests/integration/sink.py (aiosmtpd)."""

import os
import random
import re
import signal
import smtplib
import ssl
import threading
import time
from pathlib import Path

import pytest

from conftest import (assert_reply, describe, free_ports, headers, simple_message,
                      token, USERS)

try:
    from sink import Sink
except ImportError:          # python3-aiosmtpd missing
    Sink = None

needs_sink = pytest.mark.skipif(Sink is None, reason="python3-aiosmtpd is not installed")

REMOTE = "remote.test"


def relay_config(sink_port=None, **queue):
    """[delivery] relay to the sink (plain SMTP) and fast retries."""
    port = sink_port if sink_port is not None else free_ports(1)[0]
    cfg = [("delivery", "relay", f"smtp://127.0.0.1:{port}"),
           ("delivery", "relay_tls", "none"),
           ("delivery", "connect_timeout", "2s"),
           ("queue", "retry_min", queue.pop("retry_min", "1s")),
           ("queue", "retry_max", queue.pop("retry_max", "2s"))]
    cfg += [("queue", k, v) for k, v in queue.items()]
    return cfg


def spool(inst):
    return inst.dir / "spool"


def queued_ids(inst):
    d = spool(inst) / "env"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def wait_until(pred, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def queue_cli(inst, *args):
    return inst.cli("queue", args[0], "-c", inst.conf, *args[1:])


def submit(inst, rcpts, tok, sender="alice@example.test"):
    """Send as alice over submission (STARTTLS + AUTH); returns the DATA reply."""
    c = inst.session("submission", user=sender)
    try:
        r = c.send_message(sender, rcpts, simple_message(tok, sender=sender,
                                                         rcpt=rcpts[0]))
        c.quit()
        return r
    finally:
        c.close()


def queue_id_of(reply):
    """The id in "250 2.0.0 Ok: queued as ID"."""
    m = re.search(r"queued as ([0-9A-Za-z]{1,31})\b", reply.text)
    return m.group(1) if m else None


# --------------------------------------------------------------------------
# Local delivery goes through the queue


def test_local_delivery_through_the_queue(server):
    tok = token()
    c = server.client("mx")
    c.expect(220)
    c.ehlo_ok()
    r = c.send_message("someone@example.net", ["bob@example.test"], simple_message(tok))
    assert_reply(r, 250)
    c.quit()
    qid = queue_id_of(r)
    assert qid, f"no queue id in the 250 reply: {r!r}"
    found = server.wait_for(tok, users=["bob@example.test"], timeout=20)
    assert len(found) == 1, server.log_tail()
    # one attempt line with the queue id, and the spool is empty again
    assert wait_until(lambda: re.search(
        rf"id={qid} rcpt=bob@example.test hop=\S+ tls=\S+ result=sent delay=\d+s "
        rf"attempts=1", server.log_text())), server.log_tail()
    assert wait_until(lambda: qid not in queued_ids(server)), queued_ids(server)
    # env/ goes first (then an fsync), msg/ right after
    assert wait_until(lambda: not (spool(server) / "msg" / qid).exists())


def test_commit_log_and_big_message_file(server):
    """A small message goes through the commit log (spool/log/), a body over
    256 KiB is moved from memory to its own tmp/ file while it arrives; both
    arrive intact, and no message file is left in tmp/ or msg/."""
    small, big = token(), token()
    line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+\r\n"
    big_body = f"{big}\r\n" + line * (600 * 1024 // len(line))
    for tok, body in ((small, None), (big, big_body)):
        c = server.session("submission", user="alice@example.test")
        r = c.send_message("alice@example.test", ["bob@example.test"],
                           simple_message(tok, body=body))
        c.quit()
        assert_reply(r, 250)
    assert list((spool(server) / "log").glob("*.j")), "no commit log segment"
    for tok in (small, big):
        found = server.wait_for(tok, users=["bob@example.test"], timeout=20)
        assert len(found) == 1, server.log_tail()
    stored = server.wait_for(big, users=["bob@example.test"])[0][2]
    assert line.replace("\r\n", "\n").encode() * 100 in stored.replace(b"\r\n", b"\n")
    assert len(stored) > 600 * 1024 - 100
    # tmp/ keeps only the workers' spare log segments (zero-filled, *.s)
    assert wait_until(lambda: not [p for p in (spool(server) / "tmp").iterdir()
                                   if p.suffix != ".s"])
    # the big message's files go once its delivery is recorded
    assert wait_until(lambda: not list((spool(server) / "msg").iterdir())), \
        list((spool(server) / "msg").iterdir())


def test_queue_help(run_postern):
    cp = run_postern("queue", "--help")
    assert cp.returncode == 0, describe(cp)
    for verb in ("list", "show", "flush", "delete", "hold", "release"):
        assert verb in cp.stdout
    cp = run_postern("queue", "frobnicate", "-c", "x")
    assert cp.returncode == 2


# --------------------------------------------------------------------------
# postern queue against a running and a stopped server


def test_queue_cli_running_and_stopped(make_server):
    # relay to a port nobody listens on: the messages stay queued
    inst = make_server(config=relay_config(retry_min="1h", retry_max="1h"))
    ids = []
    for i in range(3):
        tok = token()
        r = submit(inst, [f"user{i}@{REMOTE}"], tok)
        assert_reply(r, 250)
        ids.append((queue_id_of(r), tok))
    assert wait_until(lambda: len(queued_ids(inst)) == 3), queued_ids(inst)
    # wait for the first (failed) attempts so "next" is in the future
    assert wait_until(lambda: inst.log_text().count("result=deferred") >= 3), \
        inst.log_tail()
    qid = queued_ids(inst)[0]

    cp = queue_cli(inst, "list")
    assert cp.returncode == 0, describe(cp)
    for q in queued_ids(inst):
        assert q in cp.stdout
    assert "<alice@example.test>" in cp.stdout
    assert "pending, 1, next in" in cp.stdout
    assert "3 messages" in cp.stdout

    cp = queue_cli(inst, "show", qid)
    assert cp.returncode == 0, describe(cp)
    assert f"id:        {qid}" in cp.stdout
    assert "login:     alice@example.test" in cp.stdout
    assert "state=pending attempts=1" in cp.stdout
    assert "Subject: test" in cp.stdout
    assert queue_cli(inst, "show", "NOSUCHID").returncode == 1
    assert queue_cli(inst, "show", "../etc").returncode == 2

    cp = queue_cli(inst, "hold", qid)
    assert cp.returncode == 0, describe(cp)
    assert "HELD" in queue_cli(inst, "list").stdout
    cp = queue_cli(inst, "release", qid)
    assert cp.returncode == 0, describe(cp)
    # released means "try now": a new attempt happens
    assert wait_until(lambda: len(re.findall(rf"id={qid} .*result=deferred",
                                             inst.log_text())) >= 2), inst.log_tail()
    cp = queue_cli(inst, "flush")
    assert cp.returncode == 0 and "flushing" in cp.stdout, describe(cp)
    cp = queue_cli(inst, "flush", qid)
    assert cp.returncode == 0, describe(cp)
    cp = queue_cli(inst, "delete", qid)
    assert cp.returncode == 0, describe(cp)
    assert wait_until(lambda: qid not in queued_ids(inst))
    assert qid not in queue_cli(inst, "list").stdout
    assert queue_cli(inst, "delete", qid).returncode == 1

    # stopped: list/show read the spool; hold/release/delete edit it
    assert inst.stop() == []
    left = queued_ids(inst)
    assert len(left) == 2
    cp = queue_cli(inst, "list")
    assert cp.returncode == 0 and all(q in cp.stdout for q in left), describe(cp)
    assert queue_cli(inst, "show", left[0]).returncode == 0
    cp = queue_cli(inst, "hold", left[0])
    assert cp.returncode == 0 and "not running" in cp.stdout, describe(cp)
    assert "held 1" in (spool(inst) / "env" / left[0]).read_text()
    cp = queue_cli(inst, "release", left[0])
    assert cp.returncode == 0, describe(cp)
    assert "held 0" in (spool(inst) / "env" / left[0]).read_text()
    cp = queue_cli(inst, "flush")
    assert cp.returncode == 1 and "not running" in cp.stderr, describe(cp)
    cp = queue_cli(inst, "delete", left[1])
    assert cp.returncode == 0, describe(cp)
    assert queued_ids(inst) == [left[0]]
    assert not (spool(inst) / "msg" / left[1]).exists()

    # and the survivor is still there after a restart (held state kept)
    queue_cli(inst, "hold", left[0])
    inst.start()
    assert wait_until(lambda: "event=started messages=1" in inst.log_text())
    cp = queue_cli(inst, "list")
    assert left[0] in cp.stdout and "HELD" in cp.stdout, describe(cp)


# --------------------------------------------------------------------------
# Relay: retry after 4xx, DSN after 5xx


@needs_sink
def test_retry_after_4xx_then_success(make_server):
    with Sink(fail_first=2) as sink:
        inst = make_server(config=relay_config(sink.port))
        tok = token()
        r = submit(inst, [f"carol@{REMOTE}"], tok)
        assert_reply(r, 250)
        qid = queue_id_of(r)
        got = sink.wait_for(1, timeout=30)
        assert tok.encode() in got[0].data
        assert got[0].rcpt_tos == [f"carol@{REMOTE}"]
        assert got[0].mail_from == "alice@example.test"
        assert sink.data_count == 3
        assert wait_until(lambda: re.search(
            rf"id={qid} rcpt=carol@{REMOTE} .*result=sent .*attempts=3",
            inst.log_text())), inst.log_tail()
        assert len(re.findall(rf"id={qid} rcpt=carol@{REMOTE} .*result=deferred "
                              rf".*reply=\S*451", inst.log_text())) == 2
        assert wait_until(lambda: qid not in queued_ids(inst))
        # no bounce for a message that made it
        time.sleep(0.5)
        assert inst.find(tok, users=["alice@example.test"]) == []


@needs_sink
def test_huge_envelope_takes_its_own_files(make_server):
    """An envelope too big for a commit log record (here 4000 recipients
    of ~230 octets: over 1 MiB) is committed as msg/ + env/ files instead."""
    with Sink() as sink:
        inst = make_server(config=relay_config(sink.port) +
                           [("server", "max_recipients", "6000"),
                            ("policy", "recipients_per_day", "0"),
                            ("policy", "messages_per_hour", "0")])
        tok = token()
        dom = ".".join(c * 50 for c in "xyz") + "." + REMOTE
        rcpts = [f"{'r' * 58}{i:05d}@{dom}" for i in range(5000)]
        c = inst.session("submission", user="alice@example.test")
        try:
            r = c.send_message("alice@example.test", rcpts,
                               simple_message(tok, rcpt=rcpts[0]))
            c.quit()
        finally:
            c.close()
        assert_reply(r, 250)
        got = sink.wait_for(1, timeout=60)
        assert tok.encode() in got[0].data
        assert wait_until(lambda: len(set(t for m in sink.messages
                                          for t in m.rcpt_tos)) == 5000, timeout=60)
        assert "journal" not in inst.log_text().replace("journal-damaged", "")


@needs_sink
def test_bounce_after_5xx_reaches_the_sender(make_server):
    with Sink(reject={f"nobody@{REMOTE}"}) as sink:
        inst = make_server(config=relay_config(sink.port))
        tok = token()
        r = submit(inst, [f"nobody@{REMOTE}", f"dave@{REMOTE}"], tok)
        assert_reply(r, 250)
        qid = queue_id_of(r)
        got = sink.wait_for(1, timeout=30)
        assert got[0].rcpt_tos == [f"dave@{REMOTE}"]
        found = inst.wait_for(tok, users=["alice@example.test"], timeout=30)
        assert len(found) == 1, inst.log_tail()
        data = found[0][2].replace(b"\r\n", b"\n").decode("utf-8", "replace")
        ctype = " ".join(headers(found[0][2], "Content-Type"))
        assert "multipart/report" in ctype and "report-type=delivery-status" in ctype
        assert "Auto-Submitted: auto-replied" in data
        assert "Content-Type: message/delivery-status" in data
        assert f"Final-Recipient: rfc822; nobody@{REMOTE}" in data
        assert "Action: failed" in data
        assert "Status: 5.1.1" in data
        assert f"dave@{REMOTE}" not in data.split("message/delivery-status")[1] \
            .split("rfc822-headers")[0]
        assert "Content-Type: text/rfc822-headers" in data
        assert f"Subject: test {tok}" in data
        assert wait_until(lambda: re.search(
            rf"id={qid} event=dsn kind=failure", inst.log_text()))
        assert re.search(rf"id={qid} rcpt=nobody@{REMOTE} .*result=bounced",
                         inst.log_text())
        assert wait_until(lambda: queued_ids(inst) == [])
        # exactly one DSN, delivered from <>
        assert sink.wait_for(1) and len(sink.messages) == 1


# --------------------------------------------------------------------------
# Crash loop: SIGKILL the whole server at random moments under load


CRASH_MESSAGES = int(os.environ.get("POSTERN_CRASH_MESSAGES", "600"))
CRASH_CLIENTS = 8
CRASH_SEND_SECONDS = 45.0


def kill_server(inst):
    """SIGKILL the master and every child at once (a power cut, as far as
    the spool can tell). The master is stopped first so it spawns nothing
    while we collect its children."""
    pid = inst.proc.pid
    os.kill(pid, signal.SIGSTOP)
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    for k in kids:
        try:
            os.kill(k, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.kill(pid, signal.SIGKILL)
    inst.proc.wait()
    for k in kids:            # gone before the ports are bound again
        deadline = time.monotonic() + 10
        while Path(f"/proc/{k}").exists() and time.monotonic() < deadline:
            try:
                if Path(f"/proc/{k}/stat").read_text().split()[2] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.01)


class CrashClient(threading.Thread):
    def __init__(self, inst, work, results, lock, stop_at):
        super().__init__(daemon=True)
        self.inst, self.work, self.results, self.lock = inst, work, results, lock
        self.stop_at = stop_at
        self.conn = None

    def connect(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = smtplib.SMTP("127.0.0.1", self.inst.ports["submission"], timeout=15)
        s.ehlo("crash.test")
        s.starttls(context=ctx)
        s.ehlo("crash.test")
        s.login("alice@example.test", USERS["alice@example.test"])
        return s

    def drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def run(self):
        while time.monotonic() < self.stop_at:
            with self.lock:
                if not self.work:
                    break
                n = self.work.pop()
            tok = f"crash-{n:05d}-{token()}"
            msg = simple_message(tok, rcpt=f"r{n % 7}@{REMOTE}")
            outcome = None
            while outcome is None and time.monotonic() < self.stop_at:
                if self.conn is None:
                    try:
                        self.conn = self.connect()
                    except (OSError, smtplib.SMTPException):
                        self.drop()
                        time.sleep(0.1)
                        continue
                try:
                    self.conn.sendmail("alice@example.test", [f"r{n % 7}@{REMOTE}"], msg)
                    outcome = "acked"
                except smtplib.SMTPDataError as e:
                    # a definite answer to the end of DATA: refused, never delivered
                    outcome = "refused"
                    if e.smtp_code == 421:
                        self.drop()
                except (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused):
                    outcome = "refused"
                    self.drop()
                except (OSError, smtplib.SMTPException):
                    # the connection broke: maybe during DATA, maybe before;
                    # the 250 may have been lost after the commit (RFC 5321
                    # §6.1 duplicates). Never counted as acknowledged.
                    outcome = "unknown"
                    self.drop()
            with self.lock:
                self.results[tok] = outcome or "unsent"
        self.drop()


@needs_sink
def test_crash_loop_no_acknowledged_message_lost(make_server):
    random.seed(os.environ.get("POSTERN_CRASH_SEED"))
    with Sink() as sink:
        inst = make_server(config=relay_config(sink.port, per_destination="8")
                           + [("auth", "failure_delay", "10ms")])
        work = list(range(CRASH_MESSAGES))
        results, lock = {}, threading.Lock()
        t0 = time.monotonic()
        stop_at = t0 + CRASH_SEND_SECONDS
        clients = [CrashClient(inst, work, results, lock, stop_at)
                   for _ in range(CRASH_CLIENTS)]
        for c in clients:
            c.start()
        kills = 0
        while any(c.is_alive() for c in clients) and time.monotonic() < stop_at:
            # kill after a random number of acknowledgements (or time), so
            # the kills land while mail is being received and delivered
            with lock:
                base = sum(1 for o in results.values() if o == "acked")
            target = base + random.randint(5, 60)
            deadline = time.monotonic() + random.uniform(0.5, 3.0)
            while time.monotonic() < deadline and any(c.is_alive() for c in clients):
                with lock:
                    if sum(1 for o in results.values() if o == "acked") >= target:
                        break
                time.sleep(0.01)
            time.sleep(random.uniform(0.0, 0.05))
            if not any(c.is_alive() for c in clients):
                break
            kill_server(inst)
            kills += 1
            time.sleep(random.uniform(0.0, 0.3))
            inst.start()
        for c in clients:
            c.join(timeout=30)
        send_time = time.monotonic() - t0

        acked = {t for t, o in results.items() if o == "acked"}
        refused = {t for t, o in results.items() if o == "refused"}
        unknown = {t for t, o in results.items() if o == "unknown"}

        def received():
            out = {}
            for m in list(sink.messages):
                mt = re.search(rb"crash-\d{5}-tok-[0-9a-f]{32}", m.data)
                if mt:
                    k = mt.group(0).decode()
                    out[k] = out.get(k, 0) + 1
            return out

        wait_until(lambda: acked <= set(received()), timeout=60, step=0.2)
        got = received()
        dups = {t: n for t, n in got.items() if n > 1}
        lost = acked - set(got)
        bogus = set(got) - acked - unknown
        print(f"\ncrash loop: {len(results)} messages tried in {send_time:.1f}s, "
              f"{kills} SIGKILLs; acknowledged={len(acked)} refused={len(refused)} "
              f"unknown={len(unknown)}; sink got {len(got)} distinct "
              f"({sum(got.values())} in all), duplicates={len(dups)}, "
              f"lost={len(lost)}, delivered-without-250={len(bogus)}, "
              f"unknown-delivered={len(set(got) & unknown)}")
        assert kills >= 3, "the server was hardly killed: the test proves little"
        assert len(acked) >= CRASH_MESSAGES // 4, results
        assert not lost, f"acknowledged but never delivered: {sorted(lost)[:10]}\n" \
                         f"{inst.log_tail()}"
        assert not bogus, f"delivered but refused: {sorted(bogus)[:10]}"
        # duplicates only in the window between the sink's 250 and the
        # envelope rewrite: at most what was in flight at each kill
        assert len(dups) <= kills * 20, dups


def test_queue_cli_sees_the_commit_log_after_a_crash(make_server):
    """Accepted, not yet delivered (the next hop never answers), then the
    whole server is killed: with the server stopped, `postern queue` moves
    the messages still in the commit log to the queue files and shows them;
    the restarted server delivers nothing twice and loses nothing."""
    import socket
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)                     # accepts the TCP handshake, never talks
    try:
        inst = make_server(config=relay_config(hole.getsockname()[1]))
        toks, ids = [token(), token()], []
        for tok in toks:
            r = submit(inst, [f"carol@{REMOTE}"], tok)
            assert_reply(r, 250)
            ids.append(queue_id_of(r))
        time.sleep(0.5)
        assert queued_ids(inst) == [], "still in the commit log, not in env/"
        cp = queue_cli(inst, "list")     # running: counted, not listed
        assert "2 messages in the commit log" in cp.stdout, describe(cp)
        kill_server(inst)
        cp = queue_cli(inst, "list")
        assert cp.returncode == 0, describe(cp)
        assert "2 messages moved from the commit log" in cp.stderr, describe(cp)
        for qid in ids:
            assert qid in cp.stdout, describe(cp)
        assert sorted(queued_ids(inst)) == sorted(ids)
        cp = queue_cli(inst, "show", ids[0])
        assert cp.returncode == 0 and "Subject: test" in cp.stdout, describe(cp)
        cp = queue_cli(inst, "list")     # nothing left to move
        assert "moved" not in cp.stderr, describe(cp)
        hole.close()                     # the next attempts fail at once
        inst.start()                     # and the fixture stops it cleanly
        assert wait_until(lambda: "event=started messages=2" in inst.log_text())
    finally:
        hole.close()


def test_small_spool_still_accepts_mail(make_server):
    """On a spool too small for the commit log's 4 MiB segments (a 6 MiB
    file system, two workers), mail takes the per-file way instead of being
    refused; every message is accepted and delivered."""
    import subprocess
    inst = make_server(start=False)
    inst.set("queue", "min_free_space", "0")     # no reserve on 6 MiB
    sp = spool(inst)
    sp.mkdir(exist_ok=True)
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs",
                         str(sp)], capture_output=True, text=True)
    if cp.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {cp.stderr.strip()}")
    try:
        inst.start()
        toks = [token() for _ in range(6)]
        for tok in toks:
            r = submit(inst, ["bob@example.test"], tok)
            assert_reply(r, 250)
        for tok in toks:
            assert len(inst.wait_for(tok, users=["bob@example.test"], timeout=20)) == 1, \
                inst.log_tail()
        assert inst.stop() == []
    finally:
        if inst.proc is not None and inst.proc.poll() is None:
            inst.stop()
        subprocess.run(["umount", "-l", str(sp)], capture_output=True)
