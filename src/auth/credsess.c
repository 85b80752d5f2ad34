/*
 * credsess.c - credential profiles of live sessions (see credsess.h). A
 * hash of (connection, session id) with a use time per entry; at most max
 * entries, the least recently used one replaced only when it is stale.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "auth/credsess.h"
#include "core/str.h"

#define BUCKETS 1024

struct credsess_entry {
	struct credsess_entry *next;
	const void *conn;
	char session[CREDSESS_ID_MAX];
	int64_t used;
	struct credsess_profile p;
};

struct credsess {
	struct credsess_entry *b[BUCKETS];
	size_t n, max;
	unsigned int idle_s;
};

static size_t
bucket(const void *conn, const char *session)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)conn;

	for (; *session != '\0'; session++)
		h = (h ^ (unsigned char)*session) * 1099511628211ULL;
	return (size_t)(h % BUCKETS);
}

struct credsess *
credsess_new(size_t max, unsigned int idle_s)
{
	struct credsess *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->max = max;
	t->idle_s = idle_s;
	return t;
}

void
credsess_free(struct credsess *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < BUCKETS; i++) {
		while (t->b[i] != NULL) {
			struct credsess_entry *e = t->b[i];

			t->b[i] = e->next;
			free(e);
		}
	}
	free(t);
}

static struct credsess_entry **
find(struct credsess *t, const void *conn, const char *session)
{
	struct credsess_entry **pp = &t->b[bucket(conn, session)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->conn == conn && strcmp((*pp)->session, session) == 0)
			return pp;
	return NULL;
}

static void
unlink_free(struct credsess *t, struct credsess_entry **pp)
{
	struct credsess_entry *e = *pp;

	*pp = e->next;
	free(e);
	t->n--;
}

/* evict_stale - drop the least recently used entry if idle long enough; 1 if done. */
static int
evict_stale(struct credsess *t, int64_t now)
{
	struct credsess_entry **oldest = NULL, **pp;
	size_t i;

	for (i = 0; i < BUCKETS; i++)
		for (pp = &t->b[i]; *pp != NULL; pp = &(*pp)->next)
			if (oldest == NULL || (*pp)->used < (*oldest)->used)
				oldest = pp;
	if (oldest == NULL || now - (*oldest)->used < (int64_t)t->idle_s)
		return 0;
	unlink_free(t, oldest);
	return 1;
}

int
credsess_put(struct credsess *t, const void *conn, const char *session,
    const struct credsess_profile *p, int64_t now)
{
	struct credsess_entry **pp, *e;
	size_t b;

	if (strlen(session) >= CREDSESS_ID_MAX)
		return -1;
	pp = find(t, conn, session);
	if (pp != NULL) {
		(*pp)->p = *p;
		(*pp)->used = now;
		return 0;
	}
	if (t->n >= t->max && !evict_stale(t, now))
		return -1;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	e->conn = conn;
	str_copy(e->session, session, sizeof(e->session));
	e->used = now;
	e->p = *p;
	b = bucket(conn, session);
	e->next = t->b[b];
	t->b[b] = e;
	t->n++;
	return 0;
}

const struct credsess_profile *
credsess_get(
    struct credsess *t, const void *conn, const char *session, int64_t now)
{
	struct credsess_entry **pp = find(t, conn, session);

	if (pp == NULL)
		return NULL;
	(*pp)->used = now;
	return &(*pp)->p;
}

void
credsess_del(struct credsess *t, const void *conn, const char *session)
{
	struct credsess_entry **pp = find(t, conn, session);

	if (pp != NULL)
		unlink_free(t, pp);
}

size_t
credsess_drop_conn(struct credsess *t, const void *conn)
{
	size_t i, n = 0;

	for (i = 0; i < BUCKETS; i++) {
		struct credsess_entry **pp = &t->b[i];

		while (*pp != NULL) {
			if ((*pp)->conn == conn) {
				unlink_free(t, pp);
				n++;
				continue;
			}
			pp = &(*pp)->next;
		}
	}
	return n;
}

size_t
credsess_count(const struct credsess *t)
{
	return t->n;
}

int
credsess_tls_version(const char *name)
{
	static const struct {
		const char *name;
		int v;
	} names[] = {
	    {"TLSv1", TLS1_VERSION},
	    {"TLSv1.0", TLS1_VERSION},
	    {"TLSv1.1", TLS1_1_VERSION},
	    {"TLSv1.2", TLS1_2_VERSION},
	    {"TLSv1.3", TLS1_3_VERSION},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (str_ieq(name, names[i].name))
			return names[i].v;
	return 0;
}

int
credsess_tls_allowed(const char *version, int min_version, int granted)
{
	int v = credsess_tls_version(version);

	if (v == 0)
		return 0;
	if (v >= min_version)
		return 1;
	return granted > 0 && v >= granted;
}
