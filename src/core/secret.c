/*
 * secret.c - buffers for passwords and keys: mlock(2) where the kernel lets
 * us (failure is ignored: it only narrows the swap window), wiped on free.
 * Comparisons here never return early on a difference.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/secret.h"

struct secret *
secret_new(const void *p, size_t len)
{
	struct secret *s;

	if (len == (size_t)-1)
		return NULL;
	s = malloc(sizeof(*s));
	if (s == NULL)
		return NULL;
	s->data = malloc(len + 1);
	if (s->data == NULL) {
		free(s);
		return NULL;
	}
	if (len > 0)
		memcpy(s->data, p, len);
	s->data[len] = '\0';
	(void)mlock(s->data, len + 1);
	s->len = len;
	return s;
}

void
secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	if (s->data != NULL) {
		secret_wipe(s->data, s->len + 1);
		(void)munlock(s->data, s->len + 1);
		free(s->data);
	}
	secret_wipe(s, sizeof(*s));
	free(s);
}

void
secret_wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
	explicit_bzero(p, n);
}

int
ct_memeq(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *pa = a;
	const volatile unsigned char *pb = b;
	volatile unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= pa[i] ^ pb[i];
	return (int)(1 & (((unsigned int)d - 1) >> 8));
}

/*
 * ct_streq - walk all of b (and its NUL) once; the index into a stops
 * advancing at a's NUL, so a is never read past its end and the loop count
 * depends only on strlen(b). A length difference shows up as a NUL compared
 * with a non-NUL byte.
 */
int
ct_streq(const char *a, const char *b)
{
	const volatile unsigned char *pa = (const unsigned char *)a;
	const unsigned char *pb = (const unsigned char *)b;
	volatile unsigned char d = 0;
	size_t i, j, blen;
	unsigned char ca;

	blen = strlen(b);
	j = 0;
	for (i = 0; i <= blen; i++) {
		ca = pa[j];
		d |= ca ^ pb[i];
		j += (size_t)(ca != 0);
	}
	return (int)(1 & (((unsigned int)d - 1) >> 8));
}
