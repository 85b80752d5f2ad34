/*
 * test_cram_md5.c - CRAM-MD5 (src/sasl/cram_md5.c): the RFC 2195 vector on
 * both sides, the stored HMAC-MD5 context (Dovecot's layout), unknown
 * users, malformed responses and client vs server round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/secret.h"
#include "sasl/client.h"
#include "sasl/cram_md5.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"
#include "sasl_test.h"

#define OUT_MAX       4096
#define RFC_CHALLENGE "<1896.697170952@postoffice.reston.mci.net>"

static void
hex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* The context of "tanstaaftanstaaf" answers the RFC challenge. */
static void
test_context_vector(void **state)
{
	unsigned char ctx[CRAM_MD5_CONTEXT_LEN], d[16];
	char h[65];
	unsigned char longkey[100];

	assert_int_equal(sasl_cram_md5_context("tanstaaftanstaaf", 16, ctx), 0);
	assert_int_equal(
	    sasl_cram_md5_digest(ctx, RFC_CHALLENGE, strlen(RFC_CHALLENGE), d),
	    0);
	hex(d, 16, h);
	assert_string_equal(h, "b913a602c7eda7a495b4e6e7334d3890");
	/* RFC 2104 test case 2: key "Jefe" */
	assert_int_equal(sasl_cram_md5_context("Jefe", 4, ctx), 0);
	assert_int_equal(
	    sasl_cram_md5_digest(ctx, "what do ya want for nothing?", 28, d),
	    0);
	hex(d, 16, h);
	assert_string_equal(h, "750c783e6ab0b503eaa86e310a5db738");
	/* RFC 2202 test case 6: an 80-octet key is hashed first */
	memset(longkey, 0xaa, sizeof(longkey));
	assert_int_equal(sasl_cram_md5_context(longkey, 80, ctx), 0);
	assert_int_equal(sasl_cram_md5_digest(ctx,
	                     "Test Using Larger Than Block-Size Key - Hash Key "
	                     "First",
	                     54, d),
	    0);
	hex(d, 16, h);
	assert_string_equal(h, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
}

static enum sasl_status
resume_ctx(struct sasl_exchange *x, enum passdb_status st, const char *pw,
    unsigned int flags, struct buf *out)
{
	struct cred_result r = cred(st, x->authcid, flags);
	unsigned char ctx[CRAM_MD5_CONTEXT_LEN];
	char h[65];
	struct secret *s = NULL;
	enum sasl_status rc;

	assert_string_equal(x->pending_scheme, "CRAM-MD5");
	if (pw != NULL) {
		assert_int_equal(sasl_cram_md5_context(pw, strlen(pw), ctx), 0);
		hex(ctx, sizeof(ctx), h);
		s = secret_new(h, 64);
		r.secret = s;
	}
	rc = sasl_exchange_resume(x, &r, out);
	secret_free(s);
	return rc;
}

/* server_with - an exchange whose challenge is replaced by the RFC's. */
static struct sasl_exchange *
server_with(const char *challenge, struct buf *out)
{
	struct sasl_exchange *x =
	    sasl_exchange_new(&sasl_mech_cram_md5, NULL, 0);
	/* the state starts with the phase, then the challenge */
	struct test_state {
		int phase;
		char challenge[320];
		size_t challenge_len;
	} *st = x->state;

	assert_int_equal(sasl_exchange_step(x, NULL, out), SASL_CONTINUE);
	assert_true(out->len > 5);
	assert_int_equal(out->data[0], '<');
	assert_int_equal(out->data[out->len - 1], '>');
	assert_non_null(memchr(out->data, '@', out->len));
	snprintf(st->challenge, sizeof(st->challenge), "%s", challenge);
	st->challenge_len = strlen(challenge);
	return x;
}

static void
test_rfc_vector(void **state)
{
	static const char resp64[] =
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw";
	unsigned char raw[128];
	struct buf out;
	struct sasl_exchange *x;
	struct bytes in;
	long n;

	buf_init(&out, OUT_MAX);
	x = server_with(RFC_CHALLENGE, &out);
	n = base64_decode(resp64, strlen(resp64), raw, sizeof(raw));
	assert_int_equal(n, 36);
	in.data = raw;
	in.len = (size_t)n;
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_string_equal(x->authcid, "tim");
	assert_int_equal(
	    resume_ctx(x, PASSDB_OK, "tanstaaftanstaaf", 0, &out), SASL_OK);
	assert_string_equal(x->user, "tim");
	sasl_exchange_free(x);

	/* the client side of the vector */
	{
		struct secret *pw = secret_new("tanstaaftanstaaf", 16);
		struct sasl_client *c =
		    sasl_client_new(&sasl_mech_cram_md5, "tim", NULL, pw);

		in = B(RFC_CHALLENGE);
		assert_int_equal(sasl_client_step(c, &in, &out), SASL_CONTINUE);
		assert_int_equal(out.len, 36);
		assert_memory_equal(
		    out.data, "tim b913a602c7eda7a495b4e6e7334d3890", 36);
		/* one response only */
		assert_int_equal(sasl_client_step(c, &in, &out), SASL_FAIL);
		sasl_client_free(c);
		c = sasl_client_new(&sasl_mech_cram_md5, "tim", NULL, pw);
		assert_int_equal(sasl_client_step(c, NULL, &out), SASL_FAIL);
		sasl_client_free(c);
		secret_free(pw);
	}
	buf_free(&out);
}

static void
test_failures(void **state)
{
	struct buf out;
	struct sasl_exchange *x;
	struct bytes in;
	static const struct {
		enum passdb_status st;
		const char *pw;
		unsigned int flags;
		enum sasl_status want;
		enum sasl_error err;
		const char *reason;
	} cases[] = {
	    {PASSDB_OK, "wrong", 0, SASL_FAIL, SASL_ERR_CREDENTIALS,
	        "invalid-proof"},
	    {PASSDB_NO_USER, NULL, 0, SASL_FAIL, SASL_ERR_CREDENTIALS,
	        "no-such-user"},
	    {PASSDB_NO_SCHEME, NULL, 0, SASL_FAIL, SASL_ERR_CREDENTIALS,
	        "no-cram-md5-keys"},
	    {PASSDB_OK, NULL, 0, SASL_FAIL, SASL_ERR_CREDENTIALS,
	        "bad-stored-keys"},
	    {PASSDB_TEMPFAIL, NULL, 0, SASL_TEMPFAIL, SASL_ERR_TEMP, "backend"},
	    {PASSDB_OK, "tanstaaftanstaaf", CRED_DISABLED, SASL_FAIL,
	        SASL_ERR_DISABLED, "disabled"},
	    {PASSDB_OK, "tanstaaftanstaaf", CRED_MUST_CHANGE, SASL_FAIL,
	        SASL_ERR_MUST_CHANGE, "must-change"},
	};
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		x = server_with(RFC_CHALLENGE, &out);
		in = B("tim b913a602c7eda7a495b4e6e7334d3890");
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_PENDING);
		assert_int_equal(resume_ctx(x, cases[i].st, cases[i].pw,
		                     cases[i].flags, &out),
		    cases[i].want);
		assert_int_equal(x->error, cases[i].err);
		assert_string_equal(x->reason, cases[i].reason);
		assert_string_equal(x->user, "");
		sasl_exchange_free(x);
	}
	buf_free(&out);
}

static void
test_malformed(void **state)
{
	static const struct bytes bad[] = {
	    B(""),
	    B("tim"),
	    B("timb913a602c7eda7a495b4e6e7334d3890"),
	    B(" b913a602c7eda7a495b4e6e7334d3890"),
	    B("tim b913a602c7eda7a495b4e6e7334d389"),
	    B("tim b913a602c7eda7a495b4e6e7334d38900"),
	    B("tim g913a602c7eda7a495b4e6e7334d3890"),
	    B("tim b913a602c7eda7a495b4e6e7334d3890 "),
	    B("t\0m b913a602c7eda7a495b4e6e7334d3890"),
	    B("t\x01m b913a602c7eda7a495b4e6e7334d3890"),
	    B("\xff b913a602c7eda7a495b4e6e7334d3890"),
	};
	struct buf out;
	struct sasl_exchange *x;
	struct bytes in;
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = server_with(RFC_CHALLENGE, &out);
		assert_int_equal(
		    sasl_exchange_step(x, &bad[i], &out), SASL_FAIL);
		assert_int_equal(x->error, SASL_ERR_MALFORMED);
		sasl_exchange_free(x);
	}
	/* an initial response to a server-first mechanism */
	x = sasl_exchange_new(&sasl_mech_cram_md5, NULL, 0);
	in = B("tim b913a602c7eda7a495b4e6e7334d3890");
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_MALFORMED);
	sasl_exchange_free(x);
	/* upper-case hex and a name with a space are fine */
	x = server_with(RFC_CHALLENGE, &out);
	in = B("tim B913A602C7EDA7A495B4E6E7334D3890");
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(
	    resume_ctx(x, PASSDB_OK, "tanstaaftanstaaf", 0, &out), SASL_OK);
	sasl_exchange_free(x);
	x = server_with(RFC_CHALLENGE, &out);
	in = B("t im b913a602c7eda7a495b4e6e7334d3890");
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_string_equal(x->authcid, "t im");
	sasl_exchange_free(x);
	buf_free(&out);
}

/* Our client against our server, with fresh challenges. */
static void
test_roundtrip(void **state)
{
	static const char *const users[] = {"alice@example.org", "a,b=c"};
	struct buf out, resp;
	struct bytes in;
	size_t i;

	buf_init(&out, OUT_MAX);
	buf_init(&resp, OUT_MAX);
	sasl_cram_md5_set_hostname("mx.example.org");
	for (i = 0; i < 2; i++) {
		struct secret *pw = secret_new("s3cret", 6);
		struct sasl_client *c =
		    sasl_client_new(&sasl_mech_cram_md5, users[i], NULL, pw);
		struct sasl_exchange *x =
		    sasl_exchange_new(&sasl_mech_cram_md5, NULL, 0);

		assert_int_equal(
		    sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
		assert_non_null(strstr(out.data, "@mx.example.org>"));
		in.data = (const unsigned char *)out.data;
		in.len = out.len;
		assert_int_equal(
		    sasl_client_step(c, &in, &resp), SASL_CONTINUE);
		in.data = (const unsigned char *)resp.data;
		in.len = resp.len;
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_PENDING);
		assert_int_equal(
		    resume_ctx(x, PASSDB_OK, "s3cret", 0, &out), SASL_OK);
		assert_string_equal(x->user, users[i]);
		sasl_exchange_free(x);
		sasl_client_free(c);
		secret_free(pw);
	}
	buf_free(&out);
	buf_free(&resp);
	assert_true(sasl_mech_cram_md5.flags & SASL_F_WEAK);
	assert_false(sasl_mech_cram_md5.flags & SASL_F_CLIENT_FIRST);
	assert_ptr_equal(sasl_mech_find("cram-md5"), &sasl_mech_cram_md5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_context_vector),
	    cmocka_unit_test(test_rfc_vector),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
