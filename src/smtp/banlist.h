/*
 * banlist.h - the worker's copy of the guard's bans, pushed by the auth
 * service (PROTO_BAN_SET / PROTO_BAN_CLEAR, the whole list on connect), so
 * refusing a banned address at connect (421 4.7.0) costs no round trip.
 * Keys are the guard's (IPv4 address, IPv6 /64). Bounded.
 */
#ifndef POSTERN_SMTP_BANLIST_H
#define POSTERN_SMTP_BANLIST_H

#include <stddef.h>
#include <stdint.h>

#define BANLIST_MAX 65536

struct banlist;

struct banlist *banlist_new(void);
void banlist_free(struct banlist *b);

/* banlist_set - ban key until (unix seconds); 0, or -1 when full or out of memory. */
int banlist_set(struct banlist *b, const char *key, int64_t until);
void banlist_clear(struct banlist *b, const char *key);

/* banlist_reset - forget everything (the auth service resends the list). */
void banlist_reset(struct banlist *b);

/* banlist_check - 1 if addr (textual) is banned at now (*until_r set), else 0. */
int banlist_check(
    struct banlist *b, const char *addr, int64_t now, int64_t *until_r);

size_t banlist_size(const struct banlist *b);

#endif
