/*
 * cache.h - the auth cache: results of password verifications, so that a
 * deliberately slow hash does not cap login throughput. Entries are keyed
 * by HMAC-SHA256(random per-process key, lower(login) || 0 || password):
 * the password is never stored, and the key cannot be brute-forced offline
 * without the process key. Successes and failures have separate TTLs; the
 * least recently used entry goes first when full. Loop thread only.
 */
#ifndef POSTERN_AUTH_CACHE_H
#define POSTERN_AUTH_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cred_result;
struct secret;

#define AUTH_CACHE_KEY_LEN 32

struct auth_cache;

/* auth_cache_new - at most max_entries; ttl for successes, neg_ttl for failures (ms). */
struct auth_cache *auth_cache_new(
    size_t max_entries, unsigned int ttl_ms, unsigned int neg_ttl_ms);

/* auth_cache_free - wipe and free; NULL ignored. */
void auth_cache_free(struct auth_cache *c);

/* auth_cache_set_limits - new limits (SIGHUP); shrinking evicts. */
void auth_cache_set_limits(struct auth_cache *c, size_t max_entries,
    unsigned int ttl_ms, unsigned int neg_ttl_ms);

/* auth_cache_set_clock - tests: a monotonic millisecond clock (NULL = the real one). */
void auth_cache_set_clock(struct auth_cache *c, uint64_t (*now_ms)(void));

/* auth_cache_key - the entry key for (login, password). */
void auth_cache_key(const struct auth_cache *c, const char *login,
    const struct secret *password, unsigned char key[AUTH_CACHE_KEY_LEN]);

/*
 * auth_cache_get - 1 and *out (its pointers valid until the next call on c)
 * on a live entry, 0 on a miss. Counts hits and misses.
 */
int auth_cache_get(struct auth_cache *c,
    const unsigned char key[AUTH_CACHE_KEY_LEN], struct cred_result *out);

/*
 * auth_cache_put - remember r: PASSDB_OK with the positive TTL;
 * PASSDB_MISMATCH, PASSDB_NO_USER, PASSDB_DISABLED with the negative TTL;
 * anything else (TEMPFAIL) is not cached. 0, or -1 on ENOMEM.
 */
int auth_cache_put(struct auth_cache *c,
    const unsigned char key[AUTH_CACHE_KEY_LEN], const struct cred_result *r);

/* auth_cache_flush - forget everything (password change, SIGHUP). */
void auth_cache_flush(struct auth_cache *c);

struct auth_cache_stats {
	unsigned long hits, misses, inserts, evictions, flushes;
	size_t entries;
};

/* auth_cache_stats - counters since creation. */
void auth_cache_stats(const struct auth_cache *c, struct auth_cache_stats *out);

#endif
