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

#include "auth/passdb.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"

static const struct passdb_driver *const drivers[] = {
    &passdb_driver_file,
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
};

static void
later_free(struct passdb_later *l)
{
	free(l->user);
	free(l->scheme);
	secret_free(l->secret);
	free(l);
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
	    (r->secret != NULL && l->secret == NULL)) {
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

struct passdb *
passdb_open(const char *driver, const char *arg, struct event_base *base,
    struct workpool *pool, char *err, size_t errlen)
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
	if (d->open(db, arg != NULL ? arg : "", err, errlen) < 0) {
		free(db);
		return NULL;
	}
	return db;
}

void
passdb_close(struct passdb *db)
{
	if (db == NULL)
		return;
	if (db->driver->close != NULL)
		db->driver->close(db);
	free(db);
}

void
passdb_verify(struct passdb *db, const char *user,
    const struct secret *password, passdb_cb *cb, void *arg)
{
	if (db->driver->verify == NULL ||
	    !(db->driver->caps & PASSDB_CAN_VERIFY)) {
		reply_status(db, PASSDB_TEMPFAIL, user, cb, arg);
		return;
	}
	db->driver->verify(db, user, password, cb, arg);
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
	db->driver->lookup(db, user, scheme, cb, arg);
}

void
passdb_exists(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	if (db->driver->exists == NULL) {
		reply_status(db, PASSDB_TEMPFAIL, user, cb, arg);
		return;
	}
	db->driver->exists(db, user, cb, arg);
}

int
passdb_reload(struct passdb *db, char *err, size_t errlen)
{
	if (db->driver->reload == NULL)
		return 0;
	return db->driver->reload(db, err, errlen);
}
