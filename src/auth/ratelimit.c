/*
 * ratelimit.c - sliding windows per login (see ratelimit.h). A window of W
 * seconds is RL_SLOTS slots of W/RL_SLOTS seconds (at least one); the sum
 * of the live slots is the count. Bounded: at most RL_MAX_ENTRIES logins.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "core/str.h"

#define BUCKETS 4096

struct rl_window {
	uint32_t slot[RL_SLOTS];
	int64_t cur; /* index (time / width) of the newest slot */
};

struct rl_entry {
	struct rl_entry *next;
	char login[RL_LOGIN_MAX];
	struct rl_window attempts; /* message window */
	struct rl_window messages; /* message window */
	struct rl_window rcpts;    /* recipient window */
	int64_t last;
	int contained;
};

struct ratelimit {
	struct rl_entry *b[BUCKETS];
	size_t n;
};

static uint64_t
hash_login(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c += 32;
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

struct ratelimit *
rl_new(void)
{
	return calloc(1, sizeof(struct ratelimit));
}

void
rl_free(struct ratelimit *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < BUCKETS; i++) {
		while (r->b[i] != NULL) {
			struct rl_entry *e = r->b[i];

			r->b[i] = e->next;
			free(e);
		}
	}
	free(r);
}

static int64_t
width(unsigned int window_s)
{
	int64_t w = (int64_t)window_s / RL_SLOTS;

	return w > 0 ? w : 1;
}

/* advance - move w to now, clearing the slots that fell out. */
static void
advance(struct rl_window *w, unsigned int window_s, int64_t now)
{
	int64_t idx = now / width(window_s), i;

	if (idx <= w->cur)
		return;
	if (idx - w->cur >= RL_SLOTS) {
		memset(w->slot, 0, sizeof(w->slot));
	} else {
		for (i = w->cur + 1; i <= idx; i++)
			w->slot[(i % RL_SLOTS + RL_SLOTS) % RL_SLOTS] = 0;
	}
	w->cur = idx;
}

static uint32_t
wsum(struct rl_window *w, unsigned int window_s, int64_t now)
{
	uint64_t s = 0;
	int64_t i, live = (int64_t)window_s / width(window_s);

	/* a window shorter than RL_SLOTS seconds has one-second slots */
	if (live < 1)
		live = 1;
	if (live > RL_SLOTS)
		live = RL_SLOTS;
	advance(w, window_s, now);
	for (i = 0; i < live; i++)
		s += w->slot[((w->cur - i) % RL_SLOTS + RL_SLOTS) % RL_SLOTS];
	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static void
wadd(struct rl_window *w, unsigned int window_s, int64_t now, uint32_t n)
{
	uint32_t *s;

	advance(w, window_s, now);
	s = &w->slot[(w->cur % RL_SLOTS + RL_SLOTS) % RL_SLOTS];
	*s = (UINT32_MAX - *s < n) ? UINT32_MAX : *s + n;
}

static struct rl_entry *
find(const struct ratelimit *r, const char *login)
{
	struct rl_entry *e;

	for (e = r->b[hash_login(login) % BUCKETS]; e != NULL; e = e->next)
		if (str_ieq(e->login, login))
			return e;
	return NULL;
}

static struct rl_entry *
get(struct ratelimit *r, const char *login, int64_t now)
{
	struct rl_entry *e = find(r, login);
	size_t h;

	if (e != NULL)
		return e;
	if (r->n >= RL_MAX_ENTRIES)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	str_copy(e->login, login, sizeof(e->login));
	e->last = now;
	h = hash_login(login) % BUCKETS;
	e->next = r->b[h];
	r->b[h] = e;
	r->n++;
	return e;
}

static uint64_t
cap(unsigned int limit, unsigned int factor)
{
	return (uint64_t)limit * factor;
}

enum rl_verdict
rl_mail(struct ratelimit *r, const struct rl_config *cfg,
    const struct rl_limits *lim, const char *login, int64_t now,
    uint32_t *budget_r, int *newly_r)
{
	struct rl_entry *e = get(r, login, now);
	uint32_t attempts, msgs, rcpts;

	*budget_r = UINT32_MAX;
	*newly_r = 0;
	if (e == NULL)
		return RL_OK; /* table full: fail open, never lose mail */
	e->last = now;
	if (e->contained)
		return RL_CONTAINED;
	wadd(&e->attempts, cfg->message_window_s, now, 1);
	attempts = wsum(&e->attempts, cfg->message_window_s, now);
	msgs = wsum(&e->messages, cfg->message_window_s, now);
	rcpts = wsum(&e->rcpts, cfg->recipient_window_s, now);
	if (cfg->hard_cap_factor > 0 && lim->messages > 0 &&
	    attempts > cap(lim->messages, cfg->hard_cap_factor)) {
		e->contained = 1;
		*newly_r = 1;
		return RL_CONTAINED;
	}
	if (lim->messages > 0 && msgs >= lim->messages)
		return RL_OVER_MESSAGES;
	if (lim->recipients > 0) {
		if (rcpts >= lim->recipients)
			return RL_OVER_RECIPIENTS;
		*budget_r = lim->recipients - rcpts;
	}
	return RL_OK;
}

enum rl_verdict
rl_accept(struct ratelimit *r, const struct rl_config *cfg,
    const struct rl_limits *lim, const char *login, unsigned int nrcpts,
    int64_t now, int *newly_r)
{
	struct rl_entry *e = get(r, login, now);

	*newly_r = 0;
	if (e == NULL)
		return RL_OK;
	e->last = now;
	wadd(&e->messages, cfg->message_window_s, now, 1);
	wadd(&e->rcpts, cfg->recipient_window_s, now, nrcpts);
	if (e->contained)
		return RL_CONTAINED;
	if (cfg->hard_cap_factor > 0 && lim->recipients > 0 &&
	    wsum(&e->rcpts, cfg->recipient_window_s, now) >
	        cap(lim->recipients, cfg->hard_cap_factor)) {
		e->contained = 1;
		*newly_r = 1;
		return RL_CONTAINED;
	}
	return RL_OK;
}

int
rl_contained(const struct ratelimit *r, const char *login)
{
	const struct rl_entry *e = find(r, login);

	return e != NULL && e->contained;
}

void
rl_contain(struct ratelimit *r, const char *login, int64_t now)
{
	struct rl_entry *e = get(r, login, now);

	if (e != NULL)
		e->contained = 1;
}

int
rl_release(struct ratelimit *r, const char *login)
{
	struct rl_entry *e = find(r, login);

	if (e == NULL || !e->contained)
		return 0;
	/* a fresh start: the old counts are what got it contained */
	memset(&e->attempts, 0, sizeof(e->attempts));
	memset(&e->messages, 0, sizeof(e->messages));
	memset(&e->rcpts, 0, sizeof(e->rcpts));
	e->contained = 0;
	return 1;
}

void
rl_counts(struct ratelimit *r, const struct rl_config *cfg, const char *login,
    int64_t now, unsigned int *messages_r, unsigned int *recipients_r,
    unsigned int *attempts_r)
{
	struct rl_entry *e = find(r, login);

	*messages_r = *recipients_r = *attempts_r = 0;
	if (e == NULL)
		return;
	*messages_r = wsum(&e->messages, cfg->message_window_s, now);
	*recipients_r = wsum(&e->rcpts, cfg->recipient_window_s, now);
	*attempts_r = wsum(&e->attempts, cfg->message_window_s, now);
}

void
rl_expire(struct ratelimit *r, const struct rl_config *cfg, int64_t now)
{
	int64_t idle = cfg->message_window_s > cfg->recipient_window_s
	    ? cfg->message_window_s
	    : cfg->recipient_window_s;
	size_t i;

	for (i = 0; i < BUCKETS; i++) {
		struct rl_entry **pp = &r->b[i];

		while (*pp != NULL) {
			struct rl_entry *e = *pp;

			if (!e->contained && now - e->last > idle) {
				*pp = e->next;
				free(e);
				r->n--;
				continue;
			}
			pp = &e->next;
		}
	}
}
