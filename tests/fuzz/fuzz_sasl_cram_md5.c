/*
 * fuzz_sasl_cram_md5.c - the CRAM-MD5 server step (src/sasl/cram_md5.c) on
 * an arbitrary response, answered with a stored context or an unknown user.
 * Properties: no crash; never OK (the challenge is random); an error code
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
	/* Dovecot's CRAM-MD5 context of "password" */
	static const char ctx[] =
	    "9186d855e11eba527a7a52ca82b313e180d62234f0acc9051b527243d41e2740";
	struct sasl_exchange *x;
	struct cred_result r;
	struct secret *sec;
	struct buf out;
	struct bytes in;
	enum sasl_status st;

	if (size < 1 || size > 20000)
		return 0;
	x = sasl_exchange_new(&sasl_mech_cram_md5, NULL, 0);
	if (x == NULL)
		abort();
	buf_init(&out, 4096);
	if (sasl_exchange_step(x, NULL, &out) != SASL_CONTINUE || out.len == 0)
		abort();
	in.data = data + 1;
	in.len = size - 1;
	st = sasl_exchange_step(x, &in, &out);
	if (st == SASL_PENDING) {
		memset(&r, 0, sizeof(r));
		r.status = (data[0] & 1) ? PASSDB_NO_USER : PASSDB_OK;
		r.user = x->authcid;
		sec = secret_new(ctx, (data[0] & 2) ? 10 : strlen(ctx));
		r.secret = sec;
		st = sasl_exchange_resume(x, &r, &out);
		secret_free(sec);
		if (st == SASL_OK)
			abort();
	}
	if (st == SASL_FAIL && x->error == SASL_ERR_NONE)
		abort();
	buf_free(&out);
	sasl_exchange_free(x);
	return 0;
}
