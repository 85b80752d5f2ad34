"""Process lifecycle: SIGHUP reload, SIGTERM shutdown, durability of accepted mail.

Each test has its own instance (make_server), stopped and checked at teardown."""

import signal
import socket
import time

from conftest import (Instance, assert_reply, b64, describe, lf, simple_message,
                      token)

ALICE = "alice@example.test"
BOB = "bob@example.test"
CAROL = "carol@example.test"


def try_auth(server, user, password, listener="smtps"):
    with server.client(listener) as c:
        c.expect(220)
        c.ehlo_ok()
        if listener == "submission":
            c.starttls()
            c.ehlo_ok()
        return c.auth_plain(user, password)


def wait_auth(server, user, password, want, timeout=20.0):
    """Poll AUTH until its reply code is `want`; returns the last reply."""
    deadline = time.monotonic() + timeout
    while True:
        r = try_auth(server, user, password)
        if r.code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


# -- SIGHUP

def test_sighup_reloads_added_user(make_server):
    server = make_server()
    cp = server.cli("user", "add", "-c", server.conf, CAROL, "--password-stdin",
                    input="Carol-Secret-83x\n")
    assert cp.returncode == 0, describe(cp)
    server.reload()
    r = wait_auth(server, CAROL, "Carol-Secret-83x", 235)
    assert_reply(r, 235, "2.7.0")
    assert server.alive()
    assert_reply(try_auth(server, ALICE, server.users[ALICE]), 235, "2.7.0")


def test_sighup_reloads_changed_password(make_server):
    server = make_server()
    cp = server.cli("user", "passwd", "-c", server.conf, ALICE, "--password-stdin",
                    input="Alice-New-Secret-4x\n")
    assert cp.returncode == 0, describe(cp)
    server.reload()
    assert_reply(wait_auth(server, ALICE, "Alice-New-Secret-4x", 235), 235, "2.7.0")
    assert_reply(try_auth(server, ALICE, server.users[ALICE]), 535, "5.7.8")


def test_sighup_reloads_deleted_user(make_server):
    server = make_server()
    cp = server.cli("user", "del", "-c", server.conf, BOB)
    assert cp.returncode == 0, describe(cp)
    server.reload()
    assert_reply(wait_auth(server, BOB, server.users[BOB], 535), 535, "5.7.8")


def test_sighup_keeps_open_session(make_server):
    server = make_server()
    tok = token()
    with server.session() as c:
        server.reload()
        time.sleep(1.0)
        assert_reply(c.send_message(ALICE, [BOB], simple_message(tok)), 250)
        c.quit()
    assert len(server.wait_for(tok, users=[BOB])) == 1
    assert server.alive()


def test_sighup_with_broken_config_keeps_serving(make_server):
    server = make_server()
    good = server.conf.read_text()
    server.conf.write_text(good + "\n[server]\nnot_a_key = 1\n")
    server.reload()
    time.sleep(1.0)
    assert server.alive(), "a bad configuration on SIGHUP stopped the server"
    assert_reply(try_auth(server, ALICE, server.users[ALICE]), 235, "2.7.0")
    server.conf.write_text(good)


# -- SIGTERM

def test_sigterm_idle_session_gets_421_and_exit_0(make_server):
    server = make_server()
    c = server.client("submission")
    try:
        c.expect(220)
        c.ehlo_ok()
        server.signal(signal.SIGTERM)
        r = c.read_reply()
        assert r.code == 421, r
        assert c.wait_closed(), "connection not closed after 421"
    finally:
        c.close()
    server.proc.wait(timeout=60)
    assert server.proc.returncode == 0


def test_sigterm_authenticated_session_gets_421(make_server):
    server = make_server()
    c = server.session("smtps")
    try:
        server.signal(signal.SIGTERM)
        r = c.read_reply()
        assert r.code == 421, r
    finally:
        c.close()
    server.proc.wait(timeout=60)
    assert server.proc.returncode == 0


def test_sigterm_without_sessions_exits_0(make_server):
    server = make_server()
    problems = server.stop()
    assert problems == [], problems


def test_sigint_exits_0(make_server):
    server = make_server()
    server.signal(signal.SIGINT)
    server.proc.wait(timeout=60)
    assert server.proc.returncode == 0


def test_restart_on_same_ports(make_server):
    server = make_server()
    with server.session() as c:
        c.quit()
    assert server.stop() == []
    server.start()
    tok = token()
    with server.session() as c:
        assert_reply(c.send_message(ALICE, [BOB], simple_message(tok)), 250)
        c.quit()
    assert len(server.wait_for(tok, users=[BOB])) == 1


def test_serve_fails_when_port_in_use(postern, tmp_path):
    inst = Instance(postern, tmp_path).init()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        blocker.bind(("127.0.0.1", inst.ports["smtps"]))
        blocker.listen(1)
        cp = inst.cli("serve", "-c", inst.conf, timeout=60)
        assert cp.returncode == 1, describe(cp)
        assert str(inst.ports["smtps"]) in cp.stderr, describe(cp)
    finally:
        blocker.close()


# -- durability and secrets

def test_acknowledged_message_is_complete_in_maildir(make_server):
    server = make_server()
    tok = token()
    lines = "".join(f"{i:06d} {tok} " + "abcdefghij" * 7 + "\r\n" for i in range(4000))
    msg = simple_message(tok, body=lines)
    with server.session() as c:
        r = c.send_message(ALICE, [BOB], msg)
        assert_reply(r, 250)
        c.quit()
    found = server.wait_for(tok, users=[BOB])
    assert len(found) == 1, "acknowledged message not delivered to Maildir new/"
    assert lf(found[0][2]).endswith(lf(msg.encode())), "stored message incomplete"
    tmp = server.maildir(BOB) / "tmp"
    assert not tmp.is_dir() or list(tmp.iterdir()) == [], "files left in Maildir tmp/"


def test_maildir_file_names_unique(make_server):
    server = make_server()
    toks = [token() for _ in range(20)]
    with server.session() as c:
        for t in toks:
            assert_reply(c.send_message(ALICE, [BOB], simple_message(t)), 250)
        c.quit()
    for t in toks:
        assert len(server.wait_for(t, users=[BOB])) == 1, t
    names = [p.name for p, _ in server.messages(BOB)]
    assert len(names) == len(set(names)) == 20


def test_passwords_never_logged(make_server):
    server = make_server()
    wrong = "Wrong-Pass-Marker-7781"
    assert_reply(try_auth(server, ALICE, wrong), 535, "5.7.8")
    assert_reply(try_auth(server, ALICE, server.users[ALICE]), 235, "2.7.0")
    with server.client("smtps") as c:
        c.expect(220)
        c.ehlo_ok()
        assert_reply(c.cmd("AUTH LOGIN"), 334)
        assert_reply(c.cmd(b64(ALICE)), 334)
        assert_reply(c.cmd(b64(wrong)), 535, "5.7.8")
    time.sleep(0.5)
    log = server.log_text()
    for secret in (wrong, server.users[ALICE], b64(wrong),
                   b64(f"\0{ALICE}\0{wrong}"), b64(f"\0{ALICE}\0{server.users[ALICE]}")):
        assert secret not in log, f"secret {secret!r} appears in the server log"


def test_auth_failure_is_delayed(make_server):
    server = make_server(config=[("auth", "failure_delay", "500ms")])
    t0 = time.monotonic()
    assert_reply(try_auth(server, ALICE, "wrong"), 535, "5.7.8")
    assert time.monotonic() - t0 >= 0.45
