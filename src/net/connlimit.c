/*
 * connlimit.c - shared connection counters (see connlimit.h).
 */
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <netinet/in.h>

#include <sodium.h>

#include "net/connlimit.h"

#define CONNLIMIT_BUCKETS 65536

struct connlimit {
	unsigned char key[crypto_shorthash_KEYBYTES];
	atomic_uint total;
	atomic_uint per_ip[CONNLIMIT_BUCKETS];
	/* [policy] connection_rate: connections per address this minute */
	atomic_uint rate_minute[CONNLIMIT_BUCKETS];
	atomic_uint rate_count[CONNLIMIT_BUCKETS];
};

struct connlimit *
connlimit_new(void)
{
	struct connlimit *cl;

	cl = mmap(NULL, sizeof(*cl), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cl == MAP_FAILED)
		return NULL;
	if (sodium_init() < 0)
		return NULL;
	randombytes_buf(cl->key, sizeof(cl->key));
	return cl;
}

static size_t
bucket(const struct connlimit *cl, const struct sockaddr *sa)
{
	unsigned char h[crypto_shorthash_BYTES];
	const unsigned char *p;
	size_t n;
	uint64_t v;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			p = s6->sin6_addr.s6_addr + 12;
			n = 4;
		} else {
			p = s6->sin6_addr.s6_addr;
			n = 8; /* the /64 */
		}
	} else if (sa->sa_family == AF_INET) {
		p = (const unsigned char *)&((const struct sockaddr_in *)sa)
		        ->sin_addr;
		n = 4;
	} else {
		return 0;
	}
	crypto_shorthash(h, p, n, cl->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % CONNLIMIT_BUCKETS);
}

int
connlimit_acquire(struct connlimit *cl, const struct sockaddr *sa,
    unsigned int max_total, unsigned int max_per_ip, const char **which_r)
{
	size_t b = bucket(cl, sa);
	unsigned int t, ip;

	t = atomic_fetch_add(&cl->total, 1) + 1;
	if (max_total > 0 && t > max_total) {
		atomic_fetch_sub(&cl->total, 1);
		*which_r = "total";
		return 0;
	}
	ip = atomic_fetch_add(&cl->per_ip[b], 1) + 1;
	if (max_per_ip > 0 && ip > max_per_ip) {
		atomic_fetch_sub(&cl->per_ip[b], 1);
		atomic_fetch_sub(&cl->total, 1);
		*which_r = "per-ip";
		return 0;
	}
	return 1;
}

void
connlimit_release(struct connlimit *cl, const struct sockaddr *sa)
{
	size_t b = bucket(cl, sa);

	if (atomic_load(&cl->per_ip[b]) > 0)
		atomic_fetch_sub(&cl->per_ip[b], 1);
	if (atomic_load(&cl->total) > 0)
		atomic_fetch_sub(&cl->total, 1);
}

int
connlimit_rate(struct connlimit *cl, const struct sockaddr *sa,
    unsigned int max_per_minute, unsigned int minute)
{
	size_t b;
	unsigned int m;

	if (max_per_minute == 0)
		return 1;
	b = bucket(cl, sa);
	m = atomic_load(&cl->rate_minute[b]);
	/* the first connection of a new minute starts the count over; a
	 * race between workers may lose a count, never refuse wrongly long */
	if (m != minute &&
	    atomic_compare_exchange_strong(&cl->rate_minute[b], &m, minute))
		atomic_store(&cl->rate_count[b], 0);
	return atomic_fetch_add(&cl->rate_count[b], 1) + 1 <= max_per_minute;
}

void
connlimit_reset(struct connlimit *cl)
{
	size_t i;

	atomic_store(&cl->total, 0);
	for (i = 0; i < CONNLIMIT_BUCKETS; i++)
		atomic_store(&cl->per_ip[i], 0);
}
