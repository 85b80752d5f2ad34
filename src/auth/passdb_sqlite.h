/*
 * passdb_sqlite.h - administration of the SQLite user database for
 * "postern user" (the driver itself is passdb_driver_sqlite in passdb.h).
 * Every statement binds its parameters; nothing is built from strings.
 */
#ifndef POSTERN_AUTH_PASSDB_SQLITE_H
#define POSTERN_AUTH_PASSDB_SQLITE_H

#include <stddef.h>

struct sqlite3;

/* sqlite_users_open - open (create 0600 when create is set) and ensure the schema; NULL with err. */
struct sqlite3 *sqlite_users_open(
    const char *path, int create, char *err, size_t errlen);

/* sqlite_users_close - close what sqlite_users_open returned. */
void sqlite_users_close(struct sqlite3 *h);

/* sqlite_users_schema - create the tables when missing; 0 or -1 with err. */
int sqlite_users_schema(struct sqlite3 *h, char *err, size_t errlen);

/* sqlite_users_exists - 1, 0, or -1 on error. */
int sqlite_users_exists(struct sqlite3 *h, const char *login);

/* sqlite_users_add - a new user; 0, -1 error, -2 exists. scram may be NULL. */
int sqlite_users_add(struct sqlite3 *h, const char *login, const char *hash,
    const char *scram_sha256, char *err, size_t errlen);

/* sqlite_users_set_password - new hash (and SCRAM keys, or NULL to clear); 0, -1, -2 no user. */
int sqlite_users_set_password(struct sqlite3 *h, const char *login,
    const char *hash, const char *scram_sha256, char *err, size_t errlen);

/* sqlite_users_del - 0, -1, -2 no user. App passwords and aliases go too. */
int sqlite_users_del(
    struct sqlite3 *h, const char *login, char *err, size_t errlen);

/* sqlite_users_set_flag - column "disabled" or "must_change" to value; 0, -1, -2. */
int sqlite_users_set_flag(struct sqlite3 *h, const char *login,
    const char *column, int value, char *err, size_t errlen);

/* sqlite_users_list - print each login (one a line) to stdout; 0 or -1. */
int sqlite_users_list(struct sqlite3 *h, char *err, size_t errlen);

/* sqlite_users_show - print a user's record (no secrets) to stdout; 0, -1, -2. */
int sqlite_users_show(
    struct sqlite3 *h, const char *login, char *err, size_t errlen);

/* sqlite_users_alias - add (add=1) or remove an alias address; 0, -1, -2. */
int sqlite_users_alias(struct sqlite3 *h, const char *login,
    const char *address, int add, char *err, size_t errlen);

/* sqlite_apppass_add - a new labelled credential; 0, -1, -2 no user, -3 label in use. */
int sqlite_apppass_add(struct sqlite3 *h, const char *login, const char *label,
    const char *hash, const char *networks, const char *sender,
    unsigned int rate_cap, const char *tls_floor, char *err, size_t errlen);

/* sqlite_apppass_revoke - 0, -1, -2 no such live credential. */
int sqlite_apppass_revoke(struct sqlite3 *h, const char *login,
    const char *label, char *err, size_t errlen);

/* sqlite_apppass_list - print the user's credentials with profile and last use; 0, -1, -2. */
int sqlite_apppass_list(
    struct sqlite3 *h, const char *login, char *err, size_t errlen);

/* sqlite_tls_floor - "TLSv1", "TLSv1.1", "TLSv1.2" to the OpenSSL version; 0 for ""/NULL, -1 unknown. */
int sqlite_tls_floor(const char *s);

#endif
