/*
 * guard_svc.c - the guard and the sending policy inside the auth service
 * (see guard_svc.h). A one-second tick ends bans (logged: the ban's end),
 * writes counters in batches, and applies what `postern guard` asked for
 * in the database. All log lines are key=value and never hold a password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "auth/guard_redis.h"
#include "auth/guard_store.h"
#include "auth/guard_svc.h"
#include "auth/passdb.h"
#include "auth/ratelimit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "policy/sender.h"

#define TICK_S      1
#define FLUSH_EVERY 5 /* ticks between counter writes */
#define EXPIRED_MAX 256
#define SYNC_MAX    4096

struct guard_svc {
	struct event_base *base;
	const struct config *cfg;
	struct passdb *db;
	struct guard *guard;
	struct ratelimit *rl;
	struct rl_config rlc;
	struct guard_store *store;
	struct guard_redis *redis;
	struct sender_map *map;
	struct event *tick;
	unsigned int ticks;
	guard_svc_broadcast *bc;
	void *bc_arg;
	/* logins whose containment notice is still to be written */
	char notice[64][256];
	size_t nnotice;
};

struct pending {
	struct guard_svc *g;
	struct guard_svc_req req;
	int data; /* after DATA (else MAIL FROM) */
	guard_svc_cb *cb;
	void *arg;
};

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static const char *
iso(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
	return out;
}

static void
to_guard_config(const struct config *c, struct guard_config *gc)
{
	memset(gc, 0, sizeof(*gc));
	gc->enabled = c->guard_enabled;
	gc->max_failures = c->guard_max_failures;
	gc->ban_after = c->guard_ban_after;
	gc->ban_time_s = c->guard_ban_time_ms / 1000;
	gc->window_s = c->guard_window_ms / 1000;
	gc->base_delay_ms = c->failure_delay_ms;
	gc->delay_base_ms = c->guard_delay_base_ms;
	gc->delay_max_ms = c->guard_delay_max_ms;
	str_copy(gc->allow, c->guard_allow_networks, sizeof(gc->allow));
}

static void
to_rl_config(const struct config *c, struct rl_config *r)
{
	r->messages_per_hour = c->messages_per_hour;
	r->recipients_per_day = c->recipients_per_day;
	r->message_window_s =
	    c->message_window_ms / 1000 ? c->message_window_ms / 1000 : 1;
	r->recipient_window_s =
	    c->recipient_window_ms / 1000 ? c->recipient_window_ms / 1000 : 1;
	r->hard_cap_factor = c->hard_cap_factor;
}

/* ---- bans ---- */

/* announce - a ban set or lifted: to the workers, and to Redis unless from it. */
static void
announce(
    struct guard_svc *g, int set, const struct guard_ban *b, int from_redis)
{
	g->bc(g->bc_arg, set, b);
	if (from_redis)
		return;
	if (set)
		guard_redis_ban(g->redis, b);
	else
		guard_redis_unban(g->redis, b->key);
}

static void
ban_added(struct guard_svc *g, const struct guard_ban *b, int from_redis)
{
	char t[32];

	if (g->store != NULL && guard_store_put_ban(g->store, b) == -1)
		log_warn("event=guard-store-error op=put-ban key=%s", b->key);
	log_info("event=ban client=%s until=%s reason=%s", b->key,
	    iso(b->until, t, sizeof(t)), b->reason);
	announce(g, 1, b, from_redis);
}

static void
ban_lifted(
    struct guard_svc *g, const char *key, const char *why, int from_redis)
{
	struct guard_ban b;

	memset(&b, 0, sizeof(b));
	str_copy(b.key, key, sizeof(b.key));
	if (g->store != NULL) {
		guard_store_del_ban(g->store, key);
		guard_store_del_counter(g->store, GUARD_ADDR, key);
	}
	log_info("event=unban client=%s reason=%s", key, why);
	announce(g, 0, &b, from_redis);
}

static void
redis_cb(void *arg, int set, const struct guard_ban *b)
{
	struct guard_svc *g = arg;

	if (set) {
		if (b->until > now_s() &&
		    guard_ban_set(g->guard, b->key, b->until, b->reason))
			ban_added(g, b, 1);
	} else if (guard_ban_clear(g->guard, b->key)) {
		ban_lifted(g, b->key, "shared", 1);
	}
}

/* ---- persistence ---- */

static void
load_state(struct guard_svc *g)
{
	struct guard_ban *bans = calloc(SYNC_MAX, sizeof(*bans));
	struct guard_counter *cs = calloc(SYNC_MAX, sizeof(*cs));
	struct guard_contained *cc = calloc(SYNC_MAX, sizeof(*cc));
	int64_t now = now_s();
	long n, i;

	if (bans == NULL || cs == NULL || cc == NULL)
		goto out;
	n = guard_store_bans(g->store, bans, SYNC_MAX);
	for (i = 0; i < n; i++)
		if (bans[i].until > now)
			guard_ban_set(g->guard, bans[i].key, bans[i].until,
			    bans[i].reason);
	if (n > 0)
		log_info("event=guard-loaded bans=%zu", guard_nbans(g->guard));
	n = guard_store_counters(g->store, cs, SYNC_MAX);
	for (i = 0; i < n; i++)
		guard_counter_restore(g->guard, &cs[i], now);
	n = guard_store_contained(g->store, cc, SYNC_MAX);
	for (i = 0; i < n; i++)
		rl_contain(g->rl, cc[i].login, now);
	(void)guard_dirty(g->guard);
out:
	free(bans);
	free(cs);
	free(cc);
}

static void
flush_counters(struct guard_svc *g)
{
	struct guard_counter *cs;
	size_t n;

	if (g->store == NULL || !guard_dirty(g->guard))
		return;
	cs = calloc(SYNC_MAX, sizeof(*cs));
	if (cs == NULL)
		return;
	n = guard_counters(g->guard, cs, SYNC_MAX);
	if (guard_store_save_counters(g->store, cs, n) == -1)
		log_warn("event=guard-store-error op=save-counters");
	free(cs);
}

/* apply_requests - what `postern guard unban` left in the database. */
static void
apply_requests(struct guard_svc *g)
{
	char args[64][GUARD_LOGIN_MAX];
	long n, i;

	n = guard_store_take_requests(g->store, args, 64);
	for (i = 0; i < n; i++) {
		const char *a = args[i];
		char key[RELAY_KEY_MAX];
		int done = 0;

		if (relay_addr_key(a, key, sizeof(key)) == 0 ||
		    (strchr(a, '/') != NULL &&
		        str_copy(key, a, sizeof(key)) < sizeof(key))) {
			if (guard_ban_clear(g->guard, key))
				done = 1;
			ban_lifted(g, key, "operator", 0);
		}
		if (rl_release(g->rl, a)) {
			log_info("event=released login=%s reason=operator", a);
			done = 1;
		}
		if (!done)
			log_info("event=unban arg=%s result=nothing-to-do", a);
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard_svc *g = arg;
	struct guard_ban ended[EXPIRED_MAX];
	size_t n, i;

	(void)fd;
	(void)what;
	n = guard_expire(g->guard, now_s(), ended, EXPIRED_MAX);
	for (i = 0; i < n; i++)
		ban_lifted(g, ended[i].key, "expired", 0);
	if (++g->ticks % FLUSH_EVERY == 0) {
		flush_counters(g);
		rl_expire(g->rl, &g->rlc, now_s());
	}
	if (g->store != NULL && guard_store_changed(g->store))
		apply_requests(g);
}

/* ---- set-up ---- */

static void
open_map(struct guard_svc *g, const struct config *cfg)
{
	char err[512];
	struct sender_map *m = NULL;

	if (cfg->sender_login[0] != '\0') {
		m = sender_map_load(cfg->sender_login, err, sizeof(err));
		if (m == NULL) {
			log_err("event=sender-map-error path=%s error=\"%s\" "
			        "(old map kept)",
			    cfg->sender_login, err);
			return;
		}
		log_info("event=sender-map-loaded path=%s entries=%zu",
		    cfg->sender_login, sender_map_size(m));
	}
	sender_map_free(g->map);
	g->map = m;
}

struct guard_svc *
guard_svc_new(struct event_base *base, const struct config *cfg,
    struct passdb *db, guard_svc_broadcast *bc, void *bc_arg, char *err,
    size_t errlen)
{
	struct guard_svc *g = calloc(1, sizeof(*g));
	struct guard_config gc;
	struct timeval tv = {TICK_S, 0};
	char path[4096];

	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->base = base;
	g->cfg = cfg;
	g->db = db;
	g->bc = bc;
	g->bc_arg = bc_arg;
	to_guard_config(cfg, &gc);
	to_rl_config(cfg, &g->rlc);
	g->guard = guard_new(&gc);
	g->rl = rl_new();
	if (g->guard == NULL || g->rl == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (guard_store_path(
	        cfg->guard_state, cfg->spool, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "guard state path too long");
		goto fail;
	}
	g->store = guard_store_open(path, err, errlen);
	if (g->store == NULL)
		goto fail;
	load_state(g);
	apply_requests(g);
	open_map(g, cfg);
	if (cfg->guard_redis[0] != '\0') {
		g->redis = guard_redis_new(
		    base, cfg->guard_redis, redis_cb, g, err, errlen);
		if (g->redis == NULL)
			goto fail;
	}
	g->tick = event_new(base, -1, EV_PERSIST, tick_cb, g);
	if (g->tick == NULL || event_add(g->tick, &tv) == -1) {
		snprintf(err, errlen, "cannot start the guard timer");
		goto fail;
	}
	log_info("event=guard-started enabled=%s max_failures=%u ban_after=%u "
	         "ban_time=%us state=%s redis=%s",
	    gc.enabled ? "yes" : "no", gc.max_failures, gc.ban_after,
	    gc.ban_time_s, path, cfg->guard_redis[0] ? cfg->guard_redis : "-");
	return g;
fail:
	guard_svc_free(g);
	return NULL;
}

void
guard_svc_free(struct guard_svc *g)
{
	if (g == NULL)
		return;
	if (g->tick != NULL)
		event_free(g->tick);
	if (g->store != NULL)
		flush_counters(g);
	guard_redis_free(g->redis);
	guard_store_close(g->store);
	sender_map_free(g->map);
	guard_free(g->guard);
	rl_free(g->rl);
	free(g);
}

void
guard_svc_reload(struct guard_svc *g, const struct config *cfg)
{
	struct guard_config gc;

	g->cfg = cfg;
	to_guard_config(cfg, &gc);
	guard_configure(g->guard, &gc);
	to_rl_config(cfg, &g->rlc);
	open_map(g, cfg);
}

size_t
guard_svc_bans(struct guard_svc *g, struct guard_ban *out, size_t max)
{
	return guard_bans(g->guard, out, max);
}

int
guard_svc_banned(struct guard_svc *g, const char *addr)
{
	return guard_banned(g->guard, addr, now_s(), NULL);
}

void
guard_svc_hash(struct guard_svc *g, const char *login, const void *pw,
    size_t pwlen, unsigned char out[GUARD_HASH_LEN])
{
	guard_attempt_hash(g->guard, login, pw, pwlen, out);
}

unsigned int
guard_svc_failure(struct guard_svc *g, const char *session, const char *addr,
    const char *login, const unsigned char hash[GUARD_HASH_LEN], int *counted_r)
{
	struct guard_verdict v;

	guard_failure(g->guard, addr, login, hash, now_s(), &v);
	*counted_r = v.counted;
	if (v.delay_ms > g->cfg->failure_delay_ms)
		log_info("session=%s event=tarpit client=%s failures=%u "
		         "account_failures=%u delay_ms=%u",
		    session, addr, v.addr_failures, v.account_failures,
		    v.delay_ms);
	if (v.banned)
		ban_added(g, &v.ban, 0);
	return v.delay_ms;
}

int
guard_svc_suspended(struct guard_svc *g, const char *login)
{
	return g->cfg->contain_suspend && rl_contained(g->rl, login);
}

/* ---- policy ---- */

static void
notice_add(struct guard_svc *g, const char *login)
{
	if (g->nnotice < sizeof(g->notice) / sizeof(g->notice[0]))
		str_copy(g->notice[g->nnotice++], login, sizeof(g->notice[0]));
}

/* notice_take - 1 (and forgotten) if login's notice is due. */
static int
notice_take(struct guard_svc *g, const char *login)
{
	size_t i;

	for (i = 0; i < g->nnotice; i++) {
		if (str_ieq(g->notice[i], login)) {
			g->notice[i][0] = '\0';
			memmove(g->notice[i], g->notice[i + 1],
			    (g->nnotice - i - 1) * sizeof(g->notice[0]));
			g->nnotice--;
			return 1;
		}
	}
	return 0;
}

static void
contained(struct guard_svc *g, const struct guard_svc_req *q, const char *why)
{
	struct guard_contained c;
	char lq[300];

	memset(&c, 0, sizeof(c));
	str_copy(c.login, q->login, sizeof(c.login));
	c.since = now_s();
	str_copy(c.reason, why, sizeof(c.reason));
	if (g->store != NULL && guard_store_put_contained(g->store, &c) == -1)
		log_warn("event=guard-store-error op=put-contained");
	log_warn("session=%s event=contained login=%s client=%s reason=%s "
	         "action=hold",
	    q->session, log_q(lq, sizeof(lq), q->login, (size_t)-1), q->client,
	    why);
	notice_add(g, q->login);
}

/*
 * owned - sender check of one address; logs a mismatch (check = what for
 * the log, label for the reply). 1 = go on.
 */
static int
owned(struct guard_svc *g, const struct guard_svc_req *q,
    const char *const *senders, const char *what, const char *label,
    const char *address, char *text, size_t textlen)
{
	enum sender_via via;
	char lq[300], aq[600];
	int strict = g->cfg->sender_check == CONFIG_SENDER_STRICT;

	if (g->cfg->sender_check == CONFIG_SENDER_OFF)
		return 1;
	via = sender_check(
	    q->login, senders, g->map, g->cfg->allow_null_sender, address);
	if (via != SENDER_DENIED) {
		if (via == SENDER_VIA_MAP || via == SENDER_VIA_DOMAIN)
			log_info("session=%s event=sender check=%s login=%s "
			         "address=%s via=%s",
			    q->session, what,
			    log_q(lq, sizeof(lq), q->login, (size_t)-1),
			    log_q(aq, sizeof(aq), address, (size_t)-1),
			    sender_via_name(via));
		return 1;
	}
	log_info("session=%s event=sender-mismatch check=%s login=%s "
	         "address=%s client=%s action=%s",
	    q->session, what, log_q(lq, sizeof(lq), q->login, (size_t)-1),
	    log_q(aq, sizeof(aq), address[0] ? address : "<>", (size_t)-1),
	    q->client, strict ? "refused" : "warned");
	if (!strict)
		return 1;
	if (address[0] == '\0')
		snprintf(text, textlen,
		    "Null sender <> not allowed for "
		    "authenticated submission");
	else
		snprintf(text, textlen,
		    "%s address <%.200s> not owned by "
		    "user %.200s",
		    label, address, q->login);
	return 0;
}

/*
 * fixed_ok - the credential's fixed sender (if any) against one address;
 * enforced whatever [policy] sender_check says: the operator pinned it.
 * 1 = go on; 0 with the reply text in text.
 */
static int
fixed_ok(const struct guard_svc_req *q, const char *what, const char *label,
    const char *address, char *text, size_t textlen)
{
	const char *one[2];
	char lq[300], aq[600], cq[200];

	if (q->fixed_sender[0] == '\0')
		return 1;
	one[0] = q->fixed_sender;
	one[1] = NULL;
	if (sender_check(NULL, one, NULL, 0, address) != SENDER_DENIED)
		return 1;
	log_info("session=%s event=sender-mismatch check=%s login=%s "
	         "credential=%s address=%s client=%s reason=fixed-sender "
	         "action=refused",
	    q->session, what, log_q(lq, sizeof(lq), q->login, (size_t)-1),
	    log_q(cq, sizeof(cq), q->credential, (size_t)-1),
	    log_q(aq, sizeof(aq), address[0] ? address : "<>", (size_t)-1),
	    q->client);
	if (address[0] == '\0')
		snprintf(text, textlen,
		    "Null sender <> not allowed for credential %.64s of "
		    "user %.200s",
		    q->credential, q->login);
	else
		snprintf(text, textlen,
		    "%.16s address <%.180s> not allowed for credential %.64s "
		    "of user %.180s",
		    label, address, q->credential, q->login);
	return 0;
}

/* cred_key - the rate counter of q's credential: login and label, apart from the login's own. */
static void
cred_key(const struct guard_svc_req *q, char *key, size_t keylen)
{
	/* \x1f: no login holds it, so no login's counter is shared; a
	 * login near RL_LOGIN_MAX long shares it among its credentials */
	if (snprintf(key, keylen, "%s\x1f%s", q->login, q->credential) >=
	    (int)keylen)
		key[keylen - 1] = '\0';
}

/* cred_rl_config - the windows of g, without containment: that is the login's. */
static void
cred_rl_config(const struct guard_svc *g, struct rl_config *c)
{
	*c = g->rlc;
	c->hard_cap_factor = 0;
}

/* cred_mail_ok - a MAIL attempt against the credential's own cap; 0 = over (text set). */
static int
cred_mail_ok(struct guard_svc *g, const struct guard_svc_req *q, char *text,
    size_t textlen)
{
	struct rl_config cc;
	struct rl_limits lim = {q->cred_rate_cap, 0};
	char key[RL_LOGIN_MAX], lq[300], cq[200];
	uint32_t budget;
	int newly;

	if (q->credential[0] == '\0' || q->cred_rate_cap == 0)
		return 1;
	cred_rl_config(g, &cc);
	cred_key(q, key, sizeof(key));
	if (rl_mail(g->rl, &cc, &lim, key, now_s(), &budget, &newly) !=
	    RL_OVER_MESSAGES)
		return 1;
	log_info("session=%s event=limit login=%s credential=%s "
	         "reason=messages limit=%u",
	    q->session, log_q(lq, sizeof(lq), q->login, (size_t)-1),
	    log_q(cq, sizeof(cq), q->credential, (size_t)-1), q->cred_rate_cap);
	snprintf(text, textlen,
	    "Too many messages from credential %.64s of %.200s (limit %u per "
	    "%us), try again later",
	    q->credential, q->login, q->cred_rate_cap, cc.message_window_s);
	return 0;
}

static void
decide_mail(struct guard_svc *g, const struct guard_svc_req *q,
    const struct cred_result *r, guard_svc_cb *cb, void *arg)
{
	struct rl_limits lim;
	char text[512];
	uint32_t budget;
	int newly;
	enum rl_verdict v;

	if (!fixed_ok(
	        q, "mail-from", "Sender", q->mail_from, text, sizeof(text)) ||
	    !owned(g, q, r->senders, "mail-from", "Sender", q->mail_from, text,
	        sizeof(text))) {
		cb(arg, PROTO_P_REFUSE, 0, 0, text);
		return;
	}
	lim.messages = r->rate_cap > 0 ? r->rate_cap : g->rlc.messages_per_hour;
	lim.recipients =
	    r->rcpt_cap > 0 ? r->rcpt_cap : g->rlc.recipients_per_day;
	v = rl_mail(g->rl, &g->rlc, &lim, q->login, now_s(), &budget, &newly);
	if (newly)
		contained(g, q, "hard-cap-messages");
	switch (v) {
	case RL_CONTAINED:
		cb(arg, PROTO_P_HOLD, budget, 0, "");
		return;
	case RL_OVER_MESSAGES: {
		char lq[300];

		log_info("session=%s event=limit login=%s reason=messages "
		         "limit=%u",
		    q->session, log_q(lq, sizeof(lq), q->login, (size_t)-1),
		    lim.messages);
		snprintf(text, sizeof(text),
		    "Too many messages from %.200s (limit %u per %us), try "
		    "again later",
		    q->login, lim.messages, g->rlc.message_window_s);
		cb(arg, PROTO_P_LIMIT, 0, 0, text);
		return;
	}
	case RL_OVER_RECIPIENTS: {
		char lq[300];

		log_info("session=%s event=limit login=%s reason=recipients "
		         "limit=%u",
		    q->session, log_q(lq, sizeof(lq), q->login, (size_t)-1),
		    lim.recipients);
		snprintf(text, sizeof(text),
		    "Too many recipients from %.200s (limit %u per %us), try "
		    "again later",
		    q->login, lim.recipients, g->rlc.recipient_window_s);
		cb(arg, PROTO_P_LIMIT, 0, 0, text);
		return;
	}
	case RL_OK:
	default:
		/* the credential's own cap, in addition to the login's */
		if (!cred_mail_ok(g, q, text, sizeof(text))) {
			cb(arg, PROTO_P_LIMIT, 0, 0, text);
			return;
		}
		cb(arg, PROTO_P_OK, budget, 0, "");
		return;
	}
}

static void
decide_data(struct guard_svc *g, const struct guard_svc_req *q,
    const struct cred_result *r, guard_svc_cb *cb, void *arg)
{
	struct rl_limits lim;
	char text[512];
	size_t i;
	int newly;

	if (g->cfg->sender_check != CONFIG_SENDER_OFF &&
	    q->header != PROTO_H_OK) {
		int strict = g->cfg->sender_check == CONFIG_SENDER_STRICT;

		log_info("session=%s event=sender-mismatch check=header "
		         "reason=%s action=%s",
		    q->session,
		    q->header == PROTO_H_TOO_BIG ? "header-too-big"
		                                 : "unparsable-from",
		    strict ? "refused" : "warned");
		if (strict) {
			cb(arg, PROTO_P_REFUSE, 0, 0,
			    q->header == PROTO_H_TOO_BIG
			        ? "Header section too large to check the sender"
			        : "From: or Sender: header could not be "
			          "parsed");
			return;
		}
	}
	if (q->fixed_sender[0] != '\0' && q->header != PROTO_H_OK) {
		/* a pinned sender that cannot be checked is not allowed */
		log_info("session=%s event=sender-mismatch check=header "
		         "reason=fixed-sender-unchecked action=refused",
		    q->session);
		cb(arg, PROTO_P_REFUSE, 0, 0,
		    "From: or Sender: header could not be checked against "
		    "the credential's sender");
		return;
	}
	for (i = 0; i < q->naddrs; i++) {
		if (!fixed_ok(q,
		        q->addrs[i].sender ? "header-sender" : "header-from",
		        q->addrs[i].sender ? "Sender:" : "From:",
		        q->addrs[i].addr, text, sizeof(text))) {
			cb(arg, PROTO_P_REFUSE, 0, 0, text);
			return;
		}
		if (!owned(g, q, r->senders,
		        q->addrs[i].sender ? "header-sender" : "header-from",
		        q->addrs[i].sender ? "Sender:" : "From:",
		        q->addrs[i].addr, text, sizeof(text))) {
			cb(arg, PROTO_P_REFUSE, 0, 0, text);
			return;
		}
	}
	lim.messages = r->rate_cap > 0 ? r->rate_cap : g->rlc.messages_per_hour;
	lim.recipients =
	    r->rcpt_cap > 0 ? r->rcpt_cap : g->rlc.recipients_per_day;
	if (q->credential[0] != '\0' && q->cred_rate_cap > 0) {
		struct rl_config cc;
		struct rl_limits cl = {q->cred_rate_cap, 0};
		char key[RL_LOGIN_MAX];
		int cnewly;

		/* count the message against the credential's own cap too */
		cred_rl_config(g, &cc);
		cred_key(q, key, sizeof(key));
		(void)rl_accept(
		    g->rl, &cc, &cl, key, q->nrcpts, now_s(), &cnewly);
	}
	if (rl_accept(g->rl, &g->rlc, &lim, q->login, q->nrcpts, now_s(),
	        &newly) == RL_CONTAINED) {
		if (newly)
			contained(g, q, "hard-cap-recipients");
		cb(arg, PROTO_P_HOLD, 0, notice_take(g, q->login), "");
		return;
	}
	cb(arg, PROTO_P_OK, 0, 0, "");
}

static void
user_answer(const struct cred_result *r, void *arg)
{
	struct pending *p = arg;

	if (r->status == PASSDB_TEMPFAIL) {
		p->cb(p->arg, PROTO_P_TEMPFAIL, 0, 0,
		    "Sender check unavailable, try again later");
	} else if (p->data) {
		decide_data(p->g, &p->req, r, p->cb, p->arg);
	} else {
		decide_mail(p->g, &p->req, r, p->cb, p->arg);
	}
	free(p);
}

static void
ask(struct guard_svc *g, const struct guard_svc_req *req, int data,
    guard_svc_cb *cb, void *arg)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		cb(arg, PROTO_P_TEMPFAIL, 0, 0, "");
		return;
	}
	p->g = g;
	p->req = *req;
	p->data = data;
	p->cb = cb;
	p->arg = arg;
	/* the login's aliases, domains and grants (and its own limits) */
	passdb_exists(g->db, req->login, user_answer, p);
}

void
guard_svc_mail(struct guard_svc *g, const struct guard_svc_req *req,
    guard_svc_cb *cb, void *arg)
{
	ask(g, req, 0, cb, arg);
}

void
guard_svc_data(struct guard_svc *g, const struct guard_svc_req *req,
    guard_svc_cb *cb, void *arg)
{
	ask(g, req, 1, cb, arg);
}
