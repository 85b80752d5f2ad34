/*
 * fuzz_sasl_login.c - the LOGIN server steps (src/sasl/login.c): the input
 * is split at NUL bytes into successive client messages (the first byte
 * chooses an initial response or not). Properties: PENDING only with an
 * authcid and a password; an error code on every failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passdb.h"
#include "core/buf.h"
#include "core/secret.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_exchange *x;
	struct cred_result r;
	struct buf out;
	struct bytes in;
	const uint8_t *p, *end, *nul;
	enum sasl_status st = SASL_CONTINUE;

	if (size < 1 || size > 20000)
		return 0;
	x = sasl_exchange_new(&sasl_mech_login, NULL, 0);
	if (x == NULL)
		abort();
	buf_init(&out, 4096);
	if (!(data[0] & 1))
		st = sasl_exchange_step(x, NULL, &out);
	p = data + 1;
	end = data + size;
	while (st == SASL_CONTINUE && p <= end) {
		nul = memchr(p, '\0', (size_t)(end - p));
		in.data = p;
		in.len = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);
		st = sasl_exchange_step(x, &in, &out);
		p += in.len + 1;
	}
	if (st == SASL_PENDING) {
		if (x->authcid[0] == '\0' || x->password == NULL ||
		    x->password->len == 0)
			abort();
		memset(&r, 0, sizeof(r));
		r.status = (data[0] & 2) ? PASSDB_MISMATCH : PASSDB_OK;
		r.user = x->authcid;
		st = sasl_exchange_resume(x, &r, &out);
	}
	if (st == SASL_FAIL && x->error == SASL_ERR_NONE)
		abort();
	buf_free(&out);
	sasl_exchange_free(x);
	return 0;
}
