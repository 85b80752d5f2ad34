/*
 * test_external.c - EXTERNAL (RFC 4422 App. A) and the certificate map
 * (src/auth/certmap.c): no certificate, no login; the authzid must be the
 * mapped login; the identity tokens the worker reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/certmap.h"
#include "auth/passdb.h"
#include "core/buf.h"
#include "core/config.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"
#include "sasl_test.h"

#define OUT_MAX 1024
#define FPR                                                                    \
	"sha256:"                                                              \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct sasl_exchange *
new_x(const char *identity, int tls)
{
	struct sasl_conn_info ci;
	struct sasl_exchange *x;

	memset(&ci, 0, sizeof(ci));
	ci.tls = tls;
	strcpy(ci.cert_identity, identity);
	x = sasl_exchange_new(&sasl_mech_external, &ci, 1);
	assert_non_null(x);
	return x;
}

static void
test_flags(void **state)
{
	assert_ptr_equal(sasl_mech_find("external"), &sasl_mech_external);
	assert_true(sasl_mech_external.flags & SASL_F_CLIENTCERT);
	assert_true(sasl_mech_external.flags & SASL_F_CLIENT_FIRST);
	assert_false(sasl_mech_external.flags & SASL_F_PLAINTEXT);
}

static void
test_empty_authzid(void **state)
{
	struct sasl_exchange *x = new_x(FPR " email:a@b.c", 1);
	struct bytes in = {(const unsigned char *)"", 0};
	struct buf out;
	struct cred_result r;

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_int_equal(x->pending, SASL_PENDING_CERT);
	r = cred(PASSDB_OK, "alice@example.test", 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	assert_string_equal(x->user, "alice@example.test");
	buf_free(&out);
	sasl_exchange_free(x);
}

static void
test_authzid(void **state)
{
	struct bytes mine = B("Alice@Example.test");
	struct bytes other = B("bob@example.test");
	struct buf out;
	struct cred_result r = cred(PASSDB_OK, "alice@example.test", 0);
	struct sasl_exchange *x;

	buf_init(&out, OUT_MAX);
	/* no initial response: empty challenge, then the authzid */
	x = new_x(FPR, 1);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_int_equal(sasl_exchange_step(x, &mine, &out), SASL_PENDING);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_OK);
	sasl_exchange_free(x);
	/* not the certificate's user, even with allow_authzid on */
	x = new_x(FPR, 1);
	assert_int_equal(sasl_exchange_step(x, &other, &out), SASL_PENDING);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_AUTHZ);
	assert_string_equal(x->user, "");
	sasl_exchange_free(x);
	buf_free(&out);
}

static void
test_refusals(void **state)
{
	struct bytes empty = {(const unsigned char *)"", 0};
	struct bytes nul = B("a\0b");
	struct buf out;
	struct cred_result r;
	struct sasl_exchange *x;

	buf_init(&out, OUT_MAX);
	x = new_x("", 1); /* no verified certificate */
	assert_int_equal(sasl_exchange_step(x, &empty, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
	sasl_exchange_free(x);
	x = new_x(FPR, 0); /* no TLS */
	assert_int_equal(sasl_exchange_step(x, &empty, &out), SASL_FAIL);
	sasl_exchange_free(x);
	x = new_x(FPR, 1);
	assert_int_equal(sasl_exchange_step(x, &nul, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_MALFORMED);
	sasl_exchange_free(x);
	x = new_x(FPR, 1); /* unknown fingerprint */
	assert_int_equal(sasl_exchange_step(x, &empty, &out), SASL_PENDING);
	r = cred(PASSDB_NO_USER, NULL, 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
	sasl_exchange_free(x);
	x = new_x(FPR, 1);
	assert_int_equal(sasl_exchange_step(x, &empty, &out), SASL_PENDING);
	r = cred(PASSDB_OK, "a@b.c", CRED_DISABLED);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_DISABLED);
	sasl_exchange_free(x);
	x = new_x(FPR, 1);
	assert_int_equal(sasl_exchange_step(x, &empty, &out), SASL_PENDING);
	r = cred(PASSDB_TEMPFAIL, NULL, 0);
	assert_int_equal(sasl_exchange_resume(x, &r, &out), SASL_TEMPFAIL);
	sasl_exchange_free(x);
	buf_free(&out);
}

static void
test_certmap_pick(void **state)
{
	static const char id[] = FPR " email:a@b.c email:Bob@B.c "
	                             "subject-email:s@b.c";
	char v[256];

	assert_int_equal(
	    certmap_pick(CONFIG_EXTERNAL_FINGERPRINT, id, "", v, sizeof(v)), 0);
	assert_string_equal(v, FPR);
	assert_int_equal(
	    certmap_pick(CONFIG_EXTERNAL_SAN_EMAIL, id, "", v, sizeof(v)), 0);
	assert_string_equal(v, "a@b.c");
	assert_int_equal(certmap_pick(CONFIG_EXTERNAL_SAN_EMAIL, id, "bob@b.c",
	                     v, sizeof(v)),
	    0);
	assert_string_equal(v, "Bob@B.c");
	/* an authzid the certificate does not hold: the first address
	 * (EXTERNAL then refuses the mismatch) */
	assert_int_equal(certmap_pick(CONFIG_EXTERNAL_SAN_EMAIL, id, "eve@b.c",
	                     v, sizeof(v)),
	    0);
	assert_string_equal(v, "a@b.c");
	assert_int_equal(
	    certmap_pick(CONFIG_EXTERNAL_SUBJECT_EMAIL, id, NULL, v, sizeof(v)),
	    0);
	assert_string_equal(v, "s@b.c");
	assert_int_equal(certmap_pick(CONFIG_EXTERNAL_SUBJECT_EMAIL,
	                     FPR " email:a@b.c", NULL, v, sizeof(v)),
	    -1);
	assert_int_equal(certmap_pick(CONFIG_EXTERNAL_FINGERPRINT,
	                     "sha256:ABC email:a@b.c", NULL, v, sizeof(v)),
	    -1);
	assert_int_equal(
	    certmap_pick(CONFIG_EXTERNAL_FINGERPRINT, "", NULL, v, sizeof(v)),
	    -1);
	assert_int_equal(certmap_pick(CONFIG_EXTERNAL_SAN_EMAIL, "email:", NULL,
	                     v, sizeof(v)),
	    -1);
	assert_int_equal(certmap_pick(99, id, NULL, v, sizeof(v)), -1);
}

static void
test_client(void **state)
{
	struct sasl_client *c =
	    sasl_client_new(&sasl_mech_external, NULL, "a@b.c", NULL);
	struct buf resp;

	buf_init(&resp, OUT_MAX);
	assert_non_null(c);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_CONTINUE);
	assert_int_equal(resp.len, 5);
	assert_int_equal(sasl_client_step(c, NULL, &resp), SASL_FAIL);
	sasl_client_free(c);
	buf_free(&resp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_empty_authzid),
	    cmocka_unit_test(test_authzid),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_certmap_pick),
	    cmocka_unit_test(test_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
