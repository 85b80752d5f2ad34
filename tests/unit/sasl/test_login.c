/*
 * test_login.c - LOGIN (draft-murchison-sasl-login) server and client:
 * prompts, initial response, every malformed branch, our client against
 * our server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
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
	struct sasl_exchange *x;

	x = sasl_exchange_new(&sasl_mech_login, NULL, 0);
	assert_non_null(x);
	return x;
}

static void
assert_out(const struct buf *out, const char *want)
{
	assert_int_equal(out->len, strlen(want));
	assert_memory_equal(out->data, want, out->len);
}

/* The prompts as they appear on the wire (rfc-checklist.md). */
static void
test_prompts(void **state)
{
	struct sasl_exchange *x = new_x();
	struct bytes user = B("test"), pass = B("1234");
	struct buf out;
	struct cred_result r;
	char b64[32];

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_out(&out, "Username:");
	assert_true(base64_encode(out.data, out.len, b64, sizeof(b64)) > 0);
	assert_string_equal(b64, "VXNlcm5hbWU6");
	assert_int_equal(sasl_exchange_step(x, &user, &out), SASL_CONTINUE);
	assert_out(&out, "Password:");
	assert_true(base64_encode(out.data, out.len, b64, sizeof(b64)) > 0);
	assert_string_equal(b64, "UGFzc3dvcmQ6");
	assert_string_equal(x->authcid, "test");
	assert_int_equal(sasl_exchange_step(x, &pass, &out), SASL_PENDING);
	assert_int_equal(out.len, 0);
	assert_int_equal(x->pending, SASL_PENDING_VERIFY);
	assert_int_equal(x->password->len, 4);
	assert_memory_equal(x->password->data, "1234", 4);
	r = cred(PASSDB_OK, "test", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	assert_string_equal(x->user, "test");
	assert_null(x->password);
	assert_int_equal(sasl_exchange_step(x, &pass, &out), SASL_FAIL);
	buf_free(&out);
	sasl_exchange_free(x);
}

static void
test_initial_response(void **state)
{
	struct sasl_exchange *x = new_x();
	struct bytes user = B("alice@example.org"), pass = B("pw");
	struct buf out;

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &user, &out), SASL_CONTINUE);
	assert_out(&out, "Password:");
	assert_string_equal(x->authcid, "alice@example.org");
	assert_int_equal(sasl_exchange_step(x, &pass, &out), SASL_PENDING);
	buf_free(&out);
	sasl_exchange_free(x);
}

static void
test_resume(void **state)
{
	static const struct {
		enum passdb_status st;
		unsigned int flags;
		enum sasl_status want;
		enum sasl_error err;
	} cases[] = {
	    {PASSDB_OK, 0, SASL_OK, SASL_ERR_NONE},
	    {PASSDB_MISMATCH, 0, SASL_FAIL, SASL_ERR_CREDENTIALS},
	    {PASSDB_NO_USER, 0, SASL_FAIL, SASL_ERR_CREDENTIALS},
	    {PASSDB_DISABLED, 0, SASL_FAIL, SASL_ERR_DISABLED},
	    {PASSDB_TEMPFAIL, 0, SASL_TEMPFAIL, SASL_ERR_TEMP},
	    {PASSDB_OK, CRED_MUST_CHANGE, SASL_FAIL, SASL_ERR_MUST_CHANGE},
	};
	struct bytes user = B("test"), pass = B("pw");
	struct cred_result r;
	struct buf out;
	struct sasl_exchange *x;
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		x = new_x();
		assert_int_equal(
		    sasl_exchange_step(x, &user, &out), SASL_CONTINUE);
		assert_int_equal(
		    sasl_exchange_step(x, &pass, &out), SASL_PENDING);
		r = cred(cases[i].st, "test", cases[i].flags);
		assert_int_equal(
		    sasl_exchange_resume(x, &r, &out), cases[i].want);
		assert_int_equal(x->error, cases[i].err);
		assert_null(x->password);
		sasl_exchange_free(x);
	}
	buf_free(&out);
}

/* Each malformed message, at the step where it arrives. */
static void
test_malformed(void **state)
{
	static char long_user[257], long_pass[257];
	struct {
		const char *name;
		int ir; /* user name sent as initial response */
		struct bytes user;
		struct bytes pass; /* .data NULL: fail at the user step */
	} cases[] = {
	    {"empty user", 0, B(""), {NULL, 0}},
	    {"empty user IR", 1, B(""), {NULL, 0}},
	    {"NUL in user", 0, B("te\0st"), {NULL, 0}},
	    {"control in user", 1, B("te\nst"), {NULL, 0}},
	    {"bad UTF-8 user", 0, B("\xff"), {NULL, 0}},
	    {"long user", 0, {(const unsigned char *)long_user, 256},
	        {NULL, 0}},
	    {"empty password", 0, B("test"), B("")},
	    {"NUL in password", 1, B("test"), B("pa\0ss")},
	    {"long password", 0, B("test"),
	        {(const unsigned char *)long_pass, 256}},
	};
	struct buf out;
	struct sasl_exchange *x;
	size_t i;

	memset(long_user, 'u', 256);
	memset(long_pass, 'p', 256);
	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sasl_status st;

		x = new_x();
		if (!cases[i].ir)
			assert_int_equal(
			    sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
		st = sasl_exchange_step(x, &cases[i].user, &out);
		if (cases[i].pass.data != NULL) {
			assert_int_equal(st, SASL_CONTINUE);
			st = sasl_exchange_step(x, &cases[i].pass, &out);
		}
		if (st != SASL_FAIL)
			fail_msg("case %s: accepted", cases[i].name);
		assert_int_equal(x->error, SASL_ERR_MALFORMED);
		assert_null(x->password);
		sasl_exchange_free(x);
	}

	/* a NULL message where a user name or password is due */
	x = new_x();
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_FAIL);
	sasl_exchange_free(x);
	x = new_x();
	{
		struct bytes u = B("test");

		assert_int_equal(
		    sasl_exchange_step(x, &u, &out), SASL_CONTINUE);
	}
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_FAIL);
	sasl_exchange_free(x);

	/* 255 octets is still fine */
	x = new_x();
	{
		struct bytes u = {(const unsigned char *)long_user, 255};
		struct bytes p = {(const unsigned char *)long_pass, 255};

		assert_int_equal(
		    sasl_exchange_step(x, &u, &out), SASL_CONTINUE);
		assert_int_equal(sasl_exchange_step(x, &p, &out), SASL_PENDING);
	}
	sasl_exchange_free(x);
	buf_free(&out);
}

static void
test_client(void **state)
{
	struct secret *pw = secret_new("1234", 4);
	struct bytes uprompt = B("Username:"), pprompt = B("Password:");
	struct bytes odd = B("???");
	struct sasl_client *c;
	struct buf resp;

	buf_init(&resp, OUT_MAX);

	/* initial response, then the password */
	c = sasl_client_new(&sasl_mech_login, "test", NULL, pw);
	assert_non_null(c);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_CONTINUE);
	assert_out(&resp, "test");
	assert_int_equal(sasl_client_step(c, &pprompt, &resp), SASL_CONTINUE);
	assert_out(&resp, "1234");
	assert_int_equal(sasl_client_step(c, &pprompt, &resp), SASL_FAIL);
	sasl_client_free(c);

	/* server speaks first */
	c = sasl_client_new(&sasl_mech_login, "test", NULL, pw);
	assert_int_equal(sasl_client_step(c, &uprompt, &resp), SASL_CONTINUE);
	assert_out(&resp, "test");
	assert_int_equal(sasl_client_step(c, &pprompt, &resp), SASL_CONTINUE);
	assert_out(&resp, "1234");
	sasl_client_free(c);

	/* unknown prompts are answered in order */
	c = sasl_client_new(&sasl_mech_login, "test", NULL, pw);
	assert_int_equal(sasl_client_step(c, &odd, &resp), SASL_CONTINUE);
	assert_out(&resp, "test");
	assert_int_equal(sasl_client_step(c, &odd, &resp), SASL_CONTINUE);
	assert_out(&resp, "1234");
	assert_int_equal(sasl_client_step(c, &odd, &resp), SASL_FAIL);
	sasl_client_free(c);

	/* asked for the user name twice */
	c = sasl_client_new(&sasl_mech_login, "test", NULL, pw);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_CONTINUE);
	assert_int_equal(sasl_client_step(c, &uprompt, &resp), SASL_FAIL);
	sasl_client_free(c);

	/* no user name */
	c = sasl_client_new(&sasl_mech_login, "", NULL, pw);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_FAIL);
	sasl_client_free(c);

	buf_free(&resp);
	secret_free(pw);
}

/* Our client against our server, server speaking first. */
static void
test_roundtrip(void **state)
{
	struct secret *pw = secret_new("hunter2", 7);
	struct sasl_client *c =
	    sasl_client_new(&sasl_mech_login, "carol", NULL, pw);
	struct sasl_exchange *x = new_x();
	struct buf resp, out;
	struct bytes ch, in;
	struct cred_result r;
	enum sasl_status st;

	buf_init(&resp, OUT_MAX);
	buf_init(&out, OUT_MAX);
	st = sasl_exchange_step(x, NULL, &out);
	while (st == SASL_CONTINUE) {
		ch.data = (const unsigned char *)out.data;
		ch.len = out.len;
		assert_int_equal(
		    sasl_client_step(c, &ch, &resp), SASL_CONTINUE);
		in.data = (const unsigned char *)resp.data;
		in.len = resp.len;
		st = sasl_exchange_step(x, &in, &out);
	}
	assert_int_equal(st, SASL_PENDING);
	assert_string_equal(x->authcid, "carol");
	assert_memory_equal(x->password->data, "hunter2", 7);
	r = cred(PASSDB_OK, "carol", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	buf_free(&resp);
	buf_free(&out);
	sasl_client_free(c);
	sasl_exchange_free(x);
	secret_free(pw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prompts),
	    cmocka_unit_test(test_initial_response),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_client),
	    cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
