/*
 * scheduler.c - the in-memory queue: a hash of messages by id and the
 * per-destination in-flight counters (issue 4: limit concurrency per
 * destination and overall). Grouping is per message: recipients of one
 * message that share a destination key (queue_route) go in one delivery,
 * so a message to ten users at one MX is sent once with ten RCPTs.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/str.h"
#include "queue/route.h"
#include "queue/scheduler.h"

static size_t
hash_id(const char *id)
{
	size_t h = 5381;

	for (; *id != '\0'; id++)
		h = h * 33 + (unsigned char)*id;
	return h % SCHED_BUCKETS;
}

void
sched_init(struct sched *s, unsigned int max_inflight, unsigned int per_dest)
{
	memset(s, 0, sizeof(*s));
	s->max_inflight = max_inflight ? max_inflight : 1;
	s->per_dest = per_dest ? per_dest : 1;
}

void
sched_free(struct sched *s)
{
	size_t i;

	for (i = 0; i < SCHED_BUCKETS; i++) {
		struct qmsg *m = s->table[i], *next;

		for (; m != NULL; m = next) {
			next = m->hnext;
			if (m->body_fd >= 0)
				(void)close(m->body_fd);
			env_free(&m->env);
			free(m);
		}
		s->table[i] = NULL;
	}
	while (s->dests != NULL) {
		struct sched_dest *d = s->dests;

		s->dests = d->next;
		free(d);
	}
	s->nmsgs = 0;
}

struct qmsg *
sched_find(struct sched *s, const char *id)
{
	struct qmsg *m;

	for (m = s->table[hash_id(id)]; m != NULL; m = m->hnext)
		if (strcmp(m->env.id, id) == 0)
			return m;
	return NULL;
}

struct qmsg *
sched_add(struct sched *s, struct envelope *env)
{
	struct qmsg *m;
	size_t h;

	if (sched_find(s, env->id) != NULL)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->env = *env;
	m->body_fd = -1;
	env_init(env);
	h = hash_id(m->env.id);
	m->hnext = s->table[h];
	s->table[h] = m;
	s->nmsgs++;
	return m;
}

void
sched_remove(struct sched *s, struct qmsg *m)
{
	struct qmsg **pp = &s->table[hash_id(m->env.id)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == m) {
			*pp = m->hnext;
			s->nmsgs--;
			break;
		}
	if (m->body_fd >= 0)
		(void)close(m->body_fd);
	env_free(&m->env);
	free(m);
}

long long
sched_due(const struct qmsg *m)
{
	long long due = LLONG_MAX;
	size_t i;

	if (m->busy || m->env.held)
		return LLONG_MAX;
	for (i = 0; i < m->env.nrcpts; i++) {
		const struct env_rcpt *r = &m->env.rcpts[i];

		if (r->state == ENV_RCPT_PENDING && r->next_attempt < due)
			due = r->next_attempt;
	}
	return due;
}

static struct sched_dest *
dest_find(const struct sched *s, const char *key)
{
	struct sched_dest *d;

	for (d = s->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	return NULL;
}

unsigned int
sched_dest_inflight(const struct sched *s, const char *key)
{
	const struct sched_dest *d = dest_find(s, key);

	return d != NULL ? d->inflight : 0;
}

void
sched_dest_acquire(struct sched *s, const char *key)
{
	struct sched_dest *d = dest_find(s, key);

	if (d == NULL) {
		d = calloc(1, sizeof(*d));
		if (d == NULL)
			return; /* uncounted: the limit is advisory then */
		str_copy(d->key, key, sizeof(d->key));
		d->next = s->dests;
		s->dests = d;
	}
	d->inflight++;
}

void
sched_dest_release(struct sched *s, const char *key)
{
	struct sched_dest **pp;

	for (pp = &s->dests; *pp != NULL; pp = &(*pp)->next) {
		struct sched_dest *d = *pp;

		if (strcmp(d->key, key) != 0)
			continue;
		if (d->inflight > 0)
			d->inflight--;
		if (d->inflight == 0) {
			/* idle destinations cost nothing */
			*pp = d->next;
			free(d);
		}
		return;
	}
}

size_t
sched_plan(struct sched *s, const struct config *cfg, const struct qmsg *m,
    long long now, struct sched_group *out, size_t max)
{
	size_t i, g, n = 0;

	if (m->busy || m->env.held)
		return 0;
	for (i = 0; i < m->env.nrcpts; i++) {
		const struct env_rcpt *r = &m->env.rcpts[i];
		struct sched_group tmp;
		const char *at;

		if (r->state != ENV_RCPT_PENDING || r->next_attempt > now)
			continue;
		at = strrchr(r->addr, '@');
		str_copy(
		    tmp.domain, at != NULL ? at + 1 : "", sizeof(tmp.domain));
		str_lower(tmp.domain);
		if (queue_route(cfg, tmp.domain, &tmp.route, tmp.key,
		        sizeof(tmp.key)) == -1)
			continue;
		for (g = 0; g < n; g++)
			if (strcmp(out[g].key, tmp.key) == 0)
				break;
		if (g == n) {
			if (n == max ||
			    sched_dest_inflight(s, tmp.key) >= s->per_dest)
				continue;
			out[n] = tmp;
			out[n].n = 0;
			n++;
		}
		if (out[g].n < sizeof(out[g].idx) / sizeof(out[g].idx[0]))
			out[g].idx[out[g].n++] = i;
	}
	return n;
}

void
sched_foreach(struct sched *s, void (*fn)(struct qmsg *m, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < SCHED_BUCKETS; i++) {
		struct qmsg *m, *next;

		for (m = s->table[i]; m != NULL; m = next) {
			next = m->hnext;
			fn(m, arg);
		}
	}
}
