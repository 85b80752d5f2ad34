/*
 * passdb_dovecot.c - the "dovecot" passdb: a client of Dovecot's auth
 * process (protocol v1.2), like Postfix's smtpd_sasl_type = dovecot, so a
 * site running Dovecot keeps one user database. "dovecot:PATH" names the
 * auth-client socket; passwords are checked with AUTH PLAIN (caps VERIFY).
 * Asynchronous on the auth service's loop with one bufferevent per socket:
 * it never blocks; each request has a timeout; when Dovecot goes away the
 * requests in flight answer TEMPFAIL and the next one reconnects.
 * RCPT checks (exists) use the auth-userdb socket's USER lookup when
 * [dovecot] userdb_socket is set; without it they answer TEMPFAIL (451),
 * never "no such user": chain a passdb that knows the mailboxes instead.
 * Reply fields used: user= (canonical name), nologin/proxy (disabled),
 * code=temp_fail/temp (TEMPFAIL), code=user_disabled, senders= (extra
 * field: addresses the login may send as). Passwords are never logged.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/dovecot_proto.h"
#include "auth/passdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"

#define DV_USER_MAX           320
#define DV_MAX_PENDING        1024 /* requests in flight per socket */
#define DV_DEFAULT_TIMEOUT_MS 10000

struct dv_priv;
struct dv_req;

struct dv_conn {
	struct dv_priv *dp;
	int master;       /* the auth-userdb protocol (USER lookups) */
	const char *what; /* "auth-client" or "auth-userdb", for the log */
	char path[PATH_MAX];
	struct bufferevent *bev; /* NULL: not connected */
	int ready;               /* the handshake is done */
	int have_plain;          /* Dovecot offered PLAIN */
	unsigned int next_id;
	struct dv_req *head; /* oldest first */
	size_t nreqs;
	struct timeval last_rx;
	int down; /* an outage was logged */
};

struct dv_priv {
	struct passdb *db;
	struct dv_conn client;
	struct dv_conn userdb;
	char service[32];
	struct timeval timeout;
	int warned_no_userdb;
};

struct dv_req {
	struct dv_conn *conn;
	struct dv_req *next;
	unsigned int id;
	int sent;
	passdb_cb *cb;
	void *arg;
	struct secret *line; /* the request (holds the password); wiped */
	char user[DV_USER_MAX + 1];
	struct event *timer;
};

/* ---------- requests ---------- */

static void
dv_unlink(struct dv_req *q)
{
	struct dv_conn *c = q->conn;
	struct dv_req **pp;

	for (pp = &c->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			c->nreqs--;
			break;
		}
	}
	q->next = NULL;
}

static void
dv_req_free(struct dv_req *q)
{
	if (q->timer != NULL)
		event_free(q->timer);
	secret_free(q->line);
	free(q);
}

/* dv_answer - q (already unlinked) gets r, or a bare status; then freed. */
static void
dv_answer(struct dv_req *q, enum passdb_status st, const struct cred_result *r)
{
	struct cred_result bare;

	if (r == NULL) {
		memset(&bare, 0, sizeof(bare));
		bare.status = st;
		bare.user = q->user;
		r = &bare;
	}
	q->cb(r, q->arg);
	dv_req_free(q);
}

/* dv_fail - drop the connection; every request on it answers TEMPFAIL. */
static void
dv_fail(struct dv_conn *c, const char *why)
{
	struct dv_req *q, *next;
	char qs[300];

	if (!c->down)
		log_err("dovecot: socket=%s (%s) %s; answering temporary "
		        "failures until it is back",
		    log_q(qs, sizeof(qs), c->path, (size_t)-1), c->what, why);
	c->down = 1;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->ready = 0;
	c->have_plain = 0;
	/* detach first: a callback may start a new request (and connection) */
	q = c->head;
	c->head = NULL;
	c->nreqs = 0;
	for (; q != NULL; q = next) {
		next = q->next;
		q->next = NULL;
		dv_answer(q, PASSDB_TEMPFAIL, NULL);
	}
}

/* dv_line_done - evbuffer cleanup for a sent request: wipe it. */
static void
dv_line_done(const void *data, size_t len, void *extra)
{
	(void)data;
	(void)len;
	secret_free(extra);
}

static void
dv_send(struct dv_req *q)
{
	struct evbuffer *out = bufferevent_get_output(q->conn->bev);

	if (evbuffer_add_reference(
	        out, q->line->data, q->line->len, dv_line_done, q->line) == 0)
		q->line = NULL; /* the buffer owns (and wipes) it now */
	else if (evbuffer_add(out, q->line->data, q->line->len) != 0)
		return; /* it times out */
	q->sent = 1;
}

static void
dv_flush(struct dv_conn *c)
{
	struct dv_req *q;

	for (q = c->head; q != NULL; q = q->next)
		if (!q->sent)
			dv_send(q);
}

static void
dv_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dv_req *q = arg;
	struct dv_conn *c = q->conn;
	struct dv_priv *dp = c->dp;
	struct timeval now, silent;
	char uq[DV_USER_MAX * 4 + 8];

	(void)fd;
	(void)what;
	log_warn("dovecot: user=%s no answer from %s within %ld ms",
	    log_q(uq, sizeof(uq), q->user, (size_t)-1), c->what,
	    (long)(dp->timeout.tv_sec * 1000 + dp->timeout.tv_usec / 1000));
	dv_unlink(q);
	dv_answer(q, PASSDB_TEMPFAIL, NULL);
	/* a connection that said nothing for a whole timeout is hung */
	if (c->bev != NULL &&
	    event_base_gettimeofday_cached(dp->db->base, &now) == 0) {
		evutil_timersub(&now, &c->last_rx, &silent);
		/* silent >= timeout, without the operator-as-argument macro
		 * static analysers cannot parse */
		if (silent.tv_sec > dp->timeout.tv_sec ||
		    (silent.tv_sec == dp->timeout.tv_sec &&
		        silent.tv_usec >= dp->timeout.tv_usec))
			dv_fail(c, "does not answer");
	}
}

/*
 * dv_find - the request with id, unlinked; NULL if it timed out meanwhile.
 * It unlinks from c's list, the one it searched, rather than through
 * q->conn (the same list, but not provably so to a static analyser).
 */
static struct dv_req *
dv_find(struct dv_conn *c, unsigned int id)
{
	struct dv_req **pp, *q;

	for (pp = &c->head; *pp != NULL; pp = &(*pp)->next) {
		q = *pp;
		if (q->id == id && q->sent) {
			*pp = q->next;
			q->next = NULL;
			c->nreqs--;
			return q;
		}
	}
	return NULL;
}

/* dv_result - a reply to a request: map it to a passdb answer. */
static void
dv_result(struct dv_conn *c, const struct dovecot_reply *rp)
{
	struct dv_req *q = dv_find(c, rp->id);
	struct cred_result r;
	const char *senders[DOVECOT_SENDERS_MAX + 1];
	char sbuf[DOVECOT_LINE_MAX + 1];
	char uq[DV_USER_MAX * 4 + 8];

	if (q == NULL)
		return; /* answered TEMPFAIL already (timeout) */
	memset(&r, 0, sizeof(r));
	r.user = q->user;
	if (c->master) {
		if (rp->cmd == DOVECOT_CMD_USER) {
			r.status = PASSDB_OK;
			r.user = rp->user;
		} else if (rp->cmd == DOVECOT_CMD_NOTFOUND)
			r.status = PASSDB_NO_USER;
		else
			r.status = PASSDB_TEMPFAIL;
		dv_answer(q, r.status, &r);
		return;
	}
	switch (rp->cmd) {
	case DOVECOT_CMD_OK:
		r.status = rp->nologin ? PASSDB_DISABLED : PASSDB_OK;
		if (rp->user != NULL && rp->user[0] != '\0' &&
		    strlen(rp->user) <= DV_USER_MAX)
			r.user = rp->user;
		if (rp->senders != NULL &&
		    str_copy(sbuf, rp->senders, sizeof(sbuf)) < sizeof(sbuf)) {
			(void)dovecot_split_senders(
			    sbuf, senders, DOVECOT_SENDERS_MAX + 1);
			r.senders = senders;
		}
		break;
	case DOVECOT_CMD_FAIL:
		if (rp->temp)
			r.status = PASSDB_TEMPFAIL;
		else if (rp->disabled)
			r.status = PASSDB_DISABLED;
		else
			r.status =
			    PASSDB_MISMATCH; /* or unknown: Dovecot won't say */
		if (rp->temp)
			log_warn("dovecot: user=%s temporary failure in "
			         "Dovecot",
			    log_q(uq, sizeof(uq), q->user, (size_t)-1));
		break;
	default: /* CONT: PLAIN with an initial response never continues */
		log_warn("dovecot: user=%s unexpected CONT; temporary failure",
		    log_q(uq, sizeof(uq), q->user, (size_t)-1));
		r.status = PASSDB_TEMPFAIL;
		break;
	}
	dv_answer(q, r.status, &r);
}

/* dv_line - one line from Dovecot; -1 if the connection must go. */
static int
dv_line(struct dv_conn *c, char *line, size_t len)
{
	struct dovecot_reply rp;

	if (dovecot_parse_line(line, len, &rp) < 0) {
		dv_fail(c, "sent a malformed line");
		return -1;
	}
	switch (rp.cmd) {
	case DOVECOT_CMD_VERSION:
		if (rp.major != 1) {
			dv_fail(c, "speaks an unsupported protocol version");
			return -1;
		}
		if (c->master) {
			c->ready = 1;
			dv_flush(c);
		}
		break;
	case DOVECOT_CMD_MECH:
		if (str_ieq(rp.mech, "PLAIN"))
			c->have_plain = 1;
		break;
	case DOVECOT_CMD_DONE:
		if (c->master)
			break;
		if (!c->have_plain) {
			dv_fail(c, "does not offer PLAIN");
			return -1;
		}
		c->ready = 1;
		dv_flush(c);
		break;
	case DOVECOT_CMD_OK:
	case DOVECOT_CMD_FAIL:
	case DOVECOT_CMD_CONT:
	case DOVECOT_CMD_USER:
	case DOVECOT_CMD_NOTFOUND:
		if (c->down) {
			log_info("dovecot: %s answers again", c->what);
			c->down = 0;
		}
		dv_result(c, &rp);
		break;
	default:
		break; /* SPID, CUID, COOKIE, unknown: ignored */
	}
	return 0;
}

static void
dv_read(struct bufferevent *bev, void *arg)
{
	struct dv_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	(void)event_base_gettimeofday_cached(c->dp->db->base, &c->last_rx);
	while (c->bev == bev) {
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > DOVECOT_LINE_MAX)
				dv_fail(c, "sent a line that is too long");
			return;
		}
		if (dv_line(c, line, n) < 0) {
			free(line);
			return;
		}
		free(line);
	}
}

static void
dv_event(struct bufferevent *bev, short what, void *arg)
{
	struct dv_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		dv_fail(c, "closed the connection");
	else if (what & BEV_EVENT_ERROR)
		dv_fail(c, "connection error");
}

/* dv_connect - connect c and send our handshake; 0 or -1 (logged once). */
static int
dv_connect(struct dv_conn *c)
{
	struct sockaddr_un sun;
	char hs[64], qs[300];
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, c->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		(void)close(fd);
		errno = e;
		goto fail;
	}
	c->bev =
	    bufferevent_socket_new(c->dp->db->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		(void)close(fd);
		errno = ENOMEM;
		goto fail;
	}
	bufferevent_setcb(c->bev, dv_read, NULL, dv_event, c);
	if (c->master)
		n = snprintf(hs, sizeof(hs), "VERSION\t1\t1\n");
	else
		n = snprintf(hs, sizeof(hs), "VERSION\t1\t2\nCPID\t%ld\n",
		    (long)getpid());
	if (n < 0 || bufferevent_write(c->bev, hs, (size_t)n) != 0 ||
	    bufferevent_enable(c->bev, EV_READ) != 0) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		errno = EIO;
		goto fail;
	}
	c->ready = 0;
	c->have_plain = 0;
	(void)event_base_gettimeofday_cached(c->dp->db->base, &c->last_rx);
	return 0;

fail:
	if (!c->down)
		log_err("dovecot: socket=%s (%s) cannot connect: %s; "
		        "answering temporary failures",
		    log_q(qs, sizeof(qs), c->path, (size_t)-1), c->what,
		    strerror(errno));
	c->down = 1;
	return -1;
}

/* dv_reply_now - answer st later on the loop (never inside the call). */
static void
dv_reply_later(struct passdb *db, enum passdb_status st, const char *user,
    passdb_cb *cb, void *arg)
{
	struct cred_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.user = user;
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err("dovecot: cannot schedule a reply; request dropped");
}

/*
 * dv_request - queue a request on c: the line is built by the caller for
 * the id this returns through q. Answers TEMPFAIL later when it cannot.
 */
static struct dv_req *
dv_request(struct dv_conn *c, const char *user, passdb_cb *cb, void *arg)
{
	struct passdb *db = c->dp->db;
	struct dv_req *q, **pp;

	if (c->nreqs >= DV_MAX_PENDING || (c->bev == NULL && dv_connect(c) < 0))
		return NULL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->conn = c;
	q->cb = cb;
	q->arg = arg;
	(void)str_copy(q->user, user, sizeof(q->user));
	if (++c->next_id == 0)
		c->next_id = 1;
	q->id = c->next_id;
	q->timer = evtimer_new(db->base, dv_timeout, q);
	if (q->timer == NULL || evtimer_add(q->timer, &c->dp->timeout) != 0) {
		dv_req_free(q);
		return NULL;
	}
	for (pp = &c->head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = q;
	c->nreqs++;
	return q;
}

/* dv_start - q's line is set: send it now, or once the handshake is done. */
static void
dv_start(struct dv_req *q)
{
	if (q->conn->ready)
		dv_send(q);
}

static void
dv_verify(struct passdb *db, const char *user, const struct secret *password,
    passdb_cb *cb, void *arg)
{
	struct dv_priv *dp = db->priv;
	struct dv_req *q;

	if (user == NULL || user[0] == '\0' || strlen(user) > DV_USER_MAX ||
	    password == NULL) {
		dv_reply_later(db, PASSDB_NO_USER, user, cb, arg);
		return;
	}
	q = dv_request(&dp->client, user, cb, arg);
	if (q == NULL) {
		dv_reply_later(db, PASSDB_TEMPFAIL, user, cb, arg);
		return;
	}
	q->line = dovecot_auth_line(q->id, dp->service, user, password);
	if (q->line == NULL) {
		/* a NUL in the password, or one longer than Dovecot reads */
		dv_unlink(q);
		dv_req_free(q);
		dv_reply_later(db, PASSDB_MISMATCH, user, cb, arg);
		return;
	}
	dv_start(q);
}

static void
dv_exists(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	struct dv_priv *dp = db->priv;
	struct dv_req *q;
	char line[DV_USER_MAX * 2 + 128];
	size_t n;

	if (dp->userdb.path[0] == '\0') {
		if (!dp->warned_no_userdb)
			log_warn("dovecot: RCPT check without [dovecot] "
			         "userdb_socket: answering a temporary "
			         "failure; set it (Dovecot's auth-userdb) or "
			         "chain a passdb that knows the mailboxes");
		dp->warned_no_userdb = 1;
		dv_reply_later(db, PASSDB_TEMPFAIL, user, cb, arg);
		return;
	}
	if (user == NULL || user[0] == '\0' || strlen(user) > DV_USER_MAX) {
		dv_reply_later(db, PASSDB_NO_USER, user, cb, arg);
		return;
	}
	q = dv_request(&dp->userdb, user, cb, arg);
	if (q == NULL) {
		dv_reply_later(db, PASSDB_TEMPFAIL, user, cb, arg);
		return;
	}
	n = dovecot_user_line(q->id, dp->service, user, line, sizeof(line));
	q->line = n != (size_t)-1 ? secret_new(line, n) : NULL;
	if (q->line == NULL) {
		dv_unlink(q);
		dv_req_free(q);
		dv_reply_later(db, PASSDB_NO_USER, user, cb, arg);
		return;
	}
	dv_start(q);
}

/* ---------- open, close ---------- */

static void
dv_conn_close(struct dv_conn *c)
{
	struct dv_req *q, *next;

	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	q = c->head;
	c->head = NULL;
	c->nreqs = 0;
	for (; q != NULL; q = next) {
		next = q->next;
		q->next = NULL;
		dv_answer(q, PASSDB_TEMPFAIL, NULL);
	}
}

static int
dv_open(struct passdb *db, const char *arg, char *err, size_t errlen)
{
	const struct config *cfg = db->cfg;
	struct dv_priv *dp;
	struct sockaddr_un sun;
	unsigned int ms = DV_DEFAULT_TIMEOUT_MS;

	if (arg == NULL || arg[0] == '\0') {
		(void)snprintf(err, errlen,
		    "dovecot: no socket given (dovecot:/run/dovecot/"
		    "auth-client)");
		return -1;
	}
	if (strlen(arg) >= sizeof(sun.sun_path) ||
	    (cfg != NULL &&
	        strlen(cfg->dovecot_userdb_socket) >= sizeof(sun.sun_path))) {
		(void)snprintf(err, errlen, "dovecot: socket path too long");
		return -1;
	}
	dp = calloc(1, sizeof(*dp));
	if (dp == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	dp->db = db;
	dp->client.dp = dp;
	dp->client.what = "auth-client";
	(void)str_copy(dp->client.path, arg, sizeof(dp->client.path));
	dp->userdb.dp = dp;
	dp->userdb.master = 1;
	dp->userdb.what = "auth-userdb";
	(void)str_copy(dp->service, "smtp", sizeof(dp->service));
	if (cfg != NULL) {
		(void)str_copy(dp->userdb.path, cfg->dovecot_userdb_socket,
		    sizeof(dp->userdb.path));
		if (cfg->dovecot_service[0] != '\0')
			(void)str_copy(dp->service, cfg->dovecot_service,
			    sizeof(dp->service));
		if (cfg->dovecot_timeout_ms > 0)
			ms = cfg->dovecot_timeout_ms;
	}
	dp->timeout.tv_sec = ms / 1000;
	dp->timeout.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	db->priv = dp;
	log_info("dovecot: auth-client=%s auth-userdb=%s service=%s",
	    dp->client.path,
	    dp->userdb.path[0] != '\0' ? dp->userdb.path : "none", dp->service);
	return 0;
}

static void
dv_close(struct passdb *db)
{
	struct dv_priv *dp = db->priv;

	if (dp == NULL)
		return;
	dv_conn_close(&dp->client);
	dv_conn_close(&dp->userdb);
	free(dp);
	db->priv = NULL;
}

static int
dv_reload(struct passdb *db, char *err, size_t errlen)
{
	(void)db;
	(void)err;
	(void)errlen;
	return 0; /* Dovecot owns the users; nothing cached here */
}

const struct passdb_driver passdb_driver_dovecot = {
    .name = "dovecot",
    .caps = PASSDB_CAN_VERIFY,
    .open = dv_open,
    .verify = dv_verify,
    .exists = dv_exists,
    .reload = dv_reload,
    .close = dv_close,
};
