"""SMTP/LMTP sink for delivery tests (aiosmtpd, Debian's python3-aiosmtpd).

A next hop that the delivery agents (src/deliver) talk to for real. It runs
in a thread on a free loopback port (or a UNIX socket) and records every
message it accepts, in memory and optionally as files. Independent of
conftest.py; use it as a context manager:

    with Sink(require_starttls=True, cert=(crt, key),
              auth={"relay": "secret"}) as sink:
        ... deliver to 127.0.0.1:sink.port ...
        msg = sink.wait_for(1)[0]
        assert msg.rcpt_tos == ["bob@example.net"]

Options:
  cert=(certfile, keyfile)  TLS material (see make_certs())
  require_starttls          offer STARTTLS and refuse mail before it
  implicit_tls              TLS from the first byte (port 465 style)
  auth={user: password}     offer AUTH PLAIN LOGIN (only after TLS when cert
                            is given) and require it before MAIL
  fail_first=N              answer the first N DATA commands with fail_reply
  reject={addr, ...}        answer RCPT with reject_reply for these (any
                            case); a callable(addr) -> reply or None also works
  lmtp                      speak LMTP (LHLO, one reply per recipient)
  lmtp_temp={addr, ...}     LMTP: these recipients get 452 after DATA
  pipelining                advertise PIPELINING (default on)
  record_dir=path           write NNNN.eml and NNNN.json per message
  unix_socket=path          listen there instead of TCP
  smtputf8                  advertise SMTPUTF8 (default on)
"""

import json
import os
import socket
import ssl
import subprocess
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

__all__ = ["Sink", "Message", "make_certs", "free_port"]

# aiosmtpd 1.4 itself still sets the deprecated Session.login_data
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


@dataclass
class Message:
    mail_from: str
    rcpt_tos: list
    data: bytes
    mail_options: list = field(default_factory=list)
    rcpt_options: list = field(default_factory=list)
    auth_param: str = None          # the AUTH= value of MAIL FROM, if any
    login: str = None               # who authenticated (AUTH), if anyone
    tls: bool = False
    peer: str = ""
    helo: str = ""

    def envelope(self):
        d = asdict(self)
        d["data"] = None
        return d


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(directory, names=("localhost",), ips=("127.0.0.1", "::1")):
    """A test CA and a server certificate signed by it, with openssl(1).

    Returns dict(ca=..., cert=..., key=...) of file paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca = d / "ca.key", d / "ca.crt"
    key, csr, crt = d / "server.key", d / "server.csr", d / "server.crt"
    ext = d / "server.ext"
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{i}" for i in ips])
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")

    def run(*args):
        subprocess.run(["openssl", *map(str, args)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "2", "-subj", "/CN=Postern Test CA",
        "-keyout", ca_key, "-out", ca)
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-subj", f"/CN={names[0]}", "-keyout", key, "-out", csr)
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt)
    return {"ca": str(ca), "cert": str(crt), "key": str(key)}


class _Handler:
    """aiosmtpd hooks: policy decisions and recording."""

    def __init__(self, sink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.sink.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, options):
        reply = self.sink._rcpt_reply(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink._lock:
            self.sink.data_count += 1
            n = self.sink.data_count
        if n <= self.sink.fail_first:
            return self.sink.fail_reply
        auth_param = getattr(session, "postern_auth_param", None)
        msg = Message(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content or b""),
            mail_options=list(envelope.mail_options),
            rcpt_options=list(envelope.rcpt_options),
            auth_param=auth_param,
            login=(session.auth_data.login.decode("utf-8", "replace")
                   if isinstance(getattr(session, "auth_data", None),
                                 LoginPassword)
                   else None),
            tls=(session.ssl is not None or
                 server.transport.get_extra_info("ssl_object") is not None),
            peer=str(session.peer),
            helo=session.host_name or "",
        )
        replies = None
        if self.sink.lmtp:
            replies = []
            for rcpt in msg.rcpt_tos:
                if rcpt.lower() in self.sink.lmtp_temp:
                    replies.append(f"452 4.2.2 <{rcpt}> mailbox full")
                else:
                    replies.append(f"250 2.0.0 <{rcpt}> delivered")
            accepted = [r for r in msg.rcpt_tos
                        if r.lower() not in self.sink.lmtp_temp]
            msg.rcpt_tos = accepted
        if msg.rcpt_tos:
            self.sink._record(msg)
        if replies is not None:
            return "\r\n".join(replies)
        return "250 2.0.0 OK queued"


class _AuthSMTP(SMTP):
    """SMTP that also takes the AUTH= parameter of MAIL FROM (RFC 4954 §5),
    which aiosmtpd alone refuses with 555, and records it."""

    async def smtp_MAIL(self, arg):
        if arg:
            words = arg.split(" ")
            kept = []
            for w in words:
                if w.upper().startswith("AUTH="):
                    self.session.postern_auth_param = w[5:]
                else:
                    kept.append(w)
            arg = " ".join(kept)
        return await super().smtp_MAIL(arg)


class _AuthLMTP(LMTP, _AuthSMTP):
    pass


def _check_password(users):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              users.get(auth_data.login.decode("utf-8", "replace")) ==
              auth_data.password.decode("utf-8", "replace"))
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data if ok else None)
    return authenticator


class _Controller(Controller):
    def __init__(self, handler, smtp_class, **kw):
        self._smtp_class = smtp_class
        super().__init__(handler, **kw)

    def factory(self):
        return self._smtp_class(self.handler, **self.SMTP_kwargs)


class _UnixController(UnixSocketController):
    def __init__(self, handler, smtp_class, **kw):
        self._smtp_class = smtp_class
        super().__init__(handler, **kw)

    def factory(self):
        return self._smtp_class(self.handler, **self.SMTP_kwargs)


class Sink:
    def __init__(self, *, host="127.0.0.1", port=None, cert=None,
                 require_starttls=False, implicit_tls=False, auth=None,
                 fail_first=0, fail_reply="451 4.3.0 Try again later",
                 reject=(), reject_reply="550 5.1.1 No such user here",
                 lmtp=False, lmtp_temp=(), pipelining=True, record_dir=None,
                 unix_socket=None, size_limit=10 * 1024 * 1024, smtputf8=True):
        if (require_starttls or implicit_tls) and cert is None:
            raise ValueError("TLS needs cert=(certfile, keyfile)")
        self.host = host
        self.port = port
        self.cert = cert
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.auth = dict(auth) if auth else None
        self.fail_first = fail_first
        self.fail_reply = fail_reply
        self.reject = reject if callable(reject) else {a.lower() for a in reject}
        self.reject_reply = reject_reply
        self.lmtp = lmtp
        self.lmtp_temp = {a.lower() for a in lmtp_temp}
        self.pipelining = pipelining
        self.record_dir = Path(record_dir) if record_dir else None
        self.unix_socket = unix_socket
        self.size_limit = size_limit
        self.smtputf8 = smtputf8
        self.messages = []
        self.data_count = 0
        self._lock = threading.Condition()
        self._controller = None

    # -- policy and recording (called on the aiosmtpd thread)

    def _rcpt_reply(self, address):
        if callable(self.reject):
            return self.reject(address)
        if address.lower() in self.reject:
            return self.reject_reply
        return None

    def _record(self, msg):
        with self._lock:
            self.messages.append(msg)
            n = len(self.messages)
            if self.record_dir is not None:
                self.record_dir.mkdir(parents=True, exist_ok=True)
                (self.record_dir / f"{n:04d}.eml").write_bytes(msg.data)
                (self.record_dir / f"{n:04d}.json").write_text(
                    json.dumps(msg.envelope(), indent=1))
            self._lock.notify_all()

    # -- life cycle

    def start(self):
        ctx = None
        if self.cert is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*self.cert)
        kw = dict(
            data_size_limit=self.size_limit,
            enable_SMTPUTF8=self.smtputf8,
            decode_data=False,
            ident="postern-test-sink",
        )
        if ctx is not None and not self.implicit_tls:
            kw["tls_context"] = ctx
            kw["require_starttls"] = self.require_starttls
        if self.auth is not None:
            kw["authenticator"] = _check_password(self.auth)
            kw["auth_required"] = True
            # implicit TLS: aiosmtpd does not see the TLS layer under the
            # session, but the whole connection is TLS
            kw["auth_require_tls"] = ctx is not None and not self.implicit_tls
        else:
            kw["auth_require_tls"] = False
        smtp_class = _AuthLMTP if self.lmtp else _AuthSMTP
        handler = _Handler(self)
        if self.unix_socket is not None:
            self._controller = _UnixController(
                handler, smtp_class, unix_socket=self.unix_socket,
                ssl_context=ctx if self.implicit_tls else None, **kw)
        else:
            if self.port is None:
                self.port = free_port()
            self._controller = _Controller(
                handler, smtp_class, hostname=self.host, port=self.port,
                ssl_context=ctx if self.implicit_tls else None, **kw)
        self._controller.start()
        return self

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what tests look at

    def wait_for(self, n, timeout=30.0):
        """The first n messages, waiting up to timeout seconds for them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"sink got {len(self.messages)} of {n} messages")
                self._lock.wait(left)
            return list(self.messages[:n])


if __name__ == "__main__":      # a manual sink: python3 sink.py [port]
    import sys
    with Sink(port=int(sys.argv[1]) if len(sys.argv) > 1 else None,
              record_dir=os.environ.get("SINK_DIR")) as s:
        print(f"sink on 127.0.0.1:{s.port}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
