/*
 * passdb_sqlite.c - the "sqlite" driver: the zero-setup user database,
 * "sqlite:/var/lib/postern/users.db", managed by "postern user". SQLite is
 * blocking, so every query runs on the work pool through apppass.c's
 * plumbing; each pool job borrows a connection from a small mutex-guarded
 * stack (a connection is used by one thread at a time). Parameters are
 * always bound (sqlite3_bind_*), never spliced into SQL. The database stays
 * in rollback-journal mode so that its mtime tells passdb.c about changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <sqlite3.h>

#include "auth/apppass.h"
#include "auth/passdb.h"
#include "auth/passdb_sqlite.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"

#define SQ_CONNS_MAX 16
#define SQ_BUSY_MS   5000

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS users ("
    " login TEXT PRIMARY KEY COLLATE NOCASE,"
    " password TEXT NOT NULL DEFAULT '',"
    " scram_sha256 TEXT, scram_sha1 TEXT, cram_md5 TEXT,"
    " disabled INTEGER NOT NULL DEFAULT 0,"
    " must_change INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER, updated INTEGER);"
    "CREATE TABLE IF NOT EXISTS aliases ("
    " login TEXT NOT NULL COLLATE NOCASE,"
    " address TEXT NOT NULL COLLATE NOCASE,"
    " PRIMARY KEY (login, address));"
    "CREATE INDEX IF NOT EXISTS aliases_address ON aliases (address);"
    "CREATE TABLE IF NOT EXISTS app_passwords ("
    " login TEXT NOT NULL COLLATE NOCASE,"
    " label TEXT NOT NULL,"
    " password TEXT NOT NULL,"
    " networks TEXT, sender TEXT,"
    " rate_cap INTEGER NOT NULL DEFAULT 0,"
    " tls_floor TEXT,"
    " created INTEGER, last_used INTEGER, revoked INTEGER,"
    " PRIMARY KEY (login, label));";

struct sq_priv {
	char path[PATH_MAX];
	pthread_mutex_t mtx;
	sqlite3 *free_conns[SQ_CONNS_MAX];
	size_t nfree;
};

static const struct account_ops sq_ops;

/* ---------- connections ---------- */

static sqlite3 *
sq_connect(const char *path, int flags, char *err, size_t errlen)
{
	sqlite3 *h = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &h, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		(void)snprintf(err, errlen, "%s: %s", path,
		    h != NULL ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		sqlite3_close(h);
		return NULL;
	}
	(void)sqlite3_busy_timeout(h, SQ_BUSY_MS);
	(void)sqlite3_extended_result_codes(h, 1);
	return h;
}

static sqlite3 *
sq_take(struct sq_priv *sp)
{
	sqlite3 *h = NULL;
	char err[512];

	(void)pthread_mutex_lock(&sp->mtx);
	if (sp->nfree > 0)
		h = sp->free_conns[--sp->nfree];
	(void)pthread_mutex_unlock(&sp->mtx);
	if (h != NULL)
		return h;
	h = sq_connect(sp->path, SQLITE_OPEN_READWRITE, err, sizeof(err));
	if (h == NULL)
		log_err("sqlite: cannot open the database: %s", err);
	return h;
}

static void
sq_give(struct sq_priv *sp, sqlite3 *h, int broken)
{
	if (h == NULL)
		return;
	(void)pthread_mutex_lock(&sp->mtx);
	if (!broken && sp->nfree < SQ_CONNS_MAX) {
		sp->free_conns[sp->nfree++] = h;
		h = NULL;
	}
	(void)pthread_mutex_unlock(&sp->mtx);
	if (h != NULL)
		sqlite3_close(h);
}

/* col_dup - a text column copied, NULL for SQL NULL; *fail on ENOMEM. */
static char *
col_dup(sqlite3_stmt *st, int i, int *fail)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	char *d;

	if (t == NULL)
		return NULL;
	d = strdup((const char *)t);
	if (d == NULL)
		*fail = 1;
	return d;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

int
sqlite_tls_floor(const char *s)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	if (str_ieq(s, "TLSv1") || str_ieq(s, "TLSv1.0"))
		return TLS1_VERSION;
	if (str_ieq(s, "TLSv1.1"))
		return TLS1_1_VERSION;
	if (str_ieq(s, "TLSv1.2"))
		return TLS1_2_VERSION;
	return -1;
}

/* ---------- driver operations (pool threads) ---------- */

static enum passdb_status
sq_fetch_on(sqlite3 *h, const char *user, int with_creds, struct account *a)
{
	sqlite3_stmt *st = NULL;
	enum passdb_status res = PASSDB_TEMPFAIL;
	int rc, fail = 0;

	if (sqlite3_prepare_v2(h,
	        "SELECT login, password, scram_sha256, scram_sha1, cram_md5, "
	        "disabled, must_change FROM users WHERE login = ?1",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, user) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		res = PASSDB_NO_USER;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	(void)str_copy(a->login, (const char *)sqlite3_column_text(st, 0),
	    sizeof(a->login));
	a->password = col_dup(st, 1, &fail);
	a->scram_sha256 = col_dup(st, 2, &fail);
	a->scram_sha1 = col_dup(st, 3, &fail);
	a->cram_md5 = col_dup(st, 4, &fail);
	a->disabled = sqlite3_column_int(st, 5) != 0;
	a->must_change = sqlite3_column_int(st, 6) != 0;
	sqlite3_finalize(st);
	st = NULL;
	if (fail || account_add_sender(a, a->login) < 0)
		goto out;

	if (sqlite3_prepare_v2(h,
	        "SELECT address FROM aliases WHERE login = ?1 ORDER BY address",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, a->login) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		if (t != NULL && account_add_sender(a, (const char *)t) < 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;

	if (with_creds) {
		if (sqlite3_prepare_v2(h,
		        "SELECT label, password, networks, sender, rate_cap, "
		        "tls_floor FROM app_passwords WHERE login = ?1 AND "
		        "revoked IS NULL ORDER BY created, label LIMIT ?2",
		        -1, &st, NULL) != SQLITE_OK ||
		    bind_text(st, 1, a->login) != SQLITE_OK ||
		    sqlite3_bind_int(st, 2, APPPASS_MAX) != SQLITE_OK)
			goto out;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int cap = sqlite3_column_int(st, 4);
			int floor = sqlite_tls_floor(
			    (const char *)sqlite3_column_text(st, 5));

			if (account_add_cred(a,
			        (const char *)sqlite3_column_text(st, 0),
			        (const char *)sqlite3_column_text(st, 1),
			        (const char *)sqlite3_column_text(st, 2),
			        (const char *)sqlite3_column_text(st, 3),
			        cap > 0 ? (unsigned int)cap : 0,
			        floor > 0 ? floor : 0) < 0)
				goto out;
		}
		if (rc != SQLITE_DONE)
			goto out;
	}
	res = PASSDB_OK;
out:
	if (res == PASSDB_TEMPFAIL)
		log_err("sqlite: query failed: %s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	return res;
}

static enum passdb_status
sq_fetch(struct passdb *db, const char *user, int with_creds, struct account *a)
{
	struct sq_priv *sp = db->priv;
	sqlite3 *h = sq_take(sp);
	enum passdb_status st;

	if (h == NULL)
		return PASSDB_TEMPFAIL;
	st = sq_fetch_on(h, user, with_creds, a);
	if (st == PASSDB_TEMPFAIL)
		account_free_fields(a);
	sq_give(sp, h, st == PASSDB_TEMPFAIL);
	return st;
}

static enum passdb_status
sq_store(
    struct passdb *db, const char *user, const char *hash, const char *scram)
{
	struct sq_priv *sp = db->priv;
	sqlite3 *h = sq_take(sp);
	sqlite3_stmt *st = NULL;
	enum passdb_status res = PASSDB_TEMPFAIL;

	if (h == NULL)
		return PASSDB_TEMPFAIL;
	if (sqlite3_prepare_v2(h,
	        "UPDATE users SET password = COALESCE(?2, password), "
	        "scram_sha256 = COALESCE(?3, scram_sha256), updated = ?4 "
	        "WHERE login = ?1",
	        -1, &st, NULL) == SQLITE_OK &&
	    bind_text(st, 1, user) == SQLITE_OK &&
	    bind_text(st, 2, hash) == SQLITE_OK &&
	    bind_text(st, 3, scram) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL)) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		res = sqlite3_changes(h) > 0 ? PASSDB_OK : PASSDB_NO_USER;
	else
		log_err("sqlite: update failed: %s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sq_give(sp, h, 0);
	return res;
}

static void
sq_touch(struct passdb *db, const char *user, const char *label)
{
	struct sq_priv *sp = db->priv;
	sqlite3 *h = sq_take(sp);
	sqlite3_stmt *st = NULL;

	if (h == NULL)
		return;
	if (sqlite3_prepare_v2(h,
	        "UPDATE app_passwords SET last_used = ?3 WHERE login = ?1 AND "
	        "label = ?2",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, user) != SQLITE_OK ||
	    bind_text(st, 2, label) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL)) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		log_warn("sqlite: cannot record the use of a credential: %s",
		    sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sq_give(sp, h, 0);
}

static enum passdb_status
sq_exists(struct passdb *db, const char *user, char *canon, size_t canonlen)
{
	struct sq_priv *sp = db->priv;
	sqlite3 *h = sq_take(sp);
	sqlite3_stmt *st = NULL;
	enum passdb_status res = PASSDB_TEMPFAIL;
	int rc;

	if (h == NULL)
		return PASSDB_TEMPFAIL;
	if (sqlite3_prepare_v2(h,
	        "SELECT login FROM users WHERE login = ?1 UNION ALL "
	        "SELECT login FROM aliases WHERE address = ?1 LIMIT 1",
	        -1, &st, NULL) == SQLITE_OK &&
	    bind_text(st, 1, user) == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			(void)str_copy(canon,
			    (const char *)sqlite3_column_text(st, 0), canonlen);
			res = PASSDB_OK;
		} else if (rc == SQLITE_DONE)
			res = PASSDB_NO_USER;
	}
	if (res == PASSDB_TEMPFAIL)
		log_err("sqlite: query failed: %s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sq_give(sp, h, res == PASSDB_TEMPFAIL);
	return res;
}

static const struct account_ops sq_ops = {
    .name = "sqlite",
    .fetch = sq_fetch,
    .store = sq_store,
    .touch = sq_touch,
    .exists = sq_exists,
};

/* ---------- driver entry points (loop thread) ---------- */

static int
sq_open(struct passdb *db, const char *arg, char *err, size_t errlen)
{
	struct sq_priv *sp;
	sqlite3 *h;

	if (arg == NULL || arg[0] == '\0') {
		(void)snprintf(err, errlen, "sqlite: no database file given");
		return -1;
	}
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (str_copy(sp->path, arg, sizeof(sp->path)) >= sizeof(sp->path)) {
		(void)snprintf(err, errlen, "sqlite: path too long");
		free(sp);
		return -1;
	}
	/* At start-up (not on the loop yet): check it opens and has the
	 * tables; zero setup: a missing database is created (0600). */
	h = sqlite_users_open(sp->path, 1, err, errlen);
	if (h == NULL) {
		free(sp);
		return -1;
	}
	if (pthread_mutex_init(&sp->mtx, NULL) != 0) {
		sqlite3_close(h);
		free(sp);
		(void)snprintf(err, errlen, "sqlite: mutex");
		return -1;
	}
	sp->free_conns[sp->nfree++] = h;
	db->priv = sp;
	log_info("sqlite: path=%s opened", sp->path);
	return 0;
}

static void
sq_close(struct passdb *db)
{
	struct sq_priv *sp = db->priv;

	if (sp == NULL)
		return;
	while (sp->nfree > 0)
		sqlite3_close(sp->free_conns[--sp->nfree]);
	(void)pthread_mutex_destroy(&sp->mtx);
	free(sp);
	db->priv = NULL;
}

/* sq_reload - drop idle connections (a replaced file is reopened). */
static int
sq_reload(struct passdb *db, char *err, size_t errlen)
{
	struct sq_priv *sp = db->priv;
	sqlite3 *old[SQ_CONNS_MAX];
	size_t n, i;

	(void)err;
	(void)errlen;
	(void)pthread_mutex_lock(&sp->mtx);
	n = sp->nfree;
	memcpy(old, sp->free_conns, n * sizeof(old[0]));
	sp->nfree = 0;
	(void)pthread_mutex_unlock(&sp->mtx);
	for (i = 0; i < n; i++)
		sqlite3_close(old[i]);
	return 0;
}

static void
sq_verify(struct passdb *db, const char *user, const struct secret *password,
    passdb_cb *cb, void *arg)
{
	struct passdb_request req;

	memset(&req, 0, sizeof(req));
	req.user = user;
	req.password = password;
	account_verify(db, &sq_ops, &req, cb, arg);
}

static void
sq_verify_req(struct passdb *db, const struct passdb_request *req,
    passdb_cb *cb, void *arg)
{
	account_verify(db, &sq_ops, req, cb, arg);
}

static void
sq_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg)
{
	account_lookup(db, &sq_ops, user, scheme, cb, arg);
}

static void
sq_exists_cb(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	account_exists(db, &sq_ops, user, cb, arg);
}

static void
sq_update(struct passdb *db, const char *user, const char *hash,
    const char *scram, passdb_cb *cb, void *arg)
{
	account_update(db, &sq_ops, user, hash, scram, cb, arg);
}

static void
sq_apppass_used(struct passdb *db, const char *user, const char *label)
{
	account_touch(db, &sq_ops, user, label);
}

const struct passdb_driver passdb_driver_sqlite = {
    .name = "sqlite",
    .caps = PASSDB_CAN_LOOKUP | PASSDB_CAN_VERIFY | PASSDB_BLOCKING,
    .open = sq_open,
    .lookup = sq_lookup,
    .verify = sq_verify,
    .verify_req = sq_verify_req,
    .exists = sq_exists_cb,
    .reload = sq_reload,
    .close = sq_close,
    .update = sq_update,
    .apppass_used = sq_apppass_used,
};

/* ---------- administration (postern user) ---------- */

struct sqlite3 *
sqlite_users_open(const char *path, int create, char *err, size_t errlen)
{
	sqlite3 *h;
	int fd;

	if (create) {
		/* create it 0600 ourselves: SQLite would honour the umask */
		fd =
		    open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			(void)snprintf(
			    err, errlen, "%s: %s", path, strerror(errno));
			return NULL;
		}
		(void)close(fd);
	}
	h = sq_connect(path, SQLITE_OPEN_READWRITE, err, errlen);
	if (h == NULL)
		return NULL;
	if (sqlite_users_schema(h, err, errlen) < 0) {
		sqlite3_close(h);
		return NULL;
	}
	return h;
}

void
sqlite_users_close(struct sqlite3 *h)
{
	sqlite3_close(h);
}

int
sqlite_users_schema(struct sqlite3 *h, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(h, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		(void)snprintf(err, errlen, "cannot create the schema: %s",
		    msg != NULL ? msg : sqlite3_errmsg(h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* exec_bound - run sql with text parameters p[0..n); rows changed, or -1. */
static int
exec_bound(sqlite3 *h, const char *sql, const char *const *p, int n,
    sqlite3_int64 num, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int i, rc, np;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	np = sqlite3_bind_parameter_count(st);
	for (i = 0; i < n; i++)
		if (bind_text(st, i + 1, p[i]) != SQLITE_OK)
			goto fail;
	if (np > n && sqlite3_bind_int64(st, n + 1, num) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return sqlite3_changes(h);
fail:
	(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	return -1;
}

int
sqlite_users_exists(struct sqlite3 *h, const char *login)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(h, "SELECT 1 FROM users WHERE login = ?1", -1,
	        &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, login) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
sqlite_users_add(struct sqlite3 *h, const char *login, const char *hash,
    const char *scram, char *err, size_t errlen)
{
	const char *p[3] = {login, hash, scram};
	int e = sqlite_users_exists(h, login);

	if (e != 0)
		return e > 0 ? -2 : -1;
	return exec_bound(h,
	           "INSERT INTO users (login, password, scram_sha256, created, "
	           "updated) VALUES (?1, ?2, ?3, ?4, ?4)",
	           p, 3, (sqlite3_int64)time(NULL), err, errlen) == 1
	    ? 0
	    : -1;
}

int
sqlite_users_set_password(struct sqlite3 *h, const char *login,
    const char *hash, const char *scram, char *err, size_t errlen)
{
	const char *p[3] = {login, hash, scram};
	int n = exec_bound(h,
	    "UPDATE users SET password = ?2, scram_sha256 = ?3, scram_sha1 = "
	    "NULL, cram_md5 = NULL, must_change = 0, updated = ?4 WHERE login "
	    "= ?1",
	    p, 3, (sqlite3_int64)time(NULL), err, errlen);

	return n < 0 ? -1 : n == 0 ? -2 : 0;
}

int
sqlite_users_del(struct sqlite3 *h, const char *login, char *err, size_t errlen)
{
	const char *p[1] = {login};
	int n;

	if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
		return -1;
	}
	n = exec_bound(
	    h, "DELETE FROM users WHERE login = ?1", p, 1, 0, err, errlen);
	if (n > 0 &&
	    (exec_bound(h, "DELETE FROM aliases WHERE login = ?1", p, 1, 0, err,
	         errlen) < 0 ||
	        exec_bound(h, "DELETE FROM app_passwords WHERE login = ?1", p,
	            1, 0, err, errlen) < 0))
		n = -1;
	if (n <= 0) {
		(void)sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
		return n < 0 ? -1 : -2;
	}
	if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
		return -1;
	}
	return 0;
}

int
sqlite_users_set_flag(struct sqlite3 *h, const char *login, const char *column,
    int value, char *err, size_t errlen)
{
	const char *p[1] = {login};
	const char *sql;
	int n;

	/* the column name is one of two constants, never user input */
	if (strcmp(column, "disabled") == 0)
		sql =
		    "UPDATE users SET disabled = ?2, updated = strftime('%s') "
		    "WHERE login = ?1";
	else if (strcmp(column, "must_change") == 0)
		sql = "UPDATE users SET must_change = ?2, updated = "
		      "strftime('%s') WHERE login = ?1";
	else
		return -1;
	n = exec_bound(h, sql, p, 1, value ? 1 : 0, err, errlen);
	return n < 0 ? -1 : n == 0 ? -2 : 0;
}

int
sqlite_users_list(struct sqlite3 *h, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(h, "SELECT login FROM users ORDER BY login", -1,
	        &st, NULL) != SQLITE_OK) {
		(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		printf("%s\n", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
		return -1;
	}
	return 0;
}

static void
print_time(const char *name, sqlite3_stmt *st, int col)
{
	time_t t;
	struct tm tm;
	char buf[64];

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		printf("%s: -\n", name);
		return;
	}
	t = (time_t)sqlite3_column_int64(st, col);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, sizeof(buf), "%lld", (long long)t);
	printf("%s: %s\n", name, buf);
}

int
sqlite_users_show(
    struct sqlite3 *h, const char *login, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char scheme[40];
	const char *pw, *end;
	int rc, n = 0;

	if (sqlite3_prepare_v2(h,
	        "SELECT login, password, scram_sha256 IS NOT NULL AND "
	        "scram_sha256 <> '', cram_md5 IS NOT NULL AND cram_md5 <> '', "
	        "disabled, must_change, created, updated, "
	        "(SELECT count(*) FROM app_passwords a WHERE a.login = "
	        "users.login AND revoked IS NULL) FROM users WHERE login = ?1",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, login) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return -2;
	}
	if (rc != SQLITE_ROW)
		goto fail;
	pw = (const char *)sqlite3_column_text(st, 1);
	(void)str_copy(scheme, "-", sizeof(scheme));
	if (pw != NULL && pw[0] == '{' && (end = strchr(pw, '}')) != NULL &&
	    (size_t)(end - pw) < sizeof(scheme))
		(void)snprintf(scheme, sizeof(scheme), "%.*s",
		    (int)(end - pw - 1), pw + 1);
	else if (pw != NULL && pw[0] == '$')
		(void)str_copy(scheme, "crypt", sizeof(scheme));
	printf("login: %s\n", (const char *)sqlite3_column_text(st, 0));
	printf("scheme: %s\n", scheme);
	printf("scram-sha-256: %s\n", sqlite3_column_int(st, 2) ? "yes" : "no");
	printf("cram-md5: %s\n", sqlite3_column_int(st, 3) ? "yes" : "no");
	printf("disabled: %s\n", sqlite3_column_int(st, 4) ? "yes" : "no");
	printf("must-change: %s\n", sqlite3_column_int(st, 5) ? "yes" : "no");
	print_time("created", st, 6);
	print_time("updated", st, 7);
	printf("app-passwords: %d\n", sqlite3_column_int(st, 8));
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(h,
	        "SELECT address FROM aliases WHERE login = ?1 ORDER BY address",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, login) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		printf("%s%s", n++ == 0 ? "aliases: " : " ",
		    (const char *)sqlite3_column_text(st, 0));
	if (n > 0)
		printf("\n");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
fail:
	(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	return -1;
}

int
sqlite_users_alias(struct sqlite3 *h, const char *login, const char *address,
    int add, char *err, size_t errlen)
{
	const char *p[2] = {login, address};
	int n, e = sqlite_users_exists(h, login);

	if (e <= 0)
		return e < 0 ? -1 : -2;
	n = exec_bound(h,
	    add ? "INSERT OR IGNORE INTO aliases (login, address) SELECT "
	          "login, ?2 FROM users WHERE login = ?1"
	        : "DELETE FROM aliases WHERE login = ?1 AND address = ?2",
	    p, 2, 0, err, errlen);
	return n < 0 ? -1 : 0;
}

int
sqlite_apppass_add(struct sqlite3 *h, const char *login, const char *label,
    const char *hash, const char *networks, const char *sender,
    unsigned int rate_cap, const char *tls_floor, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int e = sqlite_users_exists(h, login), rc;

	if (e <= 0)
		return e < 0 ? -1 : -2;
	/* a revoked label may be reused; a live one may not */
	if (sqlite3_prepare_v2(h,
	        "SELECT revoked IS NULL FROM app_passwords WHERE login = ?1 "
	        "AND label = ?2",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, login) != SQLITE_OK ||
	    bind_text(st, 2, label) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0) {
		sqlite3_finalize(st);
		return -3;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(h,
	        "INSERT OR REPLACE INTO app_passwords (login, label, password, "
	        "networks, sender, rate_cap, tls_floor, created, last_used, "
	        "revoked) SELECT login, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL "
	        "FROM users WHERE login = ?1",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, login) != SQLITE_OK ||
	    bind_text(st, 2, label) != SQLITE_OK ||
	    bind_text(st, 3, hash) != SQLITE_OK ||
	    bind_text(st, 4, networks) != SQLITE_OK ||
	    bind_text(st, 5, sender) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, (sqlite3_int64)rate_cap) != SQLITE_OK ||
	    bind_text(st, 7, tls_floor) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL)) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	return -1;
}

int
sqlite_apppass_revoke(struct sqlite3 *h, const char *login, const char *label,
    char *err, size_t errlen)
{
	const char *p[2] = {login, label};
	int n = exec_bound(h,
	    "UPDATE app_passwords SET revoked = ?3 WHERE login = ?1 AND label "
	    "= "
	    "?2 AND revoked IS NULL",
	    p, 2, (sqlite3_int64)time(NULL), err, errlen);

	return n < 0 ? -1 : n == 0 ? -2 : 0;
}

int
sqlite_apppass_list(
    struct sqlite3 *h, const char *login, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, e = sqlite_users_exists(h, login);

	if (e <= 0)
		return e < 0 ? -1 : -2;
	if (sqlite3_prepare_v2(h,
	        "SELECT label, coalesce(networks, '-'), coalesce(sender, '-'), "
	        "rate_cap, coalesce(nullif(tls_floor, ''), '-'), "
	        "coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', created, "
	        "'unixepoch'), '-'), coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', "
	        "last_used, 'unixepoch'), 'never'), "
	        "coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', revoked, "
	        "'unixepoch'), '-') FROM app_passwords WHERE login = ?1 ORDER "
	        "BY created, label",
	        -1, &st, NULL) != SQLITE_OK ||
	    bind_text(st, 1, login) != SQLITE_OK) {
		(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
		sqlite3_finalize(st);
		return -1;
	}
	printf("label\tnetworks\tsender\trate_cap\ttls_floor\tcreated\t"
	       "last_used\trevoked\n");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		printf("%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
		    (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    sqlite3_column_int(st, 3),
		    (const char *)sqlite3_column_text(st, 4),
		    (const char *)sqlite3_column_text(st, 5),
		    (const char *)sqlite3_column_text(st, 6),
		    (const char *)sqlite3_column_text(st, 7));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		(void)snprintf(err, errlen, "%s", sqlite3_errmsg(h));
		return -1;
	}
	return 0;
}
