/*
 * guard_redis.c - Redis sharing of bans (see guard_redis.h). Two
 * connections: one for commands, one subscribed. Every value read from
 * Redis is checked like client input: a key must parse as an address or
 * prefix, an end time as a number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <hiredis/adapters/libevent.h>
#pragma GCC diagnostic pop

#include "auth/guard_redis.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "policy/relay.h"

#define HASH_KEY "postern:guard:bans"
#define CHANNEL  "postern:guard"
#define RETRY_S  2

struct guard_redis {
	struct event_base *base;
	char host[256];
	int port;
	char node[17];
	redisAsyncContext *cmd;
	redisAsyncContext *sub;
	struct event *retry;
	guard_redis_cb *cb;
	void *arg;
	int freeing;
};

static void connect_both(struct guard_redis *r);

static void
schedule_retry(struct guard_redis *r)
{
	struct timeval tv = {RETRY_S, 0};

	if (!r->freeing && r->retry != NULL && !evtimer_pending(r->retry, NULL))
		evtimer_add(r->retry, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_both(arg);
}

/* parse_ban - "<until> <reason>" for key into b; 0 or -1. */
static int
parse_ban(const char *key, const char *v, struct guard_ban *b)
{
	struct cidr c;
	char *end;
	long long until;

	if (strlen(key) >= sizeof(b->key) || cidr_parse(key, &c) == -1)
		return -1;
	until = strtoll(v, &end, 10);
	if (end == v || until <= 0 || (*end != ' ' && *end != '\0'))
		return -1;
	memset(b, 0, sizeof(*b));
	str_copy(b->key, key, sizeof(b->key));
	b->until = until;
	str_copy(
	    b->reason, *end == ' ' ? end + 1 : "shared", sizeof(b->reason));
	return 0;
}

static void
hgetall_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct guard_redis *r = arg;
	redisReply *rep = reply;
	size_t i;
	int64_t now = (int64_t)time(NULL);

	(void)ac;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i + 1 < rep->elements; i += 2) {
		struct guard_ban b;
		const redisReply *k = rep->element[i], *v = rep->element[i + 1];

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING ||
		    parse_ban(k->str, v->str, &b) == -1)
			continue;
		if (b.until <= now) {
			redisAsyncCommand(
			    r->cmd, NULL, NULL, "HDEL %s %s", HASH_KEY, b.key);
			continue;
		}
		r->cb(r->arg, 1, &b);
	}
}

static void
message_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct guard_redis *r = arg;
	redisReply *rep = reply;
	char text[512], *save = NULL, *verb, *node, *key, *rest;
	struct guard_ban b;

	(void)ac;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements != 3 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, "message") != 0 ||
	    rep->element[2]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->len >= sizeof(text))
		return;
	memcpy(text, rep->element[2]->str, rep->element[2]->len);
	text[rep->element[2]->len] = '\0';
	verb = strtok_r(text, " ", &save);
	node = strtok_r(NULL, " ", &save);
	key = strtok_r(NULL, " ", &save);
	rest = strtok_r(NULL, "", &save);
	if (verb == NULL || node == NULL || key == NULL ||
	    strcmp(node, r->node) == 0)
		return;
	if (strcmp(verb, "ban") == 0 && rest != NULL &&
	    parse_ban(key, rest, &b) == 0) {
		r->cb(r->arg, 1, &b);
	} else if (strcmp(verb, "unban") == 0 && parse_ban(key, "1", &b) == 0) {
		r->cb(r->arg, 0, &b);
	}
}

static void
connected_cb(const redisAsyncContext *ac, int status)
{
	struct guard_redis *r = ac->data;

	if (status != REDIS_OK) {
		log_warn("event=redis-error peer=%s:%d error=\"%s\"", r->host,
		    r->port, ac->errstr);
		if (ac == r->cmd)
			r->cmd = NULL;
		else
			r->sub = NULL;
		schedule_retry(r);
		return;
	}
	log_info("event=redis-connected peer=%s:%d role=%s", r->host, r->port,
	    ac == r->cmd ? "commands" : "subscriber");
	if (ac == r->cmd)
		redisAsyncCommand(
		    r->cmd, hgetall_cb, r, "HGETALL %s", HASH_KEY);
}

static void
disconnected_cb(const redisAsyncContext *ac, int status)
{
	struct guard_redis *r = ac->data;

	if (ac == r->cmd)
		r->cmd = NULL;
	else if (ac == r->sub)
		r->sub = NULL;
	if (r->freeing)
		return;
	log_warn(
	    "event=redis-lost peer=%s:%d status=%d", r->host, r->port, status);
	schedule_retry(r);
}

static redisAsyncContext *
open_ctx(struct guard_redis *r)
{
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

	if (ac == NULL)
		return NULL;
	if (ac->err) {
		log_warn("event=redis-error peer=%s:%d error=\"%s\"", r->host,
		    r->port, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = r;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, connected_cb);
	redisAsyncSetDisconnectCallback(ac, disconnected_cb);
	return ac;
}

static void
connect_both(struct guard_redis *r)
{
	if (r->cmd == NULL)
		r->cmd = open_ctx(r);
	if (r->sub == NULL) {
		r->sub = open_ctx(r);
		if (r->sub != NULL)
			redisAsyncCommand(
			    r->sub, message_cb, r, "SUBSCRIBE %s", CHANNEL);
	}
	if (r->cmd == NULL || r->sub == NULL)
		schedule_retry(r);
}

struct guard_redis *
guard_redis_new(struct event_base *base, const char *hostport,
    guard_redis_cb *cb, void *arg, char *err, size_t errlen)
{
	struct guard_redis *r = calloc(1, sizeof(*r));
	const char *colon = strrchr(hostport, ':');
	const char *h = hostport;
	size_t hl;
	unsigned long long port;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (colon == NULL || str_to_uint(colon + 1, 65535, &port) == -1 ||
	    port == 0) {
		snprintf(
		    err, errlen, "redis = %s: expected host:port", hostport);
		free(r);
		return NULL;
	}
	hl = (size_t)(colon - hostport);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(r->host)) {
		snprintf(err, errlen, "redis = %s: bad host", hostport);
		free(r);
		return NULL;
	}
	memcpy(r->host, h, hl);
	r->host[hl] = '\0';
	r->port = (int)port;
	r->base = base;
	r->cb = cb;
	r->arg = arg;
	rand_token(r->node, sizeof(r->node) - 1);
	r->retry = evtimer_new(base, retry_cb, r);
	if (r->retry == NULL) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return NULL;
	}
	connect_both(r);
	return r;
}

void
guard_redis_free(struct guard_redis *r)
{
	if (r == NULL)
		return;
	r->freeing = 1;
	if (r->cmd != NULL)
		redisAsyncFree(r->cmd);
	if (r->sub != NULL)
		redisAsyncFree(r->sub);
	event_free(r->retry);
	free(r);
}

void
guard_redis_ban(struct guard_redis *r, const struct guard_ban *b)
{
	char v[64 + sizeof(b->reason)], m[sizeof(v) + 128];

	if (r == NULL || r->cmd == NULL)
		return;
	/* each %s is one argument: values with blanks stay whole */
	snprintf(v, sizeof(v), "%lld %s", (long long)b->until, b->reason);
	snprintf(m, sizeof(m), "ban %s %s %s", r->node, b->key, v);
	redisAsyncCommand(
	    r->cmd, NULL, NULL, "HSET %s %s %s", HASH_KEY, b->key, v);
	redisAsyncCommand(r->cmd, NULL, NULL, "PUBLISH %s %s", CHANNEL, m);
}

void
guard_redis_unban(struct guard_redis *r, const char *key)
{
	char m[RELAY_KEY_MAX + 64];

	if (r == NULL || r->cmd == NULL)
		return;
	snprintf(m, sizeof(m), "unban %s %s", r->node, key);
	redisAsyncCommand(r->cmd, NULL, NULL, "HDEL %s %s", HASH_KEY, key);
	redisAsyncCommand(r->cmd, NULL, NULL, "PUBLISH %s %s", CHANNEL, m);
}
