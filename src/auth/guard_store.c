/*
 * guard_store.c - SQLite persistence of the guard (see guard_store.h).
 * Every statement is prepared with bound parameters; keys are never
 * spliced into SQL text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "auth/guard_store.h"
#include "core/str.h"

struct guard_store {
	sqlite3 *db;
	long long data_version;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS bans(key TEXT PRIMARY KEY, until INTEGER "
    "NOT NULL, reason TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS counters(kind INTEGER NOT NULL, key TEXT "
    "NOT NULL, failures INTEGER NOT NULL, last INTEGER NOT NULL, "
    "PRIMARY KEY(kind, key));"
    "CREATE TABLE IF NOT EXISTS contained(login TEXT PRIMARY KEY, since "
    "INTEGER NOT NULL, reason TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS requests(id INTEGER PRIMARY KEY, op TEXT "
    "NOT NULL, arg TEXT NOT NULL);";

int
guard_store_path(const char *state, const char *spool, char *out, size_t outlen)
{
	int n;

	if (state != NULL && state[0] != '\0')
		n = snprintf(out, outlen, "%s", state);
	else
		n = snprintf(out, outlen, "%s/%s", spool, GUARD_DB_NAME);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static long long
data_version(sqlite3 *db)
{
	sqlite3_stmt *s;
	long long v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

struct guard_store *
guard_store_open(const char *path, char *err, size_t errlen)
{
	struct guard_store *st = calloc(1, sizeof(*st));
	char *msg = NULL;

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_FULLMUTEX,
	        NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 2000);
	if (sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : "schema");
		sqlite3_free(msg);
		goto fail;
	}
	st->data_version = data_version(st->db);
	return st;
fail:
	sqlite3_close(st->db);
	free(st);
	return NULL;
}

void
guard_store_close(struct guard_store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st);
}

/* run - prepare sql, bind "t" (text) / "i" (int64) args, step to done. */
static int
run(struct guard_store *st, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int i, rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	va_start(ap, types);
	for (i = 0; types[i] != '\0'; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(s, i + 1, va_arg(ap, const char *),
			    -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	do {
		rc = sqlite3_step(s);
	} while (rc == SQLITE_ROW);
	sqlite3_finalize(s);
	/* our own writes do not count as "changed by another process" */
	st->data_version = data_version(st->db);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
guard_store_put_ban(struct guard_store *st, const struct guard_ban *b)
{
	return run(st,
	    "INSERT INTO bans(key, until, reason, created) VALUES(?1, ?2, ?3, "
	    "strftime('%s','now')) ON CONFLICT(key) DO UPDATE SET "
	    "until = max(until, excluded.until), reason = excluded.reason",
	    "tit", b->key, b->until, b->reason);
}

int
guard_store_del_ban(struct guard_store *st, const char *key)
{
	return run(st, "DELETE FROM bans WHERE key = ?1", "t", key);
}

long
guard_store_bans(struct guard_store *st, struct guard_ban *out, size_t max)
{
	sqlite3_stmt *s;
	size_t n = 0;
	int rc;

	if (sqlite3_prepare_v2(st->db,
	        "SELECT key, until, reason FROM bans ORDER BY until", -1, &s,
	        NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *r = (const char *)sqlite3_column_text(s, 2);

		str_copy(out[n].key, k ? k : "", sizeof(out[n].key));
		out[n].until = sqlite3_column_int64(s, 1);
		str_copy(out[n].reason, r ? r : "", sizeof(out[n].reason));
		n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? (long)n : -1;
}

int
guard_store_save_counters(
    struct guard_store *st, const struct guard_counter *v, size_t n)
{
	sqlite3_stmt *s;
	size_t i;
	int ok = 1;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE; DELETE FROM counters", NULL,
	        NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(st->db,
	        "INSERT OR REPLACE INTO counters(kind, key, failures, last) "
	        "VALUES(?1, ?2, ?3, ?4)",
	        -1, &s, NULL) != SQLITE_OK) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (i = 0; i < n && ok; i++) {
		sqlite3_bind_int(s, 1, (int)v[i].kind);
		sqlite3_bind_text(s, 2, v[i].key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, v[i].failures);
		sqlite3_bind_int64(s, 4, v[i].last);
		ok = sqlite3_step(s) == SQLITE_DONE;
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	if (sqlite3_exec(st->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL,
	        NULL) != SQLITE_OK)
		ok = 0;
	st->data_version = data_version(st->db);
	return ok ? 0 : -1;
}

long
guard_store_counters(
    struct guard_store *st, struct guard_counter *out, size_t max)
{
	sqlite3_stmt *s;
	size_t n = 0;
	int rc;

	if (sqlite3_prepare_v2(st->db,
	        "SELECT kind, key, failures, last FROM counters ORDER BY "
	        "failures DESC",
	        -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
		const char *k = (const char *)sqlite3_column_text(s, 1);

		out[n].kind = sqlite3_column_int(s, 0) == GUARD_ACCOUNT
		    ? GUARD_ACCOUNT
		    : GUARD_ADDR;
		str_copy(out[n].key, k ? k : "", sizeof(out[n].key));
		out[n].failures = (unsigned int)sqlite3_column_int64(s, 2);
		out[n].last = sqlite3_column_int64(s, 3);
		n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? (long)n : -1;
}

int
guard_store_del_counter(
    struct guard_store *st, enum guard_kind kind, const char *key)
{
	return run(st, "DELETE FROM counters WHERE kind = ?1 AND key = ?2",
	    "it", (int64_t)kind, key);
}

int
guard_store_put_contained(
    struct guard_store *st, const struct guard_contained *c)
{
	return run(st,
	    "INSERT OR REPLACE INTO contained(login, since, reason) "
	    "VALUES(?1, ?2, ?3)",
	    "tit", c->login, c->since, c->reason);
}

int
guard_store_del_contained(struct guard_store *st, const char *login)
{
	return run(st, "DELETE FROM contained WHERE login = ?1", "t", login);
}

long
guard_store_contained(
    struct guard_store *st, struct guard_contained *out, size_t max)
{
	sqlite3_stmt *s;
	size_t n = 0;
	int rc;

	if (sqlite3_prepare_v2(st->db,
	        "SELECT login, since, reason FROM contained ORDER BY since", -1,
	        &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
		const char *l = (const char *)sqlite3_column_text(s, 0);
		const char *r = (const char *)sqlite3_column_text(s, 2);

		str_copy(out[n].login, l ? l : "", sizeof(out[n].login));
		out[n].since = sqlite3_column_int64(s, 1);
		str_copy(out[n].reason, r ? r : "", sizeof(out[n].reason));
		n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? (long)n : -1;
}

int
guard_store_changed(struct guard_store *st)
{
	long long v = data_version(st->db);

	if (v == st->data_version)
		return 0;
	st->data_version = v;
	return 1;
}

int
guard_store_add_request(struct guard_store *st, const char *op, const char *arg)
{
	return run(
	    st, "INSERT INTO requests(op, arg) VALUES(?1, ?2)", "tt", op, arg);
}

long
guard_store_take_requests(
    struct guard_store *st, char (*args)[GUARD_LOGIN_MAX], size_t max)
{
	sqlite3_stmt *s;
	size_t n = 0;
	long long last = 0;

	if (sqlite3_prepare_v2(st->db,
	        "SELECT id, arg FROM requests WHERE op = 'unban' ORDER BY id",
	        -1, &s, NULL) != SQLITE_OK)
		return -1;
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(s, 1);

		last = sqlite3_column_int64(s, 0);
		str_copy(args[n++], a ? a : "", GUARD_LOGIN_MAX);
	}
	sqlite3_finalize(s);
	if (n > 0 &&
	    run(st, "DELETE FROM requests WHERE id <= ?1", "i",
	        (int64_t)last) == -1)
		return -1;
	return (long)n;
}
