/*
 * bench.h - postern bench's load generator: one process, one libevent
 * loop, many SMTP client sessions (optionally STARTTLS or implicit TLS,
 * SASL through the client side of src/sasl), closed loop: each of the
 * `concurrency` slots starts its next session when the last one ends.
 * Works against any SMTP server. Also holds idle authenticated sessions
 * and measures the server's memory (PSS) for them.
 */
#ifndef POSTERN_BENCH_BENCH_H
#define POSTERN_BENCH_BENCH_H

#include <stddef.h>
#include <sys/types.h>

#include "bench/hist.h"

struct sasl_mech;
struct secret;

enum bench_tls {
	BENCH_TLS_NONE,
	BENCH_TLS_STARTTLS, /* RFC 3207 */
	BENCH_TLS_IMPLICIT, /* RFC 8314 */
};

enum bench_pipe {
	BENCH_PIPE_AUTO, /* MAIL, RCPT, DATA together when PIPELINING is offered */
	BENCH_PIPE_ON,
	BENCH_PIPE_OFF,
};

#define BENCH_MAX_PSS_ROOTS 8

struct bench_opts {
	char host[64]; /* numeric address: no DNS on the loop */
	unsigned short port;
	enum bench_tls tls;
	const struct sasl_mech *mech; /* NULL: no AUTH */
	const char *user;
	const struct secret *password;
	const char *mail_from; /* reverse path ("" allowed) */
	const char *rcpt_to;
	const char *helo;
	unsigned int concurrency; /* slots (idle mode: connecting at once) */
	unsigned int msgs_per_session; /* 0: set-up and QUIT only */
	size_t msg_size;               /* whole message, headers included */
	double duration_s;             /* measured time, after the warm-up */
	double warmup_s;
	unsigned long sessions; /* > 0: stop after this many sessions instead */
	enum bench_pipe pipelining;
	unsigned int timeout_ms; /* per reply */
	unsigned int idle; /* > 0: hold this many authenticated sessions */
	pid_t
	    pss_roots[BENCH_MAX_PSS_ROOTS]; /* idle mode: PSS of these trees */
	size_t npss_roots;
};

#define BENCH_ERR_KINDS 32

struct bench_err {
	char kind[40]; /* "auth:535", "connect:ECONNREFUSED", "data:timeout" */
	unsigned long n;
};

struct bench_result {
	double elapsed_s;        /* the measured window */
	unsigned long sessions;  /* completed (221 to QUIT) in the window */
	unsigned long messages;  /* 250 after DATA in the window */
	struct bench_hist setup; /* connect -> 235 (or -> EHLO without AUTH) */
	struct bench_hist message; /* MAIL sent -> 250 after the final dot */
	struct bench_hist session; /* connect -> 221 */
	struct bench_err errors[BENCH_ERR_KINDS];
	size_t nerrors;
	unsigned long errors_total;
	double cpu_user_s, cpu_sys_s; /* our own, during the window */
	char tls_version[16];
	char tls_cipher[64];
	char tls_group[32];
	/* idle mode */
	unsigned int idle_up; /* authenticated sessions held at the snapshot */
	long pss_before_kib;  /* -1 when not measured */
	long pss_after_kib;
	unsigned int pss_nprocs_before, pss_nprocs_after;
};

/* bench_opts_init - defaults: 16 clients, 1 message of 2200 bytes, STARTTLS, 10 s. */
void bench_opts_init(struct bench_opts *o);

/* bench_run - run the load; 0, or -1 with err when it could not start. */
int bench_run(const struct bench_opts *o, struct bench_result *out, char *err,
    size_t errlen);

/*
 * bench_pss_tree - total PSS (KiB, from /proc/PID/smaps_rollup) of the
 * roots and all their descendants; *nprocs_r processes counted. -1 when
 * none could be read.
 */
long bench_pss_tree(const pid_t *roots, size_t nroots, unsigned int *nprocs_r);

#endif
