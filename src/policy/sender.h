/*
 * sender.h - sender ownership for authenticated submission (RFC 6409 §8,
 * Postfix's reject_sender_login_mismatch): may LOGIN use ADDRESS in MAIL
 * FROM, From: or Sender:? Allowed are the login itself, the addresses and
 * whole domains ("@example.org") the passdb returns for the login (aliases
 * and send-as grants), and the grants of a sender_login map file:
 *
 *     # address          logins that may send as it
 *     shared@example.org alice@example.org, bob@example.org
 *     @example.net       carol@example.org
 *
 * Comparison ignores ASCII case. The decision is pure; only
 * sender_map_load() reads a file.
 */
#ifndef POSTERN_POLICY_SENDER_H
#define POSTERN_POLICY_SENDER_H

#include <stddef.h>

#define SENDER_MAP_MAX_LINES 100000
#define SENDER_MAP_FILE_MAX  (16u << 20)

enum sender_via {
	SENDER_DENIED = 0,
	SENDER_VIA_LOGIN,  /* the address is the login */
	SENDER_VIA_ALIAS,  /* an address the passdb lists for the login */
	SENDER_VIA_DOMAIN, /* a domain the passdb lists ("@example.org") */
	SENDER_VIA_MAP,    /* a grant in the sender_login map */
	SENDER_VIA_NULL,   /* "<>", allowed by configuration */
};

struct sender_map;

/*
 * sender_check - how login may use address ("" = the null path), or
 * SENDER_DENIED. senders is NULL-terminated (or NULL); map may be NULL.
 */
enum sender_via sender_check(const char *login, const char *const *senders,
    const struct sender_map *map, int allow_null, const char *address);

/* sender_via_name - "login", "alias", "domain", "map", "null", "denied". */
const char *sender_via_name(enum sender_via v);

/* sender_map_parse - text (len bytes) into a map; NULL with "line N: ..." in err. */
struct sender_map *sender_map_parse(
    const char *text, size_t len, char *err, size_t errlen);

/* sender_map_load - read and parse path (at most SENDER_MAP_FILE_MAX); NULL with err. */
struct sender_map *sender_map_load(const char *path, char *err, size_t errlen);

void sender_map_free(struct sender_map *m);

/* sender_map_permits - 1 if the map grants address (or its "@domain") to login. */
int sender_map_permits(
    const struct sender_map *m, const char *login, const char *address);

/*
 * sender_map_grants - the addresses granted to login, up to max pointers
 * into the map in out (valid until sender_map_free); returns the count.
 */
size_t sender_map_grants(const struct sender_map *m, const char *login,
    const char **out, size_t max);

/* sender_map_size - number of entries. */
size_t sender_map_size(const struct sender_map *m);

#endif
