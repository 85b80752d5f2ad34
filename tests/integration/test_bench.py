"""postern bench (issue 8): the load generator against a real instance, briefly
(2-3 s, 4 clients), checking the report's shape and the errors it counts. No
timing assertions: performance is shown by bench/compare.sh, never by tests.

Also [delivery] local = discard, the sink the comparison delivers to: messages
still go through the spool and are then dropped, no Maildir is written."""

import json
import re
import time

import pytest

from conftest import describe, run_cmd, USERS

USER = "alice@example.test"
HIST_KEYS = {"n", "p50", "p90", "p99", "mean", "max"}


@pytest.fixture(scope="module")
def bench_server(postern, tmp_path_factory):
    """One instance for the module: discard delivery, SCRAM offered, the
    per-login limits lifted (the bench sends as one user)."""
    from conftest import _new_instance
    inst = _new_instance(postern, tmp_path_factory.mktemp("bench"), start=False,
                         config=[("auth", "mechanisms", "PLAIN LOGIN SCRAM-SHA-256"),
                                 ("policy", "messages_per_hour", "0"),
                                 ("policy", "recipients_per_day", "0")])
    text = inst.conf.read_text()
    text, n = re.subn(r"(?m)^maildir\s*=.*$", "local = discard", text)
    assert n == 1, text
    inst.conf.write_text(text)
    pw = inst.root / "alice.pw"
    pw.write_text(USERS[USER] + "\n")
    inst.pwfile = str(pw)
    bad = inst.root / "wrong.pw"
    bad.write_text("not-the-password\n")
    inst.badpwfile = str(bad)
    inst.start()
    yield inst
    problems = inst.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + inst.log_tail(), pytrace=False)


def bench(srv, *args, listener="submission", timeout=120):
    return run_cmd(srv.binary, "bench", *map(str, args),
                   f"127.0.0.1:{srv.ports[listener]}", timeout=timeout)


def bench_json(srv, *args, **kw):
    cp = bench(srv, "--json", *args, **kw)
    try:
        return cp, json.loads(cp.stdout)
    except ValueError:
        pytest.fail(f"not JSON: {describe(cp)}")


def test_text_report_shape(bench_server):
    cp = bench(bench_server, "-c", 4, "-d", 2, "-u", USER, "-P", bench_server.pwfile)
    assert cp.returncode == 0, describe(cp)
    out = cp.stdout
    for label in ("sessions", "messages", "setup (connect -> 235)",
                  "message (MAIL -> 250)", "session (connect -> 221)",
                  "errors", "bench cpu", "tls"):
        assert re.search(rf"(?m)^{re.escape(label)}\s", out), f"no '{label}' line:\n{out}"
    assert re.search(r"(?m)^sessions\s+[1-9]\d* \(\d+\.\d/s\)$", out), out
    assert re.search(r"(?m)^setup \(connect -> 235\)\s+p50 [\d.]+ ms  p99 [\d.]+ ms", out), out
    assert re.search(r"(?m)^errors\s+0$", out), out
    assert "TLSv1.3" in out and "EC-256" in out, out
    # the messages reached the spool and were dropped by the discard agent
    assert "event=accepted" in bench_server.log_text()
    deadline = time.monotonic() + 15
    while "event=removed" not in bench_server.log_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "event=removed" in bench_server.log_text(), bench_server.log_tail()
    assert not any((bench_server.dir / "mail").rglob("new/*")), "discard wrote a Maildir"


def test_json_count_mode_login_unpipelined(bench_server):
    cp, r = bench_json(bench_server, "-c", 2, "-n", 4, "-m", 3, "--pipelining", "off",
                       "-a", "LOGIN", "-u", USER, "-P", bench_server.pwfile)
    assert cp.returncode == 0, describe(cp)
    assert r["mech"] == "LOGIN" and r["tls"] == "starttls"
    assert r["sessions"] == 4 and r["messages"] == 12, r
    assert r["errors"] == 0 and r["errors_by_kind"] == {}
    for k in ("setup_ms", "message_ms", "session_ms"):
        assert set(r[k]) == HIST_KEYS, r[k]
        assert 0 < r[k]["p50"] <= r[k]["p99"] <= r[k]["max"], r[k]
    assert r["setup_ms"]["n"] == 4 and r["message_ms"]["n"] == 12
    assert r["cpu_user_s"] >= 0 and r["cpu_pct"] >= 0
    assert r["sessions_per_s"] > 0 and r["messages_per_s"] > 0


@pytest.mark.parametrize("mech, listener, tls", [
    ("SCRAM-SHA-256", "submission", "starttls"),
    ("PLAIN", "smtps", "implicit"),
])
def test_mechanisms_and_implicit_tls(bench_server, mech, listener, tls):
    cp, r = bench_json(bench_server, "-c", 2, "-n", 3, "-a", mech, "-t", tls,
                       "-u", USER, "-P", bench_server.pwfile, listener=listener)
    assert cp.returncode == 0, describe(cp)
    assert r["sessions"] == 3 and r["errors"] == 0, r


def test_errors_by_kind(bench_server):
    cp, r = bench_json(bench_server, "-c", 2, "-n", 2, "-u", USER,
                       "-P", bench_server.badpwfile)
    assert cp.returncode == 1, describe(cp)
    assert r["sessions"] == 0 and r["errors"] == 2, r
    assert r["errors_by_kind"] == {"auth:535": 2}, r


def test_idle_sessions_and_pss(bench_server):
    cp, r = bench_json(bench_server, "--idle", 5, "-c", 5, "-d", 30,
                       "--pss-tree", bench_server.proc.pid,
                       "-u", USER, "-P", bench_server.pwfile)
    assert cp.returncode == 0, describe(cp)
    assert r["idle_requested"] == 5 and r["idle_held"] == 5, r
    assert r["pss_before_kib"] > 0 and r["pss_after_kib"] > 0, r
    assert r["pss_procs_before"] >= 4, r      # master, auth, queue, a worker
    assert r["setup_ms"]["n"] == 5


@pytest.mark.parametrize("args", [
    [],                                         # no target
    ["-c", "0", "127.0.0.1:25"],
    ["--tls", "sometimes", "127.0.0.1:25"],
    ["-u", USER, "localhost:25"],               # not numeric: no DNS
    ["127.0.0.1:25"],                           # AUTH without --user/--password-file
    ["-a", "SCRAM-SHA-256-PLUS", "127.0.0.1:25"],
])
def test_usage_errors(postern, args):
    cp = run_cmd(postern, "bench", *args)
    assert cp.returncode == 2, describe(cp)
    assert "usage" in cp.stderr or "postern bench:" in cp.stderr, describe(cp)
