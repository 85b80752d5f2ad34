/*
 * apppass.h - accounts as the database backends (sqlite, pgsql) return them:
 * the main password, SCRAM keys, flags, sender addresses, and the labelled
 * app passwords / device credentials with their profiles. Verification
 * tries the main password, then each live credential, on a pool thread.
 * Also the job plumbing those drivers share: fetch on the pool, answer on
 * the loop.
 */
#ifndef POSTERN_AUTH_APPPASS_H
#define POSTERN_AUTH_APPPASS_H

#include <stddef.h>

#include "auth/passdb.h"

#define APPPASS_MAX      32 /* credentials per user considered */
#define ACCOUNT_USER_MAX 255

struct account_cred {
	char *label;           /* "phone" */
	char *password;        /* "{SCHEME}data" */
	char *networks;        /* "192.0.2.0/24 2001:db8::/32"; NULL = any */
	char *sender;          /* fixed sender address; NULL = the user's */
	unsigned int rate_cap; /* messages per hour; 0 = default */
	int tls_floor;         /* TLS1_VERSION etc.; 0 = the listener's */
};

struct account {
	char login[ACCOUNT_USER_MAX + 1]; /* canonical */
	char *password;     /* "{SCHEME}data"; NULL or "" = none */
	char *scram_sha256; /* "i,salt,StoredKey,ServerKey"; NULL = none */
	char *scram_sha1;
	char *cram_md5;
	int disabled;
	int must_change;
	char **senders; /* NULL-terminated; NULL = none */
	size_t nsenders;
	struct account_cred creds[APPPASS_MAX];
	size_t ncreds;
};

/* account_free_fields - wipe secrets and free everything a fetch filled in. */
void account_free_fields(struct account *a);

/* account_add_sender - append a copy of address; 0 or -1. */
int account_add_sender(struct account *a, const char *address);

/* account_add_cred - append a credential (strings copied, NULLs allowed); 0 or -1. */
int account_add_cred(struct account *a, const char *label, const char *password,
    const char *networks, const char *sender, unsigned int rate_cap,
    int tls_floor);

/*
 * apppass_verify - on a pool thread: a NULL a is an unknown user (the
 * dummy hash is paid). Else the main password, then each credential in
 * order, stopping at the first match; *matched_r is -1 for the main
 * password or the index of the credential; *malformed_r is set when a
 * stored value could not be parsed. Returns OK, MISMATCH, NO_USER or
 * DISABLED (after a matching password only).
 */
enum passdb_status apppass_verify(const struct account *a,
    const struct secret *password, int *matched_r, int *malformed_r);

/*
 * apppass_network_ok - is client_addr (an IPv4/IPv6 literal) inside one of
 * the space/comma separated CIDR networks? An empty or NULL list allows
 * every address; an unparsable address or network never matches.
 */
int apppass_network_ok(const char *networks, const char *client_addr);

/* apppass_networks_valid - 1 if every item of the list is an address or CIDR network. */
int apppass_networks_valid(const char *networks);

/* apppass_generate - a new random app password (base32-ish groups) into out (>= 24). */
void apppass_generate(char *out, size_t outlen);

/*
 * The shared driver plumbing. A driver provides fetch (on a pool thread:
 * fill a, return PASSDB_OK, PASSDB_NO_USER or PASSDB_TEMPFAIL) and, when
 * writable, store; account_verify/lookup/exists run them on the pool and
 * answer on the loop.
 */
struct account_ops {
	const char *name; /* for log lines */
	enum passdb_status (*fetch)(struct passdb *db, const char *user,
	    int with_creds, struct account *a);
	/* store - new hash/scram (either NULL); PASSDB_OK / NO_USER / TEMPFAIL */
	enum passdb_status (*store)(struct passdb *db, const char *user,
	    const char *hash, const char *scram_sha256);
	/* touch - mark credential label used now; best effort */
	void (*touch)(struct passdb *db, const char *user, const char *label);
	/* exists - a login or an alias address; PASSDB_OK / NO_USER / TEMPFAIL */
	enum passdb_status (*exists)(
	    struct passdb *db, const char *user, char *canon, size_t canonlen);
};

void account_verify(struct passdb *db, const struct account_ops *ops,
    const struct passdb_request *req, passdb_cb *cb, void *arg);
void account_lookup(struct passdb *db, const struct account_ops *ops,
    const char *user, const char *scheme, passdb_cb *cb, void *arg);
void account_exists(struct passdb *db, const struct account_ops *ops,
    const char *user, passdb_cb *cb, void *arg);
void account_update(struct passdb *db, const struct account_ops *ops,
    const char *user, const char *hash, const char *scram, passdb_cb *cb,
    void *arg);
void account_touch(struct passdb *db, const struct account_ops *ops,
    const char *user, const char *label);

#endif
