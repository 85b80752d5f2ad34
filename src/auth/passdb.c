/*
 * passdb.c - credential backend registry and dispatch. Drivers are found by
 * name; every answer reaches the caller through its callback on the loop,
 * never inside the call (passdb_reply_later is the helper for that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "auth/cache.h"
#include "auth/passdb.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"

static const struct passdb_driver *const drivers[] = {
    &passdb_driver_file,
    &passdb_driver_ldap,
    &passdb_driver_dovecot,
    &passdb_driver_sqlite,
    &passdb_driver_pgsql,
    NULL,
};

struct passdb_later {
	passdb_cb *cb;
	void *arg;
	enum passdb_status status;
	unsigned int flags;
	char *user;
	char *scheme;
	struct secret *secret;
	char *credential;
	char *networks;
	char *fixed_sender;
	unsigned int rate_cap;
	unsigned int rcpt_cap;
	int tls_floor;
	char **senders;
};

static void
later_free(struct passdb_later *l)
{
	size_t i;

	free(l->user);
	free(l->scheme);
	secret_free(l->secret);
	free(l->credential);
	free(l->networks);
	free(l->fixed_sender);
	for (i = 0; l->senders != NULL && l->senders[i] != NULL; i++)
		free(l->senders[i]);
	free(l->senders);
	free(l);
}

/* later_copy_extra - the profile fields and senders of r; 0 or -1 (ENOMEM). */
static int
later_copy_extra(struct passdb_later *l, const struct cred_result *r)
{
	size_t i, n = 0;

	l->rate_cap = r->rate_cap;
	l->rcpt_cap = r->rcpt_cap;
	l->tls_floor = r->tls_floor;
	if (r->credential != NULL &&
	    (l->credential = strdup(r->credential)) == NULL)
		return -1;
	if (r->networks != NULL && (l->networks = strdup(r->networks)) == NULL)
		return -1;
	if (r->fixed_sender != NULL &&
	    (l->fixed_sender = strdup(r->fixed_sender)) == NULL)
		return -1;
	if (r->senders == NULL)
		return 0;
	while (r->senders[n] != NULL)
		n++;
	l->senders = calloc(n + 1, sizeof(*l->senders));
	if (l->senders == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		l->senders[i] = strdup(r->senders[i]);
		if (l->senders[i] == NULL)
			return -1;
	}
	return 0;
}

static void
later_fire(evutil_socket_t fd, short what, void *arg)
{
	struct passdb_later *l = arg;
	struct cred_result r;

	(void)fd;
	(void)what;
	memset(&r, 0, sizeof(r));
	r.status = l->status;
	r.user = l->user;
	r.scheme = l->scheme;
	r.secret = l->secret;
	r.flags = l->flags;
	r.credential = l->credential;
	r.networks = l->networks;
	r.fixed_sender = l->fixed_sender;
	r.rate_cap = l->rate_cap;
	r.rcpt_cap = l->rcpt_cap;
	r.tls_floor = l->tls_floor;
	r.senders = (const char *const *)l->senders;
	l->cb(&r, l->arg);
	later_free(l);
}

int
passdb_reply_later(
    struct passdb *db, const struct cred_result *r, passdb_cb *cb, void *arg)
{
	struct passdb_later *l;
	struct timeval now = {0, 0};

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -1;
	l->cb = cb;
	l->arg = arg;
	l->status = r->status;
	l->flags = r->flags;
	if (r->user != NULL)
		l->user = strdup(r->user);
	if (r->scheme != NULL)
		l->scheme = strdup(r->scheme);
	if (r->secret != NULL)
		l->secret = secret_new(r->secret->data, r->secret->len);
	if ((r->user != NULL && l->user == NULL) ||
	    (r->scheme != NULL && l->scheme == NULL) ||
	    (r->secret != NULL && l->secret == NULL) ||
	    later_copy_extra(l, r) < 0) {
		later_free(l);
		return -1;
	}
	if (event_base_once(db->base, -1, EV_TIMEOUT, later_fire, l, &now) !=
	    0) {
		later_free(l);
		return -1;
	}
	return 0;
}

/* reply_status - a bare status answer; a failure to schedule is logged. */
static void
reply_status(struct passdb *db, enum passdb_status st, const char *user,
    passdb_cb *cb, void *arg)
{
	struct cred_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.user = user;
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err("passdb: cannot schedule a reply; request dropped");
}

int
passdb_known_driver(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && drivers[i] != NULL; i++)
		if (str_ieq(drivers[i]->name, name))
			return 1;
	return 0;
}

struct passdb *
passdb_open(const char *driver, const char *arg, struct event_base *base,
    struct workpool *pool, char *err, size_t errlen)
{
	return passdb_open_cfg(driver, arg, NULL, base, pool, err, errlen);
}

struct passdb *
passdb_open_cfg(const char *driver, const char *arg, const struct config *cfg,
    struct event_base *base, struct workpool *pool, char *err, size_t errlen)
{
	const struct passdb_driver *d = NULL;
	struct passdb *db;
	size_t i;

	for (i = 0; driver != NULL && drivers[i] != NULL; i++) {
		if (str_ieq(drivers[i]->name, driver)) {
			d = drivers[i];
			break;
		}
	}
	if (d == NULL) {
		(void)snprintf(err, errlen, "unknown passdb driver \"%s\"",
		    driver != NULL ? driver : "");
		return NULL;
	}
	if (base == NULL || pool == NULL) {
		(void)snprintf(
		    err, errlen, "%s: no event loop or work pool", d->name);
		return NULL;
	}
	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->driver = d;
	db->base = base;
	db->pool = pool;
	db->cfg = cfg;
	if (d->open(db, arg != NULL ? arg : "", err, errlen) < 0) {
		free(db);
		return NULL;
	}
	db->cfg = NULL; /* valid during open() only */
	return db;
}

void
passdb_close(struct passdb *db)
{
	if (db == NULL)
		return;
	if (db->driver->close != NULL)
		db->driver->close(db);
	passdb_stack_free(db);
	free(db);
}

void
passdb_verify(struct passdb *db, const char *user,
    const struct secret *password, passdb_cb *cb, void *arg)
{
	struct passdb_request req;

	/* through the cache and the timeout (passdb_stack.c) */
	memset(&req, 0, sizeof(req));
	req.user = user;
	req.password = password;
	passdb_verify_req(db, &req, cb, arg);
}

void
passdb_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg)
{
	if (db->driver->lookup == NULL ||
	    !(db->driver->caps & PASSDB_CAN_LOOKUP)) {
		reply_status(db, PASSDB_NO_SCHEME, user, cb, arg);
		return;
	}
	passdb_guard(db, &cb, &arg);
	db->driver->lookup(db, user, scheme, cb, arg);
}

void
passdb_exists(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	if (db->driver->exists == NULL) {
		reply_status(db, PASSDB_TEMPFAIL, user, cb, arg);
		return;
	}
	passdb_guard(db, &cb, &arg);
	db->driver->exists(db, user, cb, arg);
}

int
passdb_reload(struct passdb *db, char *err, size_t errlen)
{
	if (db->cache != NULL) {
		passdb_log_stats(db, "reload");
		auth_cache_flush(db->cache); /* SIGHUP: forget every verdict */
	}
	if (db->driver->reload == NULL)
		return 0;
	return db->driver->reload(db, err, errlen);
}

/* ---- certificate and token logins (EXTERNAL, OAUTHBEARER, XOAUTH2) ---- */

void
passdb_find_by_field(struct passdb *db, const char *key, const char *value,
    passdb_cb *cb, void *arg)
{
	if (db->driver->find_by_field != NULL) {
		db->driver->find_by_field(db, key, value, cb, arg);
		return;
	}
	if (key == NULL) {
		/* no account status from this driver: existence only */
		passdb_exists(db, value, cb, arg);
		return;
	}
	log_err("passdb: driver=%s cannot find users by extra field %s",
	    db->driver->name, key);
	reply_status(db, PASSDB_TEMPFAIL, NULL, cb, arg);
}
