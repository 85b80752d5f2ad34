"""OAUTHBEARER (RFC 7628) and XOAUTH2 against a real server: tokens signed here
(python3-jwt + python3-cryptography) by keys whose public halves are in the JWKS
file the server loads; curl --oauth2-bearer over STARTTLS and implicit TLS; the
RFC 7628 §3.2.2 failure (334 JSON, client %x01 / empty line, 535 5.7.8) for
expired, wrong-audience and badly signed tokens."""

import base64
import json
import subprocess
import time

import pytest

from conftest import (DOMAIN, _new_instance, assert_reply, b64, have,
                      simple_message, token)

jwt = pytest.importorskip("jwt")
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm  # noqa: E402

ISSUER = "https://idp.example.test"
AUDIENCE = "postern-submission"
SCOPE = "https://mail.example.test/"


class Keys:
    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self):
        keys = []
        for kid, algo, key in (("rsa1", RSAAlgorithm, self.rsa),
                               ("ec1", ECAlgorithm, self.ec),
                               ("ed1", OKPAlgorithm, self.ed)):
            jwk = json.loads(algo.to_jwk(key.public_key()))
            jwk["kid"] = kid
            jwk["use"] = "sig"
            keys.append(jwk)
        return json.dumps({"keys": keys})

    def token(self, user="alice@example.test", alg="RS256", kid=None, key=None,
              exp=600, aud=AUDIENCE, iss=ISSUER, **extra):
        now = int(time.time())
        claims = {"iss": iss, "aud": aud, "sub": "id-" + user, "email": user,
                  "iat": now, "exp": now + exp, **extra}
        if key is None:
            key = {"RS256": self.rsa, "ES256": self.ec, "EdDSA": self.ed}[alg]
        if kid is None:
            kid = {"RS256": "rsa1", "ES256": "ec1", "EdDSA": "ed1"}[alg]
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def oauth(postern, tmp_path_factory):
    keys = Keys()
    inst = _new_instance(postern, tmp_path_factory.mktemp("oauth"), start=False)
    (inst.dir / "jwks.json").write_text(keys.jwks())
    inst.set("auth", "mechanisms", "PLAIN LOGIN OAUTHBEARER XOAUTH2")
    inst.set("oauth", "jwks", "jwks.json")
    inst.set("oauth", "issuer", ISSUER)
    inst.set("oauth", "audience", AUDIENCE)
    inst.set("oauth", "scope", SCOPE)
    # curl 7.88 takes OAUTHBEARER whenever it is offered, whatever
    # --login-options says: the implicit-TLS listener offers only XOAUTH2
    inst.set_listener("smtps", "mechanisms", "PLAIN LOGIN XOAUTH2")
    inst.start()
    c = inst.client("submission")
    c.expect(220)
    c.ehlo_ok()
    c.starttls()
    auth = c.ehlo_ok().keywords().get("AUTH", [])
    probe = None
    if "OAUTHBEARER" in auth:
        probe = c.cmd("AUTH OAUTHBEARER " + b64(oauthbearer_msg(keys.token())))
    c.quit()
    if probe is None or probe.code != 235:
        inst.stop()
        pytest.skip("the auth service does not log in with a valid token yet "
                    "(src/auth/service.c must dispatch SASL_PENDING_TOKEN "
                    "to oauth_validate)")
    yield inst, keys
    problems = inst.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + inst.log_tail(), pytrace=False)


def tls_client(inst, listener="submission"):
    c = inst.client(listener)
    c.expect(220)
    c.ehlo_ok()
    if listener == "submission":
        c.starttls()
        c.ehlo_ok()
    return c


def oauthbearer_msg(tok, authzid="alice@example.test", host="127.0.0.1", port=587):
    gs2 = f"n,a={authzid}," if authzid else "n,,"
    return f"{gs2}\x01host={host}\x01port={port}\x01auth=Bearer {tok}\x01\x01"


def xoauth2_msg(tok, user="alice@example.test"):
    return f"user={user}\x01auth=Bearer {tok}\x01\x01"


def failure_status(reply):
    assert_reply(reply, 334)
    return json.loads(base64.b64decode(reply.texts[0]))


# --------------------------------------------------------------------------
# Offering


def test_not_offered_before_tls(oauth):
    inst, _ = oauth
    c = inst.client("submission")
    c.expect(220)
    auth = c.ehlo_ok().keywords().get("AUTH", [])
    assert "OAUTHBEARER" not in auth and "XOAUTH2" not in auth
    r = c.cmd("AUTH OAUTHBEARER " + b64(oauthbearer_msg("x")))
    assert_reply(r, 538, "5.7.11")
    c.quit()


def test_offered_after_tls(oauth):
    inst, _ = oauth
    c = tls_client(inst, "submission")
    auth = c.ehlo().keywords().get("AUTH", [])
    assert "OAUTHBEARER" in auth and "XOAUTH2" in auth, auth
    c.quit()
    c = tls_client(inst, "smtps")
    auth = c.ehlo().keywords().get("AUTH", [])
    assert "OAUTHBEARER" not in auth and "XOAUTH2" in auth, auth
    c.quit()


# --------------------------------------------------------------------------
# Success, each algorithm, raw client


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_oauthbearer_each_alg(oauth, alg):
    inst, keys = oauth
    c = tls_client(inst)
    r = c.cmd("AUTH OAUTHBEARER " + b64(oauthbearer_msg(keys.token(alg=alg))))
    assert_reply(r, 235, "2.7.0")
    tok = token()
    assert_reply(c.send_message("alice@example.test", ["bob@example.test"],
                                simple_message(tok)), 250)
    c.quit()
    assert inst.wait_for(tok, users=["bob@example.test"])


def test_oauthbearer_without_initial_response(oauth):
    inst, keys = oauth
    c = tls_client(inst)
    r = c.cmd("AUTH OAUTHBEARER")
    assert_reply(r, 334)
    r = c.cmd(b64(oauthbearer_msg(keys.token(), authzid="")))
    assert_reply(r, 235, "2.7.0")
    c.quit()


def test_xoauth2_success(oauth):
    inst, keys = oauth
    c = tls_client(inst, "smtps")
    r = c.cmd("AUTH XOAUTH2 " + b64(xoauth2_msg(keys.token(alg="ES256"))))
    assert_reply(r, 235, "2.7.0")
    c.quit()


# --------------------------------------------------------------------------
# Refusals: the §3.2.2 dance


BAD_TOKENS = {
    "expired": lambda k: k.token(exp=-3600),
    "wrong-audience": lambda k: k.token(aud="another-service"),
    "wrong-issuer": lambda k: k.token(iss="https://evil.example.test"),
    "bad-signature": lambda k: k.token(key=k.stranger),
    "unknown-kid": lambda k: k.token(kid="rsa-unknown"),
    "not-yet-valid": lambda k: k.token(nbf=int(time.time()) + 3600),
    "unknown-user": lambda k: k.token(user="nobody@example.test"),
    "opaque": lambda k: "not-a-jwt-at-all",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_oauthbearer_refused(oauth, kind):
    inst, keys = oauth
    tok = BAD_TOKENS[kind](keys)
    user = "nobody@example.test" if kind == "unknown-user" else "alice@example.test"
    c = tls_client(inst)
    offset = inst.log_size()
    status = failure_status(c.cmd("AUTH OAUTHBEARER " +
                                  b64(oauthbearer_msg(tok, authzid=user))))
    assert status["status"] == "invalid_token"
    assert status["schemes"] == "bearer"
    assert status["scope"] == SCOPE
    r = c.cmd(b64("\x01"))
    assert_reply(r, 535, "5.7.8")
    # still usable afterwards, and the token never reaches the log
    assert_reply(c.auth_plain("alice@example.test", inst.users["alice@example.test"]),
                 235)
    c.quit()
    assert tok not in inst.log_text(offset)


@pytest.mark.parametrize("kind", ["expired", "wrong-audience", "bad-signature"])
def test_xoauth2_refused(oauth, kind):
    inst, keys = oauth
    c = tls_client(inst)
    status = failure_status(c.cmd("AUTH XOAUTH2 " +
                                  b64(xoauth2_msg(BAD_TOKENS[kind](keys)))))
    assert status["status"] == "401"
    r = c.cmd("")
    assert_reply(r, 535, "5.7.8")
    c.quit()


def test_ack_must_be_kvsep(oauth):
    inst, keys = oauth
    c = tls_client(inst)
    failure_status(c.cmd("AUTH OAUTHBEARER " +
                         b64(oauthbearer_msg(keys.token(exp=-3600)))))
    # anything else than %x01 after the status also ends in 535
    assert_reply(c.cmd(b64(oauthbearer_msg(keys.token()))), 535, "5.7.8")
    c.quit()


def test_authzid_not_the_tokens_user(oauth):
    inst, keys = oauth
    c = tls_client(inst)
    r = c.cmd("AUTH OAUTHBEARER " +
              b64(oauthbearer_msg(keys.token(), authzid="bob@example.test")))
    assert_reply(r, 535, "5.7.8")
    r = c.cmd("AUTH XOAUTH2 " + b64(xoauth2_msg(keys.token(), user="bob@example.test")))
    assert_reply(r, 535, "5.7.8")
    c.quit()


def test_malformed_message(oauth):
    inst, keys = oauth
    c = tls_client(inst)
    r = c.cmd("AUTH OAUTHBEARER " + b64("n,,\x01auth=Basic YTpi\x01\x01"))
    assert_reply(r, 501, "5.5.2")
    r = c.cmd("AUTH XOAUTH2 " + b64("auth=Bearer x\x01\x01"))
    assert_reply(r, 501, "5.5.2")
    c.quit()


# --------------------------------------------------------------------------
# curl


def curl_send(inst, url, tok, mech, tmp_path):
    msg = tmp_path / "msg.eml"
    tag = token()
    msg.write_bytes(simple_message(tag).encode())
    cp = subprocess.run(
        ["curl", "-v", "--insecure", "--url", url, "--ssl-reqd",
         "--mail-from", "alice@example.test", "--mail-rcpt", "bob@example.test",
         "--upload-file", str(msg), "--user", "alice@example.test:",
         "--oauth2-bearer", tok, "--login-options", f"AUTH={mech}",
         "--max-time", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return cp, tag


@pytest.mark.skipif(not have("curl"), reason="curl not installed")
@pytest.mark.parametrize("mech,listener,scheme", [
    ("OAUTHBEARER", "submission", "smtp"),      # STARTTLS
    ("XOAUTH2", "smtps", "smtps"),              # implicit TLS
])
def test_curl_success(oauth, tmp_path, mech, listener, scheme):
    inst, keys = oauth
    url = f"{scheme}://127.0.0.1:{inst.ports[listener]}/client.{DOMAIN}"
    cp, tag = curl_send(inst, url, keys.token(alg="EdDSA"), mech, tmp_path)
    err = cp.stderr.decode("utf-8", "replace")
    assert cp.returncode == 0, err
    assert f"AUTH {mech}" in err
    assert inst.wait_for(tag, users=["bob@example.test"])


@pytest.mark.skipif(not have("curl"), reason="curl not installed")
@pytest.mark.parametrize("mech,listener,scheme", [
    ("OAUTHBEARER", "submission", "smtp"),
    ("XOAUTH2", "smtps", "smtps"),
])
@pytest.mark.parametrize("kind", ["expired", "wrong-audience", "bad-signature"])
def test_curl_refused(oauth, tmp_path, mech, listener, scheme, kind):
    inst, keys = oauth
    url = f"{scheme}://127.0.0.1:{inst.ports[listener]}/client.{DOMAIN}"
    cp, tag = curl_send(inst, url, BAD_TOKENS[kind](keys), mech, tmp_path)
    err = cp.stderr.decode("utf-8", "replace")
    assert cp.returncode == 67, err          # CURLE_LOGIN_DENIED
    assert "< 334 " in err                   # the JSON status came first
    if mech == "OAUTHBEARER":
        assert "< 535 5.7.8" in err          # curl sends %x01, we end with 535
    assert not inst.find(tag)


# --------------------------------------------------------------------------
# Interoperability: short EC coordinates


def test_jwks_with_short_ec_coordinate(postern, tmp_path):
    """PyJWT before 2.7 (and other JOSE libraries) drop leading zero octets
    from EC coordinates in the JWKs they publish, about one key in 128. RFC
    7518 wants 32 octets; Postern pads them rather than refuse the whole
    JWKS (which took the auth service down at start)."""
    keys = Keys()
    for _ in range(20000):
        k = ec.generate_private_key(ec.SECP256R1())
        if k.public_key().public_numbers().x < (1 << 248):
            break
    else:
        pytest.skip("no key with a short x coordinate found")
    keys.ec = k
    jwks = json.loads(keys.jwks())
    ec_jwk = [j for j in jwks["keys"] if j["kty"] == "EC"][0]
    assert len(base64.urlsafe_b64decode(ec_jwk["x"] + "==")) < 32
    inst = _new_instance(postern, tmp_path, start=False)
    (inst.dir / "jwks.json").write_text(json.dumps(jwks))
    inst.set("auth", "mechanisms", "PLAIN LOGIN OAUTHBEARER")
    inst.set("oauth", "jwks", "jwks.json")
    inst.set("oauth", "issuer", ISSUER)
    inst.set("oauth", "audience", AUDIENCE)
    inst.start()
    try:
        c = tls_client(inst)
        r = c.cmd("AUTH OAUTHBEARER " + b64(oauthbearer_msg(keys.token(alg="ES256"))))
        assert_reply(r, 235, "2.7.0")
        c.quit()
    finally:
        problems = inst.stop()
    assert problems == [], problems


def test_broken_jwks_refused_at_start_and_by_check(postern, tmp_path):
    """A JWKS the auth service cannot load: postern check says so (exit 2)
    and postern serve refuses to start (exit 1) instead of running workers
    whose AUTH commands nobody answers."""
    inst = _new_instance(postern, tmp_path, start=False)
    (inst.dir / "jwks.json").write_text(json.dumps({"keys": [
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB", "kid": "k"}]}))
    inst.set("auth", "mechanisms", "PLAIN LOGIN OAUTHBEARER")
    inst.set("oauth", "jwks", "jwks.json")
    inst.set("oauth", "issuer", ISSUER)
    inst.set("oauth", "audience", AUDIENCE)
    cp = inst.cli("check", "-c", inst.conf)
    assert cp.returncode == 2, cp.stderr
    assert "[oauth] jwks" in cp.stderr
    cp = inst.cli("serve", "-c", inst.conf, timeout=30)
    assert cp.returncode == 1, cp.stderr
    assert "start-failed" in cp.stderr
