/*
 * passdb_stack.c - what the auth service puts around its drivers: several
 * passdbs chained (the first that knows the user answers), the backend
 * timeout (a job that does not answer in time gets PASSDB_TEMPFAIL and its
 * late answer is dropped), the auth cache (cache.h) with invalidation when
 * a file backend changes, app-password network profiles, and the upgrades
 * at login: after a successful PLAIN/LOGIN over TLS a writable backend
 * gets SCRAM-SHA-256 keys and a hash of the current default scheme.
 * Loop thread only; hashing runs on the work pool.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "auth/apppass.h"
#include "auth/cache.h"
#include "auth/passdb.h"
#include "auth/scheme.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"
#include "net/workpool.h"

#define CHAIN_MAX        8
#define STATS_INTERVAL_S 300
#define STORED_MAX       512

/* ---------- file watch: flush the cache when the users change ---------- */

struct passdb_watch {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int ok;
};

static void
watch_stat(struct passdb_watch *w)
{
	struct stat sb;

	if (stat(w->path, &sb) < 0) {
		w->ok = 0;
		return;
	}
	w->ok = 1;
	w->dev = sb.st_dev;
	w->ino = sb.st_ino;
	w->size = sb.st_size;
	w->mtime = sb.st_mtim;
}

/* watch_changed - 1 when the file differs from the last look (then re-based). */
static int
watch_changed(struct passdb_watch *w)
{
	struct passdb_watch old = *w;

	watch_stat(w);
	return old.ok != w->ok ||
	    (w->ok &&
	        (old.dev != w->dev || old.ino != w->ino ||
	            old.size != w->size ||
	            old.mtime.tv_sec != w->mtime.tv_sec ||
	            old.mtime.tv_nsec != w->mtime.tv_nsec));
}

static void
watch_attach(struct passdb *db, const char *path)
{
	struct passdb_watch *w;

	if (path == NULL || path[0] != '/')
		return;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return;
	(void)str_copy(w->path, path, sizeof(w->path));
	watch_stat(w);
	db->watch = w;
}

void
passdb_watch_rebase(struct passdb *db)
{
	if (db != NULL && db->watch != NULL)
		watch_stat(db->watch);
}

/* ---------- the chain driver ---------- */

struct chain_priv {
	struct passdb *subs[CHAIN_MAX];
	size_t n;
	struct passdb_driver drv; /* this instance's driver: its caps */
};

struct chain_call {
	struct passdb *db;
	size_t i;
	int kind; /* 0 verify, 1 lookup, 2 exists, 3 update */
	passdb_cb *cb;
	void *arg;
	char *user;
	char *scheme;
	char *client_addr;
	char *mech;
	char *hash, *scram;
	int tls;
	struct secret *password;
};

static void
chain_call_free(struct chain_call *c)
{
	free(c->user);
	free(c->scheme);
	free(c->client_addr);
	free(c->mech);
	if (c->hash != NULL) {
		secret_wipe(c->hash, strlen(c->hash));
		free(c->hash);
	}
	if (c->scram != NULL) {
		secret_wipe(c->scram, strlen(c->scram));
		free(c->scram);
	}
	secret_free(c->password);
	free(c);
}

static void chain_next(struct chain_call *c);

static void
chain_answer(const struct cred_result *r, void *arg)
{
	struct chain_call *c = arg;
	struct chain_priv *cp = c->db->priv;

	if (r->status == PASSDB_NO_USER && c->i + 1 < cp->n) {
		c->i++;
		chain_next(c);
		return;
	}
	c->cb(r, c->arg);
	chain_call_free(c);
}

/* chain_usable - can subs[i] serve this kind of call? */
static int
chain_usable(const struct chain_call *c, const struct passdb *sub)
{
	switch (c->kind) {
	case 0:
		return (sub->driver->caps & PASSDB_CAN_VERIFY) != 0;
	case 1:
		return (sub->driver->caps & PASSDB_CAN_LOOKUP) != 0;
	case 2:
		return sub->driver->exists != NULL;
	default:
		return sub->driver->update != NULL;
	}
}

static void
chain_next(struct chain_call *c)
{
	struct chain_priv *cp = c->db->priv;
	struct passdb *sub;
	struct passdb_request req;
	struct cred_result r;

	while (c->i < cp->n && !chain_usable(c, cp->subs[c->i]))
		c->i++;
	if (c->i >= cp->n) {
		memset(&r, 0, sizeof(r));
		r.status = PASSDB_NO_USER;
		r.user = c->user;
		if (passdb_reply_later(c->db, &r, c->cb, c->arg) < 0)
			log_err("passdb: cannot schedule a reply; request "
			        "dropped");
		chain_call_free(c);
		return;
	}
	sub = cp->subs[c->i];
	switch (c->kind) {
	case 0:
		memset(&req, 0, sizeof(req));
		req.user = c->user;
		req.password = c->password;
		req.client_addr = c->client_addr;
		req.mech = c->mech;
		req.tls = c->tls;
		if (sub->driver->verify_req != NULL)
			sub->driver->verify_req(sub, &req, chain_answer, c);
		else
			sub->driver->verify(
			    sub, c->user, c->password, chain_answer, c);
		return;
	case 1:
		sub->driver->lookup(sub, c->user, c->scheme, chain_answer, c);
		return;
	case 2:
		sub->driver->exists(sub, c->user, chain_answer, c);
		return;
	default:
		sub->driver->update(
		    sub, c->user, c->hash, c->scram, chain_answer, c);
		return;
	}
}

static struct chain_call *
chain_call_new(
    struct passdb *db, int kind, const char *user, passdb_cb *cb, void *arg)
{
	struct chain_call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->db = db;
	c->kind = kind;
	c->cb = cb;
	c->arg = arg;
	c->user = strdup(user != NULL ? user : "");
	if (c->user == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
chain_fail(struct passdb *db, struct chain_call *c, const char *user,
    passdb_cb *cb, void *arg)
{
	struct cred_result r;

	if (c != NULL)
		chain_call_free(c);
	memset(&r, 0, sizeof(r));
	r.status = PASSDB_TEMPFAIL;
	r.user = user;
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err("passdb: cannot schedule a reply; request dropped");
}

static char *
dup_opt(const char *s, int *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*fail = 1;
	return d;
}

static void
chain_verify_req(struct passdb *db, const struct passdb_request *req,
    passdb_cb *cb, void *arg)
{
	struct chain_call *c = chain_call_new(db, 0, req->user, cb, arg);
	int fail = c == NULL;

	if (!fail) {
		c->client_addr = dup_opt(req->client_addr, &fail);
		c->mech = dup_opt(req->mech, &fail);
		c->tls = req->tls;
		c->password = req->password != NULL
		    ? secret_new(req->password->data, req->password->len)
		    : secret_new("", 0);
		fail |= c->password == NULL;
	}
	if (fail) {
		chain_fail(db, c, req->user, cb, arg);
		return;
	}
	chain_next(c);
}

static void
chain_verify(struct passdb *db, const char *user, const struct secret *password,
    passdb_cb *cb, void *arg)
{
	struct passdb_request req;

	memset(&req, 0, sizeof(req));
	req.user = user;
	req.password = password;
	chain_verify_req(db, &req, cb, arg);
}

static void
chain_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg)
{
	struct chain_call *c = chain_call_new(db, 1, user, cb, arg);
	int fail = c == NULL;

	if (!fail)
		c->scheme = dup_opt(scheme, &fail);
	if (fail) {
		chain_fail(db, c, user, cb, arg);
		return;
	}
	chain_next(c);
}

static void
chain_exists(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	struct chain_call *c = chain_call_new(db, 2, user, cb, arg);

	if (c == NULL) {
		chain_fail(db, c, user, cb, arg);
		return;
	}
	chain_next(c);
}

static void
chain_update(struct passdb *db, const char *user, const char *hash,
    const char *scram, passdb_cb *cb, void *arg)
{
	struct chain_call *c = chain_call_new(db, 3, user, cb, arg);
	int fail = c == NULL;

	if (!fail) {
		c->hash = dup_opt(hash, &fail);
		c->scram = dup_opt(scram, &fail);
	}
	if (fail) {
		chain_fail(db, c, user, cb, arg);
		return;
	}
	chain_next(c);
}

static void
chain_apppass_used(struct passdb *db, const char *user, const char *label)
{
	struct chain_priv *cp = db->priv;
	size_t i;

	/* only the backend holding (user, label) has a row to update */
	for (i = 0; i < cp->n; i++)
		if (cp->subs[i]->driver->apppass_used != NULL)
			cp->subs[i]->driver->apppass_used(
			    cp->subs[i], user, label);
}

static int
chain_reload(struct passdb *db, char *err, size_t errlen)
{
	struct chain_priv *cp = db->priv;
	size_t i;
	int rc = 0;

	for (i = 0; i < cp->n; i++)
		if (passdb_reload(cp->subs[i], err, errlen) < 0)
			rc = -1;
	return rc;
}

static void
chain_close(struct passdb *db)
{
	struct chain_priv *cp = db->priv;
	size_t i;

	if (cp == NULL)
		return;
	for (i = 0; i < cp->n; i++)
		passdb_close(cp->subs[i]);
	db->priv = NULL;
	db->driver = &passdb_driver_chain;
	free(cp);
}

static int
chain_open(struct passdb *db, const char *arg, char *err, size_t errlen)
{
	(void)db;
	(void)arg;
	(void)snprintf(err, errlen,
	    "chain: list several passdbs in [auth] passdb instead");
	return -1;
}

const struct passdb_driver passdb_driver_chain = {
    .name = "chain",
    .caps = PASSDB_CAN_LOOKUP | PASSDB_CAN_VERIFY,
    .open = chain_open,
    .lookup = chain_lookup,
    .verify = chain_verify,
    .verify_req = chain_verify_req,
    .exists = chain_exists,
    .reload = chain_reload,
    .close = chain_close,
    .update = chain_update,
    .apppass_used = chain_apppass_used,
};

/* any_changed - did a watched file of db (or of its chain) change? */
static int
any_changed(struct passdb *db)
{
	struct chain_priv *cp;
	size_t i;
	int changed = 0;

	if (db->watch != NULL && watch_changed(db->watch))
		changed = 1;
	if (db->driver == NULL || db->priv == NULL ||
	    db->driver->open != chain_open)
		return changed;
	cp = db->priv;
	for (i = 0; i < cp->n; i++)
		if (cp->subs[i]->watch != NULL &&
		    watch_changed(cp->subs[i]->watch))
			changed = 1;
	return changed;
}

/* ---------- the backend timeout ---------- */

struct guard {
	struct passdb *db;
	passdb_cb *cb;
	void *arg;
	struct event *timer;
	int timed_out;
};

static void
guard_answer(const struct cred_result *r, void *arg)
{
	struct guard *g = arg;

	if (g->timed_out) {
		free(g); /* the caller had its TEMPFAIL already */
		return;
	}
	event_free(g->timer);
	g->cb(r, g->arg);
	free(g);
}

static void
guard_fire(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;
	struct cred_result r;

	(void)fd;
	(void)what;
	g->timed_out = 1;
	event_free(g->timer);
	g->timer = NULL;
	g->db->ntimeouts++;
	log_warn("event=passdb-timeout passdb=%s timeout_ms=%u",
	    g->db->driver->name, g->db->timeout_ms);
	memset(&r, 0, sizeof(r));
	r.status = PASSDB_TEMPFAIL;
	g->cb(&r, g->arg);
}

void
passdb_guard(struct passdb *db, passdb_cb **cb, void **arg)
{
	struct guard *g;
	struct timeval tv;

	if (db->timeout_ms == 0)
		return;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return; /* unguarded rather than unanswered */
	g->db = db;
	g->cb = *cb;
	g->arg = *arg;
	g->timer = evtimer_new(db->base, guard_fire, g);
	tv.tv_sec = db->timeout_ms / 1000;
	tv.tv_usec = (long)(db->timeout_ms % 1000) * 1000;
	if (g->timer == NULL || evtimer_add(g->timer, &tv) != 0) {
		if (g->timer != NULL)
			event_free(g->timer);
		free(g);
		return;
	}
	*cb = guard_answer;
	*arg = g;
}

/* ---------- verification with cache, profiles and upgrades ---------- */

struct vcall {
	struct passdb *db;
	passdb_cb *cb;
	void *arg;
	unsigned char key[AUTH_CACHE_KEY_LEN];
	int cached; /* key valid and a cache present */
	char user[256];
	char client_addr[64];
	struct secret *password; /* kept only when an upgrade may follow */
};

struct upgrade {
	struct upgrade *next; /* db->upgrading */
	struct passdb *db;
	char user[256];
	struct secret *password;
	int want_scram;
	char want_scheme[32]; /* "" = no rehash */
	char hash[STORED_MAX];
	char scram[STORED_MAX];
	int failed;
	time_t done_at; /* 0 while in flight */
};

/*
 * An upgrade stays listed UPGRADE_QUIET seconds after it ends: a login
 * that verified against the old hash just before the new one was stored
 * must not start another.
 */
#define UPGRADE_QUIET 10

static void
upgrade_unlink_free(struct upgrade *u)
{
	struct upgrade **pp;

	for (pp = &u->db->upgrading; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	secret_free(u->password);
	secret_wipe(u, sizeof(*u));
	free(u);
}

/* upgrade_free - the upgrade ended: forget the password, keep the login listed a while. */
static void
upgrade_free(struct upgrade *u)
{
	secret_free(u->password);
	u->password = NULL;
	secret_wipe(u->hash, sizeof(u->hash));
	secret_wipe(u->scram, sizeof(u->scram));
	u->done_at = time(NULL);
	if (u->done_at == 0)
		u->done_at = 1;
}

/* upgrades_expire - drop the ended upgrades older than UPGRADE_QUIET (all with force). */
static void
upgrades_expire(struct passdb *db, int force)
{
	time_t now = time(NULL);
	struct upgrade *u, *next;

	for (u = db->upgrading; u != NULL; u = next) {
		next = u->next;
		if (u->done_at != 0 &&
		    (force || now - u->done_at >= UPGRADE_QUIET))
			upgrade_unlink_free(u);
	}
}

static void
upgrade_work(void *arg)
{
	struct upgrade *u = arg;

	/* "{SCRAM-SHA-256}i,salt,StoredKey,ServerKey" with the configured
	 * iterations (scheme_scram.c); the backend stores it without "{..}" */
	if (u->want_scram) {
		const char *data = NULL;
		char rec[STORED_MAX];

		if (pw_hash("SCRAM-SHA-256", u->password, rec, sizeof(rec)) <
		        0 ||
		    pw_split(rec, &data) == NULL || data == NULL)
			u->failed = 1;
		else
			(void)str_copy(u->scram, data, sizeof(u->scram));
		secret_wipe(rec, sizeof(rec));
	}
	if (u->want_scheme[0] != '\0' &&
	    pw_hash(u->want_scheme, u->password, u->hash, sizeof(u->hash)) < 0)
		u->failed = 1;
	secret_free(u->password);
	u->password = NULL;
}

static void
upgrade_stored(const struct cred_result *r, void *arg)
{
	struct upgrade *u = arg;
	char q[300];

	if (r->status == PASSDB_OK) {
		u->db->nupgrades++;
		log_info("event=credential-upgrade login=%s scram-sha-256=%s "
		         "rehash=%s",
		    log_q(q, sizeof(q), u->user, (size_t)-1),
		    u->scram[0] != '\0' ? "stored" : "kept",
		    u->hash[0] != '\0' ? u->want_scheme : "no");
	} else
		log_warn("event=credential-upgrade login=%s result=failed",
		    log_q(q, sizeof(q), u->user, (size_t)-1));
	upgrade_free(u);
}

static void
upgrade_done(void *arg)
{
	struct upgrade *u = arg;
	struct passdb *db = u->db;

	if (u->failed || db->driver->update == NULL) {
		log_warn("event=credential-upgrade result=failed "
		         "reason=derivation");
		upgrade_free(u);
		return;
	}
	db->driver->update(db, u->user, u->hash[0] != '\0' ? u->hash : NULL,
	    u->scram[0] != '\0' ? u->scram : NULL, upgrade_stored, u);
}

/* maybe_upgrade - after a fresh OK for the main password: SCRAM keys, rehash. */
static void
maybe_upgrade(struct vcall *v, const struct cred_result *r)
{
	struct passdb *db = v->db;
	const struct pw_scheme *cur = pw_scheme_find(db->default_scheme);
	struct upgrade *u;
	int want_scram, want_hash;

	if (v->password == NULL || r->status != PASSDB_OK ||
	    (r->flags & (CRED_APP_PASSWORD | CRED_CACHED)) ||
	    !(r->flags & CRED_WRITABLE) || db->driver->update == NULL)
		return;
	want_scram = db->migrate_scram && (r->flags & CRED_NO_SCRAM);
	want_hash = db->rehash && cur != NULL &&
	    (cur->flags & PW_CAN_GENERATE) && r->scheme != NULL &&
	    !str_ieq(r->scheme, cur->name);
	if (!want_scram && !want_hash)
		return;
	/* concurrent first logins of one user: one upgrade is enough */
	upgrades_expire(db, 0);
	for (u = db->upgrading; u != NULL; u = u->next)
		if (strcmp(u->user, r->user != NULL ? r->user : v->user) == 0)
			return;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return;
	u->db = db;
	u->next = db->upgrading;
	db->upgrading = u;
	(void)str_copy(
	    u->user, r->user != NULL ? r->user : v->user, sizeof(u->user));
	u->want_scram = want_scram;
	if (want_hash)
		(void)str_copy(
		    u->want_scheme, cur->name, sizeof(u->want_scheme));
	u->password = v->password;
	v->password = NULL;
	if (workpool_submit(db->pool, upgrade_work, upgrade_done, u) < 0)
		upgrade_free(u);
}

static void
vcall_free(struct vcall *v)
{
	secret_free(v->password);
	secret_wipe(v, sizeof(*v));
	free(v);
}

/* apply_profile - r2 = r, refused when the credential's networks exclude the client. */
static void
apply_profile(struct passdb *db, const struct cred_result *r,
    const char *client_addr, struct cred_result *r2)
{
	char q[300];

	*r2 = *r;
	if (r->status != PASSDB_OK || !(r->flags & CRED_APP_PASSWORD) ||
	    apppass_network_ok(r->networks, client_addr))
		return;
	log_info("event=credential-refused login=%s credential=%s client=%s "
	         "reason=network",
	    log_q(q, sizeof(q), r->user != NULL ? r->user : "", (size_t)-1),
	    r->credential != NULL ? r->credential : "-", client_addr);
	(void)db;
	r2->status = PASSDB_MISMATCH;
	r2->flags &= ~(unsigned int)CRED_APP_PASSWORD;
	r2->credential = NULL;
	r2->networks = NULL;
	r2->fixed_sender = NULL;
	r2->senders = NULL;
}

static void
vcall_answer(const struct cred_result *r, void *arg)
{
	struct vcall *v = arg;
	struct passdb *db = v->db;
	struct cred_result r2;

	if (v->cached && db->cache != NULL)
		(void)auth_cache_put(db->cache, v->key, r);
	apply_profile(db, r, v->client_addr, &r2);
	v->cb(&r2, v->arg);
	if (r2.status == PASSDB_OK && (r2.flags & CRED_APP_PASSWORD) &&
	    db->driver->apppass_used != NULL)
		db->driver->apppass_used(db, r2.user, r2.credential);
	maybe_upgrade(v, &r2);
	vcall_free(v);
}

void
passdb_verify_req(struct passdb *db, const struct passdb_request *req,
    passdb_cb *cb, void *arg)
{
	static const struct secret empty = {(unsigned char *)(uintptr_t) "", 0};
	const struct secret *pw =
	    req->password != NULL ? req->password : &empty;
	struct passdb_request r = *req;
	struct cred_result hit, r2;
	struct vcall *v;
	passdb_cb *gcb;
	void *garg;
	int upgradable;

	r.password = pw;
	if (r.client_addr == NULL)
		r.client_addr = "";
	if (!(db->driver->caps & PASSDB_CAN_VERIFY) ||
	    (db->driver->verify == NULL && db->driver->verify_req == NULL)) {
		memset(&r2, 0, sizeof(r2));
		r2.status = PASSDB_TEMPFAIL;
		r2.user = r.user;
		if (passdb_reply_later(db, &r2, cb, arg) < 0)
			log_err("passdb: cannot schedule a reply");
		return;
	}
	if (any_changed(db)) {
		char err[256];

		/* Re-read before answering: a driver that checks its file at
		 * most once a second would otherwise verify against the old
		 * users and the cache would keep that old verdict. */
		if (db->driver->reload != NULL &&
		    db->driver->reload(db, err, sizeof(err)) == -1)
			log_warn(
			    "event=passdb-reload result=failed error=%s", err);
		if (db->cache != NULL) {
			auth_cache_flush(db->cache);
			log_info("event=auth-cache-flush reason=users-changed");
		}
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		memset(&r2, 0, sizeof(r2));
		r2.status = PASSDB_TEMPFAIL;
		r2.user = r.user;
		if (passdb_reply_later(db, &r2, cb, arg) < 0)
			log_err("passdb: cannot schedule a reply");
		return;
	}
	v->db = db;
	v->cb = cb;
	v->arg = arg;
	(void)str_copy(v->user, r.user != NULL ? r.user : "", sizeof(v->user));
	(void)str_copy(v->client_addr, r.client_addr, sizeof(v->client_addr));
	if (db->cache != NULL) {
		auth_cache_key(db->cache, r.user, pw, v->key);
		if (auth_cache_get(db->cache, v->key, &hit)) {
			apply_profile(db, &hit, v->client_addr, &r2);
			if (passdb_reply_later(db, &r2, cb, arg) < 0)
				log_err("passdb: cannot schedule a reply");
			else if (r2.status == PASSDB_OK &&
			    (r2.flags & CRED_APP_PASSWORD) &&
			    db->driver->apppass_used != NULL)
				db->driver->apppass_used(
				    db, r2.user, r2.credential);
			vcall_free(v);
			return;
		}
		v->cached = 1;
	}
	upgradable = r.tls && r.mech != NULL &&
	    (str_ieq(r.mech, "PLAIN") || str_ieq(r.mech, "LOGIN")) &&
	    (db->migrate_scram || db->rehash) && db->driver->update != NULL;
	if (upgradable) {
		v->password = secret_new(pw->data, pw->len);
		/* no copy: no upgrade, the login itself goes on */
	}
	gcb = vcall_answer;
	garg = v;
	passdb_guard(db, &gcb, &garg);
	if (db->driver->verify_req != NULL)
		db->driver->verify_req(db, &r, gcb, garg);
	else
		db->driver->verify(db, r.user, pw, gcb, garg);
}

/* ---------- opening from the configuration ---------- */

static void
stats_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	passdb_log_stats(arg, "periodic");
}

void
passdb_log_stats(struct passdb *db, const char *why)
{
	struct auth_cache_stats st;
	unsigned long total;

	if (db->cache == NULL) {
		log_info("event=passdb-stats why=%s cache=off timeouts=%lu "
		         "upgrades=%lu",
		    why, db->ntimeouts, db->nupgrades);
		return;
	}
	auth_cache_stats(db->cache, &st);
	total = st.hits + st.misses;
	log_info("event=passdb-stats why=%s cache_hits=%lu cache_misses=%lu "
	         "cache_hit_rate=%lu.%lu%% cache_entries=%zu "
	         "cache_evictions=%lu timeouts=%lu upgrades=%lu",
	    why, st.hits, st.misses, total > 0 ? st.hits * 100 / total : 0,
	    total > 0 ? (st.hits * 1000 / total) % 10 : 0, st.entries,
	    st.evictions, db->ntimeouts, db->nupgrades);
}

int
passdb_configure(
    struct passdb *db, const struct config *cfg, char *err, size_t errlen)
{
	const struct pw_scheme *s = pw_scheme_find(cfg->default_scheme);
	struct timeval tv = {STATS_INTERVAL_S, 0};

	db->timeout_ms = cfg->auth_backend_timeout_ms;
	db->migrate_scram = cfg->auth_migrate_scram;
	db->rehash = cfg->auth_rehash;
	(void)str_copy(db->default_scheme,
	    s != NULL ? s->name : PW_DEFAULT_SCHEME,
	    sizeof(db->default_scheme));
	pw_allow_plain(cfg->auth_allow_plain_scheme);
	if (cfg->auth_cache_size == 0 ||
	    (cfg->auth_cache_ttl_ms == 0 &&
	        cfg->auth_cache_negative_ttl_ms == 0)) {
		auth_cache_free(db->cache);
		db->cache = NULL;
	} else if (db->cache == NULL) {
		db->cache = auth_cache_new(cfg->auth_cache_size,
		    cfg->auth_cache_ttl_ms, cfg->auth_cache_negative_ttl_ms);
		if (db->cache == NULL) {
			(void)snprintf(
			    err, errlen, "auth cache: out of memory");
			return -1;
		}
	} else
		auth_cache_set_limits(db->cache, cfg->auth_cache_size,
		    cfg->auth_cache_ttl_ms, cfg->auth_cache_negative_ttl_ms);
	if (db->stats_ev == NULL) {
		db->stats_ev =
		    event_new(db->base, -1, EV_PERSIST, stats_tick, db);
		if (db->stats_ev != NULL && event_add(db->stats_ev, &tv) != 0) {
			event_free(db->stats_ev);
			db->stats_ev = NULL;
		}
	}
	return 0;
}

/* file_backed - drivers whose argument is a file we can watch. */
static int
file_backed(const char *driver)
{
	return str_ieq(driver, "passwd-file") || str_ieq(driver, "sqlite");
}

struct passdb *
passdb_open_config(const struct config *cfg, struct event_base *base,
    struct workpool *pool, char *err, size_t errlen)
{
	struct passdb *subs[CHAIN_MAX], *db;
	struct chain_priv *cp;
	size_t n = cfg->npassdbs, i;
	unsigned int caps = 0;

	if (n == 0) {
		db = passdb_open_cfg(cfg->passdb_driver, cfg->passdb_path, cfg,
		    base, pool, err, errlen);
		if (db == NULL)
			return NULL;
		if (file_backed(cfg->passdb_driver))
			watch_attach(db, cfg->passdb_path);
		n = 1;
		goto configure;
	}
	if (n > CHAIN_MAX)
		n = CHAIN_MAX;
	for (i = 0; i < n; i++) {
		char e[512];

		subs[i] = passdb_open_cfg(cfg->passdbs[i].driver,
		    cfg->passdbs[i].arg, cfg, base, pool, e, sizeof(e));
		if (subs[i] == NULL) {
			(void)snprintf(
			    err, errlen, "%s: %s", cfg->passdbs[i].driver, e);
			while (i > 0)
				passdb_close(subs[--i]);
			return NULL;
		}
		if (file_backed(cfg->passdbs[i].driver))
			watch_attach(subs[i], cfg->passdbs[i].arg);
		caps |= subs[i]->driver->caps;
	}
	if (n == 1) {
		db = subs[0];
		goto configure;
	}
	db = calloc(1, sizeof(*db));
	cp = calloc(1, sizeof(*cp));
	if (db == NULL || cp == NULL) {
		free(db);
		free(cp);
		for (i = 0; i < n; i++)
			passdb_close(subs[i]);
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(cp->subs, subs, n * sizeof(subs[0]));
	cp->n = n;
	cp->drv = passdb_driver_chain;
	cp->drv.caps = caps & (PASSDB_CAN_LOOKUP | PASSDB_CAN_VERIFY);
	db->driver = &cp->drv;
	db->base = base;
	db->pool = pool;
	db->priv = cp;
configure:
	if (passdb_configure(db, cfg, err, errlen) < 0) {
		passdb_close(db);
		return NULL;
	}
	log_info("event=passdb-open passdbs=%zu cache=%s backend_timeout_ms=%u",
	    n, db->cache != NULL ? "on" : "off", db->timeout_ms);
	return db;
}

void
passdb_stack_free(struct passdb *db)
{
	if (db->stats_ev != NULL) {
		event_free(db->stats_ev);
		db->stats_ev = NULL;
	}
	auth_cache_free(db->cache);
	db->cache = NULL;
	free(db->watch);
	db->watch = NULL;
	upgrades_expire(db, 1); /* in-flight ones free themselves */
}
