/*
 * fuzz_envelope.c - the queue's envelope loader on arbitrary bytes (a
 * damaged spool must not crash the queue service). Property: whatever is
 * accepted encodes again, and that encoding decodes to the same encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e, e2;
	char err[256], *t1, *t2;
	size_t l1, l2;

	if (size > (1u << 20))
		return 0;
	if (env_decode((const char *)data, size, &e, err, sizeof(err)) == -1) {
		if (e.nrcpts != 0 || e.rcpts != NULL)
			abort();
		return 0;
	}
	if (e.nrcpts == 0 || !env_valid_id(e.id))
		abort();
	if (env_encode(&e, &t1, &l1, err, sizeof(err)) == -1)
		abort();
	if (env_decode(t1, l1, &e2, err, sizeof(err)) == -1)
		abort();
	if (env_encode(&e2, &t2, &l2, err, sizeof(err)) == -1)
		abort();
	if (l1 != l2 || memcmp(t1, t2, l1) != 0)
		abort();
	free(t1);
	free(t2);
	env_free(&e);
	env_free(&e2);
	return 0;
}
