/*
 * service.c - the auth service main loop (DESIGN §2). Workers send what the
 * client said (ipc/proto.h); this process runs the mechanism steps, asks
 * the passdb (whose blocking work runs on the pool), pads failures with the
 * configured delay and answers with verdicts. It never blocks its loop and
 * never sends a stored secret back. Exchanges are found by (connection,
 * xid); an answer for one that was cancelled meanwhile is dropped.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "auth/certmap.h"
#include "auth/credsess.h"
#include "auth/oauth.h"
#include "auth/guard_svc.h"
#include "auth/passdb.h"
#include "auth/scheme_scram.h"
#include "auth/service.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"
#include "ipc/msg.h"
#include "ipc/proto.h"
#include "net/workpool.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"

#define XCH_BUCKETS 1024
#define MAX_MECHS   16

struct auth_conn;

struct auth_service {
	struct event_base *base;
	struct config *cfg;
	struct workpool *pool;
	struct passdb *db;
	struct oauth *oauth;     /* NULL: no [oauth] configured */
	struct guard_svc *guard; /* delays, bans, sending policy */
	struct credsess *sess;   /* credential profiles of live sessions */
	struct evconnlistener *listener;
	struct auth_conn *conns;
	struct buf frame;
	const struct sasl_mech *mechs[MAX_MECHS];
	size_t nmechs;
	unsigned long ok, failed, tempfailed;
};

struct auth_xch {
	struct auth_conn *ac;
	struct auth_xch *next;
	uint64_t xid;
	struct sasl_exchange *x;
	char session[20];
	int busy; /* passdb call outstanding */
	int cancelled;
	int final_ok; /* OK sent with final data; next step confirms */
	struct event *delay;
	enum proto_verdict delayed_verdict;
	struct buf out;
	char listener[64];
	unsigned int delay_ms; /* before the failure reply (audit) */
	unsigned char
	    attempt[GUARD_HASH_LEN]; /* keyed hash, never the password */
	int have_attempt;
	/* the app password / device credential that matched, if one did */
	int have_cred;
	int cred_tls_floor; /* relaxed TLS minimum it grants; 0 = none */
	struct credsess_profile cred;
};

struct auth_conn {
	struct auth_service *svc;
	struct auth_conn *next;
	struct bufferevent *bev; /* NULL once the worker is gone */
	unsigned int refs;
	struct auth_xch *xs[XCH_BUCKETS];
};

struct rcpt_req {
	struct auth_conn *ac;
	uint64_t xid;
	char session[20];
};

static struct auth_service *the_service;

/* ---------- connections ---------- */

static void
ac_unref(struct auth_conn *ac)
{
	struct auth_conn **pp;

	if (--ac->refs > 0)
		return;
	for (pp = &ac->svc->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ac) {
			*pp = ac->next;
			break;
		}
	}
	free(ac);
}

static void
send_frame(struct auth_conn *ac)
{
	struct auth_service *svc = ac->svc;

	if (msg_finish(&svc->frame) == -1) {
		log_err("event=ipc-error reason=frame-too-big");
		return;
	}
	if (ac->bev != NULL)
		bufferevent_write(ac->bev, svc->frame.data, svc->frame.len);
}

static void
send_mechs(struct auth_conn *ac)
{
	struct auth_service *svc = ac->svc;
	size_t i;

	msg_begin(&svc->frame, PROTO_MECHS);
	msg_put_u32(&svc->frame, (uint32_t)svc->nmechs);
	for (i = 0; i < svc->nmechs; i++) {
		msg_put_str(&svc->frame, svc->mechs[i]->name);
		msg_put_u32(&svc->frame, svc->mechs[i]->flags);
	}
	send_frame(ac);
}

/* compute_mechs - configured ∩ implemented ∩ what the passdb can serve. */
static void
compute_mechs(struct auth_service *svc)
{
	char list[sizeof(svc->cfg->mechanisms)];
	char *tok, *save = NULL;
	unsigned int caps = svc->db->driver->caps;

	svc->nmechs = 0;
	str_copy(list, svc->cfg->mechanisms, sizeof(list));
	for (tok = strtok_r(list, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		const struct sasl_mech *m = sasl_mech_find(tok);

		if (m == NULL) {
			log_warn("event=mechanism-off mech=%s "
			         "reason=not-implemented",
			    tok);
			continue;
		}
		if (m->need == SASL_NEED_CREDENTIALS &&
		    !(caps & PASSDB_CAN_LOOKUP)) {
			log_warn("event=mechanism-off mech=%s reason=passdb "
			         "cannot return stored credentials",
			    m->name);
			continue;
		}
		if ((m == &sasl_mech_oauthbearer || m == &sasl_mech_xoauth2) &&
		    (svc->oauth == NULL || !oauth_configured(svc->cfg))) {
			log_warn(
			    "event=mechanism-off mech=%s reason=no [oauth] "
			    "jwks or introspection_url",
			    m->name);
			continue;
		}
		if (m->need == SASL_NEED_VERIFY &&
		    !(caps & PASSDB_CAN_VERIFY)) {
			log_warn("event=mechanism-off mech=%s reason=passdb "
			         "cannot verify passwords",
			    m->name);
			continue;
		}
		if (svc->nmechs < MAX_MECHS)
			svc->mechs[svc->nmechs++] = m;
	}
}

/* ---------- exchanges ---------- */

static size_t
xch_bucket(uint64_t xid)
{
	return (size_t)((xid * 0x9E3779B97F4A7C15ULL) >> 54) % XCH_BUCKETS;
}

static struct auth_xch *
xch_find(struct auth_conn *ac, uint64_t xid)
{
	struct auth_xch *e;

	for (e = ac->xs[xch_bucket(xid)]; e != NULL; e = e->next)
		if (e->xid == xid && !e->cancelled)
			return e;
	return NULL;
}

static void
xch_unlink(struct auth_xch *e)
{
	struct auth_xch **pp = &e->ac->xs[xch_bucket(e->xid)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			return;
		}
	}
}

/* xch_free - drop e unless a passdb call still points at it. */
static void
xch_free(struct auth_xch *e)
{
	struct auth_conn *ac = e->ac;

	if (e->delay != NULL) {
		event_free(e->delay);
		e->delay = NULL;
	}
	if (e->busy) {
		e->cancelled = 1; /* freed when the answer arrives */
		return;
	}
	xch_unlink(e);
	sasl_exchange_free(e->x);
	buf_free(&e->out);
	free(e);
	ac_unref(ac);
}

static void
send_result(struct auth_xch *e, enum proto_verdict v, const void *data,
    size_t len, const char *user, const char *reason)
{
	struct auth_service *svc = e->ac->svc;

	msg_begin(&svc->frame, PROTO_AUTH_RESULT);
	msg_put_u64(&svc->frame, e->xid);
	msg_put_u8(&svc->frame, (uint8_t)v);
	msg_put_blob(&svc->frame, data, len);
	msg_put_str(&svc->frame, user);
	msg_put_str(&svc->frame, reason);
	send_frame(e->ac);
}

static const char *
error_reason(enum sasl_error e)
{
	switch (e) {
	case SASL_ERR_CREDENTIALS:
		return "credentials";
	case SASL_ERR_MALFORMED:
		return "malformed";
	case SASL_ERR_AUTHZ:
		return "authzid-not-allowed";
	case SASL_ERR_DISABLED:
		return "disabled";
	case SASL_ERR_MUST_CHANGE:
		return "must-change";
	case SASL_ERR_NO_SCHEME:
		return "no-credentials-for-mechanism";
	case SASL_ERR_CHANBIND:
		return "channel-binding";
	case SASL_ERR_TEMP:
		return "backend";
	default:
		return "other";
	}
}

static enum proto_verdict
error_verdict(enum sasl_error e)
{
	switch (e) {
	case SASL_ERR_MALFORMED:
		return PROTO_V_MALFORMED;
	case SASL_ERR_MUST_CHANGE:
		return PROTO_V_MUST_CHANGE;
	case SASL_ERR_NO_SCHEME:
		return PROTO_V_NO_SCHEME;
	case SASL_ERR_TEMP:
		return PROTO_V_TEMPFAIL;
	default:
		/* Unknown user, wrong password, disabled, authzid: one answer. */
		return PROTO_V_FAIL;
	}
}

static void
audit(struct auth_xch *e, const char *result, const char *reason)
{
	char uq[300];
	struct sasl_exchange *x = e->x;

	/* the audit line (README "Audit log"): one per AUTH attempt */
	log_info("session=%s event=auth result=%s mech=%s login=%s client=%s "
	         "listener=%s tls=%s reason=%s delay_ms=%u",
	    e->session, result, x->mech->name,
	    log_q(
	        uq, sizeof(uq), x->user[0] ? x->user : x->authcid, (size_t)-1),
	    x->conn.client_addr, e->listener[0] ? e->listener : "-",
	    x->conn.tls ? x->conn.tls_version : "no", reason, e->delay_ms);
}

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_xch *e = arg;

	(void)fd;
	(void)what;
	send_result(
	    e, e->delayed_verdict, NULL, 0, "", error_reason(e->x->error));
	xch_free(e);
}

static void passdb_answer(const struct cred_result *r, void *arg);

/* keep_profile - what the session must obey if r's credential logs it in. */
static void
keep_profile(struct auth_xch *e, const struct cred_result *r)
{
	e->have_cred = 0;
	e->cred_tls_floor = 0;
	memset(&e->cred, 0, sizeof(e->cred));
	if (r->status != PASSDB_OK || !(r->flags & CRED_APP_PASSWORD))
		return;
	e->have_cred = 1;
	e->cred_tls_floor = r->tls_floor > 0 ? r->tls_floor : 0;
	str_copy(e->cred.credential,
	    r->credential != NULL ? r->credential : "-",
	    sizeof(e->cred.credential));
	if (r->fixed_sender != NULL)
		str_copy(e->cred.fixed_sender, r->fixed_sender,
		    sizeof(e->cred.fixed_sender));
	e->cred.rate_cap = r->rate_cap;
}

/*
 * session_login - a login succeeds: check the TLS floor and remember the
 * credential's profile for the session's MAIL and DATA checks. 0 = go on;
 * -1 with x->error/x->reason set (refused) or *tempfail_r set.
 */
static int
session_login(struct auth_xch *e, int *tempfail_r)
{
	struct auth_service *svc = e->ac->svc;
	struct sasl_exchange *x = e->x;

	*tempfail_r = 0;
	/* Below [tls] min_version (a legacy_tls listener): only a
	 * credential granted the relaxed floor may log in. */
	if (x->conn.tls &&
	    !credsess_tls_allowed(x->conn.tls_version,
	        svc->cfg->tls_min_version,
	        e->have_cred ? e->cred_tls_floor : 0)) {
		x->error = SASL_ERR_DISABLED;
		x->reason = "tls-floor";
		return -1;
	}
	if (!e->have_cred ||
	    (e->cred.fixed_sender[0] == '\0' && e->cred.rate_cap == 0)) {
		credsess_del(svc->sess, e->ac, e->session);
		return 0;
	}
	if (credsess_put(svc->sess, e->ac, e->session, &e->cred,
	        (int64_t)time(NULL)) == -1) {
		log_warn("session=%s event=credential-sessions-full max=%d",
		    e->session, CREDSESS_MAX);
		*tempfail_r = 1;
		return -1;
	}
	return 0;
}

/* handle_status - act on what a mechanism step returned. */
static void
handle_status(struct auth_xch *e, enum sasl_status st)
{
	struct auth_service *svc = e->ac->svc;
	struct sasl_exchange *x = e->x;
	int tempfail;

	switch (st) {
	case SASL_CONTINUE:
		send_result(
		    e, PROTO_V_CONTINUE, e->out.data, e->out.len, "", "");
		return;
	case SASL_PENDING:
		/* e holds a reference on its connection; it is not freed
		 * while busy, so the answer always finds it. */
		e->busy = 1;
		if (x->pending == SASL_PENDING_VERIFY) {
			/* the context lets passdb_stack.c check credential
			 * networks and upgrade to SCRAM after PLAIN over TLS */
			struct passdb_request req = {
			    .user = x->authcid,
			    .password = x->password,
			    .client_addr = x->conn.client_addr,
			    .mech = x->mech->name,
			    .tls = x->conn.tls,
			};

			/* the guard compares attempts, not passwords */
			if (svc->guard != NULL && x->password != NULL) {
				guard_svc_hash(svc->guard, x->authcid,
				    x->password->data, x->password->len,
				    e->attempt);
				e->have_attempt = 1;
			}

			passdb_verify_req(svc->db, &req, passdb_answer, e);
		} else if (x->pending == SASL_PENDING_TOKEN &&
		    svc->oauth != NULL) {
			/* a stale token retried counts once, like a password */
			if (svc->guard != NULL && x->password != NULL) {
				guard_svc_hash(svc->guard, x->authcid,
				    x->password->data, x->password->len,
				    e->attempt);
				e->have_attempt = 1;
			}
			oauth_validate(
			    svc->oauth, x->password, passdb_answer, e);
		} else if (x->pending == SASL_PENDING_CERT)
			certmap_resolve(svc->db, svc->cfg->external_map,
			    x->conn.cert_identity, x->authzid, passdb_answer,
			    e);
		else if (x->pending == SASL_PENDING_CREDENTIALS)
			passdb_lookup(svc->db, x->authcid, x->pending_scheme,
			    passdb_answer, e);
		else {
			struct cred_result tf = {.status = PASSDB_TEMPFAIL};

			if (passdb_reply_later(svc->db, &tf, passdb_answer, e) <
			    0)
				e->busy = 0;
		}
		return;
	case SASL_OK:
		if (svc->guard != NULL &&
		    guard_svc_suspended(svc->guard, x->user)) {
			/* compromised-account containment: a 535 like any */
			x->error = SASL_ERR_DISABLED;
			x->reason = "contained";
			break;
		}
		if (session_login(e, &tempfail) == -1) {
			if (!tempfail)
				break;
			svc->tempfailed++;
			audit(e, "tempfail", "credential-sessions");
			send_result(e, PROTO_V_TEMPFAIL, NULL, 0, "",
			    "credential-sessions");
			xch_free(e);
			return;
		}
		svc->ok++;
		audit(e, "ok", "-");
		send_result(
		    e, PROTO_V_OK, e->out.data, e->out.len, x->user, "");
		if (e->out.len > 0) {
			e->final_ok = 1; /* wait for the client's empty line */
			return;
		}
		xch_free(e);
		return;
	case SASL_TEMPFAIL:
		svc->tempfailed++;
		audit(e, "tempfail", error_reason(x->error));
		send_result(
		    e, PROTO_V_TEMPFAIL, NULL, 0, "", error_reason(x->error));
		xch_free(e);
		return;
	case SASL_FAIL:
	default:
		break;
	}
	svc->failed++;
	e->delayed_verdict = error_verdict(x->error);
	e->delay_ms = svc->cfg->failure_delay_ms;
	if (e->delayed_verdict == PROTO_V_FAIL &&
	    x->error == SASL_ERR_CREDENTIALS && svc->guard != NULL) {
		int counted;

		/* a guess: counted per address and account, tarpitted */
		if (!e->have_attempt)
			guard_svc_hash(
			    svc->guard, x->authcid, NULL, 0, e->attempt);
		e->delay_ms = guard_svc_failure(svc->guard, e->session,
		    x->conn.client_addr, x->user[0] ? x->user : x->authcid,
		    e->attempt, &counted);
	}
	audit(
	    e, "fail", x->reason != NULL ? x->reason : error_reason(x->error));
	if (e->delayed_verdict == PROTO_V_FAIL && e->delay_ms > 0) {
		unsigned int ms = e->delay_ms;
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		e->delay = evtimer_new(svc->base, delay_cb, e);
		if (e->delay != NULL && evtimer_add(e->delay, &tv) == 0)
			return;
	}
	delay_cb(-1, 0, e);
}

static void
passdb_answer(const struct cred_result *r, void *arg)
{
	struct auth_xch *e = arg;
	struct auth_conn *ac = e->ac;
	enum sasl_status st;

	e->busy = 0;
	if (e->cancelled || ac->bev == NULL) {
		e->cancelled = 0;
		xch_free(e);
		return;
	}
	keep_profile(e, r);
	buf_reset(&e->out);
	st = sasl_exchange_resume(e->x, r, &e->out);
	handle_status(e, st);
}

static void
on_auth_start(struct auth_conn *ac, struct msg_reader *r)
{
	struct auth_service *svc = ac->svc;
	struct sasl_conn_info info;
	struct auth_xch *e;
	const struct sasl_mech *m = NULL;
	char mech[64];
	const unsigned char *ir, *u, *x;
	size_t irlen = 0, ulen = 0, xlen = 0, i;
	uint8_t has_ir, tls;
	uint64_t xid;
	struct bytes in;
	char session[20], listener[64];

	memset(&info, 0, sizeof(info));
	xid = msg_get_u64(r);
	msg_get_str(r, session, sizeof(session));
	msg_get_str(r, mech, sizeof(mech));
	has_ir = msg_get_u8(r);
	ir = msg_get_blob(r, &irlen);
	msg_get_str(r, info.client_addr, sizeof(info.client_addr));
	tls = msg_get_u8(r);
	msg_get_str(r, info.tls_version, sizeof(info.tls_version));
	u = msg_get_blob(r, &ulen);
	x = msg_get_blob(r, &xlen);
	msg_get_str(r, info.cert_identity, sizeof(info.cert_identity));
	info.plus_advertised = msg_get_u8(r);
	msg_get_str(r, listener, sizeof(listener));
	if (msg_end(r) == -1 || ulen > sizeof(info.cb_unique) ||
	    xlen > sizeof(info.cb_exporter)) {
		log_err("event=ipc-error type=auth-start reason=malformed");
		return;
	}
	info.tls = tls ? 1 : 0;
	memcpy(info.cb_unique, u, ulen);
	info.cb_unique_len = ulen;
	memcpy(info.cb_exporter, x, xlen);
	info.cb_exporter_len = xlen;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	e->ac = ac;
	ac->refs++;
	e->xid = xid;
	str_copy(e->session, session, sizeof(e->session));
	str_copy(e->listener, listener, sizeof(e->listener));
	buf_init(&e->out, 16384);
	{
		size_t b = xch_bucket(xid);

		e->next = ac->xs[b];
		ac->xs[b] = e;
	}
	if (svc->guard != NULL &&
	    guard_svc_banned(svc->guard, info.client_addr)) {
		char mq[100];

		log_info(
		    "session=%s event=auth result=banned mech=%s client=%s "
		    "listener=%s delay_ms=0",
		    session, log_q(mq, sizeof(mq), mech, (size_t)-1),
		    info.client_addr, listener);
		send_result(e, PROTO_V_BANNED, NULL, 0, "", "banned");
		xch_free(e);
		return;
	}
	for (i = 0; i < svc->nmechs; i++)
		if (str_ieq(svc->mechs[i]->name, mech))
			m = svc->mechs[i];
	if (m == NULL) {
		send_result(
		    e, PROTO_V_NOMECH, NULL, 0, "", "no-such-mechanism");
		xch_free(e);
		return;
	}
	e->x = sasl_exchange_new(m, &info, svc->cfg->allow_authzid);
	if (e->x == NULL) {
		send_result(e, PROTO_V_TEMPFAIL, NULL, 0, "", "no-memory");
		xch_free(e);
		return;
	}
	in.data = ir;
	in.len = irlen;
	handle_status(
	    e, sasl_exchange_step(e->x, has_ir ? &in : NULL, &e->out));
}

static void
on_auth_step(struct auth_conn *ac, struct msg_reader *r)
{
	struct auth_xch *e;
	const unsigned char *p;
	size_t n = 0;
	uint64_t xid;
	struct bytes in;

	xid = msg_get_u64(r);
	p = msg_get_blob(r, &n);
	if (msg_end(r) == -1) {
		log_err("event=ipc-error type=auth-step reason=malformed");
		return;
	}
	e = xch_find(ac, xid);
	if (e == NULL || e->busy || e->delay != NULL)
		return; /* stale or out of turn: the worker gave up already */
	if (e->final_ok) {
		/* The client acknowledged the final server data. */
		if (n == 0)
			send_result(e, PROTO_V_OK, NULL, 0, e->x->user, "");
		else
			send_result(e, PROTO_V_MALFORMED, NULL, 0, "",
			    "data-after-final");
		xch_free(e);
		return;
	}
	in.data = p;
	in.len = n;
	buf_reset(&e->out);
	handle_status(e, sasl_exchange_step(e->x, &in, &e->out));
}

static void
on_auth_cancel(struct auth_conn *ac, struct msg_reader *r)
{
	struct auth_xch *e;
	uint64_t xid = msg_get_u64(r);

	if (msg_end(r) == -1)
		return;
	e = xch_find(ac, xid);
	if (e != NULL)
		xch_free(e);
}

static void
rcpt_answer(const struct cred_result *r, void *arg)
{
	struct rcpt_req *q = arg;
	struct auth_conn *ac = q->ac;
	struct auth_service *svc = ac->svc;
	enum proto_rcpt st;

	switch (r->status) {
	case PASSDB_OK:
	case PASSDB_DISABLED:
		st = PROTO_RCPT_FOUND;
		break;
	case PASSDB_TEMPFAIL:
		st = PROTO_RCPT_TEMPFAIL;
		break;
	default:
		st = PROTO_RCPT_NOT_FOUND;
		break;
	}
	if (ac->bev != NULL) {
		msg_begin(&svc->frame, PROTO_RCPT_RESULT);
		msg_put_u64(&svc->frame, q->xid);
		msg_put_u8(&svc->frame, (uint8_t)st);
		msg_put_str(&svc->frame,
		    st == PROTO_RCPT_FOUND && r->user ? r->user : "");
		send_frame(ac);
	}
	free(q);
	ac_unref(ac);
}

static void
on_rcpt_lookup(struct auth_conn *ac, struct msg_reader *r)
{
	struct rcpt_req *q;
	char address[ADDR_PATH_MAX + 1];

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return;
	q->xid = msg_get_u64(r);
	msg_get_str(r, q->session, sizeof(q->session));
	msg_get_str(r, address, sizeof(address));
	if (msg_end(r) == -1) {
		log_err("event=ipc-error type=rcpt-lookup reason=malformed");
		free(q);
		return;
	}
	q->ac = ac;
	ac->refs++;
	passdb_exists(ac->svc->db, address, rcpt_answer, q);
}

/* ---------- sending policy and bans (auth/guard_svc.c) ---------- */

struct policy_req {
	struct auth_conn *ac;
	uint64_t xid;
	int data;
};

static void
policy_answer(void *arg, enum proto_policy v, uint32_t budget, int notify,
    const char *text)
{
	struct policy_req *q = arg;
	struct auth_conn *ac = q->ac;
	struct auth_service *svc = ac->svc;

	if (ac->bev != NULL) {
		msg_begin(&svc->frame,
		    q->data ? PROTO_DATA_RESULT : PROTO_MAIL_RESULT);
		msg_put_u64(&svc->frame, q->xid);
		msg_put_u8(&svc->frame, (uint8_t)v);
		if (q->data)
			msg_put_u8(&svc->frame, (uint8_t)(notify ? 1 : 0));
		else
			msg_put_u32(&svc->frame, budget);
		msg_put_str(&svc->frame, text);
		send_frame(ac);
	}
	free(q);
	ac_unref(ac);
}

/* on_policy - PROTO_MAIL_CHECK (data = 0) or PROTO_DATA_CHECK (data = 1). */
static void
on_policy(struct auth_conn *ac, struct msg_reader *r, int data)
{
	struct guard_svc_req *req = calloc(1, sizeof(*req));
	struct policy_req *q = calloc(1, sizeof(*q));
	uint32_t n = 0, i;

	if (req == NULL || q == NULL)
		goto out;
	q->xid = msg_get_u64(r);
	q->data = data;
	msg_get_str(r, req->session, sizeof(req->session));
	if (data) {
		msg_get_str(r, req->queue_id, sizeof(req->queue_id));
		msg_get_str(r, req->login, sizeof(req->login));
		msg_get_str(r, req->client, sizeof(req->client));
		msg_get_str(r, req->mail_from, sizeof(req->mail_from));
		req->nrcpts = msg_get_u32(r);
		req->size = msg_get_u64(r);
		req->header = msg_get_u8(r);
		n = msg_get_u32(r);
		if (n > sizeof(req->addrs) / sizeof(req->addrs[0]))
			r->err = 1;
		for (i = 0; i < n && !r->err; i++) {
			req->addrs[i].sender = msg_get_u8(r) != 0;
			msg_get_str(
			    r, req->addrs[i].addr, sizeof(req->addrs[i].addr));
		}
		req->naddrs = n;
	} else {
		msg_get_str(r, req->login, sizeof(req->login));
		msg_get_str(r, req->mail_from, sizeof(req->mail_from));
		req->size = msg_get_u64(r);
		msg_get_str(r, req->client, sizeof(req->client));
		msg_get_str(r, req->listener, sizeof(req->listener));
	}
	if (msg_end(r) == -1 || req->header >= PROTO_H_MAX ||
	    req->login[0] == '\0' || ac->svc->guard == NULL) {
		log_err("event=ipc-error type=%s reason=malformed",
		    data ? "data-check" : "mail-check");
		goto out;
	}
	{
		const struct credsess_profile *cp = credsess_get(
		    ac->svc->sess, ac, req->session, (int64_t)time(NULL));

		if (cp != NULL) {
			str_copy(req->credential, cp->credential,
			    sizeof(req->credential));
			str_copy(req->fixed_sender, cp->fixed_sender,
			    sizeof(req->fixed_sender));
			req->cred_rate_cap = cp->rate_cap;
		}
	}
	q->ac = ac;
	ac->refs++;
	if (data)
		guard_svc_data(ac->svc->guard, req, policy_answer, q);
	else
		guard_svc_mail(ac->svc->guard, req, policy_answer, q);
	free(req);
	return;
out:
	free(req);
	free(q);
}

/* on_session_end - the worker closed a session: forget its credential. */
static void
on_session_end(struct auth_conn *ac, struct msg_reader *r)
{
	char session[20];

	msg_get_str(r, session, sizeof(session));
	if (msg_end(r) == -1) {
		log_err("event=ipc-error type=session-end reason=malformed");
		return;
	}
	credsess_del(ac->svc->sess, ac, session);
}

static void
send_ban(struct auth_conn *ac, int set, const struct guard_ban *b)
{
	struct auth_service *svc = ac->svc;

	msg_begin(&svc->frame, set ? PROTO_BAN_SET : PROTO_BAN_CLEAR);
	msg_put_str(&svc->frame, b->key);
	if (set)
		msg_put_u64(&svc->frame, (uint64_t)b->until);
	send_frame(ac);
}

/* broadcast_ban - a ban set or lifted: every worker's list follows. */
static void
broadcast_ban(void *arg, int set, const struct guard_ban *b)
{
	struct auth_service *svc = arg;
	struct auth_conn *ac;

	for (ac = svc->conns; ac != NULL; ac = ac->next)
		if (ac->bev != NULL)
			send_ban(ac, set, b);
}

/* send_all_bans - the whole list, to a worker that just connected. */
static void
send_all_bans(struct auth_conn *ac)
{
	struct guard_ban *v;
	size_t n, i;

	if (ac->svc->guard == NULL)
		return;
	v = calloc(4096, sizeof(*v));
	if (v == NULL)
		return;
	n = guard_svc_bans(ac->svc->guard, v, 4096);
	for (i = 0; i < n; i++)
		send_ban(ac, 1, &v[i]);
	free(v);
}

static void
conn_gone(struct auth_conn *ac)
{
	size_t i;
	struct auth_xch *e, *next;

	if (ac->bev == NULL)
		return;
	bufferevent_free(ac->bev);
	ac->bev = NULL;
	credsess_drop_conn(ac->svc->sess, ac);
	/* The connection's own reference keeps ac alive through the loop. */
	for (i = 0; i < XCH_BUCKETS; i++) {
		for (e = ac->xs[i]; e != NULL; e = next) {
			next = e->next;
			if (!e->cancelled)
				xch_free(e);
		}
	}
	ac_unref(ac); /* the connection's own reference */
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct auth_conn *ac = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (ac->bev != NULL) {
		unsigned char hdr[MSG_HDR_LEN], *p;
		size_t avail = evbuffer_get_length(in);
		long flen;
		struct msg_reader r;

		if (avail < MSG_HDR_LEN)
			return;
		evbuffer_copyout(in, hdr, MSG_HDR_LEN);
		flen = msg_frame_len(hdr, MSG_HDR_LEN);
		if (flen < 0) {
			log_err("event=ipc-error reason=bad-frame-length");
			conn_gone(ac);
			return;
		}
		if (flen == 0 || avail < (size_t)flen)
			return;
		p = evbuffer_pullup(in, flen);
		if (p == NULL || msg_reader_init(&r, p, (size_t)flen) == -1) {
			conn_gone(ac);
			return;
		}
		switch (r.type) {
		case PROTO_AUTH_START:
			on_auth_start(ac, &r);
			break;
		case PROTO_AUTH_STEP:
			on_auth_step(ac, &r);
			break;
		case PROTO_AUTH_CANCEL:
			on_auth_cancel(ac, &r);
			break;
		case PROTO_RCPT_LOOKUP:
			on_rcpt_lookup(ac, &r);
			break;
		case PROTO_MAIL_CHECK:
			on_policy(ac, &r, 0);
			break;
		case PROTO_DATA_CHECK:
			on_policy(ac, &r, 1);
			break;
		case PROTO_SESSION_END:
			on_session_end(ac, &r);
			break;
		default:
			log_err("event=ipc-error reason=unknown-type type=%u",
			    (unsigned int)r.type);
			break;
		}
		/* Wipe what may have held a password before dropping it. */
		secret_wipe(p, (size_t)flen);
		if (ac->bev == NULL)
			return;
		evbuffer_drain(in, (size_t)flen);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn_gone(arg);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct auth_service *svc = arg;
	struct auth_conn *ac;
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	(void)l;
	(void)sa;
	(void)salen;
	/* Only our own processes may ask: same uid as this service. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1 ||
	    cred.uid != getuid()) {
		log_warn("event=ipc-refused reason=peer-uid");
		close(fd);
		return;
	}
	ac = calloc(1, sizeof(*ac));
	if (ac == NULL) {
		close(fd);
		return;
	}
	ac->svc = svc;
	ac->refs = 1;
	ac->bev = bufferevent_socket_new(svc->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (ac->bev == NULL) {
		close(fd);
		free(ac);
		return;
	}
	ac->next = svc->conns;
	svc->conns = ac;
	bufferevent_setcb(ac->bev, read_cb, NULL, event_cb, ac);
	bufferevent_enable(ac->bev, EV_READ | EV_WRITE);
	send_all_bans(
	    ac); /* first: the worker starts accepting on PROTO_MECHS */
	send_mechs(ac);
}

static void
reload(struct auth_service *svc)
{
	struct config *nc = calloc(1, sizeof(*nc));
	char err[4096];
	struct auth_conn *ac;

	if (nc == NULL)
		return;
	if (config_load(svc->cfg->path, nc, err, sizeof(err)) == -1) {
		log_err("event=reload result=failed error=%s", err);
		free(nc);
		return;
	}
	if (passdb_reload(svc->db, err, sizeof(err)) == -1)
		log_err("event=reload passdb=failed error=%s", err);
	if (passdb_configure(svc->db, nc, err, sizeof(err)) == -1)
		log_err("event=reload passdb=failed error=%s", err);
	if (svc->oauth != NULL && oauth_configured(nc)) {
		if (oauth_reload(svc->oauth, nc, err, sizeof(err)) == -1)
			log_err("event=reload oauth=failed error=%s", err);
	} else if (svc->oauth == NULL && oauth_configured(nc)) {
		svc->oauth = oauth_new(
		    nc, svc->base, svc->pool, svc->db, err, sizeof(err));
		if (svc->oauth == NULL)
			log_err("event=reload oauth=failed error=%s", err);
	}
	free(svc->cfg);
	svc->cfg = nc;
	if (svc->guard != NULL)
		guard_svc_reload(svc->guard, nc);
	log_set_level((enum log_level)nc->log_level);
	compute_mechs(svc);
	auth_mech_setup(nc);
	for (ac = svc->conns; ac != NULL; ac = ac->next)
		if (ac->bev != NULL)
			send_mechs(ac);
	log_info("event=reload result=ok auth_ok=%lu auth_failed=%lu", svc->ok,
	    svc->failed);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct auth_service *svc = arg;

	(void)what;
	if (sig == SIGHUP)
		reload(svc);
	else
		event_base_loopexit(svc->base, NULL);
}

int
auth_service_main(struct config *cfg, int listen_fd)
{
	struct auth_service *svc;
	char err[1024];
	struct event *sigs[3];
	static const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
	size_t i;

	log_init("auth", (enum log_level)cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	svc = calloc(1, sizeof(*svc));
	if (svc == NULL)
		fatal("out of memory");
	the_service = svc;
	svc->cfg = cfg;
	buf_init(&svc->frame, MSG_FRAME_MAX + MSG_HDR_LEN);
	svc->base = event_base_new();
	if (svc->base == NULL)
		fatal("event_base_new failed");
	svc->sess = credsess_new(CREDSESS_MAX, CREDSESS_IDLE_S);
	if (svc->sess == NULL)
		fatal("out of memory");
	svc->pool = workpool_new(svc->base, cfg->auth_threads, 4096);
	if (svc->pool == NULL)
		fatal("cannot start the auth thread pool");
	svc->db =
	    passdb_open_config(cfg, svc->base, svc->pool, err, sizeof(err));
	if (svc->db == NULL)
		/* Not the argument: a pgsql conninfo may hold a password. */
		fatal("passdb %s: %s", cfg->passdb_driver, err);
	if (oauth_configured(cfg)) {
		svc->oauth = oauth_new(
		    cfg, svc->base, svc->pool, svc->db, err, sizeof(err));
		if (svc->oauth == NULL)
			fatal("[oauth]: %s", err);
	}
	svc->guard = guard_svc_new(
	    svc->base, cfg, svc->db, broadcast_ban, svc, err, sizeof(err));
	if (svc->guard == NULL)
		fatal("[guard]: %s", err);
	compute_mechs(svc);
	auth_mech_setup(
	    cfg); /* SCRAM iterations and fake-user key, CRAM-MD5 host */
	svc->listener = evconnlistener_new(svc->base, accept_cb, svc,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (svc->listener == NULL)
		fatal("cannot listen for workers");
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(svc->base, signums[i], signal_cb, svc);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatal("cannot install signal handlers");
	}
	log_info("event=started passdb=%s mechanisms=%zu", cfg->passdb_driver,
	    svc->nmechs);
	event_base_dispatch(svc->base);
	log_info("event=stopped auth_ok=%lu auth_failed=%lu auth_tempfail=%lu",
	    svc->ok, svc->failed, svc->tempfailed);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	evconnlistener_free(svc->listener);
	while (svc->conns != NULL) {
		struct auth_conn *ac = svc->conns;

		if (ac->bev == NULL) {
			/* only pending passdb answers hold it */
			svc->conns = ac->next;
			continue;
		}
		conn_gone(ac);
	}
	workpool_free(svc->pool);
	guard_svc_free(svc->guard); /* writes the counters one last time */
	oauth_free(
	    svc->oauth); /* after the pool: introspection answers use it */
	passdb_close(svc->db);
	credsess_free(svc->sess);
	buf_free(&svc->frame);
	event_base_free(svc->base);
	free(svc->cfg);
	free(svc);
	return 0;
}
