/*
 * guard_store.h - the guard's state on disk (<spool>/guard.db, SQLite, WAL):
 * bans, failure counters (counts only: the attempt hashes die with the
 * process key) and contained logins. The auth service loads it at start and
 * writes bans at once, counters in batches; `postern guard` edits it from
 * the command line and the service notices (PRAGMA data_version) within a
 * second. Blocking, but cheap (WAL, synchronous=NORMAL): small writes only.
 */
#ifndef POSTERN_AUTH_GUARD_STORE_H
#define POSTERN_AUTH_GUARD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/guard.h"

#define GUARD_DB_NAME "guard.db"

struct guard_store;

struct guard_contained {
	char login[GUARD_LOGIN_MAX];
	int64_t since;
	char reason[64];
};

/* guard_store_open - open (create) path; NULL with err. */
struct guard_store *guard_store_open(
    const char *path, char *err, size_t errlen);
void guard_store_close(struct guard_store *st);

/* guard_store_path - "<spool>/guard.db" or the configured state path into out; 0 or -1. */
int guard_store_path(
    const char *state, const char *spool, char *out, size_t outlen);

/* guard_store_put_ban / del_ban - 0 or -1. */
int guard_store_put_ban(struct guard_store *st, const struct guard_ban *b);
int guard_store_del_ban(struct guard_store *st, const char *key);

/* guard_store_bans - the stored bans (at most max) into out; count or -1. */
long guard_store_bans(
    struct guard_store *st, struct guard_ban *out, size_t max);

/* guard_store_save_counters - replace all counters with n (one transaction). */
int guard_store_save_counters(
    struct guard_store *st, const struct guard_counter *v, size_t n);

/* guard_store_counters - the stored counters; count or -1. */
long guard_store_counters(
    struct guard_store *st, struct guard_counter *out, size_t max);

/* guard_store_del_counter - forget one (kind, key); 0 or -1. */
int guard_store_del_counter(
    struct guard_store *st, enum guard_kind kind, const char *key);

/* contained logins */
int guard_store_put_contained(
    struct guard_store *st, const struct guard_contained *c);
int guard_store_del_contained(struct guard_store *st, const char *login);
long guard_store_contained(
    struct guard_store *st, struct guard_contained *out, size_t max);

/*
 * Requests from `postern guard` to a running service (applied within a
 * second, or at the next start): op "unban", arg an address, prefix or login.
 */
int guard_store_add_request(
    struct guard_store *st, const char *op, const char *arg);
/* guard_store_take_requests - the pending unban args (at most max), removed; count or -1. */
long guard_store_take_requests(
    struct guard_store *st, char (*args)[GUARD_LOGIN_MAX], size_t max);

/*
 * guard_store_changed - 1 if another process committed to the database
 * since the last call (PRAGMA data_version), else 0.
 */
int guard_store_changed(struct guard_store *st);

#endif
