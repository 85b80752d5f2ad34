/*
 * test_jwt.c - JWT validation (src/auth/jwt.c) and JWKS loading
 * (src/auth/jwks.c). Keys and tokens are made here with OpenSSL: RS256,
 * ES256 (raw r||s) and EdDSA; then every way a token must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/jwks.h"
#include "auth/jwt.h"

#define NOW 1700000000LL

static EVP_PKEY *rsa_key, *ec_key, *ed_key, *rsa_other;
static struct jwks *keys;

/* ---- helpers: base64url, JWKs, signing ---- */

static void
b64url(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	unsigned int acc = 0, bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			assert_true(o + 1 < outsize);
			out[o++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0) {
		assert_true(o + 1 < outsize);
		out[o++] = a[(acc << (6 - bits)) & 63];
	}
	out[o] = '\0';
}

static void
bn_b64(EVP_PKEY *pk, const char *param, size_t pad, char *out, size_t n)
{
	BIGNUM *bn = NULL;
	unsigned char raw[1024];
	int len;

	assert_int_equal(EVP_PKEY_get_bn_param(pk, param, &bn), 1);
	if (pad > 0)
		len = BN_bn2binpad(bn, raw, (int)pad);
	else
		len = BN_bn2bin(bn, raw);
	assert_true(len > 0);
	b64url(raw, (size_t)len, out, n);
	BN_free(bn);
}

static void
jwk_rsa(EVP_PKEY *pk, const char *kid, char *out, size_t n)
{
	char nn[800], e[16];

	bn_b64(pk, OSSL_PKEY_PARAM_RSA_N, 0, nn, sizeof(nn));
	bn_b64(pk, OSSL_PKEY_PARAM_RSA_E, 0, e, sizeof(e));
	snprintf(out, n,
	    "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"n\":\"%s\","
	    "\"e\":\"%s\"}",
	    kid, nn, e);
}

static void
jwk_ec(EVP_PKEY *pk, const char *kid, char *out, size_t n)
{
	char x[64], y[64];

	bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32, x, sizeof(x));
	bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y, sizeof(y));
	snprintf(out, n,
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\","
	    "\"y\":\"%s\",\"alg\":\"ES256\"}",
	    kid, x, y);
}

static void
jwk_ed(EVP_PKEY *pk, const char *kid, char *out, size_t n)
{
	unsigned char raw[32];
	size_t len = sizeof(raw);
	char x[64];

	assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw, &len), 1);
	b64url(raw, len, x, sizeof(x));
	snprintf(out, n,
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\",\"x\":\"%s\"}",
	    kid, x);
}

/* sign - header.payload.signature with pk under alg (JOSE name). */
static char *
sign(EVP_PKEY *pk, const char *alg, const char *header, const char *payload)
{
	char *tok = malloc(16384);
	unsigned char sig[1024], raw[64];
	size_t slen = sizeof(sig), off;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int is_ed = strcmp(alg, "EdDSA") == 0;

	assert_non_null(tok);
	b64url((const unsigned char *)header, strlen(header), tok, 4096);
	off = strlen(tok);
	tok[off++] = '.';
	b64url(
	    (const unsigned char *)payload, strlen(payload), tok + off, 8192);
	off = strlen(tok);
	assert_int_equal(EVP_DigestSignInit(
	                     ctx, NULL, is_ed ? NULL : EVP_sha256(), NULL, pk),
	    1);
	assert_int_equal(
	    EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)tok, off),
	    1);
	EVP_MD_CTX_free(ctx);
	if (strcmp(alg, "ES256") == 0) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)slen);

		assert_non_null(es);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
		ECDSA_SIG_free(es);
		memcpy(sig, raw, 64);
		slen = 64;
	}
	tok[off++] = '.';
	b64url(sig, slen, tok + off, 16384 - off);
	return tok;
}

static char *
claims(long long exp, const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "{\"iss\":\"https://idp.example.test\",\"aud\":\"postern\","
	    "\"email\":\"alice@example.test\",\"sub\":\"u1\",\"iat\":%lld,"
	    "\"exp\":%lld%s%s}",
	    NOW - 10, exp, extra[0] ? "," : "", extra);
	return buf;
}

static enum jwt_status
check(const char *tok, struct jwt_result *res)
{
	struct jwt_policy pol = {
	    "https://idp.example.test", "postern", "email", NOW, 60};

	return jwt_verify(tok, strlen(tok), keys, &pol, res);
}

static int
setup(void **state)
{
	char set[8192], a[2048], b[512], c[512];
	char err[256];

	rsa_key = EVP_RSA_gen(2048);
	rsa_other = EVP_RSA_gen(2048);
	ec_key = EVP_EC_gen("P-256");
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(rsa_key);
	assert_non_null(rsa_other);
	assert_non_null(ec_key);
	assert_non_null(ed_key);
	jwk_rsa(rsa_key, "rsa1", a, sizeof(a));
	jwk_ec(ec_key, "ec1", b, sizeof(b));
	jwk_ed(ed_key, "ed1", c, sizeof(c));
	snprintf(set, sizeof(set),
	    "{\"keys\":[%s,%s,%s,{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", a, b,
	    c);
	keys = jwks_parse(set, strlen(set), err, sizeof(err));
	if (keys == NULL)
		fail_msg("jwks_parse: %s", err);
	assert_int_equal(keys->n, 3);
	assert_int_equal(keys->skipped, 1);
	return 0;
}

static int
teardown(void **state)
{
	jwks_free(keys);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ed_key);
	return 0;
}

/* ---- tests ---- */

static void
test_b64url(void **state)
{
	unsigned char out[16];

	assert_int_equal(jwt_b64url_decode("", 0, out, sizeof(out)), 0);
	assert_int_equal(jwt_b64url_decode("A", 1, out, sizeof(out)), -1);
	assert_int_equal(jwt_b64url_decode("QQ", 2, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'A');
	assert_int_equal(jwt_b64url_decode("QR", 2, out, sizeof(out)), -1);
	assert_int_equal(jwt_b64url_decode("QQ==", 4, out, sizeof(out)), -1);
	assert_int_equal(jwt_b64url_decode("-_8", 3, out, sizeof(out)), 2);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(jwt_b64url_decode("+/8", 3, out, sizeof(out)), -1);
	assert_int_equal(jwt_b64url_decode("QUJD", 4, out, 2), -1);
	assert_int_equal(jwt_b64url_decode("QU JD", 5, out, sizeof(out)), -1);
}

static void
test_valid_each_alg(void **state)
{
	struct jwt_result res;
	char *t;

	t = sign(rsa_key, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_OK);
	assert_string_equal(res.user, "alice@example.test");
	assert_int_equal(res.exp, NOW + 600);
	free(t);

	t = sign(ec_key, "ES256",
	    "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":\"JWT\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_OK);
	free(t);

	t = sign(ed_key, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_OK);
	free(t);

	/* no kid: every key of the right type is tried */
	t = sign(ec_key, "ES256", "{\"alg\":\"ES256\"}", claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_OK);
	free(t);

	/* aud as an array; exp within the skew */
	t = sign(rsa_key, "RS256", "{\"alg\":\"RS256\"}",
	    "{\"iss\":\"https://idp.example.test\",\"aud\":[\"x\",\"postern\"],"
	    "\"email\":\"bob@example.test\",\"exp\":1699999970}");
	assert_int_equal(check(t, &res), JWT_OK);
	assert_string_equal(res.user, "bob@example.test");
	free(t);
}

static void
test_bad_alg(void **state)
{
	struct jwt_result res;
	char tok[4096], h[256], p[2048];
	char *t;

	/* alg none with an empty signature */
	b64url((const unsigned char *)"{\"alg\":\"none\"}", 14, h, sizeof(h));
	b64url((const unsigned char *)claims(NOW + 600, ""),
	    strlen(claims(NOW + 600, "")), p, sizeof(p));
	snprintf(tok, sizeof(tok), "%s.%s.", h, p);
	assert_int_equal(check(tok, &res), JWT_BAD_ALG);

	t = sign(rsa_key, "RS256", "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_BAD_ALG);
	free(t);

	/* alg and key type disagree: ES256 header naming the RSA key */
	t = sign(ec_key, "ES256", "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_BAD_ALG);
	free(t);

	/* RS256 header naming the EC key whose JWK says alg ES256 */
	t = sign(rsa_key, "RS256", "{\"alg\":\"RS256\",\"kid\":\"ec1\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_BAD_ALG);
	free(t);

	/* extensions we do not understand */
	t = sign(rsa_key, "RS256",
	    "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_BAD_ALG);
	free(t);
}

static void
test_bad_signature(void **state)
{
	struct jwt_result res;
	char *t, *sig;

	t = sign(rsa_key, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
	    claims(NOW + 600, ""));
	sig = strrchr(t, '.') + 1;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	assert_int_equal(check(t, &res), JWT_BAD_SIGNATURE);
	free(t);

	/* signed by a key we do not trust, under a kid we know */
	t = sign(rsa_other, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_BAD_SIGNATURE);
	free(t);

	/* the payload changed after signing */
	t = sign(ed_key, "EdDSA", "{\"alg\":\"EdDSA\"}", claims(NOW + 600, ""));
	{
		char *p = strchr(t, '.') + 1;

		p[5] = p[5] == 'A' ? 'B' : 'A';
	}
	assert_int_not_equal(check(t, &res), JWT_OK);
	free(t);

	/* ES256 signature of the wrong length */
	t = sign(rsa_key, "RS256", "{\"alg\":\"ES256\",\"kid\":\"ec1\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_BAD_SIGNATURE);
	free(t);
}

static void
test_time_and_claims(void **state)
{
	static const struct {
		long long exp;
		const char *extra;
		enum jwt_status want;
	} cases[] = {
	    {NOW - 120, "", JWT_EXPIRED},
	    {NOW - 60, "", JWT_EXPIRED},
	    {NOW - 59, "", JWT_OK},
	    {NOW + 600, "\"nbf\":1700000300", JWT_NOT_YET},
	    {NOW + 600, "\"nbf\":1700000030", JWT_OK},
	    {NOW + 600, "\"iat\":1700000300", JWT_MALFORMED}, /* duplicate */
	    {NOW + 600, "\"nbf\":\"soon\"", JWT_MALFORMED},
	    {NOW + 600, "\"email_verified\":false", JWT_NO_USER},
	    {NOW + 600, "\"email_verified\":true", JWT_OK},
	};
	struct jwt_result res;
	size_t i;
	char *t;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = sign(ed_key, "EdDSA", "{\"alg\":\"EdDSA\"}",
		    claims(cases[i].exp, cases[i].extra));
		if (check(t, &res) != cases[i].want)
			fail_msg("case %zu: got %s", i,
			    jwt_status_name(check(t, &res)));
		free(t);
	}
	/* iat sanity, on the claim checker alone */
	{
		struct jwt_policy pol = {NULL, NULL, "sub", NOW, 60};
		json_t *j = json_pack("{s:s,s:I,s:I}", "sub", "u", "exp",
		    (json_int_t)(NOW + 600), "iat", (json_int_t)(NOW + 300));

		assert_int_equal(
		    jwt_check_claims(j, &pol, 1, &res), JWT_NOT_YET);
		json_object_set_new(j, "iat", json_integer(NOW));
		assert_int_equal(jwt_check_claims(j, &pol, 1, &res), JWT_OK);
		assert_string_equal(res.user, "u");
		json_object_del(j, "exp");
		assert_int_equal(
		    jwt_check_claims(j, &pol, 1, &res), JWT_EXPIRED);
		assert_int_equal(jwt_check_claims(j, &pol, 0, &res), JWT_OK);
		json_decref(j);
	}
}

static void
test_iss_aud_user(void **state)
{
	static const struct {
		const char *payload;
		enum jwt_status want;
	} cases[] = {
	    {"{\"iss\":\"https://evil.test\",\"aud\":\"postern\","
	     "\"email\":\"a@b.c\",\"exp\":1700000600}",
	        JWT_BAD_ISSUER},
	    {"{\"aud\":\"postern\",\"email\":\"a@b.c\",\"exp\":1700000600}",
	        JWT_BAD_ISSUER},
	    {"{\"iss\":\"https://idp.example.test\",\"aud\":\"other\","
	     "\"email\":\"a@b.c\",\"exp\":1700000600}",
	        JWT_BAD_AUDIENCE},
	    {"{\"iss\":\"https://idp.example.test\",\"aud\":[\"a\",\"b\"],"
	     "\"email\":\"a@b.c\",\"exp\":1700000600}",
	        JWT_BAD_AUDIENCE},
	    {"{\"iss\":\"https://idp.example.test\",\"email\":\"a@b.c\","
	     "\"exp\":1700000600}",
	        JWT_BAD_AUDIENCE},
	    {"{\"iss\":\"https://idp.example.test\",\"aud\":\"postern\","
	     "\"sub\":\"x\",\"exp\":1700000600}",
	        JWT_NO_USER},
	    {"{\"iss\":\"https://idp.example.test\",\"aud\":\"postern\","
	     "\"email\":\"\",\"exp\":1700000600}",
	        JWT_NO_USER},
	    {"{\"iss\":\"https://idp.example.test\",\"aud\":\"postern\","
	     "\"email\":\"a\\nb\",\"exp\":1700000600}",
	        JWT_NO_USER},
	    {"{\"iss\":\"https://idp.example.test\",\"aud\":\"postern\","
	     "\"email\":\"a@b.c\"}",
	        JWT_EXPIRED},
	    {"[1,2,3]", JWT_MALFORMED},
	    {"{\"email\":\"a@b.c\"", JWT_MALFORMED},
	    {"{\"iss\":\"https://idp.example.test\",\"aud\":\"postern\","
	     "\"email\":\"a@b.c\",\"email\":\"b@b.c\",\"exp\":1700000600}",
	        JWT_MALFORMED},
	};
	struct jwt_result res;
	size_t i;
	char *t;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = sign(
		    rsa_key, "RS256", "{\"alg\":\"RS256\"}", cases[i].payload);
		if (check(t, &res) != cases[i].want)
			fail_msg("case %zu: got %s", i,
			    jwt_status_name(check(t, &res)));
		free(t);
	}
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
	    "", "abc", "a.b", "a.b.c.d", "..", "eyJhbGciOiJSUzI1NiJ9..c2ln",
	    "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln", "eyJhbGciOiJSUzI1NiJ9.e30.c2l+",
	    "eyJhbGciOiJSUzI1NiJ9 .e30.c2ln",
	    "bm90IGpzb24.e30.c2ln",  /* "not json" */
	    "WzFd.e30.c2ln",         /* header [1] */
	    "eyJ4IjoxfQ.e30.c2ln",   /* header without alg */
	    "eyJhbGciOjF9.e30.c2ln", /* alg not a string */
	};
	struct jwt_result res;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (check(bad[i], &res) != JWT_MALFORMED)
			fail_msg("case %zu: got %s", i,
			    jwt_status_name(check(bad[i], &res)));
	assert_int_equal(jwt_is_compact("a.b.c", 5), 1);
	assert_int_equal(jwt_is_compact("opaque-token", 12), 0);
}

static void
test_kid_mismatch(void **state)
{
	struct jwt_result res;
	char *t;

	t = sign(rsa_key, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa9\"}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_NO_KEY);
	free(t);
	t = sign(rsa_key, "RS256", "{\"alg\":\"RS256\",\"kid\":7}",
	    claims(NOW + 600, ""));
	assert_int_equal(check(t, &res), JWT_MALFORMED);
	free(t);
}

static void
test_jwks_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"{}", "not a JWK Set"},
	    {"{\"keys\":[]}", "no usable"},
	    {"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}", "no usable"},
	    {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]"
	     "}",
	        "bad Ed25519"},
	    {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
	     "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}]}",
	        "private"},
	    {"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	     "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	     "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
	        "P-256"},
	    {"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
	        "2048"},
	    {"{\"keys\":[1]}", "not a JWK"},
	    {"not json", "line 1"},
	};
	char err[256];
	struct jwks *ks;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ks = jwks_parse(
		    cases[i].text, strlen(cases[i].text), err, sizeof(err));
		if (ks != NULL || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: err \"%s\"", i, err);
	}
}

/* RFC 8037 A.4: the Ed25519 JWS example verifies (no exp: claims fail). */
static void
test_rfc8037_vector(void **state)
{
	static const char set[] =
	    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
	static const char tok[] =
	    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
	    "hgyY0il_MGCjP0JzlnLWG1PPOt7-"
	    "09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVs"
	    "Pt9g7sVvpAr_MuM0KAg";
	struct jwt_policy pol = {NULL, NULL, "email", NOW, 60};
	struct jwt_result res;
	char err[256];
	struct jwks *ks = jwks_parse(set, strlen(set), err, sizeof(err));

	assert_non_null(ks);
	char bad[sizeof(tok)];

	/* the signature is good (the payload is not JSON: MALFORMED after
	 * it); one changed signature octet makes it BAD_SIGNATURE */
	assert_int_equal(
	    jwt_verify(tok, strlen(tok), ks, &pol, &res), JWT_MALFORMED);
	memcpy(bad, tok, sizeof(tok));
	bad[sizeof(tok) - 10] = bad[sizeof(tok) - 10] == 'A' ? 'B' : 'A';
	assert_int_equal(
	    jwt_verify(bad, strlen(bad), ks, &pol, &res), JWT_BAD_SIGNATURE);
	jwks_free(ks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url),
	    cmocka_unit_test(test_valid_each_alg),
	    cmocka_unit_test(test_bad_alg),
	    cmocka_unit_test(test_bad_signature),
	    cmocka_unit_test(test_time_and_claims),
	    cmocka_unit_test(test_iss_aud_user),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_kid_mismatch),
	    cmocka_unit_test(test_jwks_errors),
	    cmocka_unit_test(test_rfc8037_vector),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
