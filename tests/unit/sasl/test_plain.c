/*
 * test_plain.c - PLAIN (RFC 4616) server and client, the exchange's
 * pending/resume contract, the authzid rule and the round-trip cap.
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
new_x(int allow_authzid)
{
	struct sasl_exchange *x;

	x = sasl_exchange_new(&sasl_mech_plain, NULL, allow_authzid);
	assert_non_null(x);
	return x;
}

static void
test_registry(void **state)
{
	const struct sasl_mech *const *all = sasl_mech_all();
	size_t n = 0;

	assert_ptr_equal(sasl_mech_find("PLAIN"), &sasl_mech_plain);
	assert_ptr_equal(sasl_mech_find("plain"), &sasl_mech_plain);
	assert_ptr_equal(sasl_mech_find("Login"), &sasl_mech_login);
	assert_null(sasl_mech_find("PLAINX"));
	assert_null(sasl_mech_find(""));
	assert_null(sasl_mech_find(NULL));
	while (all[n] != NULL)
		n++;
	assert_true(n >= 2);
	assert_true(sasl_mech_plain.flags & SASL_F_PLAINTEXT);
	assert_int_equal(sasl_mech_plain.need, SASL_NEED_VERIFY);
}

/* The RFC 4616 §4 vector, decoded with our strict base64. */
static void
test_rfc_vector(void **state)
{
	static const char b64[] = "AHRlc3QAMTIzNA==";
	unsigned char raw[64];
	struct bytes in;
	struct buf out;
	struct sasl_exchange *x = new_x(0);
	struct cred_result r;
	long n;

	n = base64_decode(b64, strlen(b64), raw, sizeof(raw));
	assert_int_equal(n, 10);
	in.data = raw;
	in.len = (size_t)n;
	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(out.len, 0);
	assert_int_equal(x->pending, SASL_PENDING_VERIFY);
	assert_string_equal(x->authcid, "test");
	assert_string_equal(x->authzid, "");
	assert_non_null(x->password);
	assert_int_equal(x->password->len, 4);
	assert_memory_equal(x->password->data, "1234", 4);

	r = cred(PASSDB_OK, "test", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	assert_string_equal(x->user, "test");
	assert_null(x->password);
	assert_int_equal(x->pending, SASL_PENDING_NONE);
	/* over: any further step fails */
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	buf_free(&out);
	sasl_exchange_free(x);
}

/* No initial response: an empty challenge first (RFC 4954 §4 "334 "). */
static void
test_no_initial_response(void **state)
{
	struct sasl_exchange *x = new_x(0);
	struct bytes in = B("\0alice\0secret");
	struct buf out;

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(x->pending, SASL_PENDING_NONE);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_string_equal(x->authcid, "alice");
	buf_free(&out);
	sasl_exchange_free(x);

	/* two empty challenges in a row is a protocol error */
	x = new_x(0);
	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_MALFORMED);
	buf_free(&out);
	sasl_exchange_free(x);
}

static void
test_malformed(void **state)
{
	static char u255[256], u256[257], msg[1024];
	struct {
		const char *name;
		struct bytes in;
	} cases[] = {
	    {"empty", B("")},
	    {"no NUL", B("testpassword")},
	    {"one NUL", B("\0test")},
	    {"one NUL pw", B("test\0pw")},
	    {"empty password", B("\0test\0")},
	    {"empty authcid", B("\0\0pw")},
	    {"three NULs", B("a\0b\0c\0d")},
	    {"NUL at end", B("\0test\0pw\0")},
	    {"bad UTF-8 password", B("\0test\0\xff\xfe")},
	    {"overlong UTF-8 password", B("\0test\0\xc0\xaf")},
	    {"bad UTF-8 authcid", B("\0te\xc3st\0pw")},
	    {"bad UTF-8 authzid", B("\x80\0test\0pw")},
	    {"control in authcid", B("\0te\x01st\0pw")},
	    {"DEL in authzid", B("a\x7f\0test\0pw")},
	    {"CR in authcid", B("\0test\r\0pw")},
	};
	struct buf out;
	struct sasl_exchange *x;
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		x = new_x(1);
		if (sasl_exchange_step(x, &cases[i].in, &out) != SASL_FAIL)
			fail_msg("case %s: accepted", cases[i].name);
		assert_int_equal(x->error, SASL_ERR_MALFORMED);
		assert_int_equal(x->pending, SASL_PENDING_NONE);
		assert_null(x->password);
		sasl_exchange_free(x);
	}

	/* 255 octets in each part is fine, 256 is not */
	memset(u255, 'a', 255);
	memset(u256, 'a', 256);
	for (i = 0; i < 4; i++) {
		const char *z = i == 1 ? u256 : u255;
		const char *c = i == 2 ? u256 : u255;
		const char *p = i == 3 ? u256 : u255;
		size_t zl = strlen(z), cl = strlen(c), pl = strlen(p);
		struct bytes in;

		memcpy(msg, z, zl);
		msg[zl] = '\0';
		memcpy(msg + zl + 1, c, cl);
		msg[zl + 1 + cl] = '\0';
		memcpy(msg + zl + cl + 2, p, pl);
		in.data = (const unsigned char *)msg;
		in.len = zl + cl + pl + 2;
		x = new_x(1);
		assert_int_equal(sasl_exchange_step(x, &in, &out),
		    i == 0 ? SASL_PENDING : SASL_FAIL);
		sasl_exchange_free(x);
	}
	buf_free(&out);
}

static void
test_utf8_ok(void **state)
{
	struct bytes in = B("\0j\xc3\xb6rg\0p\xc3\xa4ss\xe2\x82\xac");
	struct buf out;
	struct sasl_exchange *x = new_x(0);

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_string_equal(x->authcid, "j\xc3\xb6rg");
	assert_int_equal(x->password->len, 8);
	buf_free(&out);
	sasl_exchange_free(x);
}

/* What each passdb answer becomes. */
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
	    {PASSDB_NO_SCHEME, 0, SASL_TEMPFAIL, SASL_ERR_TEMP},
	    {PASSDB_OK, CRED_MUST_CHANGE, SASL_FAIL, SASL_ERR_MUST_CHANGE},
	};
	struct bytes in = B("\0test\0pw");
	struct cred_result r;
	struct buf out;
	struct sasl_exchange *x;
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		x = new_x(0);
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_PENDING);
		r = cred(cases[i].st, "test", cases[i].flags);
		assert_int_equal(
		    sasl_exchange_resume(x, &r, &out), cases[i].want);
		assert_int_equal(x->error, cases[i].err);
		assert_null(x->password);
		if (cases[i].want != SASL_OK)
			assert_string_equal(x->user, "");
		/* a second resume is a caller bug */
		assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_FAIL);
		sasl_exchange_free(x);
	}

	/* resume without a pending request, and with no answer at all */
	x = new_x(0);
	r = cred(PASSDB_OK, "test", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_FAIL);
	sasl_exchange_free(x);
	x = new_x(0);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	sasl_exchange_free(x);
	x = new_x(0);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(sasl_exchange_resume(x, NULL, &out), SASL_TEMPFAIL);
	assert_int_equal(x->error, SASL_ERR_TEMP);
	sasl_exchange_free(x);
	buf_free(&out);
}

/* RFC 4422 §3.4.1: acting as someone else needs an authorization rule. */
static void
test_authzid_rule(void **state)
{
	static const struct {
		const char *authzid;
		const char *authcid;
		const char *canon; /* what the passdb calls the user */
		int allow;
		enum sasl_status want;
		const char *user;
	} cases[] = {
	    {"", "test", "test", 0, SASL_OK, "test"},
	    {"test", "test", "test", 0, SASL_OK, "test"},
	    {"TEST", "test", "test", 0, SASL_OK, "test"},
	    {"test", "Test", "test", 0, SASL_OK, "test"},
	    {"", "Test", "test", 0, SASL_OK, "test"},
	    {"canon", "alias", "canon", 0, SASL_OK, "canon"},
	    {"", "test", NULL, 0, SASL_OK, "test"},
	    {"admin", "test", "test", 0, SASL_FAIL, ""},
	    {"admin", "test", NULL, 0, SASL_FAIL, ""},
	    {"admin", "test", "test", 1, SASL_OK, "admin"},
	};
	char msg[600];
	struct bytes in;
	struct cred_result r;
	struct buf out;
	struct sasl_exchange *x;
	size_t i, zl, cl;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		zl = strlen(cases[i].authzid);
		cl = strlen(cases[i].authcid);
		memcpy(msg, cases[i].authzid, zl);
		msg[zl] = '\0';
		memcpy(msg + zl + 1, cases[i].authcid, cl);
		msg[zl + 1 + cl] = '\0';
		memcpy(msg + zl + cl + 2, "pw", 2);
		in.data = (const unsigned char *)msg;
		in.len = zl + cl + 4;

		x = new_x(cases[i].allow);
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_PENDING);
		r = cred(PASSDB_OK, cases[i].canon, 0);
		if (sasl_exchange_resume(x, &r, &out) != cases[i].want)
			fail_msg("case %zu: wrong status", i);
		if (cases[i].want == SASL_FAIL)
			assert_int_equal(x->error, SASL_ERR_AUTHZ);
		assert_string_equal(x->user, cases[i].user);
		sasl_exchange_free(x);
	}
	buf_free(&out);
}

/* A mechanism that never ends, to hit the round-trip cap. */
static enum sasl_status
chatty_step(struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	return buf_appends(out, "more") == 0 ? SASL_CONTINUE : SASL_FAIL;
}

static void
test_round_trip_cap(void **state)
{
	static const struct sasl_mech chatty = {
	    .name = "CHATTY",
	    .step = chatty_step,
	};
	struct sasl_exchange *x = sasl_exchange_new(&chatty, NULL, 0);
	struct bytes in = B("x");
	struct buf out;
	int i;

	assert_non_null(x);
	buf_init(&out, OUT_MAX);
	for (i = 0; i < SASL_STEPS_MAX; i++)
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_CONTINUE);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_MALFORMED);
	buf_free(&out);
	sasl_exchange_free(x);
}

static void
test_client(void **state)
{
	struct secret *pw = secret_new("1234", 4);
	struct secret *empty = secret_new("", 0);
	struct sasl_client *c;
	struct buf resp;
	char b64[64];

	assert_non_null(pw);
	assert_non_null(empty);
	buf_init(&resp, OUT_MAX);

	/* the RFC 4616 vector, produced by our client */
	c = sasl_client_new(&sasl_mech_plain, "test", NULL, pw);
	assert_non_null(c);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_CONTINUE);
	assert_int_equal(resp.len, 10);
	assert_memory_equal(resp.data,
	    "\0test\0"
	    "1234",
	    10);
	assert_true(base64_encode(resp.data, resp.len, b64, sizeof(b64)) > 0);
	assert_string_equal(b64, "AHRlc3QAMTIzNA==");
	/* PLAIN has one message only */
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_FAIL);
	sasl_client_free(c);

	/* after the server's empty challenge, with an authzid */
	c = sasl_client_new(&sasl_mech_plain, "test", "admin", pw);
	assert_non_null(c);
	{
		struct bytes ch = B("");

		assert_int_equal(
		    sasl_client_step(c, &ch, &resp), SASL_CONTINUE);
	}
	assert_int_equal(resp.len, 15);
	assert_memory_equal(resp.data,
	    "admin\0test\0"
	    "1234",
	    15);
	sasl_client_free(c);

	/* nothing to send */
	c = sasl_client_new(&sasl_mech_plain, "test", NULL, empty);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_FAIL);
	sasl_client_free(c);
	c = sasl_client_new(&sasl_mech_plain, "", NULL, pw);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_FAIL);
	sasl_client_free(c);

	buf_free(&resp);
	secret_free(pw);
	secret_free(empty);
}

/* Our client against our server. */
static void
test_roundtrip(void **state)
{
	struct secret *pw = secret_new("s3cr\xc3\xa9t", 7);
	struct sasl_client *c =
	    sasl_client_new(&sasl_mech_plain, "bob", "", pw);
	struct sasl_exchange *x = new_x(0);
	struct buf resp, out;
	struct bytes in;
	struct cred_result r;

	buf_init(&resp, OUT_MAX);
	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_CONTINUE);
	in.data = (const unsigned char *)resp.data;
	in.len = resp.len;
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_string_equal(x->authcid, "bob");
	assert_int_equal(x->password->len, pw->len);
	assert_memory_equal(x->password->data, pw->data, pw->len);
	r = cred(PASSDB_OK, "bob", 0);
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
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_rfc_vector),
	    cmocka_unit_test(test_no_initial_response),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_utf8_ok),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_authzid_rule),
	    cmocka_unit_test(test_round_trip_cap),
	    cmocka_unit_test(test_client),
	    cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
