/*
 * bench.c - "postern bench": load an SMTP server (any server, not only
 * Postern) and report sessions/s, messages/s, latency percentiles, errors
 * by kind and our own CPU use; or hold idle authenticated sessions and
 * report the server's memory per session. The generator is src/bench/.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/registry.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern bench [options] HOST:PORT\n"
	    "\n"
	    "Load an SMTP server from one process and report throughput,\n"
	    "latency (p50/p99), errors by kind and this process's CPU use.\n"
	    "HOST is a numeric address ([::1]:587 for IPv6).\n"
	    "\n"
	    "  -c, --concurrency N     sessions in parallel (16)\n"
	    "  -m, --messages N        messages per session (1; 0 = log in and "
	    "QUIT)\n"
	    "  -s, --size BYTES        message size, headers included (2200;\n"
	    "                          K and M suffixes)\n"
	    "  -t, --tls MODE          starttls | implicit | none (starttls)\n"
	    "  -a, --mech MECH         PLAIN | LOGIN | SCRAM-SHA-256 | none "
	    "(PLAIN)\n"
	    "  -u, --user LOGIN        the login (also MAIL FROM and RCPT TO\n"
	    "                          unless --from/--to)\n"
	    "  -P, --password-file F   the password: first line of F ('-' = "
	    "stdin)\n"
	    "      --from ADDR         reverse path\n"
	    "      --to ADDR           recipient\n"
	    "  -d, --duration SECONDS  measured time (10); in --idle mode the\n"
	    "                          deadline for opening the sessions\n"
	    "  -w, --warmup SECONDS    load before measuring (0)\n"
	    "  -n, --sessions N        stop after N sessions instead of a "
	    "time\n"
	    "      --pipelining MODE   auto | on | off: MAIL, RCPT, DATA in "
	    "one\n"
	    "                          write (auto: when offered)\n"
	    "      --timeout SECONDS   per reply (30)\n"
	    "      --helo NAME         EHLO name (bench.localhost)\n"
	    "      --idle N            open N authenticated sessions, hold "
	    "them\n"
	    "                          idle, measure memory, close them\n"
	    "      --pss-tree PID      with --idle: PSS of PID and its\n"
	    "                          descendants before and with the "
	    "sessions\n"
	    "                          (repeatable: all processes of a "
	    "server)\n"
	    "      --json              one JSON object instead of the text "
	    "report\n"
	    "  -h, --help              this text\n");
}

/* parse_size - "2200", "4K", "1M". */
static int
parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (*end == 'k' || *end == 'K') {
		v *= 1024;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v *= 1024 * 1024;
		end++;
	}
	if (*end != '\0' || v > 256ULL * 1024 * 1024)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int
parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0) ||
	    v > 86400.0)
		return -1;
	*out = v;
	return 0;
}

/* parse_target - "127.0.0.1:587" or "[::1]:587". */
static int
parse_target(const char *s, struct bench_opts *o)
{
	const char *colon, *h = s;
	size_t n;
	unsigned long port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(o->host) ||
	    parse_uint(colon + 1, 65535, &port) != 0 || port == 0)
		return -1;
	memcpy(o->host, h, n);
	o->host[n] = '\0';
	o->port = (unsigned short)port;
	return 0;
}

/* read_password - the first line of path ("-": stdin), without its newline. */
static int
read_password(const char *path, char *out, size_t outsize)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	size_t n;

	if (f == NULL)
		return -1;
	if (fgets(out, (int)outsize, f) == NULL) {
		if (f != stdin)
			(void)fclose(f);
		return -1;
	}
	if (f != stdin)
		(void)fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* raise_nofile - one descriptor per session and then some. */
static void
raise_nofile(unsigned int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur >= (rlim_t)need + 64)
		return;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

static const char *
tls_name(enum bench_tls t)
{
	switch (t) {
	case BENCH_TLS_STARTTLS:
		return "starttls";
	case BENCH_TLS_IMPLICIT:
		return "implicit";
	case BENCH_TLS_NONE:
		break;
	}
	return "none";
}

static double
ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static double
rate(unsigned long n, double s)
{
	return s > 0.0 ? (double)n / s : 0.0;
}

static void
print_hist_text(const char *label, const struct bench_hist *h)
{
	if (h->n == 0) {
		printf("%-28s -\n", label);
		return;
	}
	printf("%-28s p50 %.2f ms  p99 %.2f ms  mean %.2f ms  max %.2f ms  "
	       "(n=%llu)\n",
	    label, ms(bench_hist_percentile(h, 50)),
	    ms(bench_hist_percentile(h, 99)), bench_hist_mean(h) / 1000.0,
	    ms(h->max), (unsigned long long)h->n);
}

static void
print_hist_json(const char *key, const struct bench_hist *h, int last)
{
	printf("  \"%s\": {\"n\": %llu, \"p50\": %.3f, \"p90\": %.3f, "
	       "\"p99\": %.3f, \"mean\": %.3f, \"max\": %.3f}%s\n",
	    key, (unsigned long long)h->n, ms(bench_hist_percentile(h, 50)),
	    ms(bench_hist_percentile(h, 90)), ms(bench_hist_percentile(h, 99)),
	    bench_hist_mean(h) / 1000.0, ms(h->max), last ? "" : ",");
}

static void
report_text(const struct bench_opts *o, const struct bench_result *r)
{
	double cpu = r->cpu_user_s + r->cpu_sys_s;
	size_t i;

	printf("postern bench: %s:%u tls=%s auth=%s concurrency=%u "
	       "messages/session=%u size=%zu\n",
	    o->host, (unsigned int)o->port, tls_name(o->tls),
	    o->mech != NULL ? o->mech->name : "none", o->concurrency,
	    o->msgs_per_session, o->msg_size);
	if (r->tls_version[0] != '\0')
		printf("%-28s %s %s %s\n", "tls", r->tls_version, r->tls_cipher,
		    r->tls_group);
	printf("%-28s %.2f s\n", "elapsed", r->elapsed_s);
	if (o->idle > 0) {
		printf("%-28s %u of %u\n", "idle sessions held", r->idle_up,
		    o->idle);
		if (r->pss_before_kib >= 0 && r->pss_after_kib >= 0) {
			printf("%-28s %ld KiB (%u processes)\n",
			    "server PSS before", r->pss_before_kib,
			    r->pss_nprocs_before);
			printf("%-28s %ld KiB (%u processes)\n",
			    "server PSS with sessions", r->pss_after_kib,
			    r->pss_nprocs_after);
			if (r->idle_up > 0)
				printf("%-28s %.1f KiB\n", "PSS per session",
				    (double)(r->pss_after_kib -
				        r->pss_before_kib) /
				        r->idle_up);
		}
	} else {
		printf("%-28s %lu (%.1f/s)\n", "sessions", r->sessions,
		    rate(r->sessions, r->elapsed_s));
		printf("%-28s %lu (%.1f/s)\n", "messages", r->messages,
		    rate(r->messages, r->elapsed_s));
	}
	print_hist_text("setup (connect -> 235)", &r->setup);
	print_hist_text("message (MAIL -> 250)", &r->message);
	print_hist_text("session (connect -> 221)", &r->session);
	printf("%-28s %lu\n", "errors", r->errors_total);
	for (i = 0; i < r->nerrors; i++)
		printf("  %-26s %lu\n", r->errors[i].kind, r->errors[i].n);
	printf("%-28s user %.2f s  sys %.2f s  (%.0f%% of one core)\n",
	    "bench cpu", r->cpu_user_s, r->cpu_sys_s,
	    r->elapsed_s > 0 ? 100.0 * cpu / r->elapsed_s : 0.0);
}

static void
report_json(const struct bench_opts *o, const struct bench_result *r)
{
	double cpu = r->cpu_user_s + r->cpu_sys_s;
	size_t i;

	printf("{\n");
	printf("  \"target\": \"%s:%u\", \"tls\": \"%s\", \"mech\": \"%s\",\n",
	    o->host, (unsigned int)o->port, tls_name(o->tls),
	    o->mech != NULL ? o->mech->name : "none");
	printf("  \"concurrency\": %u, \"messages_per_session\": %u, "
	       "\"size\": %zu,\n",
	    o->concurrency, o->msgs_per_session, o->msg_size);
	printf("  \"tls_version\": \"%s\", \"tls_cipher\": \"%s\", "
	       "\"tls_group\": \"%s\",\n",
	    r->tls_version, r->tls_cipher, r->tls_group);
	printf("  \"elapsed_s\": %.3f,\n", r->elapsed_s);
	printf("  \"sessions\": %lu, \"sessions_per_s\": %.2f,\n", r->sessions,
	    rate(r->sessions, r->elapsed_s));
	printf("  \"messages\": %lu, \"messages_per_s\": %.2f,\n", r->messages,
	    rate(r->messages, r->elapsed_s));
	print_hist_json("setup_ms", &r->setup, 0);
	print_hist_json("message_ms", &r->message, 0);
	print_hist_json("session_ms", &r->session, 0);
	printf("  \"errors\": %lu,\n  \"errors_by_kind\": {", r->errors_total);
	for (i = 0; i < r->nerrors; i++)
		printf("%s\"%s\": %lu", i > 0 ? ", " : "", r->errors[i].kind,
		    r->errors[i].n);
	printf("},\n");
	printf("  \"idle_requested\": %u, \"idle_held\": %u,\n", o->idle,
	    r->idle_up);
	printf("  \"pss_before_kib\": %ld, \"pss_after_kib\": %ld, "
	       "\"pss_procs_before\": %u, \"pss_procs_after\": %u,\n",
	    r->pss_before_kib, r->pss_after_kib, r->pss_nprocs_before,
	    r->pss_nprocs_after);
	printf("  \"pss_per_session_kib\": %.1f,\n",
	    r->idle_up > 0 && r->pss_before_kib >= 0 && r->pss_after_kib >= 0
	        ? (double)(r->pss_after_kib - r->pss_before_kib) / r->idle_up
	        : -1.0);
	printf("  \"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, "
	       "\"cpu_pct\": %.1f\n",
	    r->cpu_user_s, r->cpu_sys_s,
	    r->elapsed_s > 0 ? 100.0 * cpu / r->elapsed_s : 0.0);
	printf("}\n");
}

enum {
	OPT_FROM = 256,
	OPT_TO,
	OPT_PIPELINING,
	OPT_TIMEOUT,
	OPT_HELO,
	OPT_IDLE,
	OPT_PSS_TREE,
	OPT_JSON,
};

int
cli_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"concurrency", required_argument, NULL, 'c'},
	    {"messages", required_argument, NULL, 'm'},
	    {"size", required_argument, NULL, 's'},
	    {"tls", required_argument, NULL, 't'},
	    {"mech", required_argument, NULL, 'a'},
	    {"user", required_argument, NULL, 'u'},
	    {"password-file", required_argument, NULL, 'P'},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"to", required_argument, NULL, OPT_TO},
	    {"duration", required_argument, NULL, 'd'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"sessions", required_argument, NULL, 'n'},
	    {"pipelining", required_argument, NULL, OPT_PIPELINING},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"helo", required_argument, NULL, OPT_HELO},
	    {"idle", required_argument, NULL, OPT_IDLE},
	    {"pss-tree", required_argument, NULL, OPT_PSS_TREE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bench_opts o;
	struct bench_result *r;
	struct secret pw;
	char pwbuf[1024], err[256];
	const char *pwfile = NULL, *mech = "PLAIN";
	unsigned long v;
	double secs;
	int ch, json = 0, rc;

	bench_opts_init(&o);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:m:s:t:a:u:P:d:w:n:h", longopts,
	            NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (parse_uint(optarg, 100000, &v) != 0 || v == 0)
				goto bad;
			o.concurrency = (unsigned int)v;
			break;
		case 'm':
			if (parse_uint(optarg, 1000000, &v) != 0)
				goto bad;
			o.msgs_per_session = (unsigned int)v;
			break;
		case 's':
			if (parse_size(optarg, &o.msg_size) != 0)
				goto bad;
			break;
		case 't':
			if (strcmp(optarg, "starttls") == 0)
				o.tls = BENCH_TLS_STARTTLS;
			else if (strcmp(optarg, "implicit") == 0)
				o.tls = BENCH_TLS_IMPLICIT;
			else if (strcmp(optarg, "none") == 0)
				o.tls = BENCH_TLS_NONE;
			else
				goto bad;
			break;
		case 'a':
			mech = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'P':
			pwfile = optarg;
			break;
		case OPT_FROM:
			o.mail_from = optarg;
			break;
		case OPT_TO:
			o.rcpt_to = optarg;
			break;
		case 'd':
			if (parse_seconds(optarg, &o.duration_s) != 0)
				goto bad;
			break;
		case 'w':
			if (parse_seconds(optarg, &o.warmup_s) != 0)
				goto bad;
			break;
		case 'n':
			if (parse_uint(optarg, 1000000000, &v) != 0 || v == 0)
				goto bad;
			o.sessions = v;
			break;
		case OPT_PIPELINING:
			if (strcmp(optarg, "auto") == 0)
				o.pipelining = BENCH_PIPE_AUTO;
			else if (strcmp(optarg, "on") == 0)
				o.pipelining = BENCH_PIPE_ON;
			else if (strcmp(optarg, "off") == 0)
				o.pipelining = BENCH_PIPE_OFF;
			else
				goto bad;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &secs) != 0 || secs < 0.001)
				goto bad;
			o.timeout_ms = (unsigned int)(secs * 1000.0);
			break;
		case OPT_HELO:
			if (strlen(optarg) > 255 || strpbrk(optarg, " \r\n"))
				goto bad;
			o.helo = optarg;
			break;
		case OPT_IDLE:
			if (parse_uint(optarg, 100000, &v) != 0 || v == 0)
				goto bad;
			o.idle = (unsigned int)v;
			break;
		case OPT_PSS_TREE:
			if (parse_uint(optarg, 0x7fffffff, &v) != 0 || v == 0 ||
			    o.npss_roots >= BENCH_MAX_PSS_ROOTS)
				goto bad;
			o.pss_roots[o.npss_roots++] = (pid_t)v;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || parse_target(argv[optind], &o) != 0) {
		fprintf(stderr,
		    "postern bench: give one target HOST:PORT "
		    "(numeric address)\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcasecmp(mech, "none") != 0) {
		o.mech = sasl_mech_find(mech);
		if (o.mech == NULL || o.mech->client_step == NULL ||
		    (o.mech->flags & (SASL_F_CHANBIND | SASL_F_CLIENTCERT)) !=
		        0) {
			fprintf(stderr,
			    "postern bench: unsupported mechanism "
			    "'%s'\n",
			    mech);
			return CLI_EXIT_USAGE;
		}
		if (o.user == NULL || pwfile == NULL) {
			fprintf(stderr,
			    "postern bench: AUTH needs --user and "
			    "--password-file (or --mech none)\n");
			return CLI_EXIT_USAGE;
		}
		if (read_password(pwfile, pwbuf, sizeof(pwbuf)) != 0) {
			fprintf(stderr,
			    "postern bench: cannot read a password "
			    "from %s\n",
			    pwfile);
			return CLI_EXIT_USAGE;
		}
		pw.data = (unsigned char *)pwbuf;
		pw.len = strlen(pwbuf);
		o.password = &pw;
	}
	if (o.mail_from == NULL)
		o.mail_from = o.user != NULL ? o.user : "";
	if (o.rcpt_to == NULL)
		o.rcpt_to = o.user;
	if (o.rcpt_to == NULL && o.msgs_per_session > 0 && o.idle == 0) {
		fprintf(stderr, "postern bench: give --to (or --user)\n");
		return CLI_EXIT_USAGE;
	}
	if (o.rcpt_to == NULL)
		o.rcpt_to = "postmaster";
	if (o.npss_roots > 0 && o.idle == 0) {
		fprintf(stderr, "postern bench: --pss-tree needs --idle\n");
		return CLI_EXIT_USAGE;
	}
	raise_nofile(o.idle > 0 ? o.idle : o.concurrency);
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		fprintf(stderr, "postern bench: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	rc = bench_run(&o, r, err, sizeof(err));
	OPENSSL_cleanse(pwbuf, sizeof(pwbuf));
	if (rc != 0) {
		fprintf(stderr, "postern bench: %s\n", err);
		free(r);
		return CLI_EXIT_RUNTIME;
	}
	if (json)
		report_json(&o, r);
	else
		report_text(&o, r);
	rc = r->errors_total > 0 ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
	free(r);
	return rc;
bad:
	fprintf(stderr, "postern bench: bad value for -%c: '%s'\n",
	    ch < 256 ? ch : '-', optarg);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
