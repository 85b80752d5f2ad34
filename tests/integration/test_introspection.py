"""RFC 7662 token introspection against a live HTTPS endpoint (a Python
server with a certificate from a test CA): the auth service POSTs the token
with HTTP Basic client authentication, trusts only the configured CA, and
judges the answer (active, audience, user claim); answers are cached."""

import base64
import http.server
import json
import ssl
import threading
import time

import pytest

from conftest import _new_instance, assert_reply, b64
from sink import make_certs

AUDIENCE = "postern-submission"
CLIENT_ID = "postern"
CLIENT_SECRET = "intro-S3cret-9"


class Endpoint:
    """A threaded HTTPS introspection endpoint; tokens maps token -> answer."""

    def __init__(self, certs, tokens):
        self.tokens = tokens
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(p.split("=", 1) for p in
                            self.rfile.read(n).decode().split("&") if "=" in p)
                auth = self.headers.get("Authorization", "")
                outer.requests.append((self.path, auth, form))
                want = "Basic " + base64.b64encode(
                    f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if auth != want:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps(outer.tokens.get(form.get("token"),
                                                   {"active": False})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["cert"], certs["key"])
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def good(user="alice@example.test", **over):
    a = {"active": True, "email": user, "sub": "id-" + user, "aud": AUDIENCE,
         "exp": int(time.time()) + 600, "client_id": "mail-app"}
    a.update(over)
    return a


TOKENS = {
    "tok-good": good(),
    "tok-good-2": good(),
    "tok-inactive": {"active": False},
    "tok-other-aud": good(aud="another-service"),
    "tok-expired": good(exp=int(time.time()) - 3600),
    "tok-nobody": good(user="nobody@example.test"),
}


def server_with_endpoint(postern, tmp_path, ca):
    certs = make_certs(tmp_path / "idp")
    ep = Endpoint(certs, TOKENS)
    inst = _new_instance(postern, tmp_path / "srv", start=False)
    (inst.dir / "intro.secret").write_text(CLIENT_SECRET + "\n")
    inst.set("auth", "mechanisms", "PLAIN LOGIN OAUTHBEARER XOAUTH2")
    inst.set("oauth", "introspection_url", f"https://127.0.0.1:{ep.port}/introspect")
    inst.set("oauth", "introspection_client_id", CLIENT_ID)
    inst.set("oauth", "introspection_client_secret_file", "intro.secret")
    inst.set("oauth", "introspection_ca", certs["ca"] if ca == "right" else
             make_certs(tmp_path / "other")["ca"])
    inst.set("oauth", "audience", AUDIENCE)
    inst.start()
    return inst, ep


def xoauth2(inst, tok, user="alice@example.test"):
    c = inst.client("submission")
    c.expect(220)
    c.ehlo_ok()
    c.starttls()
    c.ehlo_ok()
    r = c.cmd("AUTH XOAUTH2 " + b64(f"user={user}\x01auth=Bearer {tok}\x01\x01"))
    if r.code == 334:                     # the RFC 7628 3.2.2 failure status
        status = json.loads(base64.b64decode(r.text))
        r = c.cmd("")
        r.status = status
    c.quit()
    return r


@pytest.fixture
def live(postern, tmp_path):
    inst, ep = server_with_endpoint(postern, tmp_path, "right")
    yield inst, ep
    problems = inst.stop()
    ep.close()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + inst.log_tail(), pytrace=False)


def test_active_token_logs_in_and_is_cached(live):
    inst, ep = live
    assert_reply(xoauth2(inst, "tok-good"), 235, "2.7.0")
    assert len(ep.requests) == 1
    path, auth, form = ep.requests[0]
    assert path == "/introspect" and form.get("token") == "tok-good"
    assert auth.startswith("Basic ")
    assert_reply(xoauth2(inst, "tok-good"), 235, "2.7.0")
    assert len(ep.requests) == 1, "the second login was answered from the cache"
    text = inst.log_text()
    assert "tok-good" not in text and CLIENT_SECRET not in text


@pytest.mark.parametrize("tok", ["tok-inactive", "tok-other-aud", "tok-expired",
                                 "tok-nobody", "tok-unknown"])
def test_refused_tokens(live, tok):
    inst, _ = live
    r = xoauth2(inst, tok)
    assert_reply(r, 535, "5.7.8")
    assert r.status.get("status") in ("invalid_token", "401"), r.status


def test_endpoint_with_an_untrusted_certificate_is_a_temporary_failure(postern, tmp_path):
    inst, ep = server_with_endpoint(postern, tmp_path, "wrong")
    try:
        r = xoauth2(inst, "tok-good-2")
        assert r.code == 454, r
        assert ep.requests == [], "the token was sent to an unverified server"
        assert "event=oauth-introspection" in inst.log_text()
    finally:
        inst.stop()
        ep.close()
