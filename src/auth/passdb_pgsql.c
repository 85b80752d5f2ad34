/*
 * passdb_pgsql.c - the "pgsql" driver: "pgsql:host=127.0.0.1 dbname=mail"
 * (any libpq conninfo or URI) with the queries of the [pgsql] section.
 * Queries are sent with PQexecParams ($1 = the login, $2/$3 as documented
 * per query): parameters are never spliced into SQL. libpq is blocking
 * here, so all of it runs on the work pool through apppass.c's plumbing;
 * connections live in a small mutex-guarded pool. A connection found dead
 * (PostgreSQL restarted) is dropped with every idle one and the query is
 * retried once on a fresh connection; while the server is down the answer
 * is PASSDB_TEMPFAIL (454 4.7.0), and the next request reconnects.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "auth/apppass.h"
#include "auth/passdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"

#define PG_CONNS_MAX 64
#define PG_QUERY_MAX 1024

/* Defaults: the schema "postern user" creates for SQLite, in PostgreSQL. */
static const char default_password[] =
    "SELECT login, password, scram_sha256, scram_sha1, cram_md5, disabled, "
    "must_change FROM users WHERE lower(login) = lower($1)";
static const char default_senders[] =
    "SELECT address FROM aliases WHERE lower(login) = lower($1)";
static const char default_apppass[] =
    "SELECT label, password, networks, sender, rate_cap, tls_floor FROM "
    "app_passwords WHERE lower(login) = lower($1) AND revoked IS NULL "
    "ORDER BY created, label";
static const char default_exists[] =
    "SELECT login FROM users WHERE lower(login) = lower($1) UNION ALL "
    "SELECT login FROM aliases WHERE lower(address) = lower($1) LIMIT 1";
static const char default_update[] =
    "UPDATE users SET password = COALESCE($2, password), scram_sha256 = "
    "COALESCE($3, scram_sha256) WHERE login = $1";
static const char default_touch[] =
    "UPDATE app_passwords SET last_used = now() WHERE login = $1 AND label "
    "= $2 AND revoked IS NULL";

struct pg_priv {
	char conninfo[4096];
	char q_password[PG_QUERY_MAX];
	char q_senders[PG_QUERY_MAX]; /* "" = none */
	char q_apppass[PG_QUERY_MAX];
	char q_exists[PG_QUERY_MAX];
	char q_update[PG_QUERY_MAX];
	char q_touch[PG_QUERY_MAX];
	char connect_timeout[16]; /* seconds, for libpq */
	char options[64];         /* "-c statement_timeout=..." */
	pthread_mutex_t mtx;
	PGconn *idle[PG_CONNS_MAX];
	size_t nidle, max_idle;
	int down_logged;
};

/* ---------- connections (pool threads) ---------- */

static PGconn *
pg_connect(struct pg_priv *pp)
{
	const char *keys[] = {
	    "dbname", "connect_timeout", "options", "application_name", NULL};
	const char *vals[] = {
	    pp->conninfo, pp->connect_timeout, pp->options, "postern", NULL};
	PGconn *c;

	/* expand_dbname: the first "dbname" is the whole conninfo; the
	 * later keywords override what it says */
	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL)
		return NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		int first;

		(void)pthread_mutex_lock(&pp->mtx);
		first = !pp->down_logged;
		pp->down_logged = 1;
		(void)pthread_mutex_unlock(&pp->mtx);
		if (first) {
			char msg[512];

			(void)str_copy(msg, PQerrorMessage(c), sizeof(msg));
			msg[strcspn(msg, "\r\n")] = '\0';
			log_err("pgsql: cannot connect: %s", msg);
		}
		PQfinish(c);
		return NULL;
	}
	(void)pthread_mutex_lock(&pp->mtx);
	if (pp->down_logged)
		log_info("pgsql: connected again");
	pp->down_logged = 0;
	(void)pthread_mutex_unlock(&pp->mtx);
	return c;
}

static PGconn *
pg_take(struct pg_priv *pp)
{
	PGconn *c = NULL;

	(void)pthread_mutex_lock(&pp->mtx);
	if (pp->nidle > 0)
		c = pp->idle[--pp->nidle];
	(void)pthread_mutex_unlock(&pp->mtx);
	return c != NULL ? c : pg_connect(pp);
}

static void
pg_give(struct pg_priv *pp, PGconn *c)
{
	if (c == NULL)
		return;
	if (PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) == PQTRANS_IDLE) {
		(void)pthread_mutex_lock(&pp->mtx);
		if (pp->nidle < pp->max_idle) {
			pp->idle[pp->nidle++] = c;
			c = NULL;
		}
		(void)pthread_mutex_unlock(&pp->mtx);
	}
	if (c != NULL)
		PQfinish(c);
}

/* pg_drop_idle - after a dead connection: the idle ones are likely dead too. */
static void
pg_drop_idle(struct pg_priv *pp)
{
	PGconn *old[PG_CONNS_MAX];
	size_t n, i;

	(void)pthread_mutex_lock(&pp->mtx);
	n = pp->nidle;
	memcpy(old, pp->idle, n * sizeof(old[0]));
	pp->nidle = 0;
	(void)pthread_mutex_unlock(&pp->mtx);
	for (i = 0; i < n; i++)
		PQfinish(old[i]);
}

/*
 * pg_query - run sql with text parameters; a result with status
 * PGRES_TUPLES_OK or PGRES_COMMAND_OK, or NULL (logged). A broken
 * connection is retried once on a fresh one. *conn_r is the connection
 * the result came from (give it back with pg_give).
 */
static PGresult *
pg_query(struct pg_priv *pp, const char *sql, int nparams,
    const char *const *params, PGconn **conn_r)
{
	PGconn *c;
	PGresult *res;
	ExecStatusType st;
	int attempt;

	*conn_r = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		c = pg_take(pp);
		if (c == NULL)
			return NULL;
		res =
		    PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
		st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			*conn_r = c;
			return res;
		}
		if (PQstatus(c) == CONNECTION_BAD) {
			/* server restarted or gone: start afresh */
			PQclear(res);
			PQfinish(c);
			pg_drop_idle(pp);
			continue;
		}
		{
			char msg[512];

			(void)str_copy(msg,
			    res != NULL ? PQresultErrorMessage(res)
			                : PQerrorMessage(c),
			    sizeof(msg));
			msg[strcspn(msg, "\r\n")] = '\0';
			log_err("pgsql: query failed: %s", msg);
		}
		PQclear(res);
		pg_give(pp, c);
		return NULL;
	}
	return NULL;
}

static const char *
get_col(PGresult *res, int row, const char *name)
{
	int i = PQfnumber(res, name);

	if (i < 0 || PQgetisnull(res, row, i))
		return NULL;
	return PQgetvalue(res, row, i);
}

/* wipe_result - stored hashes stay in libpq's buffer until PQclear: wipe them. */
static void
wipe_result(PGresult *res)
{
	int r, f;

	for (r = 0; r < PQntuples(res); r++)
		for (f = 0; f < PQnfields(res); f++)
			secret_wipe(PQgetvalue(res, r, f),
			    (size_t)PQgetlength(res, r, f));
}

static int
pg_bool(const char *v)
{
	return v != NULL &&
	    (v[0] == 't' || v[0] == 'T' || v[0] == '1' || v[0] == 'y' ||
	        v[0] == 'Y');
}

static char *
dup_field(const char *v, int *fail)
{
	char *d;

	if (v == NULL)
		return NULL;
	d = strdup(v);
	if (d == NULL)
		*fail = 1;
	return d;
}

/* ---------- account operations (pool threads) ---------- */

static enum passdb_status
pg_fetch(struct passdb *db, const char *user, int with_creds, struct account *a)
{
	struct pg_priv *pp = db->priv;
	const char *params[1] = {user};
	PGresult *res;
	PGconn *c;
	const char *login, *v;
	int i, n, fail = 0;

	res = pg_query(pp, pp->q_password, 1, params, &c);
	if (res == NULL)
		return PASSDB_TEMPFAIL;
	if (PQntuples(res) == 0) {
		PQclear(res);
		pg_give(pp, c);
		return PASSDB_NO_USER;
	}
	login = get_col(res, 0, "login");
	(void)str_copy(
	    a->login, login != NULL ? login : user, sizeof(a->login));
	a->password = dup_field(get_col(res, 0, "password"), &fail);
	a->scram_sha256 = dup_field(get_col(res, 0, "scram_sha256"), &fail);
	a->scram_sha1 = dup_field(get_col(res, 0, "scram_sha1"), &fail);
	a->cram_md5 = dup_field(get_col(res, 0, "cram_md5"), &fail);
	a->disabled = pg_bool(get_col(res, 0, "disabled"));
	a->must_change = pg_bool(get_col(res, 0, "must_change"));
	wipe_result(res);
	PQclear(res);
	pg_give(pp, c);
	if (fail || account_add_sender(a, a->login) < 0)
		goto tempfail;

	params[0] = a->login;
	if (pp->q_senders[0] != '\0') {
		res = pg_query(pp, pp->q_senders, 1, params, &c);
		if (res == NULL)
			goto tempfail;
		n = PQntuples(res);
		for (i = 0; i < n && !fail; i++) {
			v = PQgetisnull(res, i, 0) ? NULL
			                           : PQgetvalue(res, i, 0);
			if (v != NULL && account_add_sender(a, v) < 0)
				fail = 1;
		}
		PQclear(res);
		pg_give(pp, c);
		if (fail)
			goto tempfail;
	}
	if (with_creds && pp->q_apppass[0] != '\0') {
		res = pg_query(pp, pp->q_apppass, 1, params, &c);
		if (res == NULL)
			goto tempfail;
		n = PQntuples(res);
		for (i = 0; i < n && i < APPPASS_MAX; i++) {
			const char *cap = get_col(res, i, "rate_cap");
			const char *floor = get_col(res, i, "tls_floor");
			long capv = cap != NULL ? strtol(cap, NULL, 10) : 0;
			int fl = 0;

			if (floor != NULL && str_ieq(floor, "TLSv1"))
				fl = 0x0301;
			else if (floor != NULL && str_ieq(floor, "TLSv1.1"))
				fl = 0x0302;
			if (account_add_cred(a, get_col(res, i, "label"),
			        get_col(res, i, "password"),
			        get_col(res, i, "networks"),
			        get_col(res, i, "sender"),
			        capv > 0 ? (unsigned int)capv : 0, fl) < 0)
				fail = 1;
		}
		wipe_result(res);
		PQclear(res);
		pg_give(pp, c);
		if (fail)
			goto tempfail;
	}
	return PASSDB_OK;

tempfail:
	account_free_fields(a);
	return PASSDB_TEMPFAIL;
}

static enum passdb_status
pg_store(
    struct passdb *db, const char *user, const char *hash, const char *scram)
{
	struct pg_priv *pp = db->priv;
	const char *params[3] = {user, hash, scram};
	PGresult *res;
	PGconn *c;
	enum passdb_status st;

	if (pp->q_update[0] == '\0')
		return PASSDB_TEMPFAIL;
	res = pg_query(pp, pp->q_update, 3, params, &c);
	if (res == NULL)
		return PASSDB_TEMPFAIL;
	st = strcmp(PQcmdTuples(res), "0") == 0 ? PASSDB_NO_USER : PASSDB_OK;
	PQclear(res);
	pg_give(pp, c);
	return st;
}

static void
pg_touch(struct passdb *db, const char *user, const char *label)
{
	struct pg_priv *pp = db->priv;
	const char *params[2] = {user, label};
	PGresult *res;
	PGconn *c;

	if (pp->q_touch[0] == '\0')
		return;
	res = pg_query(pp, pp->q_touch, 2, params, &c);
	if (res == NULL)
		return;
	PQclear(res);
	pg_give(pp, c);
}

static enum passdb_status
pg_exists(struct passdb *db, const char *user, char *canon, size_t canonlen)
{
	struct pg_priv *pp = db->priv;
	const char *params[1] = {user};
	PGresult *res;
	PGconn *c;
	enum passdb_status st = PASSDB_NO_USER;

	res = pg_query(pp, pp->q_exists, 1, params, &c);
	if (res == NULL)
		return PASSDB_TEMPFAIL;
	if (PQntuples(res) > 0) {
		st = PASSDB_OK;
		if (!PQgetisnull(res, 0, 0))
			(void)str_copy(canon, PQgetvalue(res, 0, 0), canonlen);
	}
	PQclear(res);
	pg_give(pp, c);
	return st;
}

static const struct account_ops pg_ops_rw = {
    .name = "pgsql",
    .fetch = pg_fetch,
    .store = pg_store,
    .touch = pg_touch,
    .exists = pg_exists,
};

static const struct account_ops pg_ops_ro = {
    .name = "pgsql",
    .fetch = pg_fetch,
    .store = NULL,
    .touch = pg_touch,
    .exists = pg_exists,
};

static const struct account_ops *
ops_of(struct passdb *db)
{
	struct pg_priv *pp = db->priv;

	return pp->q_update[0] != '\0' ? &pg_ops_rw : &pg_ops_ro;
}

/* ---------- driver entry points (loop thread) ---------- */

/* set_query - value, or def when value is empty; "" when value is "none". */
static int
set_query(char *dst, size_t dstlen, const char *value, const char *def)
{
	const char *v = value != NULL && value[0] != '\0' ? value : def;

	if (str_ieq(v, "none"))
		v = "";
	return str_copy(dst, v, dstlen) < dstlen ? 0 : -1;
}

static int
pg_open(struct passdb *db, const char *arg, char *err, size_t errlen)
{
	const struct config *cfg = db->cfg;
	struct pg_priv *pp;
	unsigned int cto = 5000, sto = 5000, pool = 4;
	PGconn *c;

	if (arg == NULL || arg[0] == '\0') {
		(void)snprintf(err, errlen,
		    "pgsql: no connection string given (pgsql:host=... "
		    "dbname=...)");
		return -1;
	}
	pp = calloc(1, sizeof(*pp));
	if (pp == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (cfg != NULL) {
		cto = cfg->pgsql_connect_timeout_ms;
		sto = cfg->pgsql_statement_timeout_ms;
		pool = cfg->pgsql_pool_size;
	}
	if (str_copy(pp->conninfo, arg, sizeof(pp->conninfo)) >=
	        sizeof(pp->conninfo) ||
	    set_query(pp->q_password, PG_QUERY_MAX,
	        cfg != NULL ? cfg->pgsql_query_password : NULL,
	        default_password) < 0 ||
	    set_query(pp->q_senders, PG_QUERY_MAX,
	        cfg != NULL ? cfg->pgsql_query_senders : NULL,
	        default_senders) < 0 ||
	    set_query(pp->q_apppass, PG_QUERY_MAX,
	        cfg != NULL ? cfg->pgsql_query_apppass : NULL,
	        default_apppass) < 0 ||
	    set_query(pp->q_exists, PG_QUERY_MAX,
	        cfg != NULL ? cfg->pgsql_query_exists : NULL,
	        default_exists) < 0 ||
	    set_query(pp->q_update, PG_QUERY_MAX,
	        cfg != NULL ? cfg->pgsql_query_update : NULL,
	        default_update) < 0 ||
	    set_query(pp->q_touch, PG_QUERY_MAX,
	        cfg != NULL ? cfg->pgsql_query_touch : NULL,
	        default_touch) < 0) {
		(void)snprintf(err, errlen, "pgsql: a setting is too long");
		free(pp);
		return -1;
	}
	if (pp->q_password[0] == '\0' || pp->q_exists[0] == '\0') {
		(void)snprintf(err, errlen,
		    "pgsql: query_password and query_exists cannot be none");
		free(pp);
		return -1;
	}
	/* libpq counts whole seconds and treats 1 as 2 */
	(void)snprintf(pp->connect_timeout, sizeof(pp->connect_timeout), "%u",
	    cto < 2000 ? 2 : (cto + 999) / 1000);
	(void)snprintf(
	    pp->options, sizeof(pp->options), "-c statement_timeout=%u", sto);
	pp->max_idle = pool == 0  ? 4
	    : pool > PG_CONNS_MAX ? PG_CONNS_MAX
	                          : pool;
	if (pthread_mutex_init(&pp->mtx, NULL) != 0) {
		free(pp);
		(void)snprintf(err, errlen, "pgsql: mutex");
		return -1;
	}
	db->priv = pp;
	/* A server that is down at start is not fatal: logins get 454
	 * until it answers. */
	c = pg_connect(pp);
	if (c != NULL) {
		log_info("pgsql: connected (server %d)", PQserverVersion(c));
		pg_give(pp, c);
	} else
		log_warn("pgsql: not reachable at start; answering 454 until "
		         "it is");
	return 0;
}

static void
pg_close(struct passdb *db)
{
	struct pg_priv *pp = db->priv;

	if (pp == NULL)
		return;
	pg_drop_idle(pp);
	(void)pthread_mutex_destroy(&pp->mtx);
	secret_wipe(
	    pp->conninfo, sizeof(pp->conninfo)); /* may hold a password */
	free(pp);
	db->priv = NULL;
}

static int
pg_reload(struct passdb *db, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	pg_drop_idle(db->priv);
	return 0;
}

static void
pg_verify(struct passdb *db, const char *user, const struct secret *password,
    passdb_cb *cb, void *arg)
{
	struct passdb_request req;

	memset(&req, 0, sizeof(req));
	req.user = user;
	req.password = password;
	account_verify(db, ops_of(db), &req, cb, arg);
}

static void
pg_verify_req(struct passdb *db, const struct passdb_request *req,
    passdb_cb *cb, void *arg)
{
	account_verify(db, ops_of(db), req, cb, arg);
}

static void
pg_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg)
{
	account_lookup(db, ops_of(db), user, scheme, cb, arg);
}

static void
pg_exists_cb(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	account_exists(db, ops_of(db), user, cb, arg);
}

static void
pg_update(struct passdb *db, const char *user, const char *hash,
    const char *scram, passdb_cb *cb, void *arg)
{
	account_update(db, ops_of(db), user, hash, scram, cb, arg);
}

static void
pg_apppass_used(struct passdb *db, const char *user, const char *label)
{
	account_touch(db, ops_of(db), user, label);
}

const struct passdb_driver passdb_driver_pgsql = {
    .name = "pgsql",
    .caps = PASSDB_CAN_LOOKUP | PASSDB_CAN_VERIFY | PASSDB_BLOCKING,
    .open = pg_open,
    .lookup = pg_lookup,
    .verify = pg_verify,
    .verify_req = pg_verify_req,
    .exists = pg_exists_cb,
    .reload = pg_reload,
    .close = pg_close,
    .update = pg_update,
    .apppass_used = pg_apppass_used,
};
