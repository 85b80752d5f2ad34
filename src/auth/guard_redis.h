/*
 * guard_redis.h - bans shared between Postern nodes through Redis (hiredis'
 * asynchronous API on the auth service's libevent loop: no blocking I/O).
 *   HSET postern:guard:bans <key> "<until> <reason>"  the current bans
 *   PUBLISH postern:guard "ban <node> <key> <until> <reason>" / "unban <node> <key>"
 * A node loads the hash when it connects and subscribes to the channel, so
 * a ban made on one node refuses the address on all of them within a round
 * trip. Lost connections are retried every two seconds; while Redis is
 * away each node keeps guarding on its own.
 */
#ifndef POSTERN_AUTH_GUARD_REDIS_H
#define POSTERN_AUTH_GUARD_REDIS_H

#include <stdint.h>

#include "auth/guard.h"

struct event_base;
struct guard_redis;

/* set = 1: ban key until; set = 0: the ban on key was lifted. */
typedef void guard_redis_cb(void *arg, int set, const struct guard_ban *b);

/* guard_redis_new - connect to "host:port" (IPv4, [IPv6] or a name resolved once); NULL with err. */
struct guard_redis *guard_redis_new(struct event_base *base,
    const char *hostport, guard_redis_cb *cb, void *arg, char *err,
    size_t errlen);
void guard_redis_free(struct guard_redis *r);

void guard_redis_ban(struct guard_redis *r, const struct guard_ban *b);
void guard_redis_unban(struct guard_redis *r, const char *key);

#endif
