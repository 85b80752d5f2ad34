/*
 * fuzz_sasl_mech.h - one server-side exchange of a mechanism driven by
 * fuzz input. Input: byte 0 picks the passdb/validator answer, byte 1 the
 * connection (TLS, certificate identity), then messages as 2-octet
 * big-endian length + bytes. Properties: no crash; SASL_OK only with a
 * login set and an authzid that is empty or that login; the secret is
 * gone once the exchange ends.
 */
#ifndef POSTERN_FUZZ_SASL_MECH_H
#define POSTERN_FUZZ_SASL_MECH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passdb.h"
#include "core/buf.h"
#include "core/str.h"
#include "sasl/exchange.h"

static void
fuzz_answer(uint8_t mode, struct cred_result *r)
{
	static const char *const users[] = {
	    "alice@example.test", "Alice@Example.Test", "bob@example.test", ""};

	memset(r, 0, sizeof(*r));
	r->status = (enum passdb_status)(mode % 6);
	r->user = users[(mode >> 3) % 4];
	if (r->user[0] == '\0')
		r->user = NULL;
	r->flags = (mode & 0x80) ? CRED_DISABLED : 0;
	r->oauth_scope = (mode & 0x40) ? "openid \"x\"\\" : NULL;
}

static void
fuzz_mech(const struct sasl_mech *mech, const uint8_t *data, size_t size)
{
	struct sasl_conn_info ci;
	struct sasl_exchange *x;
	struct cred_result r;
	struct buf out;
	struct bytes in;
	enum sasl_status st = SASL_CONTINUE;
	size_t off = 2, n;
	int first = 1;

	if (size < 2 || size > 65536)
		return;
	memset(&ci, 0, sizeof(ci));
	ci.tls = data[1] & 1;
	if (data[1] & 2)
		(void)str_copy(ci.cert_identity,
		    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef email:alice@example.test",
		    sizeof(ci.cert_identity));
	x = sasl_exchange_new(mech, &ci, data[1] & 4);
	if (x == NULL)
		abort();
	buf_init(&out, 16384);
	while (st == SASL_CONTINUE) {
		if (first && (data[1] & 8)) {
			st = sasl_exchange_step(x, NULL, &out);
			first = 0;
			continue;
		}
		first = 0;
		if (size - off < 2)
			break;
		n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		in.data = data + off;
		in.len = n;
		off += n;
		st = sasl_exchange_step(x, &in, &out);
		while (st == SASL_PENDING) {
			fuzz_answer(data[0], &r);
			st = sasl_exchange_resume(x, &r, &out);
		}
	}
	if (st == SASL_OK) {
		if (x->user[0] == '\0')
			abort();
		if (x->authzid[0] != '\0' && !x->allow_authzid &&
		    !str_ieq(x->authzid, x->user))
			abort();
	}
	if ((st == SASL_OK || st == SASL_FAIL || st == SASL_TEMPFAIL) &&
	    x->password != NULL)
		abort();
	buf_free(&out);
	sasl_exchange_free(x);
}

#endif
