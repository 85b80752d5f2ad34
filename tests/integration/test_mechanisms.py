"""CRAM-MD5 and SCRAM (-PLUS) against independent clients on real TLS:
gsasl (GNU SASL 2.2), swaks, Python smtplib, curl; channel binding with
tls-exporter (TLS 1.3) and tls-unique (TLS 1.2); the man in the middle whose
binding data comes from another TLS session; and the policy around them
(weak mechanisms only after TLS, unknown users look like wrong passwords).

gsasl notes: its SCRAM client refuses a non-PLUS SCRAM mechanism while it has
channel-binding data (it would send the "y" flag), so the non-PLUS runs use
--no-cb; --priority is GnuTLS's, "NORMAL:-VERS-TLS1.3" forces TLS 1.2.
"""

import base64
import hashlib
import hmac
import os
import re
import select
import smtplib
import socket
import ssl
import subprocess
import threading

import pytest

from conftest import (USERS, _new_instance, assert_reply, b64, have,
                      sanitizer_report, tls_context)

ALICE = "alice@example.test"
TIMEOUT = 30
ALL_MECHS = ("SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 "
             "CRAM-MD5 PLAIN LOGIN")
TLS12 = "NORMAL:-VERS-TLS1.3"

GSASL = pytest.mark.skipif(not have("gsasl"), reason="gsasl not installed")


@pytest.fixture(scope="module")
def mech_instance(postern, tmp_path_factory):
    inst = _new_instance(postern, tmp_path_factory.mktemp("mechs"),
                         config=[("auth", "mechanisms", ALL_MECHS)])
    yield inst
    problems = inst.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + inst.log_tail(), pytrace=False)


@pytest.fixture
def server(mech_instance):
    inst = mech_instance
    offset = inst.log_size()
    yield inst
    assert inst.alive(), "postern serve died during this test\n" + inst.log_tail()
    assert not sanitizer_report(inst.log_text(offset)), inst.log_tail()


def auth_lines(server, offset):
    return [l for l in server.log_text(offset).splitlines()
            if "auth:" in l and "event=auth" in l]


# -- the credential store

def test_user_add_writes_scram_and_cram_keys(server):
    """postern user add: ARGON2ID + SCRAM-SHA-256 always, SCRAM-SHA-1 and
    CRAM-MD5 because this instance enables them; never the password."""
    text = (server.dir / "users").read_text()
    line = next(l for l in text.splitlines() if l.startswith(ALICE + ":"))
    assert line.split(":")[1].startswith("{ARGON2ID}$argon2id$")
    assert re.search(r"scram-sha-256=\{SCRAM-SHA-256\}4096,[A-Za-z0-9+/=]+,"
                     r"[A-Za-z0-9+/=]{44},[A-Za-z0-9+/=]{44}(\s|$)", line)
    assert re.search(r"scram-sha-1=\{SCRAM-SHA-1\}4096,", line)
    assert re.search(r"cram-md5=\{CRAM-MD5\}[0-9a-f]{64}(\s|$)", line)
    assert USERS[ALICE] not in text


def test_default_instance_has_no_cram_md5(make_server):
    inst = make_server(start=False)
    line = next(l for l in (inst.dir / "users").read_text().splitlines()
                if l.startswith(ALICE + ":"))
    assert "scram-sha-256={SCRAM-SHA-256}" in line
    assert "cram-md5=" not in line and "scram-sha-1=" not in line


# -- gsasl

def gsasl(server, mech, user=ALICE, password=None, *extra, port=None):
    cmd = ["gsasl", "--smtp", f"--connect=127.0.0.1:{port or server.ports['submission']}",
           "-m", mech, "-a", user, "-p", password or USERS[ALICE],
           "--x509-ca-file=", "--verbose", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def gsasl_ok(cp):
    out = cp.stdout + cp.stderr
    return cp.returncode == 0 and "235 2.7.0" in out


def sent_gs2(cp):
    """The GS2 header of the client-first-message gsasl sent."""
    lines = (cp.stdout + cp.stderr).splitlines()
    i = next(i for i, l in enumerate(lines) if l.startswith("AUTH SCRAM"))
    for l in lines[i + 1:]:
        if l and not l[0].isdigit():
            return base64.b64decode(l).split(b",n=")[0].decode() + ","
    raise AssertionError("no client-first-message in gsasl output")


@GSASL
@pytest.mark.parametrize("tls, cb", [("1.3", "tls-exporter"), ("1.2", "tls-unique")])
@pytest.mark.parametrize("mech", ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"])
def test_gsasl_scram_plus(server, mech, tls, cb):
    off = server.log_size()
    extra = ["--priority", TLS12] if tls == "1.2" else []
    cp = gsasl(server, mech, ALICE, None, *extra)
    assert gsasl_ok(cp), cp.stdout + cp.stderr
    assert f"(TLS{tls})" in cp.stdout + cp.stderr
    assert sent_gs2(cp) == f"p={cb},,"
    assert any(f"result=ok mech={mech}" in l and f"tls=TLSv{tls}" in l
               for l in auth_lines(server, off))


@GSASL
@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_gsasl_scram(server, mech):
    cp = gsasl(server, mech, ALICE, None, "--no-cb")
    assert gsasl_ok(cp), cp.stdout + cp.stderr
    assert sent_gs2(cp) == "n,,"


@GSASL
def test_gsasl_cram_md5(server):
    cp = gsasl(server, "CRAM-MD5")
    assert gsasl_ok(cp), cp.stdout + cp.stderr


@GSASL
@pytest.mark.parametrize("mech, extra", [("SCRAM-SHA-256-PLUS", ()),
                                         ("SCRAM-SHA-256", ("--no-cb",)),
                                         ("CRAM-MD5", ())])
def test_gsasl_wrong_password_and_unknown_user(server, mech, extra):
    off = server.log_size()
    for user, pw in ((ALICE, "wrong"), ("ghost@example.test", "wrong")):
        cp = gsasl(server, mech, user, pw, *extra)
        assert not gsasl_ok(cp)
        assert "535 5.7.8" in cp.stdout + cp.stderr, cp.stdout + cp.stderr
    lines = auth_lines(server, off)
    assert any("result=fail" in l and "reason=invalid-proof" in l for l in lines)
    assert any("result=fail" in l and "reason=no-such-user" in l for l in lines)


# -- swaks, smtplib, curl: CRAM-MD5

# Authentication only: delivery by these clients is test_submission.py's.

@pytest.mark.skipif(not have("swaks"), reason="swaks not installed")
def test_swaks_cram_md5(server):
    def run(password):
        return subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{server.ports['submission']}",
             "--tls", "--helo", "client.test", "--auth", "CRAM-MD5",
             "--auth-user", ALICE, "--auth-password", password,
             "--quit-after", "AUTH", "--timeout", str(TIMEOUT)],
            capture_output=True, text=True, timeout=TIMEOUT * 2)
    cp = run(USERS[ALICE])
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "235 2.7.0" in cp.stdout
    cp = run("wrong")
    assert cp.returncode != 0 and "535 5.7.8" in cp.stdout


def test_smtplib_cram_md5(server):
    for password, want in ((USERS[ALICE], 235), ("wrong", 535)):
        with smtplib.SMTP("127.0.0.1", server.ports["submission"],
                          timeout=TIMEOUT) as s:
            s.starttls(context=tls_context())
            s.ehlo("client.test")
            assert "CRAM-MD5" in s.esmtp_features["auth"].split()
            s.user, s.password = ALICE, password
            try:
                code, _ = s.auth("CRAM-MD5", s.auth_cram_md5)
            except smtplib.SMTPAuthenticationError as e:
                code = e.smtp_code
            assert code == want


@pytest.mark.skipif(not have("curl"), reason="curl not installed")
def test_curl_cram_md5(server):
    off = server.log_size()
    cp = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", str(TIMEOUT), "-k",
         f"smtp://127.0.0.1:{server.ports['submission']}", "--ssl-reqd",
         "--login-options", "AUTH=CRAM-MD5", "--user", f"{ALICE}:{USERS[ALICE]}",
         "--request", "NOOP"],
        capture_output=True, text=True, timeout=TIMEOUT * 2)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert any("result=ok mech=CRAM-MD5" in l for l in auth_lines(server, off))


# -- policy

def test_weak_and_plus_hidden_before_tls(server):
    """On a STARTTLS listener nothing is offered before TLS: even SCRAM,
    which hides the password, would leave the session after it in clear."""
    with server.client("submission") as c:
        c.expect(220)
        assert "AUTH" not in c.ehlo_ok().keywords()
        assert_reply(c.cmd("AUTH CRAM-MD5"), 538, "5.7.11")
        assert_reply(c.cmd("AUTH SCRAM-SHA-256"), 538, "5.7.11")
        c.starttls()
        auth = c.ehlo_ok().keywords()["AUTH"]
        assert auth == ALL_MECHS.split()


def test_cram_md5_initial_response_refused(server):
    with server.client("submission") as c:
        c.expect(220)
        c.ehlo_ok()
        c.starttls()
        c.ehlo_ok()
        r = c.cmd("AUTH CRAM-MD5 " + b64("tim b913a602c7eda7a495b4e6e7334d3890"))
        assert r.code == 501


# -- SCRAM by hand: downgrade, malformed, and the man in the middle

def scram_client_first(user, gs2=b"n,,"):
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = f"n={user},r={nonce}".encode()
    return gs2 + bare, bare, nonce


def scram_final(password, bare, server_first, gs2, cbdata=b"", digest="sha256"):
    attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
    salted = hashlib.pbkdf2_hmac(digest, password.encode(),
                                 base64.b64decode(attrs["s"]), int(attrs["i"]))
    ck = hmac.new(salted, b"Client Key", digest).digest()
    sk = hashlib.new(digest, ck).digest()
    c = base64.b64encode(gs2 + cbdata).decode()
    wo = f"c={c},r={attrs['r']}".encode()
    am = bare + b"," + server_first + b"," + wo
    sig = hmac.new(sk, am, digest).digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    server_sig = hmac.new(hmac.new(salted, b"Server Key", digest).digest(), am,
                          digest).digest()
    return wo + b",p=" + base64.b64encode(proof), server_sig


def tls12_context():
    ctx = tls_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls12_session(server):
    """A submission session over TLS 1.2 after STARTTLS and EHLO."""
    c = server.client("submission")
    c.expect(220)
    c.ehlo_ok()
    assert_reply(c.cmd("STARTTLS"), 220)
    c.sock = tls12_context().wrap_socket(c.sock)
    c.tls = True
    c.ehlo_ok()
    return c


def scram_exchange(c, mech, gs2, cbdata, password=None, digest="sha256"):
    first, bare, _ = scram_client_first(ALICE, gs2)
    r = c.cmd(f"AUTH {mech} {b64(first)}")
    if r.code != 334:
        return r, None
    sf = base64.b64decode(r.texts[0])
    final, server_sig = scram_final(password or USERS[ALICE], bare, sf, gs2,
                                    cbdata, digest)
    r = c.cmd(b64(final))
    if r.code != 334:
        return r, None
    v = base64.b64decode(r.texts[0])
    assert v == b"v=" + base64.b64encode(server_sig), "server signature mismatch"
    return c.cmd(""), v


def test_scram_plus_tls_unique_by_hand(server):
    """Our own client: tls-unique of this connection → 235, and we check v=."""
    c = tls12_session(server)
    try:
        cb = c.sock.get_channel_binding("tls-unique")
        r, v = scram_exchange(c, "SCRAM-SHA-256-PLUS", b"p=tls-unique,,", cb)
        assert_reply(r, 235, "2.7.0")
    finally:
        c.close()


def test_mitm_tls_unique_from_other_session(server):
    """A man in the middle relays between two TLS sessions; the client binds
    to its own (here: another real connection's tls-unique) → 535."""
    other = tls12_session(server)
    c = tls12_session(server)
    off = server.log_size()
    try:
        foreign = other.sock.get_channel_binding("tls-unique")
        assert foreign != c.sock.get_channel_binding("tls-unique")
        r, _ = scram_exchange(c, "SCRAM-SHA-256-PLUS", b"p=tls-unique,,", foreign)
        assert_reply(r, 535, "5.7.8")
        # non-PLUS with "y" while -PLUS is offered: the downgrade
        r, _ = scram_exchange(c, "SCRAM-SHA-256", b"y,,", b"")
        assert_reply(r, 535, "5.7.8")
        # and the honest client still gets in on the same connection
        r, _ = scram_exchange(c, "SCRAM-SHA-256", b"n,,", b"")
        assert_reply(r, 235, "2.7.0")
    finally:
        c.close()
        other.close()
    lines = auth_lines(server, off)
    assert any("reason=channel-bindings-dont-match" in l for l in lines)
    assert any("reason=server-does-support-channel-binding" in l for l in lines)


def test_scram_malformed_and_mandatory_extension(server):
    c = tls12_session(server)
    try:
        r = c.cmd("AUTH SCRAM-SHA-256 " + b64("n,,m=ext,n=alice,r=abc"))
        assert_reply(r, 501, "5.5.2")
        r = c.cmd("AUTH SCRAM-SHA-256 " + b64("n,,r=abc,n=alice"))
        assert_reply(r, 501, "5.5.2")
        r = c.cmd("AUTH SCRAM-SHA-256 " + b64("p=tls-unique,,n=alice,r=abc"))
        assert_reply(r, 535, "5.7.8")
        # a wrong nonce in the client-final-message
        first, bare, _ = scram_client_first(ALICE)
        r = c.cmd(f"AUTH SCRAM-SHA-256 {b64(first)}")
        assert r.code == 334
        r = c.cmd(b64("c=biws,r=bogus,p=" + base64.b64encode(b"x" * 32).decode()))
        assert_reply(r, 535, "5.7.8")
        r, _ = scram_exchange(c, "SCRAM-SHA-256", b"n,,", b"")
        assert_reply(r, 235, "2.7.0")
    finally:
        c.close()


# -- the MITM with gsasl and tls-exporter (TLS 1.3): a TLS-terminating relay

class StarttlsRelay:
    """Listens in plain TCP; relays SMTP to the server; on STARTTLS it does
    STARTTLS with the server itself and terminates the client's TLS with the
    instance's own certificate. Two TLS sessions: a perfect MITM but for
    channel binding."""

    def __init__(self, server):
        self.server = server
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.sctx.load_cert_chain(server.dir / "cert.pem", server.dir / "key.pem")
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        cli, _ = self.lsock.accept()
        up = socket.create_connection(("127.0.0.1", self.server.ports["submission"]))
        cli.settimeout(TIMEOUT)
        up.settimeout(TIMEOUT)
        cf, uf = cli.makefile("rb"), up.makefile("rb")

        def reply(f):
            out = b""
            while True:
                line = f.readline()
                out += line
                if len(line) < 4 or line[3:4] != b"-":
                    return out
        try:
            cli.sendall(reply(uf))
            while True:
                line = cf.readline()
                if not line:
                    return
                if line.strip().upper() == b"STARTTLS":
                    up.sendall(b"STARTTLS\r\n")
                    assert reply(uf).startswith(b"220")
                    up = tls_context().wrap_socket(up)
                    cli.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                    cli = self.sctx.wrap_socket(cli, server_side=True)
                    break
                up.sendall(line)
                cli.sendall(reply(uf))
            self.pipe(cli, up)
        except (OSError, AssertionError):
            pass
        finally:
            for s in (cli, up):
                try:
                    s.close()
                except OSError:
                    pass

    @staticmethod
    def pipe(a, b):
        """Relay both ways from one thread with non-blocking sockets: TLS 1.3
        session tickets make a socket readable without application data."""
        for s in (a, b):
            s.setblocking(False)

        def send(s, d):
            while d:
                try:
                    d = d[s.send(d):]
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError,
                        BlockingIOError):
                    select.select([s], [s], [], TIMEOUT)

        while True:
            ready = [s for s in (a, b) if s.pending()]
            if not ready:
                ready, _, _ = select.select([a, b], [], [], TIMEOUT)
                if not ready:
                    return
            for s in ready:
                try:
                    d = s.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                        BlockingIOError):
                    continue
                if not d:
                    return
                send(b if s is a else a, d)

    def close(self):
        self.lsock.close()
        self.thread.join(TIMEOUT)


@GSASL
def test_mitm_gsasl_tls_exporter(server):
    off = server.log_size()
    relay = StarttlsRelay(server)
    try:
        cp = gsasl(server, "SCRAM-SHA-256-PLUS", port=relay.port)
    finally:
        relay.close()
    out = cp.stdout + cp.stderr
    assert "(TLS1.3)" in out
    assert sent_gs2(cp) == "p=tls-exporter,,"
    assert "535 5.7.8" in out and not gsasl_ok(cp), out
    assert any("reason=channel-bindings-dont-match" in l
               for l in auth_lines(server, off))
    # without channel binding the same relay goes unnoticed: why -PLUS exists
    relay = StarttlsRelay(server)
    try:
        cp = gsasl(server, "SCRAM-SHA-256", ALICE, None, "--no-cb", port=relay.port)
    finally:
        relay.close()
    assert gsasl_ok(cp), cp.stdout + cp.stderr
