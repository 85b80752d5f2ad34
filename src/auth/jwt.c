/*
 * jwt.c - local bearer-token validation: JWS compact serialization (RFC 7515
 * §7.1) of a JWT (RFC 7519), following RFC 8725's advice: an algorithm
 * whitelist (RS256, ES256, EdDSA; never "none" or HMAC), the key's type must
 * match the header's alg, strict base64url, duplicate JSON members refused,
 * the signature checked before any claim is believed. Never logs a token.
 */
#include <math.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/secret.h"
#include "core/str.h"

#define JWT_SIG_MAX  512             /* RSA-4096 */
#define JWT_TIME_MAX 1000000000000LL /* year 33658: anything later is junk */

enum jwt_alg {
	JWT_ALG_RS256,
	JWT_ALG_ES256,
	JWT_ALG_EDDSA,
};

static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * base64url = *(4base64url-char) [2base64url-char / 3base64url-char]
 * (RFC 7515 §2: no padding, no whitespace, no line breaks)
 */
long
jwt_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsize)
{
	unsigned int acc = 0, bits = 0;
	size_t i, o = 0, need;

	if (n % 4 == 1)
		return -1;
	need = n / 4 * 3 + (n % 4 != 0 ? n % 4 - 1 : 0);
	if (need > outsize || need > (size_t)0x7fffffff)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64url_val((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = ((acc << 6) | (unsigned int)v) & 0xffffU;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* the unused low bits of the last character must be zero */
	if (bits > 0 && (acc & ((1U << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

int
jwt_is_compact(const char *token, size_t len)
{
	size_t i, dots = 0;

	if (token == NULL || len == 0 || len > JWT_TOKEN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (token[i] == '.')
			dots++;
		else if (b64url_val((unsigned char)token[i]) < 0)
			return 0;
	}
	return dots == 2;
}

const char *
jwt_status_name(enum jwt_status st)
{
	switch (st) {
	case JWT_OK:
		return "ok";
	case JWT_MALFORMED:
		return "malformed";
	case JWT_BAD_ALG:
		return "bad-alg";
	case JWT_NO_KEY:
		return "no-key";
	case JWT_BAD_SIGNATURE:
		return "bad-signature";
	case JWT_EXPIRED:
		return "expired";
	case JWT_NOT_YET:
		return "not-yet-valid";
	case JWT_BAD_ISSUER:
		return "wrong-issuer";
	case JWT_BAD_AUDIENCE:
		return "wrong-audience";
	case JWT_NO_USER:
		return "no-user-claim";
	}
	return "other";
}

/* decode_json - a base64url part holding one JSON object; NULL if not. */
static json_t *
decode_json(const char *p, size_t n)
{
	unsigned char buf[JWT_TOKEN_MAX];
	json_error_t jerr;
	json_t *j;
	long len;

	len = jwt_b64url_decode(p, n, buf, sizeof(buf));
	if (len <= 0)
		return NULL;
	j = json_loadb(
	    (const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
	secret_wipe(buf, (size_t)len);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int
kty_fits(enum jwk_kty kty, enum jwt_alg alg)
{
	switch (alg) {
	case JWT_ALG_RS256:
		return kty == JWK_KTY_RSA;
	case JWT_ALG_ES256:
		return kty == JWK_KTY_EC_P256;
	case JWT_ALG_EDDSA:
		return kty == JWK_KTY_ED25519;
	}
	return 0;
}

/* es256_der - RFC 7518 §3.4: R || S (32 octets each) into a DER ECDSA-Sig-Value. */
static long
es256_der(const unsigned char *sig, unsigned char *der, size_t dersize)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL),
	       *s = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *p = der;
	int n;

	if (es == NULL || r == NULL || s == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || (size_t)n > dersize)
		n = -1;
	else
		n = i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	return n;
}

/* verify_sig - 1 if sig is key's signature over msg under alg. */
static int
verify_sig(const struct jwk *key, enum jwt_alg alg, const unsigned char *msg,
    size_t mlen, const unsigned char *sig, size_t slen)
{
	EVP_MD_CTX *ctx;
	unsigned char der[80];
	const unsigned char *s = sig;
	long dlen;
	int ok;

	if (alg == JWT_ALG_ES256) {
		if (slen != 64)
			return 0;
		dlen = es256_der(sig, der, sizeof(der));
		if (dlen <= 0)
			return 0;
		s = der;
		slen = (size_t)dlen;
	} else if (alg == JWT_ALG_EDDSA && slen != 64)
		return 0;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL,
	         alg == JWT_ALG_EDDSA ? NULL : EVP_sha256(), NULL,
	         key->pkey) == 1 &&
	    EVP_DigestVerify(ctx, s, slen, msg, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* get_time - a NumericDate member (RFC 7519 §2); 1 present, 0 absent, -1 malformed. */
static int
get_time(const json_t *o, const char *name, long long *out)
{
	const json_t *v = json_object_get(o, name);
	double d;

	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
	} else if (json_is_real(v)) {
		d = json_real_value(v);
		if (!isfinite(d) || d < -(double)JWT_TIME_MAX ||
		    d > (double)JWT_TIME_MAX)
			return -1;
		*out = (long long)d;
	} else
		return -1;
	if (*out < -JWT_TIME_MAX || *out > JWT_TIME_MAX)
		return -1;
	return 1;
}

static int
aud_has(const json_t *aud, const char *want)
{
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return 0;
	for (i = 0; i < json_array_size(aud); i++) {
		const json_t *e = json_array_get(aud, i);

		if (json_is_string(e) &&
		    strcmp(json_string_value(e), want) == 0)
			return 1;
	}
	return 0;
}

static int
valid_user(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > JWT_USER_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return str_valid_utf8(s, len);
}

enum jwt_status
jwt_check_claims(const json_t *claims, const struct jwt_policy *pol,
    int require_exp, struct jwt_result *out)
{
	long long exp = 0, nbf = 0, iat = 0, skew = pol->skew;
	const json_t *v;
	const char *claim;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(claims))
		return JWT_MALFORMED;
	rc = get_time(claims, "exp", &exp);
	if (rc < 0)
		return JWT_MALFORMED;
	if ((rc == 0 && require_exp) || (rc == 1 && exp + skew <= pol->now))
		return JWT_EXPIRED;
	out->exp = rc == 1 ? exp : 0;
	rc = get_time(claims, "nbf", &nbf);
	if (rc < 0)
		return JWT_MALFORMED;
	if (rc == 1 && nbf - skew > pol->now)
		return JWT_NOT_YET;
	/* iat sanity: a token issued in the future is not believed */
	rc = get_time(claims, "iat", &iat);
	if (rc < 0)
		return JWT_MALFORMED;
	if (rc == 1 && iat - skew > pol->now)
		return JWT_NOT_YET;
	if (pol->issuer != NULL && pol->issuer[0] != '\0') {
		v = json_object_get(claims, "iss");
		if (!json_is_string(v) ||
		    strcmp(json_string_value(v), pol->issuer) != 0)
			return JWT_BAD_ISSUER;
	}
	if (pol->audience != NULL && pol->audience[0] != '\0') {
		if (!aud_has(json_object_get(claims, "aud"), pol->audience))
			return JWT_BAD_AUDIENCE;
	}
	claim = pol->user_claim != NULL && pol->user_claim[0] != '\0'
	    ? pol->user_claim
	    : "email";
	v = json_object_get(claims, claim);
	if (!json_is_string(v) ||
	    !valid_user(json_string_value(v), json_string_length(v)))
		return JWT_NO_USER;
	/* An address the identity provider has not verified is no identity. */
	if (strcmp(claim, "email") == 0) {
		const json_t *ev = json_object_get(claims, "email_verified");

		if (ev != NULL && !json_is_true(ev))
			return JWT_NO_USER;
	}
	(void)str_copy(out->user, json_string_value(v), sizeof(out->user));
	return JWT_OK;
}

/* parse_alg - the JOSE header's alg; -1 for anything outside the whitelist. */
static int
parse_alg(const char *s, enum jwt_alg *out)
{
	if (strcmp(s, "RS256") == 0)
		*out = JWT_ALG_RS256;
	else if (strcmp(s, "ES256") == 0)
		*out = JWT_ALG_ES256;
	else if (strcmp(s, "EdDSA") == 0)
		*out = JWT_ALG_EDDSA;
	else
		return -1;
	return 0;
}

/*
 * JWS compact = BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(sig)
 * (RFC 7515 §7.1); the signing input is everything before the second dot.
 */
enum jwt_status
jwt_verify(const char *token, size_t len, const struct jwks *keys,
    const struct jwt_policy *pol, struct jwt_result *out)
{
	const char *d1, *d2, *kid = NULL, *alg_s;
	unsigned char sig[JWT_SIG_MAX];
	long slen;
	json_t *hdr = NULL, *claims = NULL;
	const json_t *v;
	enum jwt_alg alg;
	enum jwt_status st;
	size_t i;
	int candidates = 0, mismatch = 0, verified = 0;

	memset(out, 0, sizeof(*out));
	if (!jwt_is_compact(token, len))
		return JWT_MALFORMED;
	d1 = memchr(token, '.', len);
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
	if (d1 == token || d2 == d1 + 1)
		return JWT_MALFORMED;

	hdr = decode_json(token, (size_t)(d1 - token));
	if (hdr == NULL)
		return JWT_MALFORMED;
	st = JWT_MALFORMED;
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v))
		goto out;
	alg_s = json_string_value(v);
	st = JWT_BAD_ALG;
	if (parse_alg(alg_s, &alg) < 0)
		goto out;
	/* RFC 7515 §4.1.11: extensions we do not understand are fatal */
	if (json_object_get(hdr, "crit") != NULL)
		goto out;
	st = JWT_MALFORMED;
	v = json_object_get(hdr, "kid");
	if (v != NULL) {
		if (!json_is_string(v) || json_string_length(v) > JWK_KID_MAX)
			goto out;
		kid = json_string_value(v);
	}
	slen = jwt_b64url_decode(
	    d2 + 1, (size_t)(token + len - d2 - 1), sig, sizeof(sig));
	if (slen <= 0)
		goto out;

	for (i = 0; keys != NULL && i < keys->n && !verified; i++) {
		const struct jwk *k = &keys->keys[i];

		if (kid != NULL && strcmp(k->kid, kid) != 0)
			continue;
		if (!kty_fits(k->kty, alg) ||
		    (k->alg[0] != '\0' && strcmp(k->alg, alg_s) != 0)) {
			mismatch = 1;
			continue;
		}
		candidates++;
		verified = verify_sig(k, alg, (const unsigned char *)token,
		    (size_t)(d2 - token), sig, (size_t)slen);
	}
	if (!verified) {
		if (candidates > 0)
			st = JWT_BAD_SIGNATURE;
		else
			st = mismatch && kid != NULL ? JWT_BAD_ALG : JWT_NO_KEY;
		goto out;
	}
	st = JWT_MALFORMED;
	claims = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (claims != NULL)
		st = jwt_check_claims(claims, pol, 1, out);
out:
	json_decref(hdr);
	json_decref(claims);
	return st;
}
