/*
 * fuzz_gs2.c - the GS2 header parser and saslname coding (src/sasl/gs2.c).
 * Properties: an accepted header ends with ',' inside the input, its
 * authzid has no NUL, and saslname decode/encode round-trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl/gs2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gs2_header g;
	char dec[512], enc[1600], dec2[512];
	long n, m;

	if (gs2_parse(data, size, &g) == 0) {
		if (g.len < 3 || g.len > size || data[g.len - 1] != ',')
			abort();
		if (strlen(g.authzid) != g.authzid_len)
			abort();
		if (g.flag == GS2_CB_USED && g.cb_name[0] == '\0')
			abort();
	}
	if (size > 1500)
		return 0;
	n = gs2_saslname_decode((const char *)data, size, dec, sizeof(dec));
	if (n >= 0) {
		if (n == 0 || strlen(dec) != (size_t)n)
			abort();
		m = gs2_saslname_encode(dec, (size_t)n, enc, sizeof(enc));
		if (m < 0 ||
		    gs2_saslname_decode(enc, (size_t)m, dec2, sizeof(dec2)) !=
		        n ||
		    memcmp(dec, dec2, (size_t)n) != 0)
			abort();
	}
	return 0;
}
