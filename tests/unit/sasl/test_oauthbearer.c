/*
 * test_oauthbearer.c - OAUTHBEARER (RFC 7628): the client message grammar,
 * the token handed to the exchange like a password, the authzid rule and
 * the §3.2.2 failure dance (JSON status, client's %x01, then failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/passdb.h"
#include "core/buf.h"
#include "core/secret.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"
#include "sasl_test.h"

#define OUT_MAX 4096

static struct sasl_exchange *
new_x(void)
{
	struct sasl_conn_info ci;
	struct sasl_exchange *x;

	memset(&ci, 0, sizeof(ci));
	ci.tls = 1;
	x = sasl_exchange_new(&sasl_mech_oauthbearer, &ci, 1);
	assert_non_null(x);
	return x;
}

static void
test_registry(void **state)
{
	assert_ptr_equal(sasl_mech_find("oauthbearer"), &sasl_mech_oauthbearer);
	assert_true(sasl_mech_oauthbearer.flags & SASL_F_PLAINTEXT);
	assert_true(sasl_mech_oauthbearer.flags & SASL_F_CLIENT_FIRST);
}

/* RFC 7628 §4.1's message, with host and port. */
static void
test_success(void **state)
{
	struct sasl_exchange *x = new_x();
	struct bytes in =
	    B("n,a=user@example.com,\x01host=server.example.com"
	      "\x01port=143\x01"
	      "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
	      "\x01\x01");
	struct buf out;
	struct cred_result r;

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(x->pending, SASL_PENDING_TOKEN);
	assert_string_equal(x->authzid, "user@example.com");
	assert_non_null(x->password);
	assert_int_equal(x->password->len, 42);
	assert_memory_equal(x->password->data, "vF9dft4qmTc2Nvb3", 16);
	r = cred(PASSDB_OK, "User@Example.com", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	assert_string_equal(x->user, "User@Example.com");
	assert_null(x->password);
	buf_free(&out);
	sasl_exchange_free(x);
}

/* No initial response: an empty challenge first; no authzid is fine. */
static void
test_no_ir_no_authzid(void **state)
{
	struct sasl_exchange *x = new_x();
	struct bytes in = B("n,,\x01"
	                    "auth=bearer abc.def-ghi\x01\x01");
	struct buf out;
	struct cred_result r;

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	r = cred(PASSDB_OK, "bob@example.test", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	assert_string_equal(x->user, "bob@example.test");
	buf_free(&out);
	sasl_exchange_free(x);
}

/* §3.2.2: JSON status, client's %x01, then failure. */
static void
test_failure_dance(void **state)
{
	struct sasl_exchange *x = new_x();
	struct bytes in = B("n,a=a@b.c,\x01"
	                    "auth=Bearer tok\x01\x01");
	struct bytes ack = B("\x01");
	struct buf out;
	struct cred_result r;

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	r = cred(PASSDB_MISMATCH, NULL, 0);
	r.oauth_scope = "openid \"email\"";
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_CONTINUE);
	assert_string_equal(out.data,
	    "{\"status\":\"invalid_token\",\"schemes\":\"bearer\","
	    "\"scope\":\"openid \\\"email\\\"\"}");
	assert_null(x->password);
	assert_int_equal(sasl_exchange_step(x, &ack, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
	buf_free(&out);
	sasl_exchange_free(x);

	/* anything but %x01 after the status fails as well */
	x = new_x();
	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	r = cred(PASSDB_NO_USER, NULL, 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_CONTINUE);
	assert_string_equal(
	    out.data, "{\"status\":\"invalid_token\",\"schemes\":\"bearer\"}");
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
	buf_free(&out);
	sasl_exchange_free(x);
}

static void
test_authzid_and_status(void **state)
{
	static const struct {
		enum passdb_status st;
		unsigned int flags;
		const char *user;
		enum sasl_status want;
		enum sasl_error err;
	} cases[] = {
	    {PASSDB_OK, 0, "other@b.c", SASL_FAIL, SASL_ERR_AUTHZ},
	    {PASSDB_OK, CRED_DISABLED, "a@b.c", SASL_FAIL, SASL_ERR_DISABLED},
	    {PASSDB_DISABLED, 0, "a@b.c", SASL_FAIL, SASL_ERR_DISABLED},
	    {PASSDB_TEMPFAIL, 0, NULL, SASL_TEMPFAIL, SASL_ERR_TEMP},
	    {PASSDB_OK, 0, "A@B.C", SASL_OK, SASL_ERR_NONE},
	};
	struct bytes in = B("y,a=a@b.c,\x01"
	                    "auth=Bearer tok\x01\x01");
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* allow_authzid is on: tokens ignore it */
		struct sasl_exchange *x = new_x();
		struct buf out;
		struct cred_result r;

		buf_init(&out, OUT_MAX);
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_PENDING);
		r = cred(cases[i].st, cases[i].user, cases[i].flags);
		assert_int_equal(
		    sasl_exchange_resume(x, &r, &out), cases[i].want);
		assert_int_equal(x->error, cases[i].err);
		if (cases[i].want != SASL_OK)
			assert_string_equal(x->user, "");
		buf_free(&out);
		sasl_exchange_free(x);
	}
}

static void
test_malformed(void **state)
{
	static const struct bytes bad[] = {
	    B("\x01"),
	    B(""),
	    B("n,,auth=Bearer x\x01\x01"),
	    B("n,,\x01"
	      "auth=Bearer x\x01"),
	    B("n,,\x01"
	      "auth=Bearer x\x01\x01junk"),
	    B("n,,\x01"
	      "auth=Bearer x\x01\x01\x01"),
	    B("n,,\x01"
	      "host=x\x01\x01"),
	    B("n,,\x01"
	      "auth=Basic eA==\x01\x01"),
	    B("n,,\x01"
	      "auth=Bearer \x01\x01"),
	    B("n,,\x01"
	      "auth=Bearer a b\x01\x01"),
	    B("n,,\x01"
	      "auth=Bearer a=b\x01\x01"),
	    B("n,,\x01"
	      "auth=Bearer a\x01"
	      "auth=Bearer b\x01\x01"),
	    B("n,,\x01"
	      "au th=Bearer a\x01\x01"),
	    B("n,,\x01"
	      "auth=Bearer a\x01"
	      "x=\x7f\x01\x01"),
	    B("p=tls-exporter,,\x01"
	      "auth=Bearer a\x01\x01"),
	    B("n,a=,\x01"
	      "auth=Bearer a\x01\x01"),
	    B("n,a=x=y,\x01"
	      "auth=Bearer a\x01\x01"),
	    B("n,a=x\0y,\x01"
	      "auth=Bearer a\x01\x01"),
	    B("x,,\x01"
	      "auth=Bearer a\x01\x01"),
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sasl_exchange *x = new_x();
		struct buf out;

		buf_init(&out, OUT_MAX);
		if (sasl_exchange_step(x, &bad[i], &out) != SASL_FAIL)
			fail_msg("case %zu accepted", i);
		assert_int_equal(x->error, SASL_ERR_MALFORMED);
		assert_null(x->password);
		buf_free(&out);
		sasl_exchange_free(x);
	}
}

static enum sasl_status
step_token_of(size_t n, size_t *len_r)
{
	char *msg = malloc(n + 32);
	struct sasl_exchange *x = new_x();
	enum sasl_status st;
	struct bytes in;
	struct buf out;

	assert_non_null(msg);
	memcpy(msg,
	    "n,,\x01"
	    "auth=Bearer ",
	    16);
	memset(msg + 16, 'a', n);
	memcpy(msg + 16 + n, "\x01\x01", 2);
	in.data = (const unsigned char *)msg;
	in.len = 16 + n + 2;
	buf_init(&out, OUT_MAX);
	st = sasl_exchange_step(x, &in, &out);
	*len_r = x->password != NULL ? x->password->len : 0;
	buf_free(&out);
	sasl_exchange_free(x);
	free(msg);
	return st;
}

static void
test_token_limit(void **state)
{
	size_t len;

	assert_int_equal(step_token_of(8192, &len), SASL_PENDING);
	assert_int_equal(len, 8192);
	assert_int_equal(step_token_of(8193, &len), SASL_FAIL);
}

/* Our client against our server. */
static void
test_client_roundtrip(void **state)
{
	struct secret *tok = secret_new("abc.def.ghi", 11);
	struct sasl_client *c =
	    sasl_client_new(&sasl_mech_oauthbearer, "u,1=x@b.c", NULL, tok);
	struct sasl_exchange *x = new_x();
	struct buf resp, out;
	struct bytes in;
	struct cred_result r;

	buf_init(&resp, OUT_MAX);
	buf_init(&out, OUT_MAX);
	assert_non_null(c);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_CONTINUE);
	assert_memory_equal(resp.data, "n,a=u=2C1=3Dx@b.c,\x01", 19);
	in.data = (const unsigned char *)resp.data;
	in.len = resp.len;
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_string_equal(x->authzid, "u,1=x@b.c");
	r = cred(PASSDB_MISMATCH, NULL, 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_CONTINUE);
	buf_reset(&resp);
	in.data = (const unsigned char *)out.data;
	in.len = out.len;
	assert_int_equal(sasl_client_step(c, &in, &resp), SASL_CONTINUE);
	assert_int_equal(resp.len, 1);
	in.data = (const unsigned char *)resp.data;
	in.len = resp.len;
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	buf_free(&resp);
	buf_free(&out);
	sasl_exchange_free(x);
	sasl_client_free(c);
	secret_free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_success),
	    cmocka_unit_test(test_no_ir_no_authzid),
	    cmocka_unit_test(test_failure_dance),
	    cmocka_unit_test(test_authzid_and_status),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_token_limit),
	    cmocka_unit_test(test_client_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
