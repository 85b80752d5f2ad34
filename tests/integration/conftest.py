"""Integration test harness: starts a real `postern serve` in a temporary directory.

Everything here uses the Python standard library only.

Environment:
  POSTERN   path of the binary under test (default: <repo>/build/postern)

Fixtures:
  postern      the binary's path (fails, never skips, when it does not exist)
  run_postern  run a postern subcommand: run_postern("check", "-c", conf)
  server       a running instance shared by the tests of one module (users
               alice@example.test and bob@example.test); checked after every test
               for liveness and sanitizer reports
  make_server  factory for instances private to one test (lifecycle tests)

An instance's listeners: "submission" (STARTTLS, auth required), "smtps"
(implicit TLS, auth required) and "mx" (auth off, local domains only).
"""

import base64
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "example.test"
HOSTNAME = "mail.example.test"
USERS = {
    "alice@example.test": "alice-Secret-1",
    "bob@example.test": "bob-Secret-2",
}
# A sanitizer report, or the master's record of a child that crashed (it restarts
# the child, so the server would otherwise look healthy).
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "ThreadSanitizer", "MemorySanitizer", "event=child-died")
START_TIMEOUT = 60.0      # an ASan build on a loaded CI machine is slow to start
STOP_TIMEOUT = 60.0
IO_TIMEOUT = 15.0        # per socket operation; a healthy server answers in ms


# --------------------------------------------------------------------------
# The binary


def postern_path():
    env = os.environ.get("POSTERN")
    p = Path(env) if env else REPO / "build" / "postern"
    if not p.is_absolute():
        p = (REPO / p) if not (Path.cwd() / p).exists() else (Path.cwd() / p)
    return p.resolve()


@pytest.fixture(scope="session")
def postern():
    p = postern_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"postern binary not found at {p} (set POSTERN=path/to/postern)")
    return str(p)


def run_cmd(binary, *args, input=None, timeout=120, cwd=None):
    """Run `postern ARGS`; returns CompletedProcess with text stdout/stderr."""
    if isinstance(input, str):
        input = input.encode()
    cp = subprocess.run([binary, *map(str, args)], input=input, cwd=cwd,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=timeout)
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    return cp


@pytest.fixture(scope="session")
def run_postern(postern):
    def run(*args, **kw):
        return run_cmd(postern, *args, **kw)
    return run


def describe(cp):
    return (f"exit {cp.returncode}\n--- stdout ---\n{cp.stdout}\n"
            f"--- stderr ---\n{cp.stderr}")


def sanitizer_report(text):
    for marker in SANITIZER_MARKERS:
        if marker in text:
            return marker
    return None


# --------------------------------------------------------------------------
# Ports


def free_ports(n):
    """n distinct loopback ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# postern.conf editing


SECTION_RE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(?:[;#].*)?$")
KEY_RE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*[=:]\s*(.*?)\s*$")


def _norm_section(name):
    return " ".join(name.split()).lower()


def parse_conf(path):
    """[(section, key, value, lineno)] for every key line (lineno is 1-based)."""
    out = []
    section = None
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        m = SECTION_RE.match(line)
        if m:
            section = _norm_section(m.group(1))
            continue
        if line.lstrip().startswith((";", "#")):
            continue
        m = KEY_RE.match(line)
        if m and section is not None:
            value = re.split(r"\s+[;#]", m.group(2), maxsplit=1)[0].strip()
            out.append((section, m.group(1).lower(), value, i))
    return out


def conf_get(path, section, key):
    for sec, k, v, _ in parse_conf(path):
        if sec == _norm_section(section) and k == key.lower():
            return v
    return None


def set_conf(path, section, key, value):
    """Set `key = value` in [section]: rewrite the key's line if present, else add
    it after the section's last non-blank line, else append the section."""
    path = Path(path)
    lines = path.read_text().splitlines()
    want = _norm_section(section)
    cur = None
    last = None                 # index of the last non-blank line of [section]
    for i, line in enumerate(lines):
        m = SECTION_RE.match(line)
        if m:
            cur = _norm_section(m.group(1))
            if cur == want and last is None:
                last = i
            continue
        if cur != want or last is None or not line.strip():
            continue
        last = i
        if line.lstrip().startswith((";", "#")):
            continue
        m = KEY_RE.match(line)
        if m and m.group(1).lower() == key.lower():
            lines[i] = f"{key} = {value}"
            path.write_text("\n".join(lines) + "\n")
            return
    if last is None:
        lines += ["", f"[{section}]", f"{key} = {value}"]
    else:
        lines.insert(last + 1, f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")


def listener_section(path, port):
    """The [listener NAME] section whose address mentions PORT."""
    for sec, k, v, _ in parse_conf(path):
        if sec.startswith("listener ") and k == "address" and \
                re.search(rf":{port}\b", v):
            return sec
    return None


# --------------------------------------------------------------------------
# A postern instance


class Instance:
    def __init__(self, binary, root, name="inst", hostname=HOSTNAME):
        self.binary = binary
        self.root = Path(root)
        self.dir = self.root / name
        self.conf = self.dir / "postern.conf"
        self.log = self.root / f"{name}.log"
        self.hostname = hostname
        p1, p2, p3 = free_ports(3)
        self.ports = {"submission": p1, "smtps": p2, "mx": p3}
        self.users = {}
        self.proc = None
        self.starts = 0
        self._logf = None

    # -- setup
    def init(self, extra_args=()):
        cp = run_cmd(self.binary, "init", self.dir,
                     "--hostname", self.hostname, "--domain", DOMAIN,
                     "--submission", f"127.0.0.1:{self.ports['submission']}",
                     "--smtps", f"127.0.0.1:{self.ports['smtps']}",
                     "--mx", f"127.0.0.1:{self.ports['mx']}", *extra_args)
        assert cp.returncode == 0, f"postern init failed: {describe(cp)}"
        self.set("auth", "failure_delay", "100ms")
        # Every test client is 127.0.0.1: the brute-force guard would delay and
        # ban it after a module's worth of wrong passwords. test_policy.py
        # clears this to test the guard itself.
        self.set("guard", "allow_networks", "127.0.0.0/8")
        return self

    def set(self, section, key, value):
        set_conf(self.conf, section, key, value)

    def set_listener(self, listener, key, value):
        sec = listener_section(self.conf, self.ports[listener])
        assert sec, f"no listener section for port {self.ports[listener]} in {self.conf}"
        set_conf(self.conf, sec, key, value)

    def cli(self, *args, input=None, timeout=120):
        return run_cmd(self.binary, *args, input=input, timeout=timeout)

    def add_user(self, name, password):
        cp = self.cli("user", "add", "-c", self.conf, name, "--password-stdin",
                      input=password + "\n")
        assert cp.returncode == 0, f"user add {name} failed: {describe(cp)}"
        self.users[name] = password

    # -- process
    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        self._logf = open(self.log, "ab")
        self.log_offset = self._logf.tell()
        self.proc = subprocess.Popen([self.binary, "serve", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        pending = set(self.ports.values())
        while pending:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"postern serve exited {self.proc.returncode} during startup\n"
                    f"{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"ports {sorted(pending)} not accepting after "
                                     f"{START_TIMEOUT}s\n{self.log_tail()}")
            for p in list(pending):
                if port_accepts(p):
                    pending.discard(p)
            if pending:
                time.sleep(0.05)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        self.signal(signal.SIGHUP)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns a list of problems (empty when clean)."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append(f"postern serve did not exit within {timeout}s of SIGTERM")
        rc = self.proc.returncode
        if rc != 0 and not problems:
            problems.append(f"postern serve exited with status {rc} (want 0)")
        if self._logf:
            self._logf.close()
            self._logf = None
        marker = sanitizer_report(self.log_text())
        if marker:
            problems.append(f"crash or sanitizer report ({marker!r}) in the server log")
        return problems

    def log_text(self, since=0):
        try:
            with open(self.log, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()
        return "--- server log (tail) ---\n" + "\n".join(lines[-n:])

    # -- mail
    def maildir(self, user):
        local, domain = user.split("@", 1)
        return self.dir / "mail" / domain / local

    def messages(self, user):
        """[(path, bytes)] of the files in the user's Maildir new/."""
        new = self.maildir(user) / "new"
        if not new.is_dir():
            return []
        out = []
        for p in sorted(new.iterdir()):
            if p.is_file():
                out.append((p, p.read_bytes()))
        return out

    def find(self, token, users=None):
        """[(user, path, bytes)] of delivered messages containing token."""
        if isinstance(token, str):
            token = token.encode()
        found = []
        for u in (users or self.users):
            for p, data in self.messages(u):
                if token in data:
                    found.append((u, p, data))
        return found

    def absent(self, token, users=None, wait=2.0):
        """For negative checks: watch for `wait` seconds (delivery may be
        asynchronous, through the queue) and return what arrived (want [])."""
        deadline = time.monotonic() + wait
        while True:
            found = self.find(token, users)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def wait_for(self, token, count=1, users=None, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(token, users)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    # -- clients
    def client(self, listener="submission", **kw):
        return SmtpClient(self.ports[listener], implicit_tls=(listener == "smtps"), **kw)

    def session(self, listener="submission", user="alice@example.test", ehlo="client.test"):
        """A client that has done TLS, EHLO and AUTH PLAIN as user."""
        c = self.client(listener)
        c.expect(220)
        c.ehlo_ok(ehlo)
        if listener == "submission":
            c.starttls()
            c.ehlo_ok(ehlo)
        r = c.auth_plain(user, self.users[user])
        assert_reply(r, 235, "2.7.0")
        return c


# --------------------------------------------------------------------------
# Fixtures


def _new_instance(binary, root, name="inst", users=USERS, config=(), start=True):
    inst = Instance(binary, root, name=name).init()
    for section, key, value in config:
        if section.startswith("listener:"):
            inst.set_listener(section.split(":", 1)[1], key, value)
        else:
            inst.set(section, key, value)
    for u, pw in users.items():
        inst.add_user(u, pw)
    if start:
        inst.start()
    return inst


@pytest.fixture(scope="module")
def shared_instance(postern, tmp_path_factory):
    inst = _new_instance(postern, tmp_path_factory.mktemp("postern"))
    yield inst
    problems = inst.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + inst.log_tail(), pytrace=False)


@pytest.fixture
def server(shared_instance):
    """The module's running instance. After the test: the server must still be
    running and its log must not contain a sanitizer report."""
    inst = shared_instance
    if not inst.alive():
        inst.start()         # an earlier test killed it; that test already failed
    offset = inst.log_size()
    yield inst
    problems = []
    if not inst.alive():
        problems.append(f"postern serve died during this test "
                        f"(status {inst.proc.returncode})")
    marker = sanitizer_report(inst.log_text(offset))
    if marker:
        problems.append(f"crash or sanitizer report ({marker!r}) in the server log")
    if problems:
        pytest.fail("; ".join(problems) + "\n" + inst.log_tail(), pytrace=False)


@pytest.fixture
def make_server(postern, tmp_path):
    """make_server(config=[(section, key, value)], users={...}, start=True).
    Section "listener:submission" (or smtps, mx) edits that listener's section.
    Every instance made is stopped at teardown and must exit 0 with a clean log."""
    made = []

    def make(config=(), users=USERS, start=True):
        inst = _new_instance(postern, tmp_path, name=f"inst{len(made)}", users=users,
                             config=config, start=start)
        made.append(inst)
        return inst

    yield make
    problems = []
    for inst in made:
        problems += inst.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" +
                    "\n".join(i.log_tail() for i in made), pytrace=False)


# --------------------------------------------------------------------------
# Raw SMTP client


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Reply:
    ENH_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")

    def __init__(self, lines):
        self.raw = lines                          # [bytes], CRLF stripped
        self.lines = [l.decode("utf-8", "replace") for l in lines]
        self.code = int(self.lines[0][:3])
        self.texts = [l[4:] for l in self.lines]  # text after "NNN-" / "NNN "
        first = self.texts[0].split(" ", 1)[0] if self.texts[0] else ""
        self.enh = first if self.ENH_RE.match(first) else None
        self.text = "\n".join(self.texts)

    def keywords(self):
        """EHLO reply: {KEYWORD: [params]} from the lines after the first."""
        out = {}
        for t in self.texts[1:]:
            parts = t.split()
            if parts:
                out[parts[0].upper()] = parts[1:]
        return out

    def __repr__(self):
        return " | ".join(self.lines)


def assert_reply(reply, code, enh=None):
    assert reply is not None, f"no reply (want {code} {enh or ''})"
    assert reply.code == code, f"want {code} {enh or ''}, got: {reply!r}"
    if enh is not None:
        assert reply.enh == enh, f"want {code} {enh}, got: {reply!r}"


class Closed(Exception):
    pass


class SmtpClient:
    """Line-oriented SMTP client over a raw socket (plain, STARTTLS, implicit TLS)."""

    def __init__(self, port, host="127.0.0.1", implicit_tls=False, timeout=IO_TIMEOUT,
                 source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.tls = False
        if implicit_tls:
            self.sock = tls_context().wrap_socket(self.sock)
            self.tls = True

    # -- bytes
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send_line(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise Closed(f"connection closed by server (pending: {self.buf!r})")
        self.buf += chunk

    def read_line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("server line longer than 1 MB")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_reply(self):
        lines = []
        while True:
            line = self.read_line()
            if len(line) < 3 or not line[:3].isdigit() or \
                    (len(line) > 3 and line[3:4] not in (b" ", b"-")):
                raise AssertionError(f"malformed reply line {line!r} after {lines!r}")
            if lines and line[:3] != lines[0][:3]:
                raise AssertionError(f"reply code changed mid-reply: {lines!r} {line!r}")
            lines.append(line)
            if line[3:4] != b"-":
                return Reply(lines)

    def expect(self, code, enh=None):
        r = self.read_reply()
        assert_reply(r, code, enh)
        return r

    def cmd(self, line):
        self.send_line(line)
        return self.read_reply()

    def pending(self, wait=1.0):
        """Bytes the server sends within `wait` seconds without being asked."""
        data = self.buf
        self.buf = b""
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ssl.SSLError, ConnectionResetError):
            pass
        finally:
            self.sock.settimeout(old)
        return data

    def wait_closed(self, timeout=15.0):
        """True when the server closes the connection within timeout; the bytes it
        sent meanwhile are kept in self.buf."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    chunk = self.sock.recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    return True
                except ssl.SSLError:
                    return True
                if not chunk:
                    return True
                self.buf += chunk
            return False
        except socket.timeout:
            return False
        finally:
            try:
                self.sock.settimeout(old)
            except OSError:
                pass

    # -- SMTP
    def ehlo(self, name="client.test"):
        return self.cmd(f"EHLO {name}")

    def ehlo_ok(self, name="client.test"):
        r = self.ehlo(name)
        assert_reply(r, 250)
        return r

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert_reply(r, 220)
        assert self.buf == b"", f"server sent data after 220 to STARTTLS: {self.buf!r}"
        self.sock = tls_context().wrap_socket(self.sock)
        self.tls = True
        return r

    def auth_plain(self, user, password, authzid=""):
        blob = b64(f"{authzid}\0{user}\0{password}")
        return self.cmd(f"AUTH PLAIN {blob}")

    def auth_login(self, user, password):
        r = self.cmd("AUTH LOGIN")
        if r.code != 334:
            return r
        r = self.cmd(b64(user))
        if r.code != 334:
            return r
        return self.cmd(b64(password))

    def mail(self, sender, params=""):
        return self.cmd(f"MAIL FROM:<{sender}>" + (f" {params}" if params else ""))

    def rcpt(self, rcpt):
        return self.cmd(f"RCPT TO:<{rcpt}>")

    def data(self, body):
        """DATA, the body as given (bytes, CRLF lines, already dot-stuffed), the
        terminator; returns the reply to the final dot."""
        r = self.cmd("DATA")
        assert_reply(r, 354)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")
        return self.read_reply()

    def send_message(self, sender, rcpts, body):
        assert_reply(self.mail(sender), 250)
        for r in rcpts:
            assert_reply(self.rcpt(r), 250)
        return self.data(body)

    def quit(self):
        try:
            r = self.cmd("QUIT")
        except (Closed, OSError):
            r = None
        self.close()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def token():
    return "tok-" + uuid.uuid4().hex


def simple_message(tok, sender="alice@example.test", rcpt="bob@example.test", body=None):
    """A small RFC 5322 message with CRLF line ends; tok is in the Subject."""
    body = body if body is not None else f"Hello from the Postern tests.\r\n{tok}\r\n"
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: test {tok}\r\n"
            f"Message-ID: <{tok}@client.test>\r\n\r\n{body}")


def lf(data):
    """Normalize line ends to LF (Maildir files may be stored either way)."""
    return data.replace(b"\r\n", b"\n")


def split_message(data):
    """(header block, body) of a stored message, line ends normalized to LF."""
    data = lf(data)
    head, _, body = data.partition(b"\n\n")
    return head, body


def headers(data, name):
    """Values of the (unfolded) header fields called name."""
    head, _ = split_message(data)
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    out = []
    for line in unfolded.split(b"\n"):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name.lower().encode():
            out.append(v.strip().decode("utf-8", "replace"))
    return out


def have(tool):
    return shutil.which(tool) is not None


# --------------------------------------------------------------------------
# Next hops for delivery tests (sink.py, dnsserver.py; test_delivery.py)


@pytest.fixture
def smtp_sink():
    """smtp_sink(**options) -> a started sink.Sink (see sink.py for the
    options: TLS, AUTH, failures, LMTP, recording); stopped at teardown."""
    from sink import Sink
    made = []

    def make(**kw):
        s = Sink(**kw).start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def dns_server():
    """A running dnsserver.DNSServer; dns_server.resolver is "127.0.0.1:PORT"."""
    from dnsserver import DNSServer
    with DNSServer() as d:
        yield d
