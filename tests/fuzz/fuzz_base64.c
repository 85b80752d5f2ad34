/*
 * fuzz_base64.c - the strict decoder on arbitrary input. Properties:
 * anything accepted re-encodes to exactly the input (one encoding per byte
 * string), and encode→decode returns the original bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *dec, *dec2;
	char *enc;
	size_t max, esize;
	long n, m;

	if (size > 65536)
		return 0;
	max = base64_decoded_max(size);
	dec = malloc(max + 1);
	esize = base64_encoded_size(size);
	enc = malloc(esize);
	dec2 = malloc(size + 1);
	if (dec == NULL || enc == NULL || dec2 == NULL)
		abort();

	n = base64_decode((const char *)data, size, dec, max);
	if (n >= 0) {
		if ((size_t)n > max)
			abort();
		m = base64_encode(dec, (size_t)n, enc, esize);
		if (m < 0 || (size_t)m != size || memcmp(enc, data, size) != 0)
			abort();
	}

	m = base64_encode(data, size, enc, esize);
	if (m < 0 || (size_t)m + 1 != esize || strlen(enc) != (size_t)m)
		abort();
	n = base64_decode(enc, (size_t)m, dec2, size);
	if (n < 0 || (size_t)n != size || memcmp(dec2, data, size) != 0)
		abort();
	/* one byte too small must fail, never overflow */
	if (size > 0 && base64_decode(enc, (size_t)m, dec2, size - 1) != -1)
		abort();

	free(dec);
	free(enc);
	free(dec2);
	return 0;
}
