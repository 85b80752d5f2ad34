#!/bin/bash
# bench/compare.sh - Postern against Postfix 3.7 + Dovecot SASL on loopback,
# side by side (issue 8). Both servers run on this machine at the same time
# on private ports, sockets and directories; `postern bench` loads them
# alternately (A B A B ...), RUNS times per scenario, and the script prints
# the medians and the ratio Postern/Postfix as a Markdown table.
#
# Equivalent set-ups: STARTTLS + AUTH PLAIN on a submission port, the same
# ECDSA P-256 certificate, one user whose password is hashed SHA512-CRYPT
# (5000 rounds) on both sides, every message made durable (fsync) before
# its 250 and then delivered to a discard transport (Postfix: discard(8);
# Postern: [delivery] local = discard, still through the spool).
# Dovecot runs with its default auth_cache_size = 0; Postern with its
# default auth cache, plus one scenario with the cache off.
#
# Run as root on Debian 12: installs postfix and dovecot-core if missing
# (they are not needed by make check). Targets 127.0.0.1 only. Takes about
# 10-12 minutes with the defaults.
#
# usage: bench/compare.sh [-b POSTERN] [-w WORKDIR] [-r RUNS] [-d SECONDS]
#                         [-s "SCENARIO ..."] [-k]
#   -b  postern binary (default: build-rel/postern, built if missing)
#   -w  work directory (default: a new /tmp/postern-compare.XXXXXX)
#   -r  runs per server and scenario (3)
#   -d  measured seconds per run (10; plus a 2 s warm-up)
#   -s  scenarios (default: all): cpm16 cpm128 s16x100 cpm16-nocache
#       idle500 c1000
#   -k  keep the servers' logs and the JSON of every run in WORKDIR
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
POSTERN="$REPO/build-rel/postern"
WORK=""
RUNS=3
DUR=10
WARM=2
SCENARIOS="cpm16 cpm128 s16x100 cpm16-nocache idle500 c1000"
KEEP=0
PT_PORT=35870	# Postern submission (STARTTLS)
PF_PORT=35871	# Postfix submission (STARTTLS)
USER_NAME=bench@example.test

while getopts "b:w:r:d:s:kh" opt; do
	case $opt in
	b) POSTERN=$OPTARG ;;
	w) WORK=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	s) SCENARIOS=$OPTARG ;;
	k) KEEP=1 ;;
	h) sed -n '2,31p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done

log() { printf '%s compare: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (Postfix and Dovecot need it)"

# ---------------------------------------------------------------- packages
need=""
command -v postfix >/dev/null 2>&1 || need="$need postfix"
command -v dovecot >/dev/null 2>&1 || need="$need dovecot-core"
if [ -n "$need" ]; then
	log "installing$need"
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
fi
if [ ! -x "$POSTERN" ]; then
	log "building $POSTERN (release)"
	bdir=$(dirname "$POSTERN")
	[ -d "$bdir" ] || meson setup "$bdir" "$REPO" --buildtype=release >/dev/null
	ninja -C "$bdir" postern >/dev/null
fi
for p in $PT_PORT $PF_PORT; do
	if ss -Htln "sport = :$p" | grep -q .; then
		die "port $p is in use"
	fi
done

if [ -z "$WORK" ]; then
	WORK=$(mktemp -d /tmp/postern-compare.XXXXXX)
fi
mkdir -p "$WORK"
chmod 755 "$WORK"
RES="$WORK/results"
mkdir -p "$RES"

PT_PID=""
cleanup() {
	set +e
	[ -n "$PT_PID" ] && kill "$PT_PID" 2>/dev/null && wait "$PT_PID" 2>/dev/null
	[ -f "$WORK/postfix/etc/main.cf" ] && postfix_stop
	if [ -f "$WORK/dovecot/run/master.pid" ]; then
		kill "$(cat "$WORK/dovecot/run/master.pid")" 2>/dev/null
	fi
	if [ "$KEEP" = 0 ]; then
		# keep the results, drop the instances (spools, sockets)
		rm -rf "$WORK/postern/spool" "$WORK/postfix/queue"
	fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

PASSWORD=$(openssl rand -hex 16)
printf '%s\n' "$PASSWORD" >"$WORK/password"
chmod 600 "$WORK/password"

# ---------------------------------------------------------------- Postern
log "setting up Postern in $WORK/postern"
rm -rf "$WORK/postern"
"$POSTERN" init "$WORK/postern" --hostname localhost --domain example.test \
	--submission "127.0.0.1:$PT_PORT" --smtps "127.0.0.1:$((PT_PORT + 10))" >/dev/null
PCONF="$WORK/postern/postern.conf"
sed -i -e 's|^maildir = .*|local = discard|' \
	-e '/^\[server\]/a max_connections = 4000\nmax_connections_per_ip = 4000' \
	-e 's|^mechanisms = .*|mechanisms = PLAIN LOGIN SCRAM-SHA-256|' \
	-e '/^\[auth\]/a ; keep SHA512-CRYPT: no upgrade to the default scheme at login\nrehash = no' \
	"$PCONF"
cat >>"$PCONF" <<'EOF'

; compare.sh: one user sends everything, so lift the per-login limits
[policy]
messages_per_hour = 0
recipients_per_day = 0
connection_rate = 0
EOF
"$POSTERN" user add -c "$PCONF" "$USER_NAME" --scheme SHA512-CRYPT \
	--password-stdin --force <"$WORK/password" >/dev/null
sed -e '/^\[auth\]/a cache_size = 0' "$PCONF" >"$WORK/postern/postern-nocache.conf"
"$POSTERN" check -c "$PCONF" >/dev/null
"$POSTERN" check -c "$WORK/postern/postern-nocache.conf" >/dev/null
CERT="$WORK/postern/cert.pem"
KEY="$WORK/postern/key.pem"

postern_start() { # $1 = config
	postern_stop
	(ulimit -n "$(ulimit -Hn)" && exec "$POSTERN" serve -c "$1") >>"$WORK/postern/postern.log" 2>&1 &
	PT_PID=$!
	for _ in $(seq 100); do
		if ss -Htln "sport = :$PT_PORT" | grep -q .; then
			sleep 0.5
			return 0
		fi
		sleep 0.1
	done
	die "Postern did not start (see $WORK/postern/postern.log)"
}
postern_stop() {
	if [ -n "$PT_PID" ]; then
		kill "$PT_PID" 2>/dev/null || true
		wait "$PT_PID" 2>/dev/null || true
		PT_PID=""
	fi
}

# ---------------------------------------------------------------- Dovecot
log "setting up Dovecot (SASL for Postfix) in $WORK/dovecot"
D="$WORK/dovecot"
mkdir -p "$D/run" "$D/state"
HASH=$(doveadm pw -s SHA512-CRYPT -p "$PASSWORD")
printf '%s:%s::::::\n' "$USER_NAME" "$HASH" >"$D/users"
chmod 640 "$D/users"
chgrp dovecot "$D/users"
install -d -o postfix -m 700 "$WORK/postfix/queue" "$WORK/postfix/queue/private"
cat >"$D/dovecot.conf" <<EOF
# compare.sh: a Dovecot that only serves SASL to the private Postfix
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols =
ssl = no
auth_mechanisms = plain login
# Dovecot's default: no auth cache (every login pays SHA512-CRYPT)
auth_cache_size = 0
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $D/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  client_limit = 4000
  unix_listener $WORK/postfix/queue/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service auth-worker {
  user = dovecot
}
service anvil {
  client_limit = 4100
}
default_client_limit = 4000
default_process_limit = 1100
EOF
dovecot_start() {
	# one descriptor per smtpd connection to the auth service: the default
	# 1024 would make Postfix fail ("no SASL authentication mechanisms")
	# near 1000 sessions, which measures this script, not Postfix
	(ulimit -n "$(ulimit -Hn)" && dovecot -c "$D/dovecot.conf")
	for _ in $(seq 50); do
		[ -S "$WORK/postfix/queue/private/auth" ] && return 0
		sleep 0.1
	done
	die "Dovecot did not start (see $D/dovecot.log)"
}

# ---------------------------------------------------------------- Postfix
log "setting up Postfix in $WORK/postfix"
F="$WORK/postfix"
mkdir -p "$F/etc" "$F/data"
chown postfix "$F/data"
cat >"$F/etc/main.cf" <<EOF
# compare.sh: a private Postfix 3.7 submission server on 127.0.0.1:$PF_PORT
compatibility_level = 3.6
queue_directory = $F/queue
data_directory = $F/data
mail_owner = postfix
setgid_group = postdrop
myhostname = localhost
mydomain = example.test
myorigin = example.test
mydestination = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# every local recipient exists; everything goes to discard(8)
local_recipient_maps =
local_transport = discard:
default_transport = discard:
relay_transport = discard:
virtual_transport = discard:
alias_maps =
alias_database =
smtpd_tls_cert_file = $CERT
smtpd_tls_key_file = $KEY
smtpd_tls_security_level = may
smtpd_tls_loglevel = 0
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
# enough processes and no per-client caps for 1000 sessions from 127.0.0.1
default_process_limit = 1100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
# both servers log every session to a file
maillog_file = $F/maillog
maillog_file_prefixes = $F
biff = no
EOF
cat >"$F/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
# Postfix reports configuration errors only to a terminal or its log
if ! postfix -c "$F/etc" check >/dev/null 2>&1; then
	script -qc "postfix -c '$F/etc' check" /dev/null >&2 || true
	die "postfix check failed"
fi
postfix_start() {
	(ulimit -n "$(ulimit -Hn)" && postfix -c "$F/etc" start >/dev/null 2>&1) ||
		die "Postfix did not start (see $F/maillog)"
	for _ in $(seq 100); do
		if ss -Htln "sport = :$PF_PORT" | grep -q .; then
			sleep 0.5
			return 0
		fi
		sleep 0.1
	done
	die "Postfix did not start (see $F/maillog)"
}
postfix_stop() {
	local pid=""
	[ -f "$F/queue/pid/master.pid" ] && pid=$(tr -d ' ' <"$F/queue/pid/master.pid")
	# "postfix stop" logs through postlogd and can hang with 1000 smtpd
	# processes exiting; the master's own SIGTERM handling is enough
	timeout 20 postfix -c "$F/etc" stop >/dev/null 2>&1 || true
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}
postfix_master() { cat "$F/queue/pid/master.pid" | tr -d ' '; }
dovecot_master() { cat "$D/run/master.pid"; }

dovecot_start
postfix_start
postern_start "$PCONF"

# ---------------------------------------------------------------- runs
BENCH=("$POSTERN" bench --json -u "$USER_NAME" -P "$WORK/password" -a PLAIN -t starttls)

# bench_one SERVER SCENARIO RUN PORT ARGS... -> $RES/SCENARIO.SERVER.RUN.json
bench_one() {
	local server=$1 scen=$2 run=$3 port=$4
	shift 4
	local out="$RES/$scen.$server.$run.json"
	"${BENCH[@]}" "$@" "127.0.0.1:$port" >"$out" 2>"$RES/$scen.$server.$run.err" || true
	python3 - "$out" "$server" "$scen" "$run" <<'EOF' >&2
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"  {sys.argv[3]} {sys.argv[2]} run {sys.argv[4]}: no report ({e})")
    sys.exit(0)
if r["idle_requested"]:
    print(f"  {sys.argv[3]:14} {sys.argv[2]:8} run {sys.argv[4]}: held {r['idle_held']} "
          f"pss/session {r['pss_per_session_kib']:.1f} KiB errors {r['errors']}")
else:
    print(f"  {sys.argv[3]:14} {sys.argv[2]:8} run {sys.argv[4]}: "
          f"{r['sessions_per_s']:.0f} sessions/s {r['messages_per_s']:.0f} msgs/s "
          f"session p99 {r['session_ms']['p99']:.0f} ms errors {r['errors']}")
EOF
}

scenario_args() {
	case $1 in
	cpm16 | cpm16-nocache) echo "-c 16 -m 1 -d $DUR -w $WARM" ;;
	cpm128) echo "-c 128 -m 1 -d $DUR -w $WARM" ;;
	s16x100) echo "-c 16 -m 100 -d $DUR -w $WARM" ;;
	c1000) echo "-c 1000 -m 1 -d $DUR -w $WARM --timeout 60" ;;
	idle500) echo "--idle 500 -c 64 -d 60" ;;
	*) die "unknown scenario $1" ;;
	esac
}

for scen in $SCENARIOS; do
	log "scenario $scen: $(scenario_args "$scen")"
	# shellcheck disable=SC2207
	args=($(scenario_args "$scen"))
	if [ "$scen" = cpm16-nocache ]; then
		postern_start "$WORK/postern/postern-nocache.conf"
	fi
	for run in $(seq "$RUNS"); do
		if [ "$scen" = idle500 ]; then
			# fresh servers, so that processes left by the last run
			# (Postfix keeps idle smtpd processes) do not skew the baseline
			postern_start "$PCONF"
			bench_one postern "$scen" "$run" "$PT_PORT" "${args[@]}" \
				--pss-tree "$PT_PID"
			postfix_stop
			postfix_start
			bench_one postfix "$scen" "$run" "$PF_PORT" "${args[@]}" \
				--pss-tree "$(postfix_master)" --pss-tree "$(dovecot_master)"
		else
			bench_one postern "$scen" "$run" "$PT_PORT" "${args[@]}"
			bench_one postfix "$scen" "$run" "$PF_PORT" "${args[@]}"
		fi
	done
	if [ "$scen" = cpm16-nocache ]; then
		postern_start "$PCONF"
	fi
done

# ---------------------------------------------------------------- report
{
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "versions: postern $("$POSTERN" version 2>/dev/null | head -1 | awk '{print $2}'), postfix $(postconf -d -h mail_version), dovecot $(dovecot --version | awk '{print $1}'), $(openssl version | awk '{print $1, $2}'), libevent $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
	echo "runs: $RUNS per server and scenario, alternating; ${DUR} s measured after ${WARM} s warm-up"
	echo
	python3 - "$RES" "$SCENARIOS" "$RUNS" <<'EOF'
import json, os, statistics, sys

res, scens, runs = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
label = {
    "cpm16": "1 msg/connection, 16 clients",
    "cpm128": "1 msg/connection, 128 clients",
    "s16x100": "16 sessions x 100 msgs",
    "cpm16-nocache": "1 msg/connection, 16 clients, Postern auth cache off",
    "c1000": "1 msg/connection, 1000 clients",
    "idle500": "500 idle authenticated TLS sessions",
}

def load(scen, server):
    out = []
    for i in range(1, runs + 1):
        p = os.path.join(res, f"{scen}.{server}.{i}.json")
        try:
            out.append(json.load(open(p)))
        except Exception:
            pass
    return out

def med(rs, f):
    v = [f(r) for r in rs]
    return statistics.median(v) if v else float("nan")

def ratio(a, b):
    return a / b if b and b == b and a == a else float("nan")

def fmt_ratio(x):
    return "n/a" if x != x else f"{x:.2f}x"

print("| scenario | metric | Postern | Postfix | Postern/Postfix | session p99 Postern / Postfix | errors Postern / Postfix |")
print("|---|---|---:|---:|---:|---:|---:|")
for s in scens:
    a, b = load(s, "postern"), load(s, "postfix")
    ea = sum(r["errors"] for r in a)
    eb = sum(r["errors"] for r in b)
    if s == "idle500":
        fa = lambda r: r["pss_per_session_kib"]
        ma, mb = med(a, fa), med(b, fa)
        held = f"held {med(a, lambda r: r['idle_held']):.0f} / {med(b, lambda r: r['idle_held']):.0f}"
        print(f"| {label[s]} | PSS per session (KiB) | {ma:.1f} | {mb:.1f} | {ratio(ma, mb):.3f} | {held} | {ea} / {eb} |")
        continue
    metric, key = ("messages/s", "messages_per_s") if s == "s16x100" else ("sessions/s", "sessions_per_s")
    ma, mb = med(a, lambda r: r[key]), med(b, lambda r: r[key])
    pa, pb = med(a, lambda r: r["session_ms"]["p99"]), med(b, lambda r: r["session_ms"]["p99"])
    print(f"| {label[s]} | {metric} | {ma:.0f} | {mb:.0f} | **{fmt_ratio(ratio(ma, mb))}** | {pa:.0f} ms / {pb:.0f} ms | {ea} / {eb} |")
print()
print("Medians of each server's runs. Details per run (setup and message p50/p99, bench CPU):")
print()
print("| scenario | server | run | sessions/s | msgs/s | setup p50/p99 ms | message p50/p99 ms | session p50/p99 ms | bench CPU % | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for s in scens:
    for server in ("postern", "postfix"):
        for i, r in enumerate(load(s, server), 1):
            kinds = ", ".join(f"{k} {v}" for k, v in r["errors_by_kind"].items()) or "0"
            if r["idle_requested"]:
                print(f"| {s} | {server} | {i} | - | - | {r['setup_ms']['p50']:.1f} / {r['setup_ms']['p99']:.1f} | - | - | {r['cpu_pct']:.0f} | held {r['idle_held']}, PSS {r['pss_before_kib']} -> {r['pss_after_kib']} KiB; {kinds} |")
                continue
            print(f"| {s} | {server} | {i} | {r['sessions_per_s']:.0f} | {r['messages_per_s']:.0f} | "
                  f"{r['setup_ms']['p50']:.1f} / {r['setup_ms']['p99']:.1f} | "
                  f"{r['message_ms']['p50']:.1f} / {r['message_ms']['p99']:.1f} | "
                  f"{r['session_ms']['p50']:.1f} / {r['session_ms']['p99']:.1f} | {r['cpu_pct']:.0f} | {kinds} |")
EOF
} | tee "$WORK/report.md"
log "report: $WORK/report.md"
