/*
 * fuzz_scram_server.c - the SCRAM server steps (src/sasl/scram.c) on
 * arbitrary client messages. Input: one control byte (mechanism, TLS
 * version, -PLUS advertised, passdb answer, initial response or not), then
 * the client-first-message, a NUL, the client-final-message. Properties:
 * no crash, no OK without the right proof (the fuzzer cannot forge one),
 * and an error code on every failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passdb.h"
#include "core/buf.h"
#include "core/secret.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"
#include "sasl/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 7677 / RFC 5802 keys for user "user", password "pencil" */
static const char rec256[] = "4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
                             "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
                             "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
static const char rec1[] = "4096,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,"
                           "D+CSWLOshSulAsxiupA+qs2/fTE=";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sasl_mech *const mechs[] = {
	    &sasl_mech_scram_sha1,
	    &sasl_mech_scram_sha256,
	    &sasl_mech_scram_sha1_plus,
	    &sasl_mech_scram_sha256_plus,
	};
	static const enum passdb_status answers[] = {
	    PASSDB_OK, PASSDB_NO_USER, PASSDB_NO_SCHEME, PASSDB_TEMPFAIL};
	struct sasl_conn_info ci;
	struct sasl_exchange *x;
	struct cred_result r;
	struct secret *sec;
	struct buf out;
	struct bytes in;
	const uint8_t *nul;
	uint8_t ctl;
	size_t i;
	enum sasl_status st;

	if (size < 1 || size > 20000)
		return 0;
	ctl = data[0];
	data++;
	size--;
	memset(&ci, 0, sizeof(ci));
	ci.tls = 1;
	for (i = 0; i < 32; i++)
		ci.cb_exporter[i] = (unsigned char)i;
	ci.cb_exporter_len = 32;
	if (ctl & 0x04) {
		for (i = 0; i < 12; i++)
			ci.cb_unique[i] = (unsigned char)(0x40 + i);
		ci.cb_unique_len = 12;
	}
	ci.plus_advertised = (ctl & 0x08) != 0;
	x = sasl_exchange_new(mechs[ctl & 3], &ci, (ctl & 0x80) != 0);
	if (x == NULL)
		abort();
	buf_init(&out, 16384);
	nul = memchr(data, '\0', size);
	in.data = data;
	in.len = nul != NULL ? (size_t)(nul - data) : size;
	if (ctl & 0x40) {
		st = sasl_exchange_step(x, NULL, &out);
		if (st != SASL_CONTINUE || out.len != 0)
			abort();
	}
	st = sasl_exchange_step(x, &in, &out);
	if (st == SASL_PENDING) {
		const char *rec = (ctl & 1) ? rec256 : rec1;

		memset(&r, 0, sizeof(r));
		r.status = answers[(ctl >> 4) & 3];
		r.user = x->authcid;
		sec = secret_new(rec, strlen(rec));
		r.secret = r.status == PASSDB_OK ? sec : NULL;
		st = sasl_exchange_resume(x, &r, &out);
		secret_free(sec);
		if (st == SASL_CONTINUE && nul != NULL) {
			in.data = nul + 1;
			in.len = size - (size_t)(nul + 1 - data);
			st = sasl_exchange_step(x, &in, &out);
			/* a proof for "pencil" would need the server nonce */
			if (st == SASL_OK)
				abort();
		}
	}
	if ((st == SASL_FAIL || st == SASL_TEMPFAIL) &&
	    x->error == SASL_ERR_NONE)
		abort();
	if (st == SASL_FAIL && x->user[0] != '\0')
		abort();
	buf_free(&out);
	sasl_exchange_free(x);
	return 0;
}
