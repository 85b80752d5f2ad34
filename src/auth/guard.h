/*
 * guard.h - brute-force defense for AUTH (the auth service's "anvil").
 * Failed attempts are counted per client key (IPv4 address, IPv6 /64) and
 * per account. A failure counts once per distinct (login, password): each
 * attempt is reduced to a keyed hash (HMAC-SHA-256 under a per-process
 * random key, truncated) that is compared with the recent ones of the same
 * key and then forgotten; passwords are never stored or logged. So a device
 * behind NAT retrying one stale password counts once, a guesser counts
 * every guess, and password spraying (one address, many accounts) counts
 * every (account, password) pair.
 *
 *   distinct failures of an address >  max_failures: growing delay
 *   distinct failures of an address >= ban_after:    banned for ban_time
 *   distinct failures of an account >  max_failures: its failures delayed
 *     (distributed guessing); an account is never banned or locked, so
 *     its owner still logs in from a good address.
 *
 * Allow-listed networks are never counted, delayed or banned. Counters
 * expire window after the last failure. A success resets nothing (a
 * guesser must not reset its count with one account it owns) and is never
 * delayed: only failures wait. Time is passed in by the caller (the unit
 * tests use a mock clock). No I/O: persistence and sharing live in
 * guard_store.c and guard_redis.c.
 */
#ifndef POSTERN_AUTH_GUARD_H
#define POSTERN_AUTH_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "policy/relay.h"

#define GUARD_HASH_LEN    16 /* truncated HMAC-SHA-256 of an attempt */
#define GUARD_RECENT      32 /* distinct attempts remembered per key */
#define GUARD_MAX_ENTRIES 65536
#define GUARD_LOGIN_MAX   256

struct guard_config {
	int enabled;
	unsigned int max_failures; /* distinct failures before delays */
	unsigned int ban_after;    /* distinct failures that ban an address */
	unsigned int ban_time_s;
	unsigned int
	    window_s; /* counters forget this long after the last failure */
	unsigned int base_delay_ms; /* every failure ([auth] failure_delay) */
	unsigned int delay_base_ms; /* first delay after max_failures */
	unsigned int delay_max_ms;
	char allow[1024]; /* cidr list */
};

enum guard_kind {
	GUARD_ADDR,
	GUARD_ACCOUNT,
};

struct guard_ban {
	char key[RELAY_KEY_MAX];
	int64_t until;   /* unix seconds */
	char reason[32]; /* "auth-failures", "manual", "shared" */
};

struct guard;

/* guard_new - empty state with cfg (copied) and a fresh random hash key. */
struct guard *guard_new(const struct guard_config *cfg);
void guard_free(struct guard *g);

/* guard_configure - new settings (reload); counters and bans are kept. */
void guard_configure(struct guard *g, const struct guard_config *cfg);

/* guard_set_key - replace the random hash key (unit tests). */
void guard_set_key(struct guard *g, const unsigned char key[32]);

/*
 * guard_attempt_hash - the keyed hash of one attempt (login, password);
 * password may be NULL for mechanisms that never show one (SCRAM,
 * CRAM-MD5): then a random value, so every such failure is distinct.
 */
void guard_attempt_hash(const struct guard *g, const char *login,
    const void *password, size_t pwlen, unsigned char out[GUARD_HASH_LEN]);

/* guard_allowed_net - 1 if addr is in the allow-list. */
int guard_allowed_net(const struct guard *g, const char *addr);

/*
 * guard_banned - 1 if addr's key is banned at now (until_r gets the end),
 * else 0. Allow-listed addresses are never banned.
 */
int guard_banned(
    const struct guard *g, const char *addr, int64_t now, int64_t *until_r);

/* What a failure did. */
struct guard_verdict {
	unsigned int delay_ms;      /* wait this long before the 535 */
	unsigned int addr_failures; /* distinct, for the log */
	unsigned int account_failures;
	int counted;          /* 0: a repeat of a recent attempt */
	int banned;           /* this failure banned the address */
	struct guard_ban ban; /* when banned */
};

/* guard_failure - record a failed attempt (hash from guard_attempt_hash). */
void guard_failure(struct guard *g, const char *addr, const char *login,
    const unsigned char hash[GUARD_HASH_LEN], int64_t now,
    struct guard_verdict *out);

/*
 * guard_ban_set - ban key until (merged: the later end wins); 1 if this
 * changed the ban list, 0 if an equal or later ban existed.
 */
int guard_ban_set(
    struct guard *g, const char *key, int64_t until, const char *reason);

/* guard_ban_clear - lift a ban (and forget the key's counters); 1 if there was one. */
int guard_ban_clear(struct guard *g, const char *key);

/*
 * guard_expire - drop idle counters and ended bans at now; ended bans are
 * copied to out (at most max) so the caller logs and announces them.
 */
size_t guard_expire(
    struct guard *g, int64_t now, struct guard_ban *out, size_t max);

/* guard_bans - the current bans (at most max) into out; returns the count. */
size_t guard_bans(const struct guard *g, struct guard_ban *out, size_t max);

/* guard_nbans - how many bans exist. */
size_t guard_nbans(const struct guard *g);

/* Counters for persistence: one per key with a distinct-failure count. */
struct guard_counter {
	enum guard_kind kind;
	char key[GUARD_LOGIN_MAX];
	unsigned int failures;
	int64_t last;
};

/* guard_counters - snapshot of the counters (at most max); returns the count. */
size_t guard_counters(
    const struct guard *g, struct guard_counter *out, size_t max);

/*
 * guard_counter_restore - a counter loaded from disk: failures counted
 * earlier (whose hashes are gone with the old process key).
 */
void guard_counter_restore(
    struct guard *g, const struct guard_counter *c, int64_t now);

/* guard_dirty - 1 (and cleared) if counters changed since the last call. */
int guard_dirty(struct guard *g);

/* guard_delay_for - the delay for n distinct failures (exposed for tests and docs). */
unsigned int guard_delay_for(const struct guard_config *cfg, unsigned int n);

#endif
