/*
 * passdb.h - credential backends. Lookups and verifications are
 * asynchronous: the callback runs later on the auth service's event loop,
 * never inside the call. Blocking work (hashing, files, network) runs on the
 * service's work pool.
 */
#ifndef POSTERN_AUTH_PASSDB_H
#define POSTERN_AUTH_PASSDB_H

#include <stddef.h>

struct event_base;
struct secret;
struct workpool;

enum passdb_status {
	PASSDB_OK,
	PASSDB_MISMATCH,
	PASSDB_NO_USER,
	PASSDB_DISABLED,
	PASSDB_NO_SCHEME,	/* user exists, but not with the credentials this mechanism needs */
	PASSDB_TEMPFAIL,	/* backend down: 454 4.7.0, never 535 */
};

#define CRED_MUST_CHANGE 0x01
#define CRED_DISABLED	 0x02	/* lookup only: the account is disabled; fail after the proof */

struct cred_result {
	enum passdb_status	 status;
	const char		*user;		/* canonical login name */
	const char		*scheme;	/* "ARGON2ID", "SCRAM-SHA-256", ... */
	const struct secret	*secret;	/* stored hash or key record (lookup only) */
	const char *const	*senders;	/* addresses this login may use; NULL-terminated or NULL */
	unsigned int		 flags;		/* CRED_* */
};

typedef void passdb_cb(const struct cred_result *r, void *arg);

#define PASSDB_CAN_LOOKUP 0x01	/* can return stored credentials (CRAM-MD5, SCRAM) */
#define PASSDB_CAN_VERIFY 0x02	/* can check a plain password */
#define PASSDB_BLOCKING	  0x04	/* driver calls run on the work pool */

struct passdb;

struct passdb_driver {
	const char	*name;	/* "passwd-file" */
	unsigned int	 caps;	/* PASSDB_* */
	/* open - arg is the text after "driver:" in the configuration. */
	int	(*open)(struct passdb *db, const char *arg, char *err, size_t errlen);
	void	(*lookup)(struct passdb *db, const char *user, const char *scheme,
		    passdb_cb *cb, void *arg);
	void	(*verify)(struct passdb *db, const char *user,
		    const struct secret *password, passdb_cb *cb, void *arg);
	/* exists - is user (a login or an address) a known mailbox? (RCPT checks) */
	void	(*exists)(struct passdb *db, const char *user, passdb_cb *cb, void *arg);
	int	(*reload)(struct passdb *db, char *err, size_t errlen);
	void	(*close)(struct passdb *db);
};

struct passdb {
	const struct passdb_driver *driver;
	struct workpool		   *pool;	/* where blocking work runs */
	struct event_base	   *base;	/* the auth service's loop */
	void			   *priv;	/* driver state */
};

/*
 * passdb_open - "passwd-file:/etc/postern/users" -> an open passdb using pool
 * for blocking work. NULL with a message in err on failure.
 */
struct passdb *passdb_open(const char *driver, const char *arg,
    struct event_base *base, struct workpool *pool, char *err, size_t errlen);

/* passdb_close - close and free. */
void passdb_close(struct passdb *db);

/* passdb_verify - check password for user; cb(result, arg) runs later on the loop. */
void passdb_verify(struct passdb *db, const char *user,
    const struct secret *password, passdb_cb *cb, void *arg);

/* passdb_lookup - stored credentials of scheme for user; cb runs later on the loop. */
void passdb_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg);

/* passdb_exists - is user a known mailbox; cb runs later with PASSDB_OK or PASSDB_NO_USER. */
void passdb_exists(struct passdb *db, const char *user, passdb_cb *cb,
    void *arg);

/* passdb_reload - re-read the backend (SIGHUP); 0 or -1 with err (old data kept). */
int passdb_reload(struct passdb *db, char *err, size_t errlen);

/*
 * passdb_reply_later - for drivers: deliver a copy of r (user, scheme and
 * secret copied) to cb on the loop in a later iteration, never inside the
 * call. 0, or -1 if it could not be scheduled (cb will not run).
 */
int passdb_reply_later(struct passdb *db, const struct cred_result *r,
    passdb_cb *cb, void *arg);

/* The drivers; passdb_open() finds them by name. */
extern const struct passdb_driver passdb_driver_file;	/* "passwd-file" */

#endif
