"""Delivery agents (src/deliver) against real next hops.

Part 1 drives dlv_run() directly through the dlv_probe test binary (built
beside postern in tests/unit/deliver/) into the aiosmtpd sink (sink.py), the
dnslib DNS server (dnsserver.py) and, when it can start, a real Dovecot LMTP.

Part 2 goes end to end through `postern serve`: a message submitted with AUTH
is relayed by the queue service to a smarthost, to an MX found through the
test DNS server, or into Dovecot over LMTP.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from dnsserver import DNSServer
from sink import Sink, make_certs

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------
# helpers and fixtures


def probe_path():
    env = os.environ.get("DLV_PROBE")
    if env:
        return Path(env)
    post = os.environ.get("POSTERN")
    build = Path(post).resolve().parent if post else REPO / "build"
    return build / "tests" / "unit" / "deliver" / "dlv_probe"


@pytest.fixture(scope="session")
def probe():
    p = probe_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.skip(f"dlv_probe not built at {p} (set DLV_PROBE)")
    return str(p)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl(1) is needed to make test certificates")
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory):
    """Certificates from another CA: what an impostor would present."""
    return make_certs(tmp_path_factory.mktemp("other-certs"))


MESSAGE = (b"From: <alice@example.test>\n"
           b"To: <bob@example.net>\n"
           b"Subject: delivery test\n"
           b"\n"
           b"first line\n"
           b".a line that starts with a dot\n"
           b"..two dots\n"
           b".\n"
           b"bare CR\rhere\n"
           b"last line without a line end")

# what the next hop must receive: CRLF everywhere, dots as they were
WIRE = (b"From: <alice@example.test>\r\n"
        b"To: <bob@example.net>\r\n"
        b"Subject: delivery test\r\n"
        b"\r\n"
        b"first line\r\n"
        b".a line that starts with a dot\r\n"
        b"..two dots\r\n"
        b".\r\n"
        b"bare CR\r\nhere\r\n"
        b"last line without a line end\r\n")


@pytest.fixture
def message(tmp_path):
    p = tmp_path / "message.eml"
    p.write_bytes(MESSAGE)
    return p


def run_probe(probe, message, rcpts, *args, password=None, tmp=None,
              timeout=60):
    cmd = [probe, "--message", str(message), "--timeout", "5000", *args]
    if password is not None:
        pw = Path(tmp) / "relay.password"
        pw.write_text(password + "\n")
        pw.chmod(0o600)
        cmd += ["--password-file", str(pw)]
    cp = subprocess.run(cmd + list(rcpts), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=timeout)
    err = cp.stderr.decode("utf-8", "replace")
    assert cp.returncode == 0, f"dlv_probe exit {cp.returncode}: {err}"
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert marker not in err, err
    out = json.loads(cp.stdout)
    out["by_addr"] = {r["addr"]: r for r in out["rcpts"]}
    if password is not None:
        assert password not in cp.stdout.decode() + err
    return out


def dead_port():
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Part 1: smarthost (DLV_SMTP)


def test_smarthost_starttls_auth_plain(probe, certs, message, tmp_path):
    with Sink(require_starttls=True, cert=(certs["cert"], certs["key"]),
              auth={"relay-user": "relay-Secret-9"}) as sink:
        out = run_probe(probe, message, ["bob@example.net", "carol@example.net"],
                        "--method", "smtp", "--host", "localhost",
                        "--port", str(sink.port), "--tls", "required",
                        "--ca", certs["ca"], "--user", "relay-user",
                        "--from", "alice@example.test", "--pass-auth",
                        "--auth-param", "alice@example.test", "--8bit",
                        password="relay-Secret-9", tmp=tmp_path)
        msg = sink.wait_for(1)[0]
    assert [r["status"] for r in out["rcpts"]] == ["OK", "OK"], out
    assert out["rcpts"][0]["reply"].startswith("250 2.0.0")
    assert out["tls"].endswith(" verified"), out
    assert out["tls"].startswith("TLSv1.")
    assert f":{sink.port}" in out["hop"]
    assert msg.tls and msg.login == "relay-user"
    assert msg.mail_from == "alice@example.test"
    assert msg.rcpt_tos == ["bob@example.net", "carol@example.net"]
    assert msg.auth_param == "alice@example.test"
    assert "BODY=8BITMIME" in msg.mail_options
    assert f"SIZE={len(MESSAGE)}" in msg.mail_options
    assert msg.data == WIRE


def test_smarthost_auth_login_only(probe, certs, message, tmp_path):
    """The strongest mechanism both allow: here the route allows only LOGIN."""
    with Sink(require_starttls=True, cert=(certs["cert"], certs["key"]),
              auth={"u": "p-LOGIN-1"}) as sink:
        out = run_probe(probe, message, ["bob@example.net"],
                        "--method", "smtp", "--host", "localhost",
                        "--port", str(sink.port), "--ca", certs["ca"],
                        "--user", "u", "--mechs", "LOGIN",
                        password="p-LOGIN-1", tmp=tmp_path)
        msg = sink.wait_for(1)[0]
    assert out["rcpts"][0]["status"] == "OK", out
    assert msg.login == "u"
    assert msg.auth_param is None    # not passed unless the route trusts it


def test_smarthost_wrong_password_defers(probe, certs, message, tmp_path):
    with Sink(require_starttls=True, cert=(certs["cert"], certs["key"]),
              auth={"u": "right"}) as sink:
        out = run_probe(probe, message, ["bob@example.net"],
                        "--method", "smtp", "--host", "localhost",
                        "--port", str(sink.port), "--ca", certs["ca"],
                        "--user", "u", password="wrong-Password-1",
                        tmp=tmp_path)
        assert sink.messages == []
    r = out["rcpts"][0]
    assert out["rc"] == -1
    assert r["status"] == "TEMP", r       # our configuration, not the message
    assert r["reply"].startswith("454 4.7.0"), r
    assert "535" in r["reply"]            # what the smarthost said is kept


def test_smarthost_tls_required_not_offered(probe, message):
    with Sink() as sink:
        out = run_probe(probe, message, ["bob@example.net"],
                        "--method", "smtp", "--host", "127.0.0.1",
                        "--port", str(sink.port), "--tls", "required")
        assert sink.messages == []
    r = out["rcpts"][0]
    assert r["status"] == "TEMP" and r["dsn"] == "4.7.4", r
    assert "STARTTLS" in r["reply"]


@pytest.mark.parametrize("case", ["other-ca", "wrong-name"])
def test_smarthost_certificate_not_verified(probe, certs, other_certs, message,
                                            case):
    cert = other_certs if case == "other-ca" else certs
    name = ["--tls-name", "mail.example.org"] if case == "wrong-name" else []
    with Sink(require_starttls=True, cert=(cert["cert"], cert["key"])) as sink:
        out = run_probe(probe, message, ["bob@example.net"],
                        "--method", "smtp", "--host", "localhost",
                        "--port", str(sink.port), "--ca", certs["ca"], *name)
        assert sink.messages == []
    r = out["rcpts"][0]
    assert r["status"] == "TEMP", r
    assert "not verified" in r["reply"] or "certificate" in r["reply"], r


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smarthost_no_plaintext_auth_without_tls(probe, message, tmp_path):
    """tls=none with credentials: PLAIN/LOGIN would reveal the password."""
    with Sink(auth={"u": "p"}) as sink:
        out = run_probe(probe, message, ["bob@example.net"],
                        "--method", "smtp", "--host", "127.0.0.1",
                        "--port", str(sink.port), "--tls", "none",
                        "--user", "u", password="p-Plain-2", tmp=tmp_path)
        assert sink.messages == []
    r = out["rcpts"][0]
    assert r["status"] == "TEMP", r
    assert "no usable AUTH mechanism" in r["reply"], r


def test_smarthost_plaintext_when_configured(probe, message):
    with Sink() as sink:
        out = run_probe(probe, message, ["bob@example.net"],
                        "--method", "smtp", "--host", "127.0.0.1",
                        "--port", str(sink.port), "--tls", "none")
        assert sink.wait_for(1)[0].data == WIRE
    assert out["rcpts"][0]["status"] == "OK"
    assert out["tls"] == "none"


def test_smarthost_implicit_tls(probe, certs, message):
    with Sink(implicit_tls=True, cert=(certs["cert"], certs["key"])) as sink:
        out = run_probe(probe, message, ["bob@example.net"],
                        "--method", "smtp", "--host", "localhost",
                        "--port", str(sink.port), "--tls", "implicit",
                        "--ca", certs["ca"])
        msg = sink.wait_for(1)[0]
    assert out["rcpts"][0]["status"] == "OK", out
    assert out["tls"].endswith(" verified")
    assert msg.tls


def test_smarthost_per_recipient_and_temporary(probe, message):
    with Sink(reject={"nobody@example.net"}, fail_first=1) as sink:
        args = ["--method", "smtp", "--host", "127.0.0.1",
                "--port", str(sink.port), "--tls", "none"]
        rcpts = ["bob@example.net", "nobody@example.net"]
        first = run_probe(probe, message, rcpts, *args)
        second = run_probe(probe, message, rcpts, *args)
        assert len(sink.wait_for(1)) == 1
    b, n = first["by_addr"]["bob@example.net"], first["by_addr"]["nobody@example.net"]
    assert n["status"] == "PERM" and n["dsn"] == "5.1.1", n
    assert n["reply"] == "550 5.1.1 No such user here"
    assert b["status"] == "TEMP" and b["dsn"] == "4.3.0", b
    assert second["by_addr"]["bob@example.net"]["status"] == "OK"
    assert second["by_addr"]["nobody@example.net"]["status"] == "PERM"


def test_smarthost_connection_refused(probe, message):
    out = run_probe(probe, message, ["bob@example.net"],
                    "--method", "smtp", "--host", "127.0.0.1",
                    "--port", str(dead_port()), "--tls", "none")
    assert out["rc"] == -1
    assert out["rcpts"][0]["status"] == "TEMP"
    assert "connect" in out["rcpts"][0]["reply"]


def test_smtputf8(probe, message):
    """SMTPUTF8 is passed on when offered; without it the message bounces
    (no downgrade, RFC 6531 §3.2)."""
    args = ["--method", "smtp", "--host", "127.0.0.1", "--tls", "none",
            "--smtputf8"]
    with Sink() as sink:
        ok = run_probe(probe, message, ["bob@example.net"], *args,
                       "--port", str(sink.port))
        assert "SMTPUTF8" in sink.wait_for(1)[0].mail_options
    assert ok["rcpts"][0]["status"] == "OK"
    with Sink(smtputf8=False) as sink:
        no = run_probe(probe, message, ["bob@example.net"], *args,
                       "--port", str(sink.port))
        assert sink.messages == []
    r = no["rcpts"][0]
    assert r["status"] == "PERM" and r["dsn"] == "5.6.7", r


# --------------------------------------------------------------------------
# Part 1: LMTP (DLV_LMTP)


def test_lmtp_per_recipient_replies(probe, message):
    with Sink(lmtp=True, lmtp_temp={"full@example.test"},
              reject={"ghost@example.test"}) as sink:
        out = run_probe(probe, message,
                        ["alice@example.test", "full@example.test",
                         "ghost@example.test", "bob@example.test"],
                        "--method", "lmtp", "--host", "127.0.0.1",
                        "--port", str(sink.port), "--tls", "none")
        msg = sink.wait_for(1)[0]
    by = out["by_addr"]
    assert by["alice@example.test"]["status"] == "OK"
    assert by["alice@example.test"]["reply"] == \
        "250 2.0.0 <alice@example.test> delivered"
    assert by["full@example.test"]["status"] == "TEMP"
    assert by["full@example.test"]["dsn"] == "4.2.2"
    assert by["ghost@example.test"]["status"] == "PERM"
    assert by["bob@example.test"]["status"] == "OK"
    assert msg.rcpt_tos == ["alice@example.test", "bob@example.test"]


def test_lmtp_unix_socket(probe, message, tmp_path):
    sock = tmp_path / "lmtp.sock"
    with Sink(lmtp=True, unix_socket=str(sock)) as sink:
        out = run_probe(probe, message, ["alice@example.test"],
                        "--method", "lmtp", "--unix", str(sock),
                        "--tls", "none")
        assert sink.wait_for(1)[0].data == WIRE
    assert out["rcpts"][0]["status"] == "OK"
    assert out["hop"] == f"unix:{sock}"


class Dovecot:
    """A private Dovecot LMTP server: TCP on loopback and a UNIX socket,
    Maildir under root/mail/%d/%n, users from a passwd-file."""

    def __init__(self, users=("alice@example.test", "bob@example.test")):
        # not under pytest's tmp_path (mode 0700): Dovecot's auth process
        # (user dovecot) and deliveries (nobody, when run as root) need it
        self.root = Path(tempfile.mkdtemp(prefix="postern-dovecot-"))
        self.port = dead_port()
        self.socket = self.root / "run" / "lmtp"
        self.mail = self.root / "mail"
        self.users = users
        self.proc = None

    def start(self):
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(binary):
            pytest.skip("dovecot is not installed (dovecot-core, dovecot-lmtpd)")
        for d in ("run", "state", "mail"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if os.getuid() == 0:
            # Dovecot refuses mail access as root: deliver as nobody
            uid = gid = 65534
            os.chown(self.mail, uid, gid)
            extra = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            import pwd
            me = pwd.getpwuid(uid).pw_name
            extra = (f"default_internal_user = {me}\n"
                     f"default_login_user = {me}\n")
        lines = [f"{u}::{uid}:{gid}::{self.mail}/{u.split('@')[1]}/{u.split('@')[0]}::"
                 for u in self.users]
        (self.root / "users").write_text("\n".join(lines) + "\n")
        (self.root / "dovecot.conf").write_text(f"""\
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
instance_name = postern-test-{self.port}
protocols = lmtp
listen = 127.0.0.1
ssl = no
mail_location = maildir:{self.mail}/%d/%n
first_valid_uid = 1
{extra}passdb {{
  driver = passwd-file
  args = {self.root}/users
}}
userdb {{
  driver = passwd-file
  args = {self.root}/users
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
""")
        self.proc = subprocess.Popen(
            [binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                pytest.skip(f"dovecot did not start: {err[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    if self.socket.exists():
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.skip("dovecot did not start listening in time")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def messages(self, user):
        local, domain = user.split("@")
        new = self.mail / domain / local / "new"
        return [p.read_bytes() for p in sorted(new.iterdir())] if new.is_dir() else []


@pytest.fixture
def dovecot(tmp_path):
    d = Dovecot().start()
    yield d
    d.stop()


@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_lmtp_into_dovecot(probe, dovecot, message, via):
    where = (["--host", "127.0.0.1", "--port", str(dovecot.port)] if via == "tcp"
             else ["--unix", str(dovecot.socket)])
    out = run_probe(probe, message, ["alice@example.test", "zed@example.test"],
                    "--method", "lmtp", "--tls", "none",
                    "--from", "carol@example.net", *where)
    by = out["by_addr"]
    assert by["alice@example.test"]["status"] == "OK", out
    assert "Saved" in by["alice@example.test"]["reply"]
    assert by["zed@example.test"]["status"] == "PERM"
    assert by["zed@example.test"]["dsn"] == "5.1.1"
    got = dovecot.messages("alice@example.test")
    assert len(got) == 1
    assert got[0].replace(b"\r\n", b"\n").endswith(
        WIRE.replace(b"\r\n", b"\n")), got[0]


# --------------------------------------------------------------------------
# Part 1: MX (DLV_MX) through the test DNS server


@pytest.fixture
def dns(dns_server):
    return dns_server


def mx_args(dns, sink_port, *extra):
    return ["--method", "mx", "--resolver", dns.resolver,
            "--mx-port", str(sink_port), "--tls", "opportunistic", *extra]


def test_mx_delivery_opportunistic_tls(probe, dns, certs, message):
    with Sink(cert=(certs["cert"], certs["key"])) as sink:
        dns.mx("example.net", [(10, "mx.example.net")])
        dns.a("mx.example.net", "127.0.0.1")
        out = run_probe(probe, message, ["bob@example.net"],
                        *mx_args(dns, sink.port), "--domain", "example.net")
        msg = sink.wait_for(1)[0]
    assert out["rcpts"][0]["status"] == "OK", out
    # the test CA is not in the system store: accepted, recorded as such
    assert out["tls"].endswith(" unverified"), out
    assert out["hop"].startswith("mx.example.net[127.0.0.1]:")
    assert msg.tls and msg.data == WIRE
    assert ("example.net.", "MX") in dns.queries


def test_mx_plaintext_when_no_starttls(probe, dns, message):
    with Sink() as sink:
        dns.mx("example.net", [(10, "mx.example.net")])
        dns.a("mx.example.net", "127.0.0.1")
        out = run_probe(probe, message, ["bob@example.net"],
                        *mx_args(dns, sink.port))
        sink.wait_for(1)
    assert out["rcpts"][0]["status"] == "OK"
    assert out["tls"] == "none"


def test_mx_order_and_fallback(probe, dns, message):
    """Lowest preference first; the next host when a connection fails."""
    with Sink() as sink:
        dns.mx("example.net", [(20, "backup.example.net"), (5, "dead.example.net")])
        dns.a("dead.example.net", "127.0.0.2")       # nothing listens there
        dns.a("backup.example.net", "127.0.0.1")
        out = run_probe(probe, message, ["bob@example.net"],
                        *mx_args(dns, sink.port))
        sink.wait_for(1)
    assert out["rcpts"][0]["status"] == "OK", out
    assert out["hop"].startswith("backup.example.net[127.0.0.1]")
    names = [q[0] for q in dns.queries if q[1] in ("A", "AAAA")]
    assert "dead.example.net." in names


def test_mx_temp_failure_at_greeting_moves_on(probe, dns, message):
    """A 4xx greeting is not the message's fault: the next MX is tried."""
    busy = socket.socket()
    busy.bind(("127.0.0.3", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    import threading

    def greet():
        try:
            c, _ = busy.accept()
            c.sendall(b"421 4.3.2 busy, try another\r\n")
            c.recv(100)
            c.close()
        except OSError:
            pass
    t = threading.Thread(target=greet, daemon=True)
    t.start()
    try:
        with Sink(port=port) as sink:
            dns.mx("example.net", [(1, "busy.example.net"), (2, "ok.example.net")])
            dns.a("busy.example.net", "127.0.0.3")
            dns.a("ok.example.net", "127.0.0.1")
            out = run_probe(probe, message, ["bob@example.net"],
                            *mx_args(dns, port))
            sink.wait_for(1)
    finally:
        busy.close()
    assert out["rcpts"][0]["status"] == "OK", out
    assert out["hop"].startswith("ok.example.net")


def test_mx_implicit(probe, dns, message):
    """No MX: the domain's own address (RFC 5321 §5.1)."""
    with Sink() as sink:
        dns.a("example.net", "127.0.0.1")
        out = run_probe(probe, message, ["bob@example.net"],
                        *mx_args(dns, sink.port))
        sink.wait_for(1)
    assert out["rcpts"][0]["status"] == "OK", out
    assert out["hop"].startswith("example.net[127.0.0.1]")


def test_mx_ipv6(probe, dns, message):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with Sink(host="::1") as sink:
        dns.mx("example.net", [(10, "mx6.example.net")])
        dns.aaaa("mx6.example.net", "::1")
        out = run_probe(probe, message, ["bob@example.net"],
                        *mx_args(dns, sink.port))
        sink.wait_for(1)
    assert out["rcpts"][0]["status"] == "OK", out
    assert "[::1]" in out["hop"]


def test_mx_null_mx(probe, dns, message):
    dns.null_mx("example.net")
    out = run_probe(probe, message, ["bob@example.net"], *mx_args(dns, dead_port()))
    r = out["rcpts"][0]
    assert r["status"] == "PERM" and r["dsn"] == "5.1.10", r
    assert r["reply"].startswith("556 5.1.10")


def test_mx_nxdomain(probe, dns, message):
    out = run_probe(probe, message, ["bob@nowhere.example"],
                    *mx_args(dns, dead_port()))
    r = out["rcpts"][0]
    assert r["status"] == "PERM" and r["dsn"] == "5.1.2", r


def test_mx_servfail_defers(probe, dns, message):
    dns.servfail("example.net")
    out = run_probe(probe, message, ["bob@example.net"], *mx_args(dns, dead_port()))
    r = out["rcpts"][0]
    assert r["status"] == "TEMP" and r["dsn"] == "4.4.3", r


def test_mx_no_address_bounces(probe, dns, message):
    dns.exists("example.net")                     # no MX, no A, no AAAA
    out = run_probe(probe, message, ["bob@example.net"], *mx_args(dns, dead_port()))
    r = out["rcpts"][0]
    assert r["status"] == "PERM" and r["dsn"] == "5.4.4", r


def test_mx_all_hosts_down_defers(probe, dns, message):
    dns.mx("example.net", [(10, "mx.example.net")])
    dns.a("mx.example.net", "127.0.0.1")
    out = run_probe(probe, message, ["bob@example.net"], *mx_args(dns, dead_port()))
    r = out["rcpts"][0]
    assert out["rc"] == -1
    assert r["status"] == "TEMP", r


def test_mx_resolver_unreachable_defers(probe, message):
    port = dead_port()     # UDP: nothing answers on this port either
    out = run_probe(probe, message, ["bob@example.net"],
                    "--method", "mx", "--resolver", f"127.0.0.1:{port}",
                    "--mx-port", "25", timeout=120)
    assert out["rcpts"][0]["status"] == "TEMP", out


# --------------------------------------------------------------------------
# Part 2: end to end through `postern serve` (the queue service)


def queue_ready(postern):
    """The [delivery] relay keys exist and serve runs a queue service."""
    src = REPO / "src" / "queue" / "service.c"
    return src.exists()


def submit(inst, rcpts, tok, sender="alice@example.test", listener="submission"):
    """Submit one message: with AUTH on submission, or without on the MX
    listener (local recipients only)."""
    from conftest import assert_reply, simple_message
    body = simple_message(tok, sender=sender, rcpt=rcpts[0])
    if listener == "submission":
        c = inst.session()
    else:
        c = inst.client(listener)
        c.expect(220)
        c.ehlo_ok()
    with c:
        assert_reply(c.mail(sender), 250)
        for r in rcpts:
            assert_reply(c.rcpt(r), 250)
        assert_reply(c.data(body), 250)
        c.quit()


def _e2e_skip(postern):
    if not queue_ready(postern):
        pytest.skip("the queue service is not built yet")


def test_e2e_smarthost_auth_plain_starttls(postern, make_server, certs, tmp_path):
    _e2e_skip(postern)
    from conftest import token
    pw = tmp_path / "relay.pw"
    pw.write_text("relay-Secret-7\n")
    pw.chmod(0o600)
    with Sink(require_starttls=True, cert=(certs["cert"], certs["key"]),
              auth={"relay@example.test": "relay-Secret-7"}) as sink:
        inst = make_server(config=[
            ("delivery", "relay", f"smtp://localhost:{sink.port}"),
            ("delivery", "relay_ca", certs["ca"]),
            ("delivery", "relay_user", "relay@example.test"),
            ("delivery", "relay_password_file", str(pw)),
            ("delivery", "relay_auth_param", "yes"),
        ])
        tok = token()
        submit(inst, ["bob@example.net"], tok)
        msg = sink.wait_for(1, timeout=60)[0]
    assert msg.tls and msg.login == "relay@example.test"
    assert msg.rcpt_tos == ["bob@example.net"]
    assert msg.mail_from == "alice@example.test"
    assert tok.encode() in msg.data
    assert msg.auth_param == "alice@example.test"
    assert "relay-Secret-7" not in inst.log_text()


def test_e2e_mx_via_test_dns(postern, make_server):
    _e2e_skip(postern)
    from conftest import token
    with DNSServer() as dns, Sink() as sink:
        dns.mx("example.net", [(10, "mx.example.net")])
        dns.a("mx.example.net", "127.0.0.1")
        inst = make_server(config=[
            ("delivery", "relay", "mx"),
            ("delivery", "resolver", dns.resolver),
            ("delivery", "mx_port", str(sink.port)),
        ])
        tok = token()
        submit(inst, ["bob@example.net", "carol@example.net"], tok)
        msg = sink.wait_for(1, timeout=60)[0]
    assert sorted(msg.rcpt_tos) == ["bob@example.net", "carol@example.net"]
    assert tok.encode() in msg.data


def test_e2e_lmtp_into_dovecot(postern, make_server, tmp_path):
    _e2e_skip(postern)
    from conftest import token
    d = Dovecot().start()
    try:
        inst = make_server(start=False)
        # "local = lmtp:..." replaces init's "maildir = ..." (the same setting)
        text = inst.conf.read_text().splitlines()
        text = [ln for ln in text if not ln.strip().startswith("maildir")]
        inst.conf.write_text("\n".join(text) + "\n")
        inst.set("delivery", "local", f"lmtp:unix:{d.socket}")
        inst.start()
        tok = token()
        submit(inst, ["bob@example.test"], tok, sender="carol@example.net",
               listener="mx")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = d.messages("bob@example.test")
            if got:
                break
            time.sleep(0.2)
        assert got and tok.encode() in got[0], inst.log_tail()
    finally:
        d.stop()


def test_e2e_mx_loop_to_myself_bounces(postern, make_server):
    """RFC 5321 5.1: the best MX of the domain is this server itself (same
    address and port as our MX listener): 554 5.4.6 "loops back to myself",
    a bounce to the sender, no connection to ourselves."""
    _e2e_skip(postern)
    from conftest import token
    with DNSServer() as dns:
        dns.mx("loop.example", [(10, "mx.loop.example")])
        dns.a("mx.loop.example", "127.0.0.1")
        inst = make_server(start=False)
        inst.set("delivery", "relay", "mx")
        inst.set("delivery", "resolver", dns.resolver)
        inst.set("delivery", "mx_port", str(inst.ports["mx"]))
        inst.start()
        tok = token()
        submit(inst, ["bob@loop.example"], tok)
        dsn = inst.wait_for(tok, users=["alice@example.test"], timeout=60)
    assert dsn, inst.log_tail()
    text = dsn[0][2].decode(errors="replace")
    assert "5.4.6" in text and "loops back to myself" in text, text
    assert "is this server" in inst.log_text()


def test_e2e_mx_backup_is_myself(postern, make_server):
    """We are the less preferred MX: only the better one is tried."""
    _e2e_skip(postern)
    from conftest import token
    with DNSServer() as dns:
        inst = make_server(start=False)
        port = inst.ports["mx"]
        with Sink(host="127.0.0.2", port=port) as sink:
            dns.mx("backup.example", [(20, "me.backup.example"),
                                      (10, "primary.backup.example")])
            dns.a("me.backup.example", "127.0.0.1")
            dns.a("primary.backup.example", "127.0.0.2")
            inst.set("delivery", "relay", "mx")
            inst.set("delivery", "resolver", dns.resolver)
            inst.set("delivery", "mx_port", str(port))
            inst.start()
            tok = token()
            submit(inst, ["bob@backup.example"], tok)
            msg = sink.wait_for(1, timeout=60)[0]
    assert tok.encode() in msg.data
