/*
 * worker.c - the SMTP worker process main: accepts connections on the
 * inherited listeners, runs TLS (implicit or STARTTLS) through libevent's
 * OpenSSL bufferevents, feeds client bytes to the session state machine,
 * relays AUTH exchanges and recipient lookups to the auth service, and
 * commits messages (fsync'd Maildir delivery) on a thread pool so the loop
 * never blocks. Sessions waiting on another service are found again by id,
 * never by a pointer that may have gone stale (CVE-2020-35680's lesson).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/str.h"
#include "ipc/msg.h"
#include "ipc/proto.h"
#include "net/connlimit.h"
#include "net/tls.h"
#include "net/workpool.h"
#include "queue/journal.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "policy/relay.h"
#include "sasl/registry.h"
#include "smtp/banlist.h"
#include "smtp/headers.h"
#include "smtp/notice.h"
#include "smtp/session.h"
#include "smtp/worker.h"

#define CONN_BUCKETS       4096
#define INPUT_HIGH_WATER   (256 * 1024)
#define AUTH_RETRY_SECONDS 1
/* Requests to the auth service unanswered after 6 sweeps of 10 s get a
 * temporary failure: longer than any backend timeout or tarpit delay. */
#define ANSWER_SWEEP_SECONDS 10
#define ANSWER_TIMEOUT_TICKS 6
#define COMMIT_QUEUE_MAX     4096

/* A configuration shared by the sessions that started under it. */
struct worker_cfg {
	struct config c;
	unsigned int refs;
};

struct conn;

struct worker {
	struct event_base *base;
	struct worker_cfg *wc; /* current; new sessions use it */
	SSL_CTX *ssl_ctx;
	int index;
	struct connlimit *cl;
	struct evconnlistener **evl;
	size_t *evl_listener;
	size_t nevl;
	struct bufferevent *auth; /* NULL while disconnected */
	struct event *auth_retry;
	struct event *answer_sweep;
	char auth_socket[108];
	struct workpool *pool;
	struct conn *table[CONN_BUCKETS];
	size_t nconns;
	int stopping;
	struct event *stop_timer;
	int accepting;             /* listeners enabled (after the ban list) */
	struct event *ready_timer; /* accept anyway if auth stays silent */
	struct smtp_mech_offer mechs[SMTP_MAX_MECHS];
	struct banlist *bans; /* pushed by the auth service */
	size_t nmechs;
	struct buf frame;
	char spool_tmp[PATH_MAX];
	struct journal_writer *jw; /* small messages' commit log */
	unsigned int nmem;         /* bodies held in memory (body_mem) */
	uint64_t msg_seq;
	unsigned long stale_replies;
};

struct conn {
	struct worker *w;
	struct worker_cfg *wc;
	struct conn *next; /* hash chain */
	struct bufferevent *bev;
	SSL *ssl; /* owned by bev when set */
	int fd;
	int bev_owns_fd;
	struct sockaddr_storage peer;
	int counted;
	int closing;
	int starttls_pending;
	int data_timeouts;
	int dead;           /* freeing is scheduled */
	uint64_t watch_xid; /* answer_sweep_cb's view */
	unsigned int watch_ticks;
	int body_mem;        /* the message body is in a memfd (journal) */
	int memfd;           /* that memfd, kept for the session's next one */
	struct event *defer; /* deferred free / TLS switch */
	struct event *delay;
	struct smtp_session s;
};

struct commit_job {
	struct worker *w;
	uint64_t sid;
	int fd;
	int mem; /* body in a memfd: through the journal */
	char spool[PATH_MAX];
	char id[ENV_ID_MAX];
	struct envelope env;
	enum smtp_commit_result result;
	char err[256];
	/* containment notices (tx->notify) */
	int notify;
	char hostname[256];
	char login[256];
	char client[64];
	char postmaster[300];
};

static struct worker *the_worker; /* signal callbacks only */

static void conn_process_input(struct conn *c);
static void conn_free(struct conn *c);
static void auth_connect(struct worker *w);

/* ---------- configuration references ---------- */

static struct worker_cfg *
wc_ref(struct worker_cfg *wc)
{
	wc->refs++;
	return wc;
}

static void
wc_unref(struct worker_cfg *wc)
{
	if (wc != NULL && --wc->refs == 0)
		free(wc);
}

/* ---------- session table ---------- */

static size_t
conn_bucket(uint64_t sid)
{
	return (size_t)((sid * 0x9E3779B97F4A7C15ULL) >> 52) % CONN_BUCKETS;
}

static void
conn_insert(struct worker *w, struct conn *c)
{
	size_t b = conn_bucket(c->s.id);

	c->next = w->table[b];
	w->table[b] = c;
	w->nconns++;
}

static void
conn_remove(struct worker *w, struct conn *c)
{
	struct conn **pp = &w->table[conn_bucket(c->s.id)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			w->nconns--;
			return;
		}
	}
}

static struct conn *
conn_find(struct worker *w, uint64_t sid)
{
	struct conn *c;

	for (c = w->table[conn_bucket(sid)]; c != NULL; c = c->next)
		if (c->s.id == sid && !c->dead)
			return c;
	return NULL;
}

/* ---------- auth service client ---------- */

static int
auth_send(struct worker *w)
{
	if (msg_finish(&w->frame) == -1) {
		log_err("event=ipc-error reason=frame-too-big");
		return -1;
	}
	if (w->auth == NULL)
		return -1;
	return bufferevent_write(w->auth, w->frame.data, w->frame.len);
}

/* What fail_later answers: 0 auth, 1 rcpt, FAIL_MAIL / FAIL_DATA policy. */
#define FAIL_MAIL 2
#define FAIL_DATA 3

struct fail_later {
	struct worker *w;
	uint64_t sid;
	uint64_t xid;
	int rcpt; /* 0, 1, FAIL_MAIL, FAIL_DATA */
};

static void
fail_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fail_later *f = arg;
	struct conn *c = conn_find(f->w, f->sid);

	(void)fd;
	(void)what;
	if (c != NULL) {
		int resume;

		if (f->rcpt == FAIL_MAIL)
			resume = smtp_session_mail_done(
			    &c->s, f->xid, PROTO_P_TEMPFAIL, 0, "");
		else if (f->rcpt == FAIL_DATA)
			resume = smtp_session_data_done(
			    &c->s, f->xid, PROTO_P_TEMPFAIL, 0, "");
		else if (f->rcpt)
			resume = smtp_session_rcpt_done(
			    &c->s, f->xid, PROTO_RCPT_TEMPFAIL, "");
		else
			resume = smtp_session_auth_done(
			    &c->s, f->xid, PROTO_V_TEMPFAIL, NULL, 0, "");
		if (resume)
			conn_process_input(c);
	}
	free(f);
}

/* fail_later - answer a request with a temporary failure from the loop,
 * never from inside the session call that made it. */
static void
fail_later(struct worker *w, uint64_t sid, uint64_t xid, int rcpt)
{
	struct fail_later *f = calloc(1, sizeof(*f));
	struct timeval zero = {0, 0};

	if (f == NULL)
		return;
	f->w = w;
	f->sid = sid;
	f->xid = xid;
	f->rcpt = rcpt;
	if (event_base_once(w->base, -1, EV_TIMEOUT, fail_later_cb, f, &zero) ==
	    -1)
		free(f);
}

static void
set_all_mechs(struct worker *w)
{
	size_t i;
	struct conn *c;

	for (i = 0; i < CONN_BUCKETS; i++)
		for (c = w->table[i]; c != NULL; c = c->next)
			smtp_session_set_mechs(&c->s, w->mechs, w->nmechs);
}

/* mechs_from_config - what to offer until the auth service says. */
static void
mechs_from_config(struct worker *w)
{
	char list[sizeof(w->wc->c.mechanisms)];
	char *tok, *save = NULL;
	const struct sasl_mech *m;

	w->nmechs = 0;
	str_copy(list, w->wc->c.mechanisms, sizeof(list));
	for (tok = strtok_r(list, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		m = sasl_mech_find(tok);
		if (m == NULL || w->nmechs == SMTP_MAX_MECHS)
			continue;
		str_copy(w->mechs[w->nmechs].name, m->name,
		    sizeof(w->mechs[0].name));
		w->mechs[w->nmechs].flags = m->flags;
		w->nmechs++;
	}
}

/*
 * start_accepting - enable the listeners once the auth service has sent
 * its ban list (or after a grace period without it): connections that
 * arrived meanwhile wait in the kernel's backlog, so a ban survives a
 * restart from the first connection on.
 */
static void
start_accepting(struct worker *w, const char *why)
{
	size_t i;

	if (w->accepting || w->stopping)
		return;
	w->accepting = 1;
	for (i = 0; i < w->nevl; i++)
		evconnlistener_enable(w->evl[i]);
	if (strcmp(why, "auth-ready") != 0)
		log_warn("event=accepting reason=%s", why);
}

static void
ready_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_accepting(arg, "auth-not-ready-without-ban-list");
}

static void
handle_auth_frame(struct worker *w, struct msg_reader *r)
{
	uint64_t xid;
	struct conn *c;
	int resume = 0;

	switch (r->type) {
	case PROTO_AUTH_RESULT: {
		uint8_t v;
		const unsigned char *data;
		size_t len = 0;
		char user[256];

		xid = msg_get_u64(r);
		v = msg_get_u8(r);
		data = msg_get_blob(r, &len);
		msg_get_str(r, user, sizeof(user));
		{
			char reason[256];

			msg_get_str(r, reason, sizeof(reason));
		}
		if (msg_end(r) == -1 || v >= PROTO_V_MAX)
			goto bad;
		c = conn_find(w, xid >> 16);
		if (c == NULL) {
			w->stale_replies++;
			return;
		}
		resume = smtp_session_auth_done(
		    &c->s, xid, (enum proto_verdict)v, data, len, user);
		break;
	}
	case PROTO_RCPT_RESULT: {
		uint8_t st;
		char mailbox[ADDR_PATH_MAX + 1];

		xid = msg_get_u64(r);
		st = msg_get_u8(r);
		msg_get_str(r, mailbox, sizeof(mailbox));
		if (msg_end(r) == -1 || st > PROTO_RCPT_TEMPFAIL)
			goto bad;
		c = conn_find(w, xid >> 16);
		if (c == NULL) {
			w->stale_replies++;
			return;
		}
		resume = smtp_session_rcpt_done(
		    &c->s, xid, (enum proto_rcpt)st, mailbox);
		break;
	}
	case PROTO_MAIL_RESULT:
	case PROTO_DATA_RESULT: {
		uint8_t v, notify = 0;
		uint32_t budget = 0;
		char text[256];

		xid = msg_get_u64(r);
		v = msg_get_u8(r);
		if (r->type == PROTO_MAIL_RESULT)
			budget = msg_get_u32(r);
		else
			notify = msg_get_u8(r);
		msg_get_str(r, text, sizeof(text));
		if (msg_end(r) == -1 || v >= PROTO_P_MAX)
			goto bad;
		c = conn_find(w, xid >> 16);
		if (c == NULL) {
			w->stale_replies++;
			return;
		}
		if (r->type == PROTO_MAIL_RESULT)
			resume = smtp_session_mail_done(
			    &c->s, xid, (enum proto_policy)v, budget, text);
		else
			resume = smtp_session_data_done(&c->s, xid,
			    (enum proto_policy)v, notify != 0, text);
		break;
	}
	case PROTO_BAN_SET:
	case PROTO_BAN_CLEAR: {
		char key[RELAY_KEY_MAX];
		uint64_t until = 0;

		msg_get_str(r, key, sizeof(key));
		if (r->type == PROTO_BAN_SET)
			until = msg_get_u64(r);
		if (msg_end(r) == -1 || until > INT64_MAX)
			goto bad;
		if (r->type == PROTO_BAN_CLEAR)
			banlist_clear(w->bans, key);
		else if (banlist_set(w->bans, key, (int64_t)until) == -1)
			log_warn("event=ban-list-full key=%s", key);
		return;
	}
	case PROTO_MECHS: {
		uint32_t n, i;

		n = msg_get_u32(r);
		if (n > SMTP_MAX_MECHS)
			goto bad;
		for (i = 0; i < n; i++) {
			msg_get_str(
			    r, w->mechs[i].name, sizeof(w->mechs[i].name));
			w->mechs[i].flags = msg_get_u32(r);
		}
		if (msg_end(r) == -1)
			goto bad;
		w->nmechs = n;
		set_all_mechs(w);
		/* the ban list came first: now connections may be checked */
		start_accepting(w, "auth-ready");
		return;
	}
	default:
		goto bad;
	}
	if (resume)
		conn_process_input(c);
	return;
bad:
	log_err("event=ipc-error peer=auth type=%u reason=malformed",
	    (unsigned int)r->type);
}

/* waits_on_auth - is c waiting for an answer from the auth service? */
static int
waits_on_auth(const struct conn *c)
{
	return c->s.wait == SMTP_WAIT_AUTH || c->s.wait == SMTP_WAIT_RCPT ||
	    c->s.wait == SMTP_WAIT_POLICY;
}

/* fail_waiting - answer c's outstanding auth-service request with a
 * temporary failure (454 / 451), from the loop. */
static void
fail_waiting(struct worker *w, struct conn *c)
{
	if (c->s.wait == SMTP_WAIT_AUTH)
		fail_later(w, c->s.id, c->s.auth_xid, 0);
	else if (c->s.wait == SMTP_WAIT_RCPT)
		fail_later(w, c->s.id, c->s.auth_xid, 1);
	else if (c->s.wait == SMTP_WAIT_POLICY)
		fail_later(w, c->s.id, c->s.auth_xid,
		    c->s.state == SMTP_STATE_MAIL ? FAIL_MAIL : FAIL_DATA);
}

static void
fail_all_waiting(struct worker *w)
{
	size_t i;
	struct conn *c;

	for (i = 0; i < CONN_BUCKETS; i++)
		for (c = w->table[i]; c != NULL; c = c->next)
			fail_waiting(w, c);
}

/*
 * answer_sweep_cb - a request the auth service never answers (a lost or
 * refused frame, a stuck backend past its own timeout) must not hang the
 * client: after ANSWER_TIMEOUT_TICKS sweeps with the same request
 * outstanding, answer it with a temporary failure.
 */
static void
answer_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	size_t i;
	struct conn *c;

	(void)fd;
	(void)what;
	for (i = 0; i < CONN_BUCKETS; i++) {
		for (c = w->table[i]; c != NULL; c = c->next) {
			if (!waits_on_auth(c)) {
				c->watch_ticks = 0;
				continue;
			}
			if (c->watch_xid != c->s.auth_xid) {
				c->watch_xid = c->s.auth_xid;
				c->watch_ticks = 0;
				continue;
			}
			if (++c->watch_ticks < ANSWER_TIMEOUT_TICKS)
				continue;
			log_warn(
			    "session=%s event=auth-service-timeout wait=%d",
			    c->s.idstr, (int)c->s.wait);
			c->watch_ticks = 0;
			fail_waiting(w, c);
		}
	}
}

static void
auth_lost(struct worker *w, const char *why)
{
	struct timeval tv = {AUTH_RETRY_SECONDS, 0};

	if (w->auth != NULL) {
		log_warn("event=ipc-lost peer=auth reason=%s", why);
		bufferevent_free(w->auth);
		w->auth = NULL;
	}
	fail_all_waiting(w);
	if (!w->stopping)
		evtimer_add(w->auth_retry, &tv);
}

static void
auth_read_cb(struct bufferevent *bev, void *arg)
{
	struct worker *w = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		unsigned char hdr[MSG_HDR_LEN];
		size_t avail = evbuffer_get_length(in);
		long flen;
		unsigned char *p;
		struct msg_reader r;

		if (avail < MSG_HDR_LEN)
			return;
		evbuffer_copyout(in, hdr, MSG_HDR_LEN);
		flen = msg_frame_len(hdr, MSG_HDR_LEN);
		if (flen < 0) {
			auth_lost(w, "bad-frame");
			return;
		}
		if (flen == 0 || avail < (size_t)flen)
			return;
		p = evbuffer_pullup(in, flen);
		if (p == NULL || msg_reader_init(&r, p, (size_t)flen) == -1) {
			auth_lost(w, "bad-frame");
			return;
		}
		handle_auth_frame(w, &r);
		evbuffer_drain(in, (size_t)flen);
		if (w->auth != bev)
			return;
	}
}

static void
auth_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct worker *w = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		log_debug("event=ipc-connected peer=auth");
		return;
	}
	auth_lost(w, (what & BEV_EVENT_EOF) ? "eof" : "error");
}

static void
auth_connect(struct worker *w)
{
	struct sockaddr_un sun;
	socklen_t len;
	size_t n = strlen(w->auth_socket + 1) + 1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* Abstract name: leading NUL (see master.c). */
	memcpy(sun.sun_path, w->auth_socket, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	banlist_reset(w->bans); /* the auth service sends the whole list */
	w->auth = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (w->auth == NULL) {
		auth_lost(w, "no-memory");
		return;
	}
	bufferevent_setcb(w->auth, auth_read_cb, NULL, auth_event_cb, w);
	bufferevent_enable(w->auth, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(
	        w->auth, (struct sockaddr *)&sun, (int)len) == -1)
		auth_lost(w, "connect-failed");
}

static void
auth_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (((struct worker *)arg)->auth == NULL)
		auth_connect(arg);
}

/* ---------- session operations ---------- */

static void
op_write(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;

	if (c->bev != NULL)
		bufferevent_write(c->bev, p, n);
}

static void
conn_schedule(struct conn *c)
{
	event_active(c->defer, EV_TIMEOUT, 0);
}

static void
op_close(void *arg)
{
	struct conn *c = arg;

	c->closing = 1;
	if (c->bev == NULL) {
		conn_schedule(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_schedule(c);
	/* else the write callback schedules it once the reply is flushed */
}

static void
op_starttls(void *arg)
{
	struct conn *c = arg;

	c->starttls_pending = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_schedule(c);
}

static void
put_tls_facts(struct conn *c)
{
	struct buf *b = &c->w->frame;
	unsigned char unique[64], exporter[32];
	size_t ulen = 0, elen = 0;

	if (c->ssl != NULL && c->s.tls)
		tls_chanbind(
		    c->ssl, unique, &ulen, sizeof(unique), exporter, &elen);
	msg_put_str(b, c->s.client_addr);
	msg_put_u8(b, (uint8_t)c->s.tls);
	msg_put_str(b, c->s.tls ? c->s.tls_version : "");
	msg_put_blob(b, unique, ulen);
	msg_put_blob(b, exporter, elen);
	msg_put_str(b, c->s.cert_identity);
}

static void
op_auth_start(void *arg, uint64_t xid, const char *mech,
    const unsigned char *ir, size_t irlen, int has_ir)
{
	struct conn *c = arg;
	struct worker *w = c->w;
	size_t i;
	int plus = 0, needs_tls;

	if (w->auth == NULL) {
		fail_later(w, c->s.id, xid, 0);
		return;
	}
	for (i = 0; i < c->s.nmechs; i++)
		if (strstr(c->s.mechs[i].name, "-PLUS") != NULL &&
		    smtp_mech_usable(&c->s, c->s.mechs[i].name, &needs_tls))
			plus = 1;
	msg_begin(&w->frame, PROTO_AUTH_START);
	msg_put_u64(&w->frame, xid);
	msg_put_str(&w->frame, c->s.idstr);
	msg_put_str(&w->frame, mech);
	msg_put_u8(&w->frame, (uint8_t)(has_ir ? 1 : 0));
	msg_put_blob(&w->frame, ir, irlen);
	put_tls_facts(c);
	msg_put_u8(&w->frame, (uint8_t)plus);
	msg_put_str(&w->frame, c->s.listener->name);
	if (auth_send(w) == -1)
		fail_later(w, c->s.id, xid, 0);
	secret_wipe(w->frame.data, w->frame.len);
}

static void
op_auth_step(void *arg, uint64_t xid, const unsigned char *p, size_t n)
{
	struct conn *c = arg;
	struct worker *w = c->w;

	if (w->auth == NULL) {
		fail_later(w, c->s.id, xid, 0);
		return;
	}
	msg_begin(&w->frame, PROTO_AUTH_STEP);
	msg_put_u64(&w->frame, xid);
	msg_put_blob(&w->frame, p, n);
	if (auth_send(w) == -1)
		fail_later(w, c->s.id, xid, 0);
	secret_wipe(w->frame.data, w->frame.len);
}

static void
op_auth_cancel(void *arg, uint64_t xid)
{
	struct conn *c = arg;
	struct worker *w = c->w;

	if (w->auth == NULL)
		return;
	msg_begin(&w->frame, PROTO_AUTH_CANCEL);
	msg_put_u64(&w->frame, xid);
	auth_send(w);
}

static void
op_rcpt_lookup(void *arg, uint64_t xid, const char *address)
{
	struct conn *c = arg;
	struct worker *w = c->w;

	if (w->auth == NULL) {
		fail_later(w, c->s.id, xid, 1);
		return;
	}
	msg_begin(&w->frame, PROTO_RCPT_LOOKUP);
	msg_put_u64(&w->frame, xid);
	msg_put_str(&w->frame, c->s.idstr);
	msg_put_str(&w->frame, address);
	if (auth_send(w) == -1)
		fail_later(w, c->s.id, xid, 1);
}

static void
op_mail_check(void *arg, uint64_t xid, const struct smtp_tx *tx)
{
	struct conn *c = arg;
	struct worker *w = c->w;
	char from[ADDR_PATH_MAX + 1];

	if (w->auth == NULL) {
		fail_later(w, c->s.id, xid, FAIL_MAIL);
		return;
	}
	if (addr_format(&tx->mail.from, from, sizeof(from)) < 0)
		from[0] = '\0';
	msg_begin(&w->frame, PROTO_MAIL_CHECK);
	msg_put_u64(&w->frame, xid);
	msg_put_str(&w->frame, c->s.idstr);
	msg_put_str(&w->frame, c->s.login);
	msg_put_str(&w->frame, from);
	msg_put_u64(&w->frame, tx->mail.size);
	msg_put_str(&w->frame, c->s.client_addr);
	msg_put_str(&w->frame, c->s.listener->name);
	if (auth_send(w) == -1)
		fail_later(w, c->s.id, xid, FAIL_MAIL);
}

static void
op_data_check(void *arg, uint64_t xid, const struct smtp_tx *tx)
{
	struct conn *c = arg;
	struct worker *w = c->w;
	const struct hdr_scan *h = tx->hdr;
	char from[ADDR_PATH_MAX + 1];
	uint8_t hstate = PROTO_H_OK;
	size_t i, n = h != NULL ? h->naddrs : 0;

	if (w->auth == NULL) {
		fail_later(w, c->s.id, xid, FAIL_DATA);
		return;
	}
	if (addr_format(&tx->mail.from, from, sizeof(from)) < 0)
		from[0] = '\0';
	if (h != NULL && h->state == HDR_S_OVERFLOW)
		hstate = PROTO_H_TOO_BIG;
	else if (h != NULL && h->bad)
		hstate = PROTO_H_UNPARSABLE;
	msg_begin(&w->frame, PROTO_DATA_CHECK);
	msg_put_u64(&w->frame, xid);
	msg_put_str(&w->frame, c->s.idstr);
	msg_put_str(&w->frame, tx->id);
	msg_put_str(&w->frame, c->s.login);
	msg_put_str(&w->frame, c->s.client_addr);
	msg_put_str(&w->frame, from);
	msg_put_u32(&w->frame, (uint32_t)tx->nrcpts);
	msg_put_u64(&w->frame, tx->body_size);
	msg_put_u8(&w->frame, hstate);
	msg_put_u32(&w->frame, (uint32_t)n);
	for (i = 0; i < n; i++) {
		msg_put_u8(&w->frame, (uint8_t)(h->addrs[i].sender ? 1 : 0));
		msg_put_str(&w->frame, h->addrs[i].addr);
	}
	if (auth_send(w) == -1)
		fail_later(w, c->s.id, xid, FAIL_DATA);
}

/*
 * new_queue_id - 16 upper-case hex digits: time, worker, a 24-bit counter
 * that starts at a random value (so a restarted worker does not repeat the
 * ids of its predecessor in the same second). Unique per worker up to 16M
 * messages a second; the queue service still renames a colliding one.
 */
static void
new_queue_id(struct worker *w, char *id, size_t idlen)
{
	uint64_t t = (uint64_t)time(NULL);
	uint64_t v = (t << 28) | ((uint64_t)(w->index & 0xf) << 24) |
	    (++w->msg_seq & 0xffffff);

	snprintf(id, idlen, "%016" PRIX64, v);
}

/*
 * At most BODY_MEM_MAX bodies of a worker are in memory at once (each up to
 * JOURNAL_BODY_MAX: 64 MiB), so that many slow clients in DATA cannot make
 * it hold more; past that, bodies go to tmp/ files from the start.
 */
#define BODY_MEM_MAX 256

/* body_mem_release - c's body no longer counts as held in memory. */
static void
body_mem_release(struct conn *c)
{
	if (c->body_mem) {
		c->body_mem = 0;
		c->w->nmem--;
	}
}

/*
 * op_body_open - the body goes to memory first (a memfd: no file to create
 * and delete per message, and the journal commits it); body_spill moves a
 * body that outgrows JOURNAL_BODY_MAX to a tmp/ file.
 */
static int
op_body_open(void *arg, char *id, size_t idlen)
{
	struct conn *c = arg;
	struct worker *w = c->w;
	char path[PATH_MAX];
	int fd, tries;

	body_mem_release(c); /* a message refused before its commit */
	if (w->jw != NULL && c->s.tx != NULL && w->nmem < BODY_MEM_MAX) {
		/*
		 * One memfd per session, emptied for each message: making and
		 * tearing down a shmem inode per message showed in profiles.
		 * No commit of this session still reads it: the next body
		 * opens only after the last commit answered.
		 */
		if (c->memfd == -1)
			c->memfd = memfd_create("postern-body", MFD_CLOEXEC);
		fd = -1;
		if (c->memfd >= 0 && ftruncate(c->memfd, 0) == 0 &&
		    lseek(c->memfd, 0, SEEK_SET) == 0)
			fd = dup(c->memfd);
		if (fd >= 0) {
			new_queue_id(w, id, idlen);
			c->body_mem = 1;
			w->nmem++;
			c->s.tx->body_spill_at = JOURNAL_BODY_MAX;
			return fd;
		}
	}
	for (tries = 0; tries < 5; tries++) {
		new_queue_id(w, id, idlen);
		if (snprintf(path, sizeof(path), "%s/%s", w->spool_tmp, id) >=
		    (int)sizeof(path))
			return -1;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST) {
			log_warn("session=%s event=spool-error path=%s "
			         "error=%s",
			    c->s.idstr, path, strerror(errno));
			return -1;
		}
	}
	return -1;
}

/* op_body_spill - the body outgrew memory: on to tmp/<ID>; 0 or -1. */
static int
op_body_spill(void *arg, struct smtp_tx *tx)
{
	struct conn *c = arg;
	char path[PATH_MAX];
	struct stat st;
	off_t off = 0;
	int fd, saved;

	tx->body_spill_at = 0;
	if (!c->body_mem)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", c->w->spool_tmp, tx->id) >=
	        (int)sizeof(path) ||
	    fstat(tx->body_fd, &st) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	while (off < st.st_size) {
		ssize_t n =
		    sendfile(fd, tx->body_fd, &off, (size_t)(st.st_size - off));

		if (n <= 0) {
			saved = n == 0 ? EIO : errno;
			goto fail;
		}
	}
	/* same descriptor number, now the file (offset at its end) */
	if (dup2(fd, tx->body_fd) == -1) {
		saved = errno;
		goto fail;
	}
	(void)close(fd);
	body_mem_release(c);
	if (c->memfd >= 0 && ftruncate(c->memfd, 0) == -1) {
		(void)close(c->memfd); /* give the memory back */
		c->memfd = -1;
	}
	return 0;
fail:
	(void)close(fd);
	(void)unlink(path);
	errno = saved;
	return -1;
}

static void
commit_work(void *arg)
{
	struct commit_job *j = arg;
	struct stat st;
	int rc;

	if (j->mem) {
		rc = fstat(j->fd, &st) == -1
		    ? -1
		    : journal_append(j->w->jw, &j->env, j->fd,
		          (size_t)st.st_size, j->err, sizeof(j->err));
		/*
		 * A record too big for the log (a huge envelope), or no room
		 * for a new 4 MiB segment (a small or full spool): own files,
		 * which answer 452 if there is no room for them either.
		 */
		if (rc == -1 &&
		    (errno == EFBIG || errno == ENOSPC || errno == EDQUOT))
			rc = spool_adopt(
			    j->spool, &j->env, j->fd, j->err, sizeof(j->err));
	} else
		rc = spool_commit(
		    j->spool, j->id, j->fd, &j->env, j->err, sizeof(j->err));
	if (rc == 0) {
		j->result = SMTP_COMMIT_OK;
	} else {
		char path[PATH_MAX];

		j->result = (errno == ENOSPC || errno == EDQUOT)
		    ? SMTP_COMMIT_NO_SPACE
		    : SMTP_COMMIT_TEMP;
		if (!j->mem &&
		    snprintf(path, sizeof(path), "%s/tmp/%s", j->spool, j->id) <
		        (int)sizeof(path))
			unlink(path);
	}
	close(j->fd);
	j->fd = -1;
	if (j->result == SMTP_COMMIT_OK && j->notify) {
		struct notice_info n = {
		    j->spool, j->hostname, j->login, j->client, j->id};
		char err[256];

		/* the held message is safe; the notices are best effort */
		if (smtp_notice_write(&n, j->postmaster, 0, err, sizeof(err)) ==
		    -1)
			log_warn(
			    "event=notice-failed to=postmaster error=%s", err);
		if (strchr(j->login, '@') != NULL &&
		    smtp_notice_write(&n, j->login, 1, err, sizeof(err)) == -1)
			log_warn("event=notice-failed to=user error=%s", err);
	}
}

static void
commit_job_free(struct commit_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	env_free(&j->env);
	free(j);
}

static void
commit_done(void *arg)
{
	struct commit_job *j = arg;
	struct conn *c = conn_find(j->w, j->sid);

	if (c != NULL) {
		body_mem_release(c); /* before the next message's body_open */
		if (c->memfd >= 0 && ftruncate(c->memfd, 0) == -1) {
			(void)close(c->memfd); /* a new one next time */
			c->memfd = -1;
		}
	}
	if (c != NULL && smtp_session_commit_done(&c->s, j->result, j->err))
		conn_process_input(c);
	else if (c == NULL && j->result == SMTP_COMMIT_OK)
		log_info("event=queued-after-disconnect id=%s", j->id);
	commit_job_free(j);
}

static void
commit_failed_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	commit_done(arg);
}

/* build_envelope - what the queue needs to know about tx, from the session. */
static int
build_envelope(
    const struct conn *c, const struct smtp_tx *tx, struct envelope *e)
{
	const struct smtp_session *s = &c->s;
	size_t i;

	env_init(e);
	str_copy(e->id, tx->id, sizeof(e->id));
	e->arrival = (long long)time(NULL);
	if (addr_format(&tx->mail.from, e->mail_from, sizeof(e->mail_from)) < 0)
		return -1;
	/* RFC 4954 §5: the identity we vouch for; generated for an
	 * authenticated submission that did not give one. */
	if (tx->mail.has_auth)
		str_copy(e->auth_param, tx->mail.auth, sizeof(e->auth_param));
	else if (s->authenticated)
		str_copy(e->auth_param, s->login, sizeof(e->auth_param));
	str_copy(e->login, s->authenticated ? s->login : "", sizeof(e->login));
	str_copy(e->client_addr, s->client_addr, sizeof(e->client_addr));
	str_copy(e->helo, s->helo, sizeof(e->helo));
	str_copy(e->listener, s->listener->name, sizeof(e->listener));
	if (s->tls)
		snprintf(e->tls, sizeof(e->tls), "%s %s", s->tls_version,
		    s->tls_cipher);
	e->smtputf8 = tx->mail.smtputf8;
	e->held = tx->held; /* containment: postern queue release decides */
	e->eightbit = tx->mail.body != SMTP_BODY_7BIT;
	for (i = 0; i < tx->nrcpts; i++)
		if (env_add_rcpt(e, tx->rcpts[i].mailbox, NULL) == NULL)
			return -1;
	return 0;
}

static void
op_commit(void *arg, struct smtp_tx *tx)
{
	struct conn *c = arg;
	struct worker *w = c->w;
	struct commit_job *j;
	struct timeval zero = {0, 0};

	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		log_err("session=%s event=commit-failed reason=out-of-memory",
		    c->s.idstr);
		return; /* the session times out; nothing was acknowledged */
	}
	j->w = w;
	j->sid = c->s.id;
	j->fd = dup(tx->body_fd);
	j->mem = c->body_mem;
	j->result = SMTP_COMMIT_TEMP;
	str_copy(j->spool, c->wc->c.spool, sizeof(j->spool));
	str_copy(j->id, tx->id, sizeof(j->id));
	if (tx->held && tx->notify) {
		const struct config *cfg = &c->wc->c;

		j->notify = 1;
		str_copy(j->hostname, cfg->hostname, sizeof(j->hostname));
		str_copy(j->login, c->s.login, sizeof(j->login));
		str_copy(j->client, c->s.client_addr, sizeof(j->client));
		snprintf(j->postmaster, sizeof(j->postmaster), "postmaster@%s",
		    cfg->nlocal_domains > 0 ? cfg->local_domains[0]
		                            : cfg->hostname);
	}
	if (j->fd < 0 || build_envelope(c, tx, &j->env) == -1) {
		str_copy(j->err, "cannot build the envelope", sizeof(j->err));
	} else if (workpool_submit(w->pool, commit_work, commit_done, j) == 0) {
		return;
	} else {
		str_copy(j->err, "commit queue full", sizeof(j->err));
	}
	/* Answer from the loop, not from inside the session call. */
	if (event_base_once(
	        w->base, -1, EV_TIMEOUT, commit_failed_cb, j, &zero) == -1)
		commit_job_free(j);
}

static int
op_space_ok(void *arg, unsigned long long need)
{
	struct conn *c = arg;

	return spool_space_ok(
	    c->wc->c.spool, need, c->wc->c.queue_min_free_space);
}

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (smtp_session_delay_done(&c->s))
		conn_process_input(c);
}

static void
op_delay(void *arg, unsigned int ms)
{
	struct conn *c = arg;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(c->delay, &tv);
}

static const struct smtp_session_ops conn_ops = {
    .write = op_write,
    .close = op_close,
    .starttls = op_starttls,
    .auth_start = op_auth_start,
    .auth_step = op_auth_step,
    .auth_cancel = op_auth_cancel,
    .rcpt_lookup = op_rcpt_lookup,
    .body_open = op_body_open,
    .body_spill = op_body_spill,
    .commit = op_commit,
    .space_ok = op_space_ok,
    .delay = op_delay,
    .mail_check = op_mail_check,
    .data_check = op_data_check,
};

/* ---------- connections ---------- */

static void
conn_set_timeouts(struct conn *c)
{
	const struct config *cfg = &c->wc->c;
	int data = c->s.state == SMTP_STATE_DATA;
	unsigned int ms = data ? cfg->data_timeout_ms : cfg->command_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (c->bev == NULL)
		return;
	c->data_timeouts = data;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

static void
conn_process_input(struct conn *c)
{
	struct evbuffer *in;
	int was_data;

	if (c->bev == NULL || c->closing || c->dead)
		return;
	in = bufferevent_get_input(c->bev);
	was_data = c->data_timeouts;
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		used = smtp_session_feed(&c->s, v.iov_base, v.iov_len);
		evbuffer_drain(in, used);
		if (c->starttls_pending) {
			/* RFC 3207 §5, CVE-2011-0411: nothing sent before the
			 * handshake may be acted on after it. */
			size_t junk = evbuffer_get_length(in);

			if (junk > 0)
				log_info("session=%s event=starttls-injection "
				         "discarded=%zu",
				    c->s.idstr, junk);
			evbuffer_drain(in, junk);
			return;
		}
		if (used < v.iov_len)
			break;
	}
	if ((c->s.state == SMTP_STATE_DATA) != was_data)
		conn_set_timeouts(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static void
conn_start_tls(struct conn *c)
{
	struct worker *w = c->w;
	SSL *ssl;

	c->starttls_pending = 0;
	ssl = SSL_new(w->ssl_ctx);
	if (ssl == NULL) {
		log_warn(
		    "session=%s event=tls-error reason=SSL_new", c->s.idstr);
		smtp_session_close(&c->s);
		return;
	}
	tls_client_verify(ssl, c->s.listener->client_certs);
	if (c->s.listener->legacy_tls)
		tls_legacy(ssl);
	/* The plaintext bufferevent does not own the socket; the TLS one
	 * does. Its input was drained: only the handshake follows. */
	bufferevent_free(c->bev);
	c->bev = bufferevent_openssl_socket_new(w->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		close(c->fd);
		c->fd = -1;
		c->closing = 1;
		conn_schedule(c);
		return;
	}
	c->ssl = ssl;
	c->bev_owns_fd = 1;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(
	    c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, INPUT_HIGH_WATER);
	conn_set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (c->starttls_pending)
		conn_start_tls(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process_input(arg);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->closing || c->starttls_pending)
		conn_schedule(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char ebuf[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		struct tls_info ti;

		char id[sizeof(c->s.cert_identity)];

		tls_get_info(c->ssl, &ti);
		smtp_session_tls_done(&c->s, 1, ti.version, ti.cipher, ti.bits);
		if (tls_client_identity(c->ssl, id, sizeof(id)) > 0) {
			smtp_session_set_cert_identity(&c->s, id);
			log_info("session=%s event=client-certificate %s",
			    c->s.idstr, id);
		}
		conn_process_input(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->s.state == SMTP_STATE_TLS || !c->s.tls_version[0]) {
			if (c->ssl != NULL && !c->s.tls) {
				log_info("session=%s event=disconnect "
				         "reason=tls-handshake-timeout",
				    c->s.idstr);
				c->closing = 1;
				conn_schedule(c);
				return;
			}
		}
		smtp_session_timeout(&c->s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(c->bev);

		if (e != 0) {
			ERR_error_string_n(e, ebuf, sizeof(ebuf));
			log_info("session=%s event=tls-error client=%s "
			         "error=\"%s\"",
			    c->s.idstr, c->s.client_addr, ebuf);
		}
	}
	if (!c->closing)
		log_info("session=%s event=disconnect reason=%s state=%d "
		         "messages=%u",
		    c->s.idstr,
		    (what & BEV_EVENT_EOF) ? "client-closed" : "io-error",
		    (int)c->s.state, c->s.messages);
	c->closing = 1;
	conn_free(c);
}

static void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	if (c->dead)
		return;
	c->dead = 1;
	body_mem_release(c);
	if (c->memfd >= 0)
		(void)close(c->memfd);
	c->memfd = -1;
	if (c->s.tx != NULL && c->s.tx->body_fd >= 0 &&
	    c->s.wait != SMTP_WAIT_COMMIT) {
		/* Never acknowledged: nothing to keep. */
		char path[PATH_MAX];

		if (snprintf(path, sizeof(path), "%s/%s", w->spool_tmp,
		        c->s.tx->id) < (int)sizeof(path))
			unlink(path);
	}
	if (w->auth != NULL && c->s.login[0] != '\0') {
		/* the auth service forgets the session's credential profile */
		msg_begin(&w->frame, PROTO_SESSION_END);
		msg_put_str(&w->frame, c->s.idstr);
		(void)auth_send(w);
	}
	smtp_session_free(&c->s);
	conn_remove(w, c);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (!c->bev_owns_fd && c->fd >= 0)
		close(c->fd);
	if (c->counted)
		connlimit_release(w->cl, (struct sockaddr *)&c->peer);
	event_free(c->defer);
	event_free(c->delay);
	wc_unref(c->wc);
	free(c);
	if (w->stopping && w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

static void
peer_text(const struct sockaddr_storage *ss, char *addr, size_t alen,
    char *port, size_t plen)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, addr,
			    (socklen_t)alen);
		else
			inet_ntop(
			    AF_INET6, &s6->sin6_addr, addr, (socklen_t)alen);
		snprintf(port, plen, "%u", ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)alen);
		snprintf(port, plen, "%u", ntohs(s4->sin_port));
	}
}

static void
refuse(int fd, const char *line)
{
	/* Best effort on a fresh socket: the kernel buffer takes it. */
	if (write(fd, line, strlen(line)) < 0) {
		/* nothing to do: the client is gone */
	}
	close(fd);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct worker *w = the_worker;
	size_t li = (size_t)(uintptr_t)arg;
	const struct config_listener *cl = &w->wc->c.listeners[li];
	struct conn *c;
	const char *which = "";
	char addr[64], port[8];
	int one = 1;

	(void)l;
	if (w->stopping) {
		refuse(fd, "421 4.3.2 Service shutting down\r\n");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		refuse(fd, "421 4.3.2 Out of resources\r\n");
		return;
	}
	c->memfd = -1;
	memcpy(&c->peer, sa,
	    (size_t)salen < sizeof(c->peer) ? (size_t)salen : sizeof(c->peer));
	peer_text(&c->peer, addr, sizeof(addr), port, sizeof(port));
	if (!connlimit_rate(w->cl, sa, w->wc->c.connection_rate,
	        (unsigned int)(time(NULL) / 60))) {
		log_info("event=refused client=%s listener=%s "
		         "reason=connection-rate limit=%u",
		    addr, cl->name, w->wc->c.connection_rate);
		refuse(fd,
		    "421 4.7.0 Too many connections from your address, "
		    "try again later\r\n");
		free(c);
		return;
	}
	if (!connlimit_acquire(w->cl, sa, w->wc->c.max_connections,
	        w->wc->c.max_connections_per_ip, &which)) {
		log_info("event=refused client=%s listener=%s reason=%s-limit",
		    addr, cl->name, which);
		refuse(
		    fd, "421 4.7.0 Too many connections, try again later\r\n");
		free(c);
		return;
	}
	{
		int64_t until;

		if (banlist_check(w->bans, addr, (int64_t)time(NULL), &until)) {
			log_info("event=refused client=%s listener=%s "
			         "reason=banned until=%lld",
			    addr, cl->name, (long long)until);
			connlimit_release(w->cl, (struct sockaddr *)&c->peer);
			refuse(fd,
			    "421 4.7.0 Too many failed logins from your "
			    "address, try again later\r\n");
			free(c);
			return;
		}
	}
	c->counted = 1;
	c->w = w;
	c->wc = wc_ref(w->wc);
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->defer = event_new(w->base, -1, 0, defer_cb, c);
	c->delay = evtimer_new(w->base, delay_cb, c);
	smtp_session_init(&c->s, rand_u64() & 0xffffffffffffULL, &c->wc->c, cl,
	    &conn_ops, c, addr, port, 0);
	smtp_session_set_mechs(&c->s, w->mechs, w->nmechs);
	conn_insert(w, c);
	if (c->defer == NULL || c->delay == NULL)
		goto fail;
	log_info("session=%s event=connect client=%s:%s listener=%s",
	    c->s.idstr, addr, port, cl->name);
	if (cl->tls == LISTENER_TLS_IMPLICIT) {
		c->ssl = SSL_new(w->ssl_ctx);
		if (c->ssl == NULL)
			goto fail;
		tls_client_verify(c->ssl, cl->client_certs);
		if (cl->legacy_tls)
			tls_legacy(c->ssl);
		c->bev = bufferevent_openssl_socket_new(w->base, fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			SSL_free(c->ssl);
			c->ssl = NULL;
			goto fail;
		}
		c->bev_owns_fd = 1;
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(w->base, fd, 0);
		if (c->bev == NULL)
			goto fail;
	}
	bufferevent_setcb(
	    c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, INPUT_HIGH_WATER);
	conn_set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (cl->tls != LISTENER_TLS_IMPLICIT)
		smtp_session_start(&c->s);
	return;
fail:
	log_warn(
	    "session=%s event=refused reason=out-of-resources", c->s.idstr);
	c->closing = 1;
	conn_free(c);
}

/* ---------- signals, reload, stop ---------- */

static void
stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	size_t i;
	struct conn *c, *next;

	(void)fd;
	(void)what;
	log_warn("event=shutdown-timeout sessions=%zu", w->nconns);
	for (i = 0; i < CONN_BUCKETS; i++) {
		for (c = w->table[i]; c != NULL; c = next) {
			next = c->next;
			if (c->s.wait == SMTP_WAIT_COMMIT)
				continue; /* the 250 is on its way */
			if (c->s.state != SMTP_STATE_CLOSING) {
				smtp_reply(&c->s, 421, "4.3.2",
				    "%s Service shutting down",
				    c->wc->c.hostname);
				smtp_session_close(&c->s);
			}
		}
	}
	if (w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

static void
worker_stop(struct worker *w)
{
	size_t i;
	struct conn *c, *next;
	unsigned int ms = w->wc->c.shutdown_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (w->stopping)
		return;
	w->stopping = 1;
	log_info("event=stopping sessions=%zu", w->nconns);
	for (i = 0; i < w->nevl; i++)
		evconnlistener_disable(w->evl[i]);
	for (i = 0; i < CONN_BUCKETS; i++) {
		for (c = w->table[i]; c != NULL; c = next) {
			next = c->next;
			smtp_session_shutdown(&c->s);
		}
	}
	if (w->nconns == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	w->stop_timer = evtimer_new(w->base, stop_timer_cb, w);
	if (w->stop_timer != NULL)
		evtimer_add(w->stop_timer, &tv);
}

static void
worker_reload(struct worker *w)
{
	struct worker_cfg *nc;
	char err[4096];
	SSL_CTX *ctx;
	size_t i;

	nc = calloc(1, sizeof(*nc));
	if (nc == NULL)
		return;
	if (config_load(w->wc->c.path, &nc->c, err, sizeof(err)) == -1) {
		log_err("event=reload result=failed error=%s", err);
		free(nc);
		return;
	}
	config_drop_secrets(&nc->c);
	/* Listening sockets belong to the master; their definitions stay. */
	memcpy(nc->c.listeners, w->wc->c.listeners, sizeof(nc->c.listeners));
	nc->c.nlisteners = w->wc->c.nlisteners;
	ctx = tls_server_ctx_new(&nc->c, err, sizeof(err));
	if (ctx == NULL) {
		log_err("event=reload result=failed error=%s", err);
		free(nc);
		return;
	}
	SSL_CTX_free(w->ssl_ctx);
	w->ssl_ctx = ctx;
	wc_unref(w->wc);
	nc->refs = 1;
	w->wc = nc;
	log_set_level((enum log_level)nc->c.log_level);
	for (i = 0; i < w->nevl; i++)
		(void)i;
	log_info("event=reload result=ok");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	if (sig == SIGHUP)
		worker_reload(w);
	else
		worker_stop(w);
}

int
smtp_worker_main(struct config *cfg, int index,
    const struct worker_listen_fd *fds, size_t nfds, struct connlimit *cl,
    const char *auth_socket)
{
	struct worker *w;
	char err[512], role[32];
	struct event *sigs[3];
	static const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
	size_t i;
	int rc = 0;

	snprintf(role, sizeof(role), "worker%d", index);
	log_init(role, (enum log_level)cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		fatal("out of memory");
	the_worker = w;
	w->index = index;
	w->msg_seq = rand_u64();
	w->cl = cl;
	w->wc = calloc(1, sizeof(*w->wc));
	if (w->wc == NULL)
		fatal("out of memory");
	w->wc->c = *cfg;
	w->wc->refs = 1;
	config_drop_secrets(&w->wc->c);
	config_drop_secrets(cfg);
	free(cfg);
	memcpy(w->auth_socket, auth_socket, sizeof(w->auth_socket));
	buf_init(&w->frame, MSG_FRAME_MAX + MSG_HDR_LEN);
	if (snprintf(w->spool_tmp, sizeof(w->spool_tmp), "%s/tmp",
	        w->wc->c.spool) >= (int)sizeof(w->spool_tmp))
		fatal("spool path too long");
	w->base = event_base_new();
	if (w->base == NULL)
		fatal("event_base_new failed");
	w->ssl_ctx = tls_server_ctx_new(&w->wc->c, err, sizeof(err));
	if (w->ssl_ctx == NULL)
		fatal("%s", err);
	/*
	 * Commits are fsync-bound: threads let the file system batch, and the
	 * directory fsyncs are shared between concurrent commits (spool.c).
	 * 4 threads capped 16 sessions x 100 messages at 8 commits in flight
	 * for two workers (issue 8: docs/PERFORMANCE.md); 16 keeps every
	 * session's message in flight even when one worker gets them all.
	 */
	w->pool = workpool_new(w->base, 16, COMMIT_QUEUE_MAX);
	if (w->pool == NULL)
		fatal("cannot start the commit pool");
	w->jw = journal_writer_new(w->wc->c.spool);
	if (w->jw == NULL)
		fatal("cannot start the commit log: %s", strerror(errno));
	mechs_from_config(w);
	w->evl = calloc(nfds, sizeof(*w->evl));
	if (w->evl == NULL)
		fatal("out of memory");
	for (i = 0; i < nfds; i++) {
		w->evl[i] = evconnlistener_new(w->base, accept_cb,
		    (void *)(uintptr_t)fds[i].listener,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
		        LEV_OPT_DISABLED,
		    -1, fds[i].fd);
		if (w->evl[i] == NULL)
			fatal("cannot listen on fd %d", fds[i].fd);
		w->nevl++;
	}
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(w->base, signums[i], signal_cb, w);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatal("cannot install signal handlers");
	}
	w->bans = banlist_new();
	if (w->bans == NULL)
		fatal("out of memory");
	w->ready_timer = evtimer_new(w->base, ready_timer_cb, w);
	if (w->ready_timer == NULL)
		fatal("out of memory");
	{
		struct timeval grace = {3, 0};

		evtimer_add(w->ready_timer, &grace);
	}
	w->auth_retry = evtimer_new(w->base, auth_retry_cb, w);
	w->answer_sweep =
	    event_new(w->base, -1, EV_PERSIST, answer_sweep_cb, w);
	if (w->answer_sweep == NULL)
		fatal("out of memory");
	{
		struct timeval tv = {ANSWER_SWEEP_SECONDS, 0};

		evtimer_add(w->answer_sweep, &tv);
	}
	auth_connect(w);
	log_info("event=started listeners=%zu", nfds);
	if (event_base_dispatch(w->base) == -1)
		rc = 1;
	log_info("event=stopped stale_replies=%lu", w->stale_replies);
	workpool_free(w->pool);
	journal_writer_free(w->jw); /* seals the segment */
	banlist_free(w->bans);
	event_free(w->ready_timer);
	for (i = 0; i < w->nevl; i++)
		evconnlistener_free(w->evl[i]);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	if (w->auth != NULL)
		bufferevent_free(w->auth);
	event_free(w->auth_retry);
	event_free(w->answer_sweep);
	if (w->stop_timer != NULL)
		event_free(w->stop_timer);
	SSL_CTX_free(w->ssl_ctx);
	buf_free(&w->frame);
	free(w->evl);
	wc_unref(w->wc);
	event_base_free(w->base);
	free(w);
	return rc;
}
