/*
 * relay.h - who may relay, and the network helpers the guard shares:
 * CIDR prefixes ("192.0.2.0/24", "2001:db8::/32", a bare address), lists of
 * them, and the key under which a client address is counted and banned
 * (IPv4 /32, IPv6 /64: one customer's whole allocation is one client).
 * Pure: no I/O, no allocation.
 */
#ifndef POSTERN_POLICY_RELAY_H
#define POSTERN_POLICY_RELAY_H

#include <stddef.h>

#define RELAY_KEY_MAX 64 /* "2001:db8:1:2::/64" and NUL */

struct cidr {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network byte order, masked */
	unsigned int bits;      /* prefix length */
};

/* cidr_parse - "addr" or "addr/bits" into out; 0 or -1. IPv4-mapped IPv6 becomes IPv4. */
int cidr_parse(const char *s, struct cidr *out);

/* cidr_match - 1 if the textual address addr lies inside c, else 0 (also for junk). */
int cidr_match(const struct cidr *c, const char *addr);

/*
 * cidr_list_match - list is "net, net net" (comma and/or blank separated,
 * at most 64 entries); 1 if addr is inside one of them, 0 if not, -1 if
 * the list is malformed before a match was found (cidr_list_valid() tells
 * which entry).
 */
int cidr_list_match(const char *list, const char *addr);

/* cidr_list_valid - 0 if every entry of list parses, else -1 with the bad entry in bad (size badlen). */
int cidr_list_valid(const char *list, char *bad, size_t badlen);

/*
 * relay_addr_key - the guard's key for a client address: IPv4 as is,
 * IPv6 as its /64 ("2001:db8:1:2::/64"); IPv4-mapped IPv6 as IPv4.
 * 0, or -1 if addr is not an address.
 */
int relay_addr_key(const char *addr, char *out, size_t outlen);

/*
 * relay_allowed - may a client relay to a non-local domain? Authenticated
 * sessions may; otherwise only clients inside trusted (a cidr list; "" =
 * none, the default).
 */
int relay_allowed(int authenticated, const char *trusted, const char *addr);

#endif
