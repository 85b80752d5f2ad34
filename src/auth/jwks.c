/*
 * jwks.c - load a JSON Web Key Set (RFC 7517 §5) of public signature keys:
 * RSA n/e (RFC 7518 §6.3.1), EC P-256 x/y (§6.2.1), OKP Ed25519 x
 * (RFC 8037 §2), built into EVP_PKEYs with OSSL_PARAM_BLD and
 * EVP_PKEY_fromdata. Private members ("d") make the whole set an error:
 * a verifier has no business holding signing keys. Never fetches anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/str.h"

#define RSA_MIN_BITS 2048
#define RSA_N_MAX    1024 /* octets: 8192-bit moduli */

/* b64_member - decode the base64url member name of o into out; length or -1. */
static long
b64_member(const json_t *o, const char *name, unsigned char *out, size_t max)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return -1;
	return jwt_b64url_decode(
	    json_string_value(v), json_string_length(v), out, max);
}

/*
 * coord_member - an EC coordinate of exactly len octets. RFC 7518 §6.2.1.2
 * wants the full length, but widespread JOSE libraries (PyJWT before 2.7,
 * among others) drop leading zero octets; left-padding restores the same
 * number, so accept 1..len octets. 0, or -1.
 */
static int
coord_member(const json_t *o, const char *name, unsigned char *out, size_t len)
{
	unsigned char tmp[66];
	long n;

	if (len > sizeof(tmp))
		return -1;
	n = b64_member(o, name, tmp, len);
	if (n <= 0 || (size_t)n > len)
		return -1;
	memset(out, 0, len - (size_t)n);
	memcpy(out + (len - (size_t)n), tmp, (size_t)n);
	return 0;
}

/* from_params - EVP_PKEY of type name from what bld holds; NULL on failure. */
static EVP_PKEY *
from_params(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *
rsa_key(const json_t *k, const char **why)
{
	unsigned char n[RSA_N_MAX], e[8];
	long nlen, elen;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;

	*why = "bad RSA n or e";
	nlen = b64_member(k, "n", n, sizeof(n));
	elen = b64_member(k, "e", e, sizeof(e));
	if (bld == NULL || nlen <= 0 || elen <= 0)
		goto out;
	bn_n = BN_bin2bn(n, (int)nlen, NULL);
	bn_e = BN_bin2bn(e, (int)elen, NULL);
	if (bn_n == NULL || bn_e == NULL || BN_is_zero(bn_e) ||
	    !BN_is_odd(bn_e) ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
		goto out;
	pkey = from_params("RSA", bld);
	if (pkey != NULL && EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS) {
		*why = "RSA key shorter than 2048 bits";
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	BN_free(bn_n);
	BN_free(bn_e);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *
ec_key(const json_t *k, const char **why)
{
	unsigned char pub[65];
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx;

	*why = "bad P-256 point";
	pub[0] = 0x04; /* SEC 1 uncompressed point: 04 || x || y */
	if (bld == NULL || coord_member(k, "x", pub + 1, 32) == -1 ||
	    coord_member(k, "y", pub + 33, 32) == -1 ||
	    OSSL_PARAM_BLD_push_utf8_string(
	        bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(
	        bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1) {
		OSSL_PARAM_BLD_free(bld);
		return NULL;
	}
	pkey = from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (pkey == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *
ed25519_key(const json_t *k, const char **why)
{
	unsigned char x[32];

	*why = "bad Ed25519 x";
	if (b64_member(k, "x", x, sizeof(x)) != 32)
		return NULL;
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
}

static const char *
str_member(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
known_alg(const char *alg)
{
	return strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0 ||
	    strcmp(alg, "EdDSA") == 0;
}

/* parse_key - 1 added, 0 skipped, -1 error (why set). */
static int
parse_key(struct jwks *ks, const json_t *k, const char **why)
{
	const char *kty = str_member(k, "kty"), *crv = str_member(k, "crv");
	const char *kid = str_member(k, "kid"), *use = str_member(k, "use");
	const char *alg = str_member(k, "alg");
	struct jwk *key = &ks->keys[ks->n];
	size_t i;

	*why = "not a JWK object";
	if (!json_is_object(k) || kty == NULL)
		return -1;
	if (json_object_get(k, "d") != NULL) {
		*why = "contains private key material (\"d\"); publish only "
		       "public keys";
		return -1;
	}
	if (json_object_get(k, "kid") != NULL) {
		*why = "bad kid";
		if (kid == NULL || strlen(kid) > JWK_KID_MAX ||
		    !str_is_printable_ascii(kid, strlen(kid)))
			return -1;
		for (i = 0; i < ks->n; i++)
			if (strcmp(ks->keys[i].kid, kid) == 0) {
				*why = "kid used twice";
				return -1;
			}
	}
	if ((use != NULL && strcmp(use, "sig") != 0) ||
	    (alg != NULL && !known_alg(alg)))
		return 0;
	memset(key, 0, sizeof(*key));
	if (strcmp(kty, "RSA") == 0) {
		key->kty = JWK_KTY_RSA;
		key->pkey = rsa_key(k, why);
	} else if (strcmp(kty, "EC") == 0 && crv != NULL &&
	    strcmp(crv, "P-256") == 0) {
		key->kty = JWK_KTY_EC_P256;
		key->pkey = ec_key(k, why);
	} else if (strcmp(kty, "OKP") == 0 && crv != NULL &&
	    strcmp(crv, "Ed25519") == 0) {
		key->kty = JWK_KTY_ED25519;
		key->pkey = ed25519_key(k, why);
	} else
		return 0; /* "oct", other curves: never used */
	if (key->pkey == NULL)
		return -1;
	(void)str_copy(key->kid, kid != NULL ? kid : "", sizeof(key->kid));
	(void)str_copy(key->alg, alg != NULL ? alg : "", sizeof(key->alg));
	ks->n++;
	return 1;
}

struct jwks *
jwks_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *arr;
	struct jwks *ks;
	const char *why;
	size_t i;
	int rc;

	if (len > JWKS_FILE_MAX) {
		(void)snprintf(
		    err, errlen, "larger than %d octets", JWKS_FILE_MAX);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		(void)snprintf(
		    err, errlen, "line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	arr = json_object_get(root, "keys");
	if (!json_is_array(arr) || json_array_size(arr) > JWKS_KEYS_MAX) {
		(void)snprintf(err, errlen,
		    "not a JWK Set: want {\"keys\": [...]} with at most %d "
		    "keys",
		    JWKS_KEYS_MAX);
		json_decref(root);
		return NULL;
	}
	ks = calloc(1, sizeof(*ks));
	if (ks != NULL)
		ks->keys = calloc(json_array_size(arr) + 1, sizeof(*ks->keys));
	if (ks == NULL || ks->keys == NULL) {
		free(ks);
		json_decref(root);
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		rc = parse_key(ks, json_array_get(arr, i), &why);
		if (rc < 0) {
			(void)snprintf(err, errlen, "key %zu: %s", i + 1, why);
			json_decref(root);
			jwks_free(ks);
			return NULL;
		}
		if (rc == 0)
			ks->skipped++;
	}
	json_decref(root);
	if (ks->n == 0) {
		(void)snprintf(err, errlen,
		    "no usable signature key (RSA, EC P-256 or Ed25519)");
		jwks_free(ks);
		return NULL;
	}
	return ks;
}

struct jwks *
jwks_load(const char *path, char *err, size_t errlen)
{
	char *text, e[256];
	struct jwks *ks;
	struct stat sb;
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > JWKS_FILE_MAX) {
		(void)snprintf(err, errlen,
		    "%s: not a regular file of at most %d octets", path,
		    JWKS_FILE_MAX);
		(void)close(fd);
		return NULL;
	}
	text = malloc((size_t)sb.st_size + 1);
	if (text == NULL) {
		(void)close(fd);
		(void)snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	while (off < (size_t)sb.st_size) {
		n = read(fd, text + off, (size_t)sb.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	(void)close(fd);
	ks = jwks_parse(text, off, e, sizeof(e));
	free(text);
	if (ks == NULL)
		(void)snprintf(err, errlen, "%s: %s", path, e);
	return ks;
}

void
jwks_free(struct jwks *ks)
{
	size_t i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->keys[i].pkey);
	free(ks->keys);
	free(ks);
}
