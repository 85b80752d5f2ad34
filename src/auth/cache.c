/*
 * cache.c - the auth cache (cache.h): a hash table of verification results
 * with an LRU list, keyed by an HMAC of login and password under a random
 * per-process key. Stores the verdict and the account data the caller
 * needs (canonical login, flags, credential profile, senders), never the
 * password or a stored hash.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/cache.h"
#include "auth/passdb.h"
#include "core/rand.h"
#include "core/secret.h"

#define CACHE_MAX_SENDERS 64

struct ac_entry {
	unsigned char key[AUTH_CACHE_KEY_LEN];
	uint64_t expires;             /* monotonic ms */
	struct ac_entry *hnext;       /* hash chain */
	struct ac_entry *prev, *next; /* LRU: head = most recent */
	enum passdb_status status;
	unsigned int flags;
	unsigned int rate_cap;
	unsigned int rcpt_cap;
	int tls_floor;
	char *user;
	char *scheme;
	char *credential;
	char *networks;
	char *fixed_sender;
	char **senders; /* NULL-terminated or NULL */
};

struct auth_cache {
	unsigned char hkey[32]; /* the per-process HMAC key */
	struct ac_entry **buckets;
	size_t nbuckets; /* power of two */
	struct ac_entry *head, *tail;
	size_t n, max;
	unsigned int ttl_ms, neg_ttl_ms;
	uint64_t (*now_ms)(void);
	struct auth_cache_stats st;
};

static uint64_t
real_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t
bucket_of(const struct auth_cache *c, const unsigned char *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h)); /* the key is already a MAC */
	return (size_t)h & (c->nbuckets - 1);
}

static void
entry_free(struct ac_entry *e)
{
	size_t i;

	free(e->user);
	free(e->scheme);
	free(e->credential);
	free(e->networks);
	free(e->fixed_sender);
	for (i = 0; e->senders != NULL && e->senders[i] != NULL; i++)
		free(e->senders[i]);
	free(e->senders);
	secret_wipe(e, sizeof(*e));
	free(e);
}

static void
lru_unlink(struct auth_cache *c, struct ac_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct auth_cache *c, struct ac_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

/* entry_remove - unlink e from its chain and the LRU list, and free it. */
static void
entry_remove(struct auth_cache *c, struct ac_entry *e)
{
	struct ac_entry **pp = &c->buckets[bucket_of(c, e->key)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	lru_unlink(c, e);
	c->n--;
	entry_free(e);
}

static struct ac_entry *
entry_find(struct auth_cache *c, const unsigned char *key)
{
	struct ac_entry *e;

	for (e = c->buckets[bucket_of(c, key)]; e != NULL; e = e->hnext) {
		if (ct_memeq(e->key, key, AUTH_CACHE_KEY_LEN))
			return e;
	}
	return NULL;
}

struct auth_cache *
auth_cache_new(size_t max_entries, unsigned int ttl_ms, unsigned int neg_ttl_ms)
{
	struct auth_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->nbuckets = 1024;
	while (c->nbuckets < max_entries && c->nbuckets < (1U << 20))
		c->nbuckets *= 2;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	rand_bytes(c->hkey, sizeof(c->hkey));
	c->now_ms = real_now_ms;
	auth_cache_set_limits(c, max_entries, ttl_ms, neg_ttl_ms);
	return c;
}

void
auth_cache_flush(struct auth_cache *c)
{
	if (c == NULL)
		return;
	while (c->head != NULL)
		entry_remove(c, c->head);
	c->st.flushes++;
}

void
auth_cache_free(struct auth_cache *c)
{
	if (c == NULL)
		return;
	auth_cache_flush(c);
	free(c->buckets);
	secret_wipe(c, sizeof(*c));
	free(c);
}

void
auth_cache_set_limits(struct auth_cache *c, size_t max_entries,
    unsigned int ttl_ms, unsigned int neg_ttl_ms)
{
	c->max = max_entries;
	c->ttl_ms = ttl_ms;
	c->neg_ttl_ms = neg_ttl_ms;
	while (c->n > c->max && c->tail != NULL) {
		entry_remove(c, c->tail);
		c->st.evictions++;
	}
}

void
auth_cache_set_clock(struct auth_cache *c, uint64_t (*now_ms)(void))
{
	c->now_ms = now_ms != NULL ? now_ms : real_now_ms;
}

void
auth_cache_key(const struct auth_cache *c, const char *login,
    const struct secret *password, unsigned char key[AUTH_CACHE_KEY_LEN])
{
	unsigned char lower[256];
	unsigned int len = 0;
	size_t n = login != NULL ? strlen(login) : 0, i;
	HMAC_CTX *h;

	if (n > sizeof(lower))
		n = sizeof(lower);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)login[i];

		lower[i] =
		    ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
	}
	memset(key, 0, AUTH_CACHE_KEY_LEN);
	/* HMAC_CTX is deprecated in OpenSSL 3 but still the simplest
	 * incremental HMAC; EVP_MAC would do the same in more lines. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	h = HMAC_CTX_new();
	if (h != NULL &&
	    HMAC_Init_ex(h, c->hkey, sizeof(c->hkey), EVP_sha256(), NULL) ==
	        1 &&
	    HMAC_Update(h, lower, n) == 1 &&
	    HMAC_Update(h, (const unsigned char *)"", 1) == 1 &&
	    (password == NULL ||
	        HMAC_Update(h, password->data, password->len) == 1))
		(void)HMAC_Final(h, key, &len);
	HMAC_CTX_free(h);
#pragma GCC diagnostic pop
	if (len != AUTH_CACHE_KEY_LEN)
		rand_bytes(key, AUTH_CACHE_KEY_LEN); /* never matches */
	secret_wipe(lower, sizeof(lower));
}

int
auth_cache_get(struct auth_cache *c,
    const unsigned char key[AUTH_CACHE_KEY_LEN], struct cred_result *out)
{
	struct ac_entry *e = entry_find(c, key);

	if (e != NULL && e->expires <= c->now_ms()) {
		entry_remove(c, e);
		e = NULL;
	}
	if (e == NULL) {
		c->st.misses++;
		return 0;
	}
	c->st.hits++;
	lru_unlink(c, e);
	lru_push(c, e);
	memset(out, 0, sizeof(*out));
	out->status = e->status;
	out->flags = e->flags | CRED_CACHED;
	out->user = e->user;
	out->scheme = e->scheme;
	out->credential = e->credential;
	out->networks = e->networks;
	out->fixed_sender = e->fixed_sender;
	out->rate_cap = e->rate_cap;
	out->rcpt_cap = e->rcpt_cap;
	out->tls_floor = e->tls_floor;
	out->senders = (const char *const *)e->senders;
	return 1;
}

/* dup_or_null - strdup that maps NULL to NULL; *fail set on ENOMEM. */
static char *
dup_or_null(const char *s, int *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*fail = 1;
	return d;
}

int
auth_cache_put(struct auth_cache *c,
    const unsigned char key[AUTH_CACHE_KEY_LEN], const struct cred_result *r)
{
	struct ac_entry *e;
	unsigned int ttl;
	size_t i, n = 0;
	int fail = 0;

	switch (r->status) {
	case PASSDB_OK:
		ttl = c->ttl_ms;
		break;
	case PASSDB_MISMATCH:
	case PASSDB_NO_USER:
	case PASSDB_DISABLED:
		ttl = c->neg_ttl_ms;
		break;
	default:
		return 0;
	}
	if (ttl == 0 || c->max == 0)
		return 0;
	e = entry_find(c, key);
	if (e != NULL)
		entry_remove(c, e);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	memcpy(e->key, key, AUTH_CACHE_KEY_LEN);
	e->expires = c->now_ms() + ttl;
	e->status = r->status;
	e->flags = r->flags & ~(unsigned int)CRED_CACHED;
	e->rate_cap = r->rate_cap;
	e->rcpt_cap = r->rcpt_cap;
	e->tls_floor = r->tls_floor;
	e->user = dup_or_null(r->user, &fail);
	e->scheme = dup_or_null(r->scheme, &fail);
	e->credential = dup_or_null(r->credential, &fail);
	e->networks = dup_or_null(r->networks, &fail);
	e->fixed_sender = dup_or_null(r->fixed_sender, &fail);
	while (r->senders != NULL && r->senders[n] != NULL &&
	    n < CACHE_MAX_SENDERS)
		n++;
	if (r->senders != NULL) {
		e->senders = calloc(n + 1, sizeof(*e->senders));
		if (e->senders == NULL)
			fail = 1;
		for (i = 0; e->senders != NULL && i < n; i++)
			e->senders[i] = dup_or_null(r->senders[i], &fail);
	}
	if (fail) {
		entry_free(e);
		return -1;
	}
	while (c->n >= c->max && c->tail != NULL) {
		/* c->tail->next is always NULL, so this moves c->tail on; the
		 * analyser tries a tail with a successor (an impossible list).
		 * NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		entry_remove(c, c->tail);
		c->st.evictions++;
	}
	i = bucket_of(c, key);
	e->hnext = c->buckets[i];
	c->buckets[i] = e;
	lru_push(c, e);
	c->n++;
	c->st.inserts++;
	return 0;
}

void
auth_cache_stats(const struct auth_cache *c, struct auth_cache_stats *out)
{
	*out = c->st;
	out->entries = c->n;
}
