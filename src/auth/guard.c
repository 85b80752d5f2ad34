/*
 * guard.c - failure counting, delays and bans (see guard.h). Two tables:
 * counters (address keys and accounts, chained hash, bounded) and bans
 * (address keys). Everything is in memory; guard_store.c persists it.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/guard.h"
#include "core/rand.h"
#include "core/str.h"

#define BUCKETS 4096

struct gentry {
	struct gentry *next;
	enum guard_kind kind;
	char key[GUARD_LOGIN_MAX];
	unsigned int failures;
	int64_t last;
	unsigned char recent[GUARD_RECENT][GUARD_HASH_LEN];
	unsigned int nrecent; /* ring fill */
	unsigned int pos;     /* next ring slot */
};

struct bentry {
	struct bentry *next;
	struct guard_ban ban;
};

struct guard {
	struct guard_config cfg;
	unsigned char hkey[32];
	struct gentry *counters[BUCKETS];
	size_t ncounters;
	struct bentry *bans[BUCKETS];
	size_t nbans;
	int dirty;
};

static uint64_t
hash_str(enum guard_kind kind, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c += 32;
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

struct guard *
guard_new(const struct guard_config *cfg)
{
	struct guard *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->cfg = *cfg;
	rand_bytes(g->hkey, sizeof(g->hkey));
	return g;
}

void
guard_free(struct guard *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < BUCKETS; i++) {
		while (g->counters[i] != NULL) {
			struct gentry *e = g->counters[i];

			g->counters[i] = e->next;
			sodium_memzero(e, sizeof(*e));
			free(e);
		}
		while (g->bans[i] != NULL) {
			struct bentry *b = g->bans[i];

			g->bans[i] = b->next;
			free(b);
		}
	}
	sodium_memzero(g->hkey, sizeof(g->hkey));
	free(g);
}

void
guard_configure(struct guard *g, const struct guard_config *cfg)
{
	g->cfg = *cfg;
}

void
guard_set_key(struct guard *g, const unsigned char key[32])
{
	memcpy(g->hkey, key, sizeof(g->hkey));
}

void
guard_attempt_hash(const struct guard *g, const char *login,
    const void *password, size_t pwlen, unsigned char out[GUARD_HASH_LEN])
{
	crypto_auth_hmacsha256_state st;
	unsigned char full[crypto_auth_hmacsha256_BYTES];
	char lower[GUARD_LOGIN_MAX];

	if (password == NULL) {
		rand_bytes(out, GUARD_HASH_LEN);
		return;
	}
	str_copy(lower, login != NULL ? login : "", sizeof(lower));
	str_lower(lower);
	crypto_auth_hmacsha256_init(&st, g->hkey, sizeof(g->hkey));
	crypto_auth_hmacsha256_update(
	    &st, (const unsigned char *)lower, strlen(lower) + 1);
	crypto_auth_hmacsha256_update(&st, password, pwlen);
	crypto_auth_hmacsha256_final(&st, full);
	memcpy(out, full, GUARD_HASH_LEN);
	sodium_memzero(full, sizeof(full));
	sodium_memzero(&st, sizeof(st));
}

int
guard_allowed_net(const struct guard *g, const char *addr)
{
	return g->cfg.allow[0] != '\0' &&
	    cidr_list_match(g->cfg.allow, addr) == 1;
}

static struct bentry *
ban_find(const struct guard *g, const char *key)
{
	struct bentry *b;

	for (b = g->bans[hash_str(GUARD_ADDR, key) % BUCKETS]; b != NULL;
	     b = b->next)
		if (strcmp(b->ban.key, key) == 0)
			return b;
	return NULL;
}

int
guard_banned(
    const struct guard *g, const char *addr, int64_t now, int64_t *until_r)
{
	char key[RELAY_KEY_MAX];
	const struct bentry *b;

	if (!g->cfg.enabled || guard_allowed_net(g, addr) ||
	    relay_addr_key(addr, key, sizeof(key)) == -1)
		return 0;
	b = ban_find(g, key);
	if (b == NULL || b->ban.until <= now)
		return 0;
	if (until_r != NULL)
		*until_r = b->ban.until;
	return 1;
}

static struct gentry *
counter_find(const struct guard *g, enum guard_kind kind, const char *key)
{
	struct gentry *e;

	for (e = g->counters[hash_str(kind, key) % BUCKETS]; e != NULL;
	     e = e->next)
		if (e->kind == kind && str_ieq(e->key, key))
			return e;
	return NULL;
}

static struct gentry *
counter_get(struct guard *g, enum guard_kind kind, const char *key, int64_t now)
{
	struct gentry *e = counter_find(g, kind, key);
	size_t b;

	if (e != NULL) {
		if (now - e->last > (int64_t)g->cfg.window_s) {
			/* idle for a whole window: start over */
			e->failures = 0;
			e->nrecent = 0;
			e->pos = 0;
		}
		return e;
	}
	if (g->ncounters >= GUARD_MAX_ENTRIES)
		guard_expire(g, now, NULL, 0);
	if (g->ncounters >= GUARD_MAX_ENTRIES)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->kind = kind;
	str_copy(e->key, key, sizeof(e->key));
	b = hash_str(kind, key) % BUCKETS;
	e->next = g->counters[b];
	g->counters[b] = e;
	g->ncounters++;
	return e;
}

/* count - 1 if hash is new for e (then remembered and counted). */
static int
count(struct gentry *e, const unsigned char *hash, int64_t now)
{
	unsigned int i;

	e->last = now;
	for (i = 0; i < e->nrecent; i++)
		if (sodium_memcmp(e->recent[i], hash, GUARD_HASH_LEN) == 0)
			return 0;
	memcpy(e->recent[e->pos], hash, GUARD_HASH_LEN);
	e->pos = (e->pos + 1) % GUARD_RECENT;
	if (e->nrecent < GUARD_RECENT)
		e->nrecent++;
	e->failures++;
	return 1;
}

unsigned int
guard_delay_for(const struct guard_config *cfg, unsigned int n)
{
	unsigned long long d;
	unsigned int over;

	if (n <= cfg->max_failures)
		return cfg->base_delay_ms;
	over = n - cfg->max_failures - 1;
	d = cfg->delay_base_ms;
	while (over-- > 0 && d < cfg->delay_max_ms)
		d *= 2;
	if (d > cfg->delay_max_ms)
		d = cfg->delay_max_ms;
	if (d < cfg->base_delay_ms)
		d = cfg->base_delay_ms;
	return (unsigned int)d;
}

void
guard_failure(struct guard *g, const char *addr, const char *login,
    const unsigned char hash[GUARD_HASH_LEN], int64_t now,
    struct guard_verdict *out)
{
	char key[RELAY_KEY_MAX];
	struct gentry *ea = NULL, *ec = NULL;
	unsigned int da, dc;

	memset(out, 0, sizeof(*out));
	out->delay_ms = g->cfg.base_delay_ms;
	if (!g->cfg.enabled || guard_allowed_net(g, addr))
		return;
	if (relay_addr_key(addr, key, sizeof(key)) == 0)
		ea = counter_get(g, GUARD_ADDR, key, now);
	if (login != NULL && login[0] != '\0')
		ec = counter_get(g, GUARD_ACCOUNT, login, now);
	if (ea != NULL) {
		out->counted = count(ea, hash, now);
		out->addr_failures = ea->failures;
	}
	if (ec != NULL) {
		(void)count(ec, hash, now);
		out->account_failures = ec->failures;
	}
	g->dirty = 1;
	da = guard_delay_for(&g->cfg, out->addr_failures);
	dc = guard_delay_for(&g->cfg, out->account_failures);
	out->delay_ms = da > dc ? da : dc;
	if (ea != NULL && g->cfg.ban_after > 0 &&
	    ea->failures >= g->cfg.ban_after) {
		const struct bentry *b = ban_find(g, key);

		if (b == NULL || b->ban.until <= now) {
			guard_ban_set(g, key, now + (int64_t)g->cfg.ban_time_s,
			    "auth-failures");
			out->banned = 1;
			str_copy(out->ban.key, key, sizeof(out->ban.key));
			out->ban.until = now + (int64_t)g->cfg.ban_time_s;
			str_copy(out->ban.reason, "auth-failures",
			    sizeof(out->ban.reason));
		}
	}
}

int
guard_ban_set(
    struct guard *g, const char *key, int64_t until, const char *reason)
{
	struct bentry *b = ban_find(g, key);
	size_t h;

	if (b != NULL) {
		if (b->ban.until >= until)
			return 0;
		b->ban.until = until;
		str_copy(b->ban.reason, reason, sizeof(b->ban.reason));
		return 1;
	}
	if (g->nbans >= GUARD_MAX_ENTRIES)
		return 0;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return 0;
	str_copy(b->ban.key, key, sizeof(b->ban.key));
	b->ban.until = until;
	str_copy(b->ban.reason, reason, sizeof(b->ban.reason));
	h = hash_str(GUARD_ADDR, key) % BUCKETS;
	b->next = g->bans[h];
	g->bans[h] = b;
	g->nbans++;
	return 1;
}

static void
counter_drop(struct guard *g, enum guard_kind kind, const char *key)
{
	struct gentry **pp = &g->counters[hash_str(kind, key) % BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->kind == kind && str_ieq((*pp)->key, key)) {
			struct gentry *e = *pp;

			*pp = e->next;
			sodium_memzero(e, sizeof(*e));
			free(e);
			g->ncounters--;
			g->dirty = 1;
			return;
		}
	}
}

int
guard_ban_clear(struct guard *g, const char *key)
{
	struct bentry **pp = &g->bans[hash_str(GUARD_ADDR, key) % BUCKETS];

	counter_drop(g, GUARD_ADDR, key);
	for (; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->ban.key, key) == 0) {
			struct bentry *b = *pp;

			*pp = b->next;
			free(b);
			g->nbans--;
			return 1;
		}
	}
	return 0;
}

size_t
guard_expire(struct guard *g, int64_t now, struct guard_ban *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < BUCKETS; i++) {
		struct gentry **pp = &g->counters[i];
		struct bentry **bp = &g->bans[i];

		while (*pp != NULL) {
			struct gentry *e = *pp;

			if (now - e->last > (int64_t)g->cfg.window_s) {
				*pp = e->next;
				sodium_memzero(e, sizeof(*e));
				free(e);
				g->ncounters--;
				g->dirty = 1;
				continue;
			}
			pp = &e->next;
		}
		while (*bp != NULL) {
			struct bentry *b = *bp;

			if (b->ban.until <= now && (out == NULL || n < max)) {
				if (out != NULL)
					out[n++] = b->ban;
				*bp = b->next;
				free(b);
				g->nbans--;
				continue;
			}
			bp = &b->next;
		}
	}
	return n;
}

size_t
guard_bans(const struct guard *g, struct guard_ban *out, size_t max)
{
	size_t i, n = 0;
	const struct bentry *b;

	for (i = 0; i < BUCKETS; i++)
		for (b = g->bans[i]; b != NULL && n < max; b = b->next)
			out[n++] = b->ban;
	return n;
}

size_t
guard_nbans(const struct guard *g)
{
	return g->nbans;
}

size_t
guard_counters(const struct guard *g, struct guard_counter *out, size_t max)
{
	size_t i, n = 0;
	const struct gentry *e;

	for (i = 0; i < BUCKETS; i++) {
		for (e = g->counters[i]; e != NULL && n < max; e = e->next) {
			out[n].kind = e->kind;
			str_copy(out[n].key, e->key, sizeof(out[n].key));
			out[n].failures = e->failures;
			out[n].last = e->last;
			n++;
		}
	}
	return n;
}

void
guard_counter_restore(
    struct guard *g, const struct guard_counter *c, int64_t now)
{
	struct gentry *e;

	if (now - c->last > (int64_t)g->cfg.window_s)
		return;
	e = counter_get(g, c->kind, c->key, now);
	if (e == NULL)
		return;
	if (c->failures > e->failures)
		e->failures = c->failures;
	if (c->last > e->last)
		e->last = c->last;
}

int
guard_dirty(struct guard *g)
{
	int d = g->dirty;

	g->dirty = 0;
	return d;
}
