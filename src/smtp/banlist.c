/*
 * banlist.c - the worker's ban table (see banlist.h): a chained hash of
 * keys; ended bans are dropped when looked at.
 */
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "policy/relay.h"
#include "smtp/banlist.h"

#define BUCKETS 1024

struct ban {
	struct ban *next;
	char key[RELAY_KEY_MAX];
	int64_t until;
};

struct banlist {
	struct ban *b[BUCKETS];
	size_t n;
};

static size_t
bucket(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (size_t)(h % BUCKETS);
}

struct banlist *
banlist_new(void)
{
	return calloc(1, sizeof(struct banlist));
}

void
banlist_reset(struct banlist *b)
{
	size_t i;

	for (i = 0; i < BUCKETS; i++) {
		while (b->b[i] != NULL) {
			struct ban *x = b->b[i];

			b->b[i] = x->next;
			free(x);
		}
	}
	b->n = 0;
}

void
banlist_free(struct banlist *b)
{
	if (b == NULL)
		return;
	banlist_reset(b);
	free(b);
}

static struct ban **
find(struct banlist *b, const char *key)
{
	struct ban **pp = &b->b[bucket(key)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0)
			return pp;
	return pp;
}

int
banlist_set(struct banlist *b, const char *key, int64_t until)
{
	struct ban **pp = find(b, key), *x;

	if (*pp != NULL) {
		(*pp)->until = until;
		return 0;
	}
	if (b->n >= BANLIST_MAX || strlen(key) >= RELAY_KEY_MAX)
		return -1;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -1;
	str_copy(x->key, key, sizeof(x->key));
	x->until = until;
	*pp = x;
	b->n++;
	return 0;
}

void
banlist_clear(struct banlist *b, const char *key)
{
	struct ban **pp = find(b, key), *x = *pp;

	if (x == NULL)
		return;
	*pp = x->next;
	free(x);
	b->n--;
}

int
banlist_check(
    struct banlist *b, const char *addr, int64_t now, int64_t *until_r)
{
	char key[RELAY_KEY_MAX];
	struct ban **pp;

	if (b->n == 0 || relay_addr_key(addr, key, sizeof(key)) == -1)
		return 0;
	pp = find(b, key);
	if (*pp == NULL)
		return 0;
	if ((*pp)->until <= now) {
		banlist_clear(b, key);
		return 0;
	}
	if (until_r != NULL)
		*until_r = (*pp)->until;
	return 1;
}

size_t
banlist_size(const struct banlist *b)
{
	return b->n;
}
