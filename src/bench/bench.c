/*
 * bench.c - the load generator behind postern bench (see bench.h). Each
 * connection is a small SMTP client state machine on a bufferevent:
 * greeting, EHLO, STARTTLS and EHLO again, AUTH through the SASL client
 * API, then MAIL/RCPT/DATA (pipelined when offered) per message, QUIT.
 * Server replies are untrusted input: reply_parse() bounds them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bench/bench.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/secret.h"
#include "core/str.h"
#include "deliver/reply_parse.h"
#include "sasl/client.h"
#include "sasl/mech.h"

#define AUTH_LINE_MAX 12288 /* RFC 4954 §4: our server's AUTH line cap */
#define RESTART_DELAY_MS                                                       \
	10 /* after an error, so a refusing server is not spun on */
#define IDLE_SETTLE_MS                                                         \
	1000 /* let the server's buffers settle before the snapshot */

enum bstate {
	BS_FREE,
	BS_CONNECT,
	BS_TLS,
	BS_GREETING,
	BS_EHLO,
	BS_STARTTLS,
	BS_AUTH,
	BS_IDLE,
	BS_MAIL,
	BS_RCPT,
	BS_DATA,
	BS_BODY,
	BS_QUIT,
};

static const char *const stage_name[] = {
    [BS_FREE] = "free",
    [BS_CONNECT] = "connect",
    [BS_TLS] = "tls",
    [BS_GREETING] = "greeting",
    [BS_EHLO] = "ehlo",
    [BS_STARTTLS] = "starttls",
    [BS_AUTH] = "auth",
    [BS_IDLE] = "idle",
    [BS_MAIL] = "mail",
    [BS_RCPT] = "rcpt",
    [BS_DATA] = "data",
    [BS_BODY] = "message",
    [BS_QUIT] = "quit",
};

struct bench;

struct bconn {
	struct bench *b;
	struct bufferevent *bev;
	int fd;
	int bev_owns_fd; /* the TLS bufferevent closes fd and frees its SSL */
	int pending;     /* a delayed restart is scheduled */
	enum bstate state;
	int tls_up;
	int offer_starttls;
	int offer_pipelining;
	int pipelining;
	unsigned int msgs;
	uint64_t t_start;
	uint64_t t_msg;
	struct sasl_client *sasl;
	enum sasl_status sasl_st;
	struct reply_parser rp;
	struct smtp_reply rep;
};

struct bench {
	const struct bench_opts *o;
	struct bench_result *r;
	struct event_base *base;
	SSL_CTX *ctx;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct bconn **conns;
	unsigned int nconns;
	char *msg; /* the message, dot-terminated */
	size_t msglen;
	char *tx; /* "MAIL ...\r\nRCPT ...\r\nDATA\r\n" */
	size_t mail_len, rcpt_len, tx_len;
	struct timeval timeout;
	uint64_t t_measure;
	uint64_t t_end;
	int measuring;
	int stopping;
	unsigned long started;
	unsigned int active;
	unsigned int idle_started;
	unsigned int idle_up;
	int snapshot_pending;
	struct event *tick;
	struct rusage ru0;
	int have_tls_info;
};

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void session_start(struct bconn *c);

static uint64_t
now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double
tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

void
bench_opts_init(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	str_copy(o->host, "127.0.0.1", sizeof(o->host));
	o->port = 587;
	o->tls = BENCH_TLS_STARTTLS;
	o->helo = "bench.localhost";
	o->concurrency = 16;
	o->msgs_per_session = 1;
	o->msg_size = 2200;
	o->duration_s = 10.0;
	o->pipelining = BENCH_PIPE_AUTO;
	o->timeout_ms = 30000;
}

/* ------------------------------------------------------------------ */
/* results */

static void
count_error(struct bench *b, const char *stage, const char *what)
{
	struct bench_result *r = b->r;
	char kind[sizeof(r->errors[0].kind)];
	size_t i;

	(void)snprintf(kind, sizeof(kind), "%s:%s", stage, what);
	r->errors_total++;
	for (i = 0; i < r->nerrors; i++) {
		if (strcmp(r->errors[i].kind, kind) == 0) {
			r->errors[i].n++;
			return;
		}
	}
	if (r->nerrors == BENCH_ERR_KINDS) {
		/* the last slot collects whatever does not fit */
		str_copy(r->errors[BENCH_ERR_KINDS - 1].kind, "other",
		    sizeof(r->errors[0].kind));
		r->errors[BENCH_ERR_KINDS - 1].n++;
		return;
	}
	str_copy(r->errors[r->nerrors].kind, kind, sizeof(kind));
	r->errors[r->nerrors].n = 1;
	r->nerrors++;
}

/* counting - an event finishing now belongs to the measured window. */
static int
counting(const struct bench *b)
{
	return b->measuring && !b->stopping;
}

static void
note_tls(struct bench *b, SSL *ssl)
{
	struct bench_result *r = b->r;
	X509 *cert;
	int nid;

	if (b->have_tls_info || ssl == NULL)
		return;
	b->have_tls_info = 1;
	str_copy(r->tls_version, SSL_get_version(ssl), sizeof(r->tls_version));
	str_copy(
	    r->tls_cipher, SSL_get_cipher_name(ssl), sizeof(r->tls_cipher));
	nid = SSL_get_negotiated_group(ssl);
	(void)snprintf(r->tls_group, sizeof(r->tls_group), "%s",
	    nid > 0 && OBJ_nid2sn(nid & ~TLSEXT_nid_unknown) != NULL
	        ? OBJ_nid2sn(nid & ~TLSEXT_nid_unknown)
	        : "?");
	cert = SSL_get1_peer_certificate(ssl);
	if (cert != NULL) {
		EVP_PKEY *pk = X509_get0_pubkey(cert);

		if (pk != NULL) {
			size_t n = strlen(r->tls_group);

			(void)snprintf(r->tls_group + n,
			    sizeof(r->tls_group) - n, " %s-%d",
			    EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC ? "EC"
			        : EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA
			        ? "RSA"
			        : "key",
			    EVP_PKEY_get_bits(pk));
		}
		X509_free(cert);
	}
}

/* ------------------------------------------------------------------ */
/* connections */

/* conn_close - drop the connection, whatever its state. */
static void
conn_close(struct bconn *c)
{
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (!c->bev_owns_fd && c->fd >= 0)
		(void)close(c->fd);
	c->fd = -1;
	c->bev_owns_fd = 0;
	if (c->sasl != NULL) {
		sasl_client_free(c->sasl);
		c->sasl = NULL;
	}
	if (c->state != BS_FREE) {
		if (c->state == BS_IDLE && c->b->idle_up > 0)
			c->b->idle_up--;
		c->b->active--;
	}
	c->state = BS_FREE;
}

static void stop_now(struct bench *b);

static void
maybe_finish(struct bench *b)
{
	if (b->active == 0 && b->o->sessions > 0 && b->o->idle == 0 &&
	    b->started >= b->o->sessions && !b->stopping)
		stop_now(b);
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;

	(void)fd;
	(void)what;
	c->pending = 0;
	if (!c->b->stopping && c->state == BS_FREE)
		session_start(c);
}

/* slot_next - the slot's session ended: start another, now or after delay_ms. */
static void
slot_next(struct bconn *c, unsigned int delay_ms)
{
	struct bench *b = c->b;
	struct timeval tv;

	if (b->stopping)
		return;
	if (b->o->idle > 0) {
		if (b->idle_started >= b->o->idle)
			return;
	} else if (b->o->sessions > 0 && b->started >= b->o->sessions) {
		maybe_finish(b);
		return;
	}
	if (delay_ms == 0) {
		session_start(c);
		return;
	}
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	c->pending = 1;
	if (event_base_once(b->base, -1, EV_TIMEOUT, restart_cb, c, &tv) != 0) {
		c->pending = 0;
		session_start(c);
	}
}

/* conn_fail - count an error of this session's current stage and move on. */
static void
conn_fail(struct bconn *c, const char *what)
{
	struct bench *b = c->b;

	if (!b->stopping)
		count_error(b, stage_name[c->state], what);
	if (b->o->idle > 0 && b->idle_started > 0)
		b->idle_started--; /* try that one again */
	conn_close(c);
	slot_next(c, RESTART_DELAY_MS);
}

static void
conn_fail_code(struct bconn *c)
{
	char code[16];

	(void)snprintf(code, sizeof(code), "%d", c->rep.code);
	conn_fail(c, code);
}

static int
send_data(struct bconn *c, const void *p, size_t n)
{
	return bufferevent_write(c->bev, p, n);
}

static int
send_str(struct bconn *c, const char *s)
{
	return send_data(c, s, strlen(s));
}

static void
set_timeouts(struct bconn *c, int on)
{
	if (on)
		(void)bufferevent_set_timeouts(
		    c->bev, &c->b->timeout, &c->b->timeout);
	else
		(void)bufferevent_set_timeouts(c->bev, NULL, NULL);
}

static void
session_start(struct bconn *c)
{
	struct bench *b = c->b;

	c->fd = socket(
	    b->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	b->started++;
	if (b->o->idle > 0)
		b->idle_started++;
	b->active++;
	c->state = BS_CONNECT;
	c->tls_up = 0;
	c->offer_starttls = 0;
	c->offer_pipelining = 0;
	c->pipelining = 0;
	c->msgs = 0;
	c->bev_owns_fd = 0;
	c->sasl_st = SASL_CONTINUE;
	reply_parse_init(&c->rp);
	c->t_start = now_us();
	if (c->fd < 0) {
		conn_fail(c,
		    strerrorname_np(errno) != NULL ? strerrorname_np(errno)
		                                   : "socket");
		return;
	}
	{
		int one = 1;

		(void)setsockopt(
		    c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->bev = bufferevent_socket_new(b->base, c->fd, 0);
	if (c->bev == NULL) {
		conn_fail(c, "ENOMEM");
		return;
	}
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	set_timeouts(c, 1);
	if (bufferevent_socket_connect(
	        c->bev, (struct sockaddr *)&b->sa, (int)b->salen) != 0) {
		int e = EVUTIL_SOCKET_ERROR();

		conn_fail(c,
		    e != 0 && strerrorname_np(e) != NULL ? strerrorname_np(e)
		                                         : "connect");
		return;
	}
}

/*
 * start_tls - replace the plain bufferevent by a TLS one on the same
 * socket. Nothing may be buffered: a server that pipelines after its 220
 * to STARTTLS is broken (and its bytes would be plaintext injected before
 * the handshake, CVE-2011-0411's mirror image).
 */
static int
start_tls(struct bconn *c)
{
	struct bench *b = c->b;
	struct bufferevent *tb;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0) {
		conn_fail(c, "input-after-220");
		return -1;
	}
	ssl = SSL_new(b->ctx);
	if (ssl == NULL) {
		conn_fail(c, "ENOMEM");
		return -1;
	}
	tb = bufferevent_openssl_socket_new(b->base, c->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		conn_fail(c, "ENOMEM");
		return -1;
	}
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_free(c->bev);
	c->bev = tb;
	c->bev_owns_fd = 1;
	c->state = BS_TLS;
	reply_parse_init(&c->rp);
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	set_timeouts(c, 1);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

static void
send_ehlo(struct bconn *c)
{
	char line[300];

	(void)snprintf(line, sizeof(line), "EHLO %s\r\n", c->b->o->helo);
	c->offer_starttls = 0;
	c->offer_pipelining = 0;
	(void)send_str(c, line);
	c->state = BS_EHLO;
}

/* keyword - line s[0..n) starts with the EHLO keyword kw. */
static int
keyword(const char *s, size_t n, const char *kw)
{
	size_t k = strlen(kw);

	return n >= k && strncasecmp(s, kw, k) == 0 && (n == k || s[k] == ' ');
}

static void
parse_ehlo(struct bconn *c)
{
	const char *s;
	size_t i, n;

	for (i = 1; reply_line(&c->rep, i, &s, &n) == 0; i++) {
		if (keyword(s, n, "STARTTLS"))
			c->offer_starttls = 1;
		else if (keyword(s, n, "PIPELINING"))
			c->offer_pipelining = 1;
	}
}

static void
start_message(struct bconn *c)
{
	struct bench *b = c->b;

	c->t_msg = now_us();
	c->state = BS_MAIL;
	if (c->pipelining)
		(void)send_data(c, b->tx, b->tx_len);
	else
		(void)send_data(c, b->tx, b->mail_len);
}

/* idle_more - open one more idle session on a free slot, if any is left. */
static void
idle_more(struct bench *b)
{
	unsigned int i;

	if (b->stopping || b->idle_started >= b->o->idle)
		return;
	for (i = 0; i < b->nconns; i++) {
		if (b->conns[i]->state == BS_FREE && !b->conns[i]->pending) {
			session_start(b->conns[i]);
			return;
		}
	}
}

/* session_ready - set-up done (authenticated, or no AUTH asked for). */
static void
session_ready(struct bconn *c)
{
	struct bench *b = c->b;

	if (counting(b))
		bench_hist_add(&b->r->setup, now_us() - c->t_start);
	c->pipelining = b->o->pipelining == BENCH_PIPE_ON ||
	    (b->o->pipelining == BENCH_PIPE_AUTO && c->offer_pipelining);
	if (b->o->idle > 0) {
		c->state = BS_IDLE;
		set_timeouts(c, 0);
		b->idle_up++;
		idle_more(b);
		return;
	}
	if (b->o->msgs_per_session == 0) {
		c->state = BS_QUIT;
		(void)send_str(c, "QUIT\r\n");
		return;
	}
	start_message(c);
}

static void
send_b64(struct bconn *c, const char *prefix, const struct buf *resp,
    int empty_as_equals)
{
	char line[AUTH_LINE_MAX + 64];
	size_t n = strlen(prefix);
	long e;

	/* line is sent by length, never a C string
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(line, prefix, n);
	if (resp->len == 0) {
		if (empty_as_equals)
			line[n++] = '=';
		e = 0;
	} else {
		e = base64_encode(
		    resp->data, resp->len, line + n, sizeof(line) - n - 2);
		if (e < 0) {
			conn_fail(c, "response-too-long");
			return;
		}
	}
	n += (size_t)e;
	line[n++] = '\r';
	line[n++] = '\n';
	(void)send_data(c, line, n);
	secret_wipe(line, sizeof(line));
}

static void
start_auth(struct bconn *c)
{
	struct bench *b = c->b;
	const struct sasl_mech *m = b->o->mech;
	struct buf resp;
	char prefix[64];

	if (m == NULL) {
		session_ready(c);
		return;
	}
	c->state = BS_AUTH;
	c->sasl = sasl_client_new(m, b->o->user, NULL, b->o->password);
	if (c->sasl == NULL) {
		conn_fail(c, "ENOMEM");
		return;
	}
	if ((m->flags & SASL_F_CLIENT_FIRST) == 0) {
		(void)snprintf(prefix, sizeof(prefix), "AUTH %s\r\n", m->name);
		(void)send_str(c, prefix);
		return;
	}
	buf_init(&resp, AUTH_LINE_MAX / 4 * 3);
	c->sasl_st = sasl_client_step(c->sasl, NULL, &resp);
	if (c->sasl_st == SASL_FAIL) {
		buf_free(&resp);
		conn_fail(c, "client-initial");
		return;
	}
	(void)snprintf(prefix, sizeof(prefix), "AUTH %s ", m->name);
	send_b64(c, prefix, &resp, 1);
	buf_free(&resp);
}

/* reply_b64 - the decoded text of a 334 (or 235 with data) reply. */
static int
reply_b64(const struct smtp_reply *r, unsigned char *out, size_t outsize,
    size_t *len_r)
{
	const char *s;
	size_t n;
	long dl;

	*len_r = 0;
	if (reply_line(r, 0, &s, &n) == -1)
		return -1;
	if (n == 0)
		return 0;
	dl = base64_decode(s, n, out, outsize);
	if (dl < 0)
		return -1;
	*len_r = (size_t)dl;
	return 0;
}

static void
on_auth_reply(struct bconn *c)
{
	unsigned char chal[REPLY_LINE_MAX];
	struct bytes in;
	struct buf resp;
	size_t clen;
	int scram = strncmp(c->b->o->mech->name, "SCRAM-", 6) == 0;

	if (c->rep.code == 334) {
		if (reply_b64(&c->rep, chal, sizeof(chal), &clen) == -1) {
			conn_fail(c, "bad-challenge");
			return;
		}
		in.data = chal;
		in.len = clen;
		buf_init(&resp, AUTH_LINE_MAX / 4 * 3);
		c->sasl_st = sasl_client_step(c->sasl, &in, &resp);
		if (c->sasl_st == SASL_FAIL) {
			buf_free(&resp);
			conn_fail(c, scram ? "server-proof" : "client-step");
			return;
		}
		send_b64(c, "", &resp, 0);
		buf_free(&resp);
		return;
	}
	if (c->rep.code != 235) {
		conn_fail_code(c);
		return;
	}
	if (scram && c->sasl_st != SASL_OK) {
		/* the server's proof as "235 <base64>" (RFC 4954 §4) */
		if (reply_b64(&c->rep, chal, sizeof(chal), &clen) == 0 &&
		    clen > 0) {
			in.data = chal;
			in.len = clen;
			buf_init(&resp, 64);
			c->sasl_st = sasl_client_step(c->sasl, &in, &resp);
			buf_free(&resp);
		}
		if (c->sasl_st != SASL_OK) {
			conn_fail(c, "server-proof");
			return;
		}
	}
	sasl_client_free(c->sasl);
	c->sasl = NULL;
	session_ready(c);
}

static void
session_done(struct bconn *c)
{
	struct bench *b = c->b;

	if (counting(b)) {
		b->r->sessions++;
		bench_hist_add(&b->r->session, now_us() - c->t_start);
	}
	conn_close(c);
	slot_next(c, 0);
}

/* on_reply - one complete reply in c->rep; 0 to go on reading, 1 to stop. */
static int
on_reply(struct bconn *c)
{
	struct bench *b = c->b;
	int code = c->rep.code;

	switch (c->state) {
	case BS_GREETING:
		if (code != 220)
			break;
		send_ehlo(c);
		return 0;
	case BS_EHLO:
		if (code != 250)
			break;
		parse_ehlo(c);
		if (b->o->tls == BENCH_TLS_STARTTLS && !c->tls_up) {
			if (!c->offer_starttls) {
				conn_fail(c, "no-starttls");
				return 1;
			}
			c->state = BS_STARTTLS;
			(void)send_str(c, "STARTTLS\r\n");
			return 0;
		}
		start_auth(c);
		return c->state == BS_FREE;
	case BS_STARTTLS:
		if (code != 220)
			break;
		(void)start_tls(c);
		return 1;
	case BS_AUTH:
		on_auth_reply(c);
		return c->state == BS_FREE;
	case BS_MAIL:
		if (code != 250)
			break;
		c->state = BS_RCPT;
		if (!c->pipelining)
			(void)send_data(c, b->tx + b->mail_len, b->rcpt_len);
		return 0;
	case BS_RCPT:
		if (code != 250 && code != 251)
			break;
		c->state = BS_DATA;
		if (!c->pipelining)
			(void)send_str(c, "DATA\r\n");
		return 0;
	case BS_DATA:
		if (code != 354)
			break;
		c->state = BS_BODY;
		(void)evbuffer_add_reference(bufferevent_get_output(c->bev),
		    b->msg, b->msglen, NULL, NULL);
		return 0;
	case BS_BODY:
		if (code != 250)
			break;
		if (counting(b)) {
			b->r->messages++;
			bench_hist_add(&b->r->message, now_us() - c->t_msg);
		}
		c->msgs++;
		if (c->msgs < b->o->msgs_per_session && !b->stopping) {
			start_message(c);
			return 0;
		}
		c->state = BS_QUIT;
		(void)send_str(c, "QUIT\r\n");
		return 0;
	case BS_QUIT:
		if (code != 221)
			break;
		session_done(c);
		return 1;
	case BS_IDLE:
	case BS_FREE:
	case BS_CONNECT:
	case BS_TLS:
		break;
	}
	conn_fail_code(c);
	return 1;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct bconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->bev == bev) {
		struct evbuffer_iovec v;
		enum reply_status st;
		size_t used = 0;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return;
		st = reply_parse(&c->rp, v.iov_base, v.iov_len, &used, &c->rep);
		(void)evbuffer_drain(in, used);
		if (st == REPLY_ERROR) {
			conn_fail(c, "bad-reply");
			return;
		}
		if (st == REPLY_MORE)
			continue;
		if (on_reply(c) != 0)
			return;
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct bconn *c = arg;
	struct bench *b = c->b;
	int e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == BS_CONNECT) {
			if (b->o->tls == BENCH_TLS_IMPLICIT) {
				(void)start_tls(c);
				return;
			}
			c->state = BS_GREETING;
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
			return;
		}
		if (c->state == BS_TLS) {
			c->tls_up = 1;
			note_tls(b, bufferevent_openssl_get_ssl(c->bev));
			if (b->o->tls == BENCH_TLS_IMPLICIT)
				c->state = BS_GREETING;
			else
				send_ehlo(c);
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		conn_fail(c, "timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn_fail(c, "eof");
		return;
	}
	if (c->bev_owns_fd) {
		unsigned long ssl_err = bufferevent_get_openssl_error(c->bev);

		if (ssl_err != 0) {
			char reason[40];
			const char *rs = ERR_reason_error_string(ssl_err);

			(void)snprintf(reason, sizeof(reason), "tls %s",
			    rs != NULL ? rs : "error");
			ERR_clear_error();
			conn_fail(c, reason);
			return;
		}
	}
	e = EVUTIL_SOCKET_ERROR();
	conn_fail(c,
	    e != 0 && strerrorname_np(e) != NULL ? strerrorname_np(e)
	                                         : "error");
}

/* ------------------------------------------------------------------ */
/* the run */

/* build_message - headers and 76-octet lines up to size, plus the final dot. */
static int
build_message(struct bench *b)
{
	const struct bench_opts *o = b->o;
	size_t size = o->msg_size < 256 ? 256 : o->msg_size;
	size_t n;
	int h;
	char *m;

	m = malloc(size + 128);
	if (m == NULL)
		return -1;
	h = snprintf(m, size + 128,
	    "From: <%s>\r\nTo: <%s>\r\nSubject: postern bench\r\n"
	    "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	    "Message-ID: <bench@%s>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	    o->mail_from, o->rcpt_to, o->helo);
	if (h < 0 || (size_t)h >= size) {
		free(m);
		return -1;
	}
	n = (size_t)h;
	while (n + 2 < size) {
		size_t line = size - n - 2 > 76 ? 76 : size - n - 2;
		size_t i;

		for (i = 0; i < line; i++)
			m[n + i] = (char)('a' + (n + i) % 26);
		n += line;
		m[n++] = '\r';
		m[n++] = '\n';
	}
	/* the message is counted by b->msglen, never a C string
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(m + n, ".\r\n", 3);
	b->msg = m;
	b->msglen = n + 3;
	return 0;
}

static int
build_tx(struct bench *b)
{
	const struct bench_opts *o = b->o;
	size_t cap = strlen(o->mail_from) + strlen(o->rcpt_to) + 64;
	int m, r;

	b->tx = malloc(cap);
	if (b->tx == NULL)
		return -1;
	m = snprintf(b->tx, cap, "MAIL FROM:<%s>\r\n", o->mail_from);
	if (m < 0 || (size_t)m >= cap)
		return -1;
	r = snprintf(
	    b->tx + m, cap - (size_t)m, "RCPT TO:<%s>\r\nDATA\r\n", o->rcpt_to);
	if (r < 0 || (size_t)r >= cap - (size_t)m)
		return -1;
	b->mail_len = (size_t)m;
	b->rcpt_len = (size_t)r - 6;
	b->tx_len = (size_t)m + (size_t)r;
	return 0;
}

/*
 * no_chain_check - with SSL_VERIFY_NONE OpenSSL still builds and checks the
 * chain (one more ECDSA verify per handshake) and then ignores the result;
 * the bench does not trust the server anyway, so skip it. The server's
 * CertificateVerify signature is still checked by the handshake itself.
 */
static int
no_chain_check(X509_STORE_CTX *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	return 1;
}

static int
resolve(struct bench *b, char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&b->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&b->sa;

	memset(&b->sa, 0, sizeof(b->sa));
	if (inet_pton(AF_INET, b->o->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(b->o->port);
		b->salen = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, b->o->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(b->o->port);
		b->salen = sizeof(*s6);
		return 0;
	}
	(void)snprintf(
	    err, errlen, "'%s' is not a numeric IPv4/IPv6 address", b->o->host);
	return -1;
}

static void
stop_now(struct bench *b)
{
	struct rusage ru;

	b->t_end = now_us();
	b->stopping = 1;
	(void)getrusage(RUSAGE_SELF, &ru);
	b->r->cpu_user_s = tv_s(&ru.ru_utime) - tv_s(&b->ru0.ru_utime);
	b->r->cpu_sys_s = tv_s(&ru.ru_stime) - tv_s(&b->ru0.ru_stime);
	event_base_loopexit(b->base, NULL);
}

static void
begin_window(struct bench *b)
{
	b->measuring = 1;
	b->t_measure = now_us();
	(void)getrusage(RUSAGE_SELF, &b->ru0);
}

/*
 * tick_cb - the timeline: end of warm-up, end of the measured window;
 * in idle mode, the PSS snapshot once every session is up (or at the
 * deadline with whatever is up).
 */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	const struct bench_opts *o = b->o;
	uint64_t now = now_us();
	struct timeval tv = {0, 100000};

	(void)fd;
	(void)what;
	if (o->idle > 0) {
		int deadline =
		    (double)(now - b->t_measure) / 1e6 >= o->duration_s;

		if (b->snapshot_pending &&
		    (b->idle_up >= o->idle || deadline)) {
			b->snapshot_pending = 0;
			/* the settle time for the server starts now */
			tv.tv_sec = IDLE_SETTLE_MS / 1000;
			tv.tv_usec = (IDLE_SETTLE_MS % 1000) * 1000;
			(void)evtimer_add(b->tick, &tv);
			return;
		}
		if (!b->snapshot_pending) {
			b->r->idle_up = b->idle_up;
			if (o->npss_roots > 0)
				b->r->pss_after_kib =
				    bench_pss_tree(o->pss_roots, o->npss_roots,
				        &b->r->pss_nprocs_after);
			stop_now(b);
			return;
		}
		(void)evtimer_add(b->tick, &tv);
		return;
	}
	if (!b->measuring) {
		begin_window(b);
		if (o->sessions > 0)
			return;
		tv.tv_sec = (time_t)o->duration_s;
		tv.tv_usec =
		    (suseconds_t)((o->duration_s - (double)tv.tv_sec) * 1e6);
		(void)evtimer_add(b->tick, &tv);
		return;
	}
	stop_now(b);
}

int
bench_run(const struct bench_opts *o, struct bench_result *r, char *err,
    size_t errlen)
{
	struct bench b;
	struct timeval tv;
	unsigned int i;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	memset(r, 0, sizeof(*r));
	bench_hist_init(&r->setup);
	bench_hist_init(&r->message);
	bench_hist_init(&r->session);
	r->pss_before_kib = -1;
	r->pss_after_kib = -1;
	b.o = o;
	b.r = r;
	b.timeout.tv_sec = o->timeout_ms / 1000;
	b.timeout.tv_usec = (suseconds_t)(o->timeout_ms % 1000) * 1000;
	if (o->concurrency == 0 ||
	    (o->mech != NULL && (o->user == NULL || o->password == NULL))) {
		(void)snprintf(err, errlen, "bad options");
		return -1;
	}
	if (resolve(&b, err, errlen) != 0)
		return -1;
	if (build_message(&b) != 0 || build_tx(&b) != 0) {
		(void)snprintf(err, errlen, "addresses too long");
		goto out;
	}
	b.base = event_base_new();
	b.tick = b.base != NULL ? evtimer_new(b.base, tick_cb, &b) : NULL;
	if (b.tick == NULL) {
		(void)snprintf(err, errlen, "libevent: cannot create a loop");
		goto out;
	}
	if (o->tls != BENCH_TLS_NONE) {
		b.ctx = SSL_CTX_new(TLS_client_method());
		if (b.ctx == NULL) {
			(void)snprintf(err, errlen, "SSL_CTX_new failed");
			goto out;
		}
		(void)SSL_CTX_set_min_proto_version(b.ctx, TLS1_2_VERSION);
		/*
		 * A load generator measures, it does not trust: no certificate
		 * check (point it at your own server). No session cache: every
		 * connection pays a full handshake, as one-message clients do.
		 */
		SSL_CTX_set_verify(b.ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_cert_verify_callback(b.ctx, no_chain_check, NULL);
		(void)SSL_CTX_set_session_cache_mode(b.ctx, SSL_SESS_CACHE_OFF);
		/* buffers released only when holding idle sessions: otherwise
		 * every record pays a free and a malloc in the load generator */
		if (o->idle > 0)
			(void)SSL_CTX_set_mode(b.ctx, SSL_MODE_RELEASE_BUFFERS);
	}
	b.nconns = o->idle > 0 ? o->idle : o->concurrency;
	b.conns = calloc(b.nconns, sizeof(*b.conns));
	if (b.conns == NULL)
		goto nomem;
	for (i = 0; i < b.nconns; i++) {
		b.conns[i] = calloc(1, sizeof(*b.conns[i]));
		if (b.conns[i] == NULL)
			goto nomem;
		b.conns[i]->b = &b;
		b.conns[i]->fd = -1;
	}

	if (o->idle > 0) {
		if (o->npss_roots > 0)
			r->pss_before_kib = bench_pss_tree(
			    o->pss_roots, o->npss_roots, &r->pss_nprocs_before);
		begin_window(&b);
		b.snapshot_pending = 1;
		tv.tv_sec = 0;
		tv.tv_usec = 100000;
		(void)evtimer_add(b.tick, &tv);
		for (i = 0; i < o->concurrency && i < o->idle; i++)
			session_start(b.conns[i]);
	} else {
		if (o->warmup_s > 0) {
			tv.tv_sec = (time_t)o->warmup_s;
			tv.tv_usec =
			    (suseconds_t)((o->warmup_s - (double)tv.tv_sec) *
			        1e6);
			(void)evtimer_add(b.tick, &tv);
		} else {
			tick_cb(-1, EV_TIMEOUT, &b);
		}
		for (i = 0; i < b.nconns; i++) {
			if (o->sessions > 0 && b.started >= o->sessions)
				break;
			session_start(b.conns[i]);
		}
	}
	(void)event_base_dispatch(b.base);
	if (!b.stopping)
		stop_now(&b);
	r->elapsed_s = b.measuring && b.t_end > b.t_measure
	    ? (double)(b.t_end - b.t_measure) / 1e6
	    : 0.0;
	rc = 0;
	goto out;
nomem:
	(void)snprintf(err, errlen, "out of memory");
out:
	if (b.conns != NULL) {
		b.stopping = 1;
		for (i = 0; i < b.nconns; i++) {
			if (b.conns[i] != NULL)
				conn_close(b.conns[i]);
			free(b.conns[i]);
		}
		free(b.conns);
	}
	if (b.tick != NULL)
		event_free(b.tick);
	if (b.base != NULL)
		event_base_free(b.base);
	SSL_CTX_free(b.ctx);
	free(b.msg);
	free(b.tx);
	return rc;
}
