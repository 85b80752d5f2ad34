/*
 * fuzz_sasl_plain.c - the PLAIN server step (src/sasl/plain.c) on an
 * arbitrary message. Properties: PENDING only with a valid authcid and a
 * password of the right size that is held for verification; an error code
 * on every failure.
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
	struct bytes in = {data, size};
	enum sasl_status st;

	if (size > 20000)
		return 0;
	x = sasl_exchange_new(&sasl_mech_plain, NULL, 0);
	if (x == NULL)
		abort();
	buf_init(&out, 4096);
	st = sasl_exchange_step(x, &in, &out);
	if (st == SASL_PENDING) {
		if (x->authcid[0] == '\0' || x->password == NULL ||
		    x->password->len == 0 || x->password->len > SASL_PASS_MAX)
			abort();
		memset(&r, 0, sizeof(r));
		r.status = PASSDB_OK;
		r.user = x->authcid;
		st = sasl_exchange_resume(x, &r, &out);
		if (st == SASL_OK && x->user[0] == '\0')
			abort();
	}
	if (st == SASL_FAIL && x->error == SASL_ERR_NONE)
		abort();
	buf_free(&out);
	sasl_exchange_free(x);
	return 0;
}
