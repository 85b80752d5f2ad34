/*
 * rand.c - CSPRNG wrappers over libsodium's randombytes (getrandom(2)).
 * sodium_init() runs exactly once, whichever thread gets here first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "core/rand.h"

static pthread_once_t rand_once = PTHREAD_ONCE_INIT;

static void
rand_init(void)
{
	if (sodium_init() < 0) {
		fputs("postern: sodium_init failed\n", stderr);
		abort();
	}
}

void
rand_bytes(void *p, size_t n)
{
	if (pthread_once(&rand_once, rand_init) != 0)
		abort();
	if (n > 0)
		randombytes_buf(p, n);
}

uint64_t
rand_u64(void)
{
	uint64_t v;

	rand_bytes(&v, sizeof(v));
	return v;
}

void
rand_token(char *out, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                               "abcdefghijklmnopqrstuvwxyz"
	                               "0123456789";
	size_t i;

	if (pthread_once(&rand_once, rand_init) != 0)
		abort();
	/* randombytes_uniform avoids the modulo bias of byte % 62. */
	for (i = 0; i < n; i++)
		out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	out[n] = '\0';
}
