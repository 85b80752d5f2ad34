"""Real credential backends for the integration tests, started on loopback in
temporary directories: an OpenLDAP slapd (Debian: slapd ldap-utils) and a
Dovecot auth process (Debian: dovecot-core). Standard library only.

  Slapd(root).setup().start()     slapd with an mdb database dc=example,dc=test,
                                  ldap:// and ldaps:// ports, a TLS certificate
                                  for 127.0.0.1 (self-signed: also the CA file)
  Dovecot(root).setup().start()   Dovecot with passwd-file users, no mail
                                  services; auth-client and auth-userdb sockets

Both have kill() (SIGKILL, the whole process group) and start() again on the
same data, which is how the tests take a backend away mid-run. The helpers
skip (pytest.skip) when the binaries are missing.
"""

import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import free_ports, port_accepts

BASE_DN = "dc=example,dc=test"
READER_DN = f"cn=reader,{BASE_DN}"
READER_PASSWORD = "reader-Secret-0"
START_TIMEOUT = 30.0

# login -> (password, ldap attributes / dovecot extra fields)
LDAP_USERS = {
    "carol@example.test": ("carol-Secret-3", {"uid": "carol",
                            "mailLocalAddress": "carol.alias@example.test"}),
    "dave@example.test": ("dave-Secret-4", {"uid": "dave", "employeeType": "disabled"}),
    # {SSHA}: a scheme only the directory knows (bind mode delegates it)
    "erin@example.test": ("erin-Secret-5", {"uid": "erin", "scheme": "SSHA"}),
}


def find_binary(name):
    for d in (None, "/usr/sbin", "/usr/local/sbin", "/sbin"):
        p = shutil.which(name) if d is None else os.path.join(d, name)
        if p and os.access(p, os.X_OK):
            return p
    return None


def crypt_sha512(password):
    """{CRYPT}$6$... via openssl (the crypt module is deprecated)."""
    cp = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                        stdout=subprocess.PIPE, check=True)
    return "{CRYPT}" + cp.stdout.decode().strip()


def ssha(password):
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _wait(cond, what, proc, log):
    deadline = time.monotonic() + START_TIMEOUT
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode} at start:\n"
                                 f"{Path(log).read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready after {START_TIMEOUT}s")
        time.sleep(0.05)


class Slapd:
    def __init__(self, root):
        self.slapd = find_binary("slapd")
        self.slapadd = find_binary("slapadd")
        if not self.slapd or not self.slapadd:
            pytest.skip("slapd/slapadd not installed (Debian: slapd ldap-utils)")
        self.dir = Path(root) / "slapd"
        self.port, self.tls_port = free_ports(2)
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_uri = f"ldaps://127.0.0.1:{self.tls_port}"
        self.proc = None
        self.log = self.dir / "slapd.log"
        self.ca_file = self.dir / "server.pem"

    def setup(self):
        d = self.dir
        (d / "db").mkdir(parents=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", d / "server.key", "-out", d / "server.pem",
                        "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(d / "server.key", 0o600)
        (d / "slapd.conf").write_text(f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/misc.schema
pidfile {d}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
maxsize 10485760
suffix "{BASE_DN}"
rootdn "cn=admin,{BASE_DN}"
rootpw admin-Secret-9
directory {d}/db
access to attrs=userPassword by dn.exact="{READER_DN}" read by anonymous auth by * none
access to * by * read
""")
        entries = [f"""dn: {BASE_DN}
objectClass: dcObject
objectClass: organization
o: Example
dc: example
""", f"""dn: {READER_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {READER_PASSWORD}
"""]
        for mail, (pw, attrs) in LDAP_USERS.items():
            stored = ssha(pw) if attrs.get("scheme") == "SSHA" else crypt_sha512(pw)
            e = [f"dn: uid={attrs['uid']},{BASE_DN}", "objectClass: inetOrgPerson",
                 "objectClass: inetLocalMailRecipient", f"uid: {attrs['uid']}",
                 f"cn: {attrs['uid']}", f"sn: {attrs['uid']}", f"mail: {mail}",
                 f"userPassword: {stored}"]
            for k in ("mailLocalAddress", "employeeType"):
                if k in attrs:
                    e.append(f"{k}: {attrs[k]}")
            entries.append("\n".join(e) + "\n")
        (d / "data.ldif").write_text("\n".join(entries))
        cp = subprocess.run([self.slapadd, "-f", d / "slapd.conf", "-l", d / "data.ldif"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert cp.returncode == 0, f"slapadd failed:\n{cp.stdout.decode(errors='replace')}"
        return self

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        logf = open(self.log, "ab")
        # -d 0: stay in the foreground, log nothing but errors
        self.proc = subprocess.Popen(
            [self.slapd, "-f", self.dir / "slapd.conf", "-d", "0",
             "-h", f"{self.uri}/ {self.ldaps_uri}/"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        logf.close()
        _wait(lambda: port_accepts(self.port) and port_accepts(self.tls_port),
              "slapd", self.proc, self.log)
        return self

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class Dovecot:
    # login -> (password, passwd-file extra fields)
    USERS = {
        "frank@example.test": ("frank-Secret-6", "senders=frank@example.test,f@example.test"),
        "grace@example.test": ("grace-Secret-7", "nologin"),
    }

    def __init__(self, root):
        self.dovecot = find_binary("dovecot")
        if not self.dovecot:
            pytest.skip("dovecot not installed (Debian: dovecot-core)")
        self.root = Path(root)
        # UNIX socket paths are limited to 107 octets: keep base_dir short
        self.dir = Path(tempfile.mkdtemp(prefix="pdv", dir="/tmp"))
        self.run = self.dir / "run"
        self.client_socket = self.run / "auth-client"
        self.userdb_socket = self.run / "auth-userdb"
        self.log = self.root / "dovecot.log"
        self.proc = None

    def setup(self):
        d = self.dir
        lines = []
        for user, (pw, extra) in self.USERS.items():
            lines.append(f"{user}:{crypt_sha512(pw)}:1000:1000::{d}::{extra}")
        (d / "users").write_text("\n".join(lines) + "\n")
        (d / "dovecot.conf").write_text(f"""\
base_dir = {self.run}
state_dir = {d}/state
log_path = {self.log}
instance_name = postern-test-{d.name}
protocols = none
ssl = no
auth_mechanisms = plain
auth_failure_delay = 0
disable_plaintext_auth = no
default_internal_user = root
default_login_user = root
passdb {{
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service auth {{
  user = root
  unix_listener auth-client {{
    mode = 0666
  }}
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
service auth-worker {{
  user = root
}}
""")
        return self

    def _ready(self):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(str(self.client_socket))
            data = s.recv(4096)
            s.close()
            return data.startswith(b"VERSION\t1\t")
        except OSError:
            return False

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        logf = open(self.root / "dovecot.out", "ab")
        self.proc = subprocess.Popen([self.dovecot, "-F", "-c", self.dir / "dovecot.conf"],
                                     stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        _wait(self._ready, "dovecot", self.proc, self.root / "dovecot.out")
        return self

    def kill(self):
        """SIGKILL the master and its children (auth, log, ...)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            time.sleep(0.2)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
