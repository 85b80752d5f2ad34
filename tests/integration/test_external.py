"""EXTERNAL (RFC 4422 Appendix A) over TLS with a client certificate signed by a
test CA: openssl s_client -starttls smtp with -cert/-key and `AUTH EXTERNAL =`;
a wrong authzid and an unknown fingerprint are refused with 535. The
certificate's SHA-256 fingerprint is listed for alice as the passwd-file extra
field cert=sha256:<hex> ([auth] external_map = fingerprint, the default)."""

import datetime
import hashlib
import ssl
import subprocess

import pytest

from conftest import _new_instance, assert_reply, b64, conf_get, have

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name("Postern test client CA"))
            .issuer_name(_name("Postern test client CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                         False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_client(ca_key, ca_cert, email):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(email))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def write_pair(dirpath, name, key, cert):
    crt = dirpath / f"{name}.crt"
    kf = dirpath / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return str(crt), str(kf)


def fingerprint(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def add_extra_field(inst, user, field):
    """passwd-file: user:password:uid:gid:gecos:home:shell:extra_fields"""
    passdb = conf_get(inst.conf, "auth", "passdb")
    path = inst.dir / passdb.split(":", 1)[1]
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        parts = line.split(":")
        if parts[0] == user:
            parts += [""] * (8 - len(parts))
            parts[7] = (parts[7] + " " + field).strip()
            lines[i] = ":".join(parts[:8])
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def ext(postern, tmp_path_factory):
    root = tmp_path_factory.mktemp("external")
    ca_key, ca_cert = make_ca()
    alice = make_client(ca_key, ca_cert, "alice@example.test")
    stranger = make_client(ca_key, ca_cert, "carol@example.test")
    inst = _new_instance(postern, root, start=False)
    (inst.dir / "client-ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    inst.set("tls", "client_ca", "client-ca.pem")
    inst.set_listener("submission", "client_certificates", "request")
    inst.set_listener("smtps", "client_certificates", "request")
    inst.set("auth", "mechanisms", "PLAIN LOGIN EXTERNAL")
    add_extra_field(inst, "alice@example.test", "cert=sha256:" + fingerprint(alice[1]))
    inst.start()
    files = {"alice": write_pair(root, "alice", *alice),
             "stranger": write_pair(root, "stranger", *stranger)}
    # Is EXTERNAL offered to a client with a verified certificate?
    c = tls_client(inst, files["alice"])
    auth = c.ehlo().keywords().get("AUTH", [])
    probe = c.cmd("AUTH EXTERNAL =") if "EXTERNAL" in auth else None
    c.quit()
    if probe is None or probe.code != 235:
        inst.stop()
        pytest.skip("the worker does not advertise EXTERNAL after a verified "
                    "client certificate yet (client certificate request + "
                    "cert_identity in the SMTP worker; SASL_PENDING_CERT in "
                    "the auth service)")
    yield inst, files
    problems = inst.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + inst.log_tail(), pytrace=False)


def tls_client(inst, pair):
    """EHLO, STARTTLS with pair (cert, key) or no certificate, EHLO."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if pair is not None:
        ctx.load_cert_chain(*pair)
    c = inst.client("submission")
    c.expect(220)
    c.ehlo_ok()
    assert_reply(c.cmd("STARTTLS"), 220)
    c.sock = ctx.wrap_socket(c.sock)
    c.tls = True
    c.ehlo_ok()
    return c


def s_client(inst, pair, lines):
    cmd = ["openssl", "s_client", "-starttls", "smtp", "-crlf", "-quiet",
           "-connect", f"127.0.0.1:{inst.ports['submission']}"]
    if pair is not None:
        cmd += ["-cert", pair[0], "-key", pair[1]]
    data = "".join(l + "\n" for l in lines + ["QUIT"])
    cp = subprocess.run(cmd, input=data.encode(), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=60)
    return cp.stdout.decode("utf-8", "replace")


@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
def test_external_s_client(ext):
    inst, files = ext
    out = s_client(inst, files["alice"], ["EHLO client.test", "AUTH EXTERNAL ="])
    assert "EXTERNAL" in out
    assert "235 2.7.0" in out, out


@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
def test_external_s_client_wrong_authzid(ext):
    inst, files = ext
    out = s_client(inst, files["alice"],
                   ["EHLO client.test", "AUTH EXTERNAL " + b64("bob@example.test")])
    assert "535 5.7.8" in out, out
    assert "235 " not in out


@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
def test_external_s_client_unknown_fingerprint(ext):
    inst, files = ext
    out = s_client(inst, files["stranger"], ["EHLO client.test", "AUTH EXTERNAL ="])
    assert "535 5.7.8" in out, out


def test_external_authzid_self(ext):
    inst, files = ext
    c = tls_client(inst, files["alice"])
    assert_reply(c.cmd("AUTH EXTERNAL " + b64("alice@example.test")), 235, "2.7.0")
    c.quit()


def test_external_not_offered_without_certificate(ext):
    inst, _ = ext
    c = tls_client(inst, None)
    assert "EXTERNAL" not in c.ehlo().keywords().get("AUTH", [])
    r = c.cmd("AUTH EXTERNAL =")
    assert r.code in (504, 535), r
    c.quit()
