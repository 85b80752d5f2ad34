/*
 * test_xoauth2.c - XOAUTH2: "user=U^Aauth=Bearer T^A^A", user required and
 * equal to the token's login, the JSON failure status answered by an
 * empty line, and our client against our server.
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
	struct sasl_exchange *x =
	    sasl_exchange_new(&sasl_mech_xoauth2, NULL, 0);

	assert_non_null(x);
	return x;
}

/* Google's documented example message. */
static void
test_success(void **state)
{
	struct sasl_exchange *x = new_x();
	struct bytes in =
	    B("user=someuser@example.com\x01"
	      "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
	      "\x01\x01");
	struct buf out;
	struct cred_result r;

	assert_ptr_equal(sasl_mech_find("XOAUTH2"), &sasl_mech_xoauth2);
	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(x->pending, SASL_PENDING_TOKEN);
	assert_string_equal(x->authzid, "someuser@example.com");
	assert_memory_equal(x->password->data, "ya29.", 5);
	r = cred(PASSDB_OK, "someuser@example.com", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	assert_string_equal(x->user, "someuser@example.com");
	buf_free(&out);
	sasl_exchange_free(x);
}

static void
test_failure_and_authzid(void **state)
{
	struct bytes in = B("user=a@b.c\x01"
	                    "auth=Bearer t\x01\x01");
	struct bytes empty = {(const unsigned char *)"", 0};
	struct sasl_exchange *x = new_x();
	struct buf out;
	struct cred_result r;

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	r = cred(PASSDB_MISMATCH, NULL, 0);
	r.oauth_scope = "https://mail.example.test/";
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_CONTINUE);
	assert_string_equal(out.data,
	    "{\"status\":\"401\",\"schemes\":\"bearer\","
	    "\"scope\":\"https://mail.example.test/\"}");
	assert_int_equal(sasl_exchange_step(x, &empty, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
	sasl_exchange_free(x);

	/* the token belongs to someone else */
	x = new_x();
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	r = cred(PASSDB_OK, "z@b.c", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_AUTHZ);
	assert_string_equal(x->user, "");
	sasl_exchange_free(x);
	buf_free(&out);
}

static void
test_malformed(void **state)
{
	static const struct bytes bad[] = {
	    B("auth=Bearer t\x01\x01"),
	    B("user=\x01"
	      "auth=Bearer t\x01\x01"),
	    B("user=a@b.c\x01\x01"),
	    B("user=a@b.c\x01"
	      "auth=Bearer t\x01"),
	    B("user=a@b.c\x01"
	      "auth=Bearer t"),
	    B("user=a@b.c\x01user=b\x01"
	      "auth=Bearer t\x01\x01"),
	    B("user=a\nb\x01"
	      "auth=Bearer t\x01\x01"),
	    B("user=a@b.c\x01"
	      "auth=Bearer t\x01\x01\x01"),
	    B("n,,\x01"
	      "auth=Bearer t\x01\x01"),
	    B(""),
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sasl_exchange *x = new_x();
		struct buf out;

		buf_init(&out, OUT_MAX);
		if (sasl_exchange_step(x, &bad[i], &out) != SASL_FAIL)
			fail_msg("case %zu accepted", i);
		assert_int_equal(x->error, SASL_ERR_MALFORMED);
		buf_free(&out);
		sasl_exchange_free(x);
	}
}

static void
test_client_roundtrip(void **state)
{
	struct secret *tok = secret_new("opaque-Token_1~", 15);
	struct sasl_client *c =
	    sasl_client_new(&sasl_mech_xoauth2, "a@b.c", NULL, tok);
	struct sasl_exchange *x = new_x();
	struct buf resp, out;
	struct bytes in;
	struct cred_result r;

	buf_init(&resp, OUT_MAX);
	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_CONTINUE);
	in.data = (const unsigned char *)resp.data;
	in.len = resp.len;
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(x->password->len, 15);
	r = cred(PASSDB_OK, "a@b.c", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
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
	    cmocka_unit_test(test_success),
	    cmocka_unit_test(test_failure_and_authzid),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_client_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
