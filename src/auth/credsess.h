/*
 * credsess.h - the profile of the app password / device credential a
 * session authenticated with (fixed sender, own rate cap), kept by the
 * auth service for the session's later MAIL and DATA checks. Keyed by the
 * worker connection and the session id the worker sends; bounded; no I/O.
 * Also the TLS floor decision made at AUTH.
 */
#ifndef POSTERN_AUTH_CREDSESS_H
#define POSTERN_AUTH_CREDSESS_H

#include <stddef.h>
#include <stdint.h>

#define CREDSESS_MAX     16384 /* live credential sessions kept */
#define CREDSESS_IDLE_S  86400 /* when full, an entry idle this long may go */
#define CREDSESS_ID_MAX  20
#define CREDSESS_LBL_MAX 65 /* labels are at most 64 */

struct credsess_profile {
	char credential[CREDSESS_LBL_MAX]; /* label ("printer") */
	char fixed_sender[257];            /* "" = none */
	unsigned int rate_cap;             /* messages per hour; 0 = none */
};

struct credsess;

/* credsess_new - a table of at most max entries; NULL if out of memory. */
struct credsess *credsess_new(size_t max, unsigned int idle_s);
void credsess_free(struct credsess *t);

/*
 * credsess_put - remember p for (conn, session), replacing an older entry.
 * When the table is full, the least recently used entry goes if it was idle
 * for idle_s; otherwise -1 (the caller refuses the login: never lose a
 * restriction silently). 0 on success.
 */
int credsess_put(struct credsess *t, const void *conn, const char *session,
    const struct credsess_profile *p, int64_t now);

/* credsess_get - the profile of (conn, session) or NULL; marks it used. */
const struct credsess_profile *credsess_get(
    struct credsess *t, const void *conn, const char *session, int64_t now);

/* credsess_del - forget (conn, session) (the session ended or re-authenticated). */
void credsess_del(struct credsess *t, const void *conn, const char *session);

/* credsess_drop_conn - forget every session of conn (the worker went away); how many. */
size_t credsess_drop_conn(struct credsess *t, const void *conn);

/* credsess_count - entries held. */
size_t credsess_count(const struct credsess *t);

/* credsess_tls_version - "TLSv1.1" -> TLS1_1_VERSION; 0 if unknown. */
int credsess_tls_version(const char *name);

/*
 * credsess_tls_allowed - may a login over TLS version (its name) succeed
 * when the server's floor is min_version and the credential grants floor
 * granted (0 = no grant)? 1 at or above min_version; below it only with a
 * grant at or below version. An unknown version is refused.
 */
int credsess_tls_allowed(const char *version, int min_version, int granted);

#endif
