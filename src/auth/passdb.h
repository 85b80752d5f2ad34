/*
 * passdb.h - credential backends. Lookups and verifications are
 * asynchronous: the callback runs later on the auth service's event loop,
 * never inside the call. Blocking work (hashing, files, network) runs on the
 * service's work pool.
 */
#ifndef POSTERN_AUTH_PASSDB_H
#define POSTERN_AUTH_PASSDB_H

#include <stddef.h>

struct event;
struct event_base;
struct passdb_watch;
struct secret;
struct workpool;

enum passdb_status {
	PASSDB_OK,
	PASSDB_MISMATCH,
	PASSDB_NO_USER,
	PASSDB_DISABLED,
	PASSDB_NO_SCHEME, /* user exists, but not with the credentials this mechanism needs */
	PASSDB_TEMPFAIL, /* backend down: 454 4.7.0, never 535 */
};

#define CRED_MUST_CHANGE 0x01
#define CRED_DISABLED                                                          \
	0x02 /* lookup only: the account is disabled; fail after the proof */
#define CRED_APP_PASSWORD                                                      \
	0x04               /* verify: an app password (credential) matched */
#define CRED_NO_SCRAM 0x08 /* verify: the backend holds no SCRAM-SHA-256 keys */
#define CRED_CACHED   0x10 /* verify: answered from the auth cache */
#define CRED_WRITABLE 0x20 /* verify: the backend can store new credentials */

struct cred_result {
	enum passdb_status status;
	const char *user;   /* canonical login name */
	const char *scheme; /* "ARGON2ID", "SCRAM-SHA-256", ... */
	const struct secret
	    *secret; /* stored hash or key record (lookup only) */
	const char *const *
	    senders; /* addresses this login may use; NULL-terminated or NULL */
	unsigned int flags; /* CRED_* */
	/* verify, CRED_APP_PASSWORD: the credential that matched and its profile */
	const char *credential; /* label ("phone"); NULL = the main password */
	const char
	    *networks; /* allowed client networks, CIDR list; NULL = any */
	const char
	    *fixed_sender;     /* the only sender it may use; NULL = senders */
	unsigned int rate_cap; /* messages per hour; 0 = the user's default */
	unsigned int rcpt_cap; /* recipients per day; 0 = the default */
	int tls_floor; /* relaxed TLS minimum granted (TLS1_VERSION...); 0 = none */
	/* bearer-token answers (SASL_PENDING_TOKEN): the scope to name in the
	 * RFC 7628 §3.2.2 failure status; NULL = none configured */
	const char *oauth_scope;
};

/* What the auth service knows about a verification besides user and password. */
struct passdb_request {
	const char *user;
	const struct secret *password;
	const char *client_addr; /* "192.0.2.7" or "" */
	const char *mech;        /* "PLAIN", "LOGIN" */
	int tls;                 /* the session is under TLS */
};

typedef void passdb_cb(const struct cred_result *r, void *arg);

#define PASSDB_CAN_LOOKUP                                                      \
	0x01 /* can return stored credentials (CRAM-MD5, SCRAM) */
#define PASSDB_CAN_VERIFY 0x02 /* can check a plain password */
#define PASSDB_BLOCKING   0x04 /* driver calls run on the work pool */

struct passdb;

struct passdb_driver {
	const char *name;  /* "passwd-file" */
	unsigned int caps; /* PASSDB_* */
	/* open - arg is the text after "driver:" in the configuration. */
	int (*open)(
	    struct passdb *db, const char *arg, char *err, size_t errlen);
	void (*lookup)(struct passdb *db, const char *user, const char *scheme,
	    passdb_cb *cb, void *arg);
	void (*verify)(struct passdb *db, const char *user,
	    const struct secret *password, passdb_cb *cb, void *arg);
	/* exists - is user (a login or an address) a known mailbox? (RCPT checks) */
	void (*exists)(
	    struct passdb *db, const char *user, passdb_cb *cb, void *arg);
	int (*reload)(struct passdb *db, char *err, size_t errlen);
	void (*close)(struct passdb *db);
	/* update - writable backends only (NULL otherwise): store a new
	 * main-password hash and/or SCRAM-SHA-256 keys (either may be NULL);
	 * cb gets PASSDB_OK, PASSDB_NO_USER or PASSDB_TEMPFAIL. */
	void (*update)(struct passdb *db, const char *user, const char *hash,
	    const char *scram_sha256, passdb_cb *cb, void *arg);
	/* verify_req - verify with the connection's context (app passwords);
	 * NULL: passdb.c calls verify(). */
	void (*verify_req)(struct passdb *db, const struct passdb_request *req,
	    passdb_cb *cb, void *arg);
	/* apppass_used - record the last use of credential label (may be NULL: no answer). */
	void (*apppass_used)(
	    struct passdb *db, const char *user, const char *label);
	/* find_by_field - the login whose extra field key has value (key NULL:
	 * the login value itself), for certificate and token logins. cb gets
	 * PASSDB_OK with r->user (CRED_DISABLED in flags if so), or
	 * PASSDB_NO_USER. May be NULL. */
	void (*find_by_field)(struct passdb *db, const char *key,
	    const char *value, passdb_cb *cb, void *arg);
};

struct auth_cache;
struct config;

struct passdb {
	const struct passdb_driver *driver;
	struct workpool *pool;   /* where blocking work runs */
	struct event_base *base; /* the auth service's loop */
	void *priv;              /* driver state */
	/* Set by passdb_open_config(); zero/NULL = off. Drivers ignore them. */
	unsigned int timeout_ms;  /* answer TEMPFAIL after this */
	struct auth_cache *cache; /* verify results (auth/cache.h) */
	int migrate_scram;        /* store SCRAM keys at PLAIN/LOGIN login */
	int rehash;               /* re-hash to default_scheme at login */
	char default_scheme[32];
	struct passdb_watch
	    *watch; /* a file backend: flush the cache when it changes */
	const struct config
	    *cfg; /* during open() only: [pgsql] etc.; NULL = defaults */
	struct event *stats_ev; /* periodic cache statistics */
	unsigned long ntimeouts, nupgrades;
	struct upgrade
	    *upgrading; /* credential upgrades in flight (one per login) */
};

/*
 * passdb_open - "passwd-file:/etc/postern/users" -> an open passdb using pool
 * for blocking work. NULL with a message in err on failure.
 */
struct passdb *passdb_open(const char *driver, const char *arg,
    struct event_base *base, struct workpool *pool, char *err, size_t errlen);

/* passdb_open_cfg - passdb_open with cfg visible to the driver's open() (NULL = defaults). */
struct passdb *passdb_open_cfg(const char *driver, const char *arg,
    const struct config *cfg, struct event_base *base, struct workpool *pool,
    char *err, size_t errlen);

/* passdb_close - close and free. */
void passdb_close(struct passdb *db);

/*
 * passdb_open_config - every "[auth] passdb" of cfg (a chain when there are
 * several: the first that knows the user answers), with the auth cache,
 * the backend timeout and the login upgrades configured. NULL with err.
 */
struct passdb *passdb_open_config(const struct config *cfg,
    struct event_base *base, struct workpool *pool, char *err, size_t errlen);

/* passdb_configure - (re)apply cfg's cache, timeout and upgrade settings to db. */
int passdb_configure(
    struct passdb *db, const struct config *cfg, char *err, size_t errlen);

/*
 * passdb_verify_req - verify with the connection's context: the cache is
 * consulted first; app-password profiles are checked against the client
 * address; after a successful PLAIN/LOGIN over TLS a writable backend gets
 * SCRAM-SHA-256 keys and a current hash. cb runs later on the loop.
 */
void passdb_verify_req(struct passdb *db, const struct passdb_request *req,
    passdb_cb *cb, void *arg);

/* passdb_verify - check password for user; cb(result, arg) runs later on the loop. */
void passdb_verify(struct passdb *db, const char *user,
    const struct secret *password, passdb_cb *cb, void *arg);

/* passdb_lookup - stored credentials of scheme for user; cb runs later on the loop. */
void passdb_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg);

/* passdb_exists - is user a known mailbox; cb runs later with PASSDB_OK or PASSDB_NO_USER. */
void passdb_exists(
    struct passdb *db, const char *user, passdb_cb *cb, void *arg);

/*
 * passdb_find_by_field - the login whose extra field key equals value
 * ("cert", "sha256:<hex>"), or with key NULL the login value itself; cb
 * runs later with PASSDB_OK (canonical r->user, CRED_DISABLED when the
 * account is disabled) or PASSDB_NO_USER; TEMPFAIL if the driver cannot.
 */
void passdb_find_by_field(struct passdb *db, const char *key, const char *value,
    passdb_cb *cb, void *arg);

/* passdb_reload - re-read the backend (SIGHUP); 0 or -1 with err (old data kept). */
int passdb_reload(struct passdb *db, char *err, size_t errlen);

/*
 * passdb_reply_later - for drivers: deliver a copy of r (user, scheme and
 * secret copied) to cb on the loop in a later iteration, never inside the
 * call. 0, or -1 if it could not be scheduled (cb will not run).
 */
int passdb_reply_later(
    struct passdb *db, const struct cred_result *r, passdb_cb *cb, void *arg);

/* For drivers: after writing their own file, do not take it for an outside change. */
void passdb_watch_rebase(struct passdb *db);

/* passdb_guard - passdb.c internal: wrap (*cb, *arg) in db's backend timeout. */
void passdb_guard(struct passdb *db, passdb_cb **cb, void **arg);

/* passdb_stack_free - passdb.c internal: free the cache, watch and timers of db. */
void passdb_stack_free(struct passdb *db);

/* passdb_log_stats - one log line with the cache hit rate and counters. */
void passdb_log_stats(struct passdb *db, const char *why);

/* passdb_known_driver - 1 if name is a driver passdb_open() knows. */
int passdb_known_driver(const char *name);

/* The drivers; passdb_open() finds them by name. */
extern const struct passdb_driver passdb_driver_file;   /* "passwd-file" */
extern const struct passdb_driver passdb_driver_sqlite; /* "sqlite" */
extern const struct passdb_driver passdb_driver_pgsql;  /* "pgsql" */
extern const struct passdb_driver passdb_driver_chain;  /* several, in order */
extern const struct passdb_driver
    passdb_driver_ldap; /* "ldap", set by [ldap] */
extern const struct passdb_driver
    passdb_driver_dovecot; /* "dovecot:AUTH-CLIENT-SOCKET" */

#endif
