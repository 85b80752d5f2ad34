/*
 * relay.c - relay permission and CIDR matching (see relay.h). Addresses are
 * parsed with inet_pton only: no name resolution, no allocation. A prefix
 * whose host bits are set is accepted and masked ("10.1.2.3/8" = 10/8).
 */
#include <string.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "core/str.h"
#include "policy/relay.h"

#define CIDR_LIST_MAX 64

static void
mask(unsigned char *a, unsigned int bits, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		a[i] &= (unsigned char)(0xff << (8 - bits));
		bits = 0;
	}
}

/* parse_addr - textual address into family/bytes; IPv4-mapped -> IPv4. */
static int
parse_addr(const char *s, int *family, unsigned char *out)
{
	unsigned char v6[16];
	static const unsigned char mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, v6) != 1)
		return -1;
	if (memcmp(v6, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		memcpy(out, v6 + 12, 4);
		return 0;
	}
	*family = AF_INET6;
	memcpy(out, v6, 16);
	return 0;
}

int
cidr_parse(const char *s, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned long long bits;
	unsigned int max;

	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (parse_addr(host, &out->family, out->addr) == -1)
		return -1;
	max = out->family == AF_INET && strchr(host, ':') == NULL ? 32 : 128;
	if (slash == NULL) {
		out->bits = out->family == AF_INET ? 32 : 128;
		return 0;
	}
	if (slash[1] == '\0' || str_to_uint(slash + 1, max, &bits) == -1)
		return -1;
	/* "::ffff:10.0.0.0/104" is an IPv4 /8 */
	if (out->family == AF_INET && strchr(host, ':') != NULL) {
		if (bits < 96)
			return -1;
		bits -= 96;
	}
	out->bits = (unsigned int)bits;
	mask(out->addr, out->bits, out->family == AF_INET ? 4 : 16);
	return 0;
}

int
cidr_match(const struct cidr *c, const char *addr)
{
	unsigned char a[16];
	int family;

	if (parse_addr(addr, &family, a) == -1 || family != c->family)
		return 0;
	mask(a, c->bits, family == AF_INET ? 4 : 16);
	return memcmp(a, c->addr, family == AF_INET ? 4 : 16) == 0;
}

/* list_walk - call each entry; returns 1 on match, 0, or -1 on a bad entry. */
static int
list_walk(const char *list, const char *addr, char *bad, size_t badlen)
{
	char tok[INET6_ADDRSTRLEN + 8];
	const char *p = list;
	size_t n, count = 0;
	struct cidr c;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		n = strcspn(p, " \t,");
		if (n >= sizeof(tok) || ++count > CIDR_LIST_MAX) {
			if (bad != NULL)
				snprintf(bad, badlen, "%.*s",
				    (int)(n > 60 ? 60 : n), p);
			return -1;
		}
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		if (cidr_parse(tok, &c) == -1) {
			if (bad != NULL)
				str_copy(bad, tok, badlen);
			return -1;
		}
		if (addr != NULL && cidr_match(&c, addr))
			return 1;
	}
}

int
cidr_list_match(const char *list, const char *addr)
{
	if (list == NULL || addr == NULL)
		return 0;
	return list_walk(list, addr, NULL, 0);
}

int
cidr_list_valid(const char *list, char *bad, size_t badlen)
{
	return list_walk(list, NULL, bad, badlen) == -1 ? -1 : 0;
}

int
relay_addr_key(const char *addr, char *out, size_t outlen)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	int family;

	if (parse_addr(addr, &family, a) == -1)
		return -1;
	if (family == AF_INET) {
		if (inet_ntop(AF_INET, a, text, sizeof(text)) == NULL)
			return -1;
		return str_copy(out, text, outlen) < outlen ? 0 : -1;
	}
	mask(a, 64, 16);
	if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
		return -1;
	return snprintf(out, outlen, "%s/64", text) < (int)outlen ? 0 : -1;
}

int
relay_allowed(int authenticated, const char *trusted, const char *addr)
{
	if (authenticated)
		return 1;
	return cidr_list_match(trusted, addr) == 1;
}
