/*
 * fuzz_xtext.c - RFC 3461 xtext on arbitrary input. Properties: accepted
 * input decodes to a string without NUL whose encoding (never longer than
 * the input) decodes to the same string, and encode→decode round-trips
 * any bytes without NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/xtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *dec, *enc, *dec2;
	size_t esize;
	long n, m;

	if (size > 65536)
		return 0;
	esize = size * 3 + 1;
	dec = malloc(size + 1);
	enc = malloc(esize);
	dec2 = malloc(size + 1);
	if (dec == NULL || enc == NULL || dec2 == NULL)
		abort();

	n = xtext_decode((const char *)data, size, dec, size + 1);
	if (n >= 0) {
		if (strlen(dec) != (size_t)n)
			abort();
		/* "+2A" and "*" decode alike: compare decoded forms */
		m = xtext_encode(dec, (size_t)n, enc, esize);
		if (m < 0 || (size_t)m > size)
			abort();
		if (xtext_decode(enc, (size_t)m, dec2, size + 1) != n ||
		    memcmp(dec, dec2, (size_t)n) != 0)
			abort();
	}

	m = xtext_encode((const char *)data, size, enc, esize);
	if (m < 0)
		abort();
	n = xtext_decode(enc, (size_t)m, dec2, size + 1);
	if (memchr(data, '\0', size) == NULL) {
		if (n < 0 || (size_t)n != size || memcmp(dec2, data, size) != 0)
			abort();
	} else if (n != -1) {
		abort();
	}

	free(dec);
	free(enc);
	free(dec2);
	return 0;
}
