/*
 * jwt.h - local validation of bearer tokens that are JWTs (RFC 7519) in JWS
 * compact serialization (RFC 7515 §7.1), signed with RS256, ES256 or EdDSA
 * by a key of a configured JWKS. Claims checked: iss, aud, exp, nbf, iat
 * and the configured user claim. Pure: no I/O, the clock is a parameter.
 */
#ifndef POSTERN_AUTH_JWT_H
#define POSTERN_AUTH_JWT_H

#include <stddef.h>

#include <jansson.h>

struct jwks;

#define JWT_TOKEN_MAX 8192 /* octets of a compact JWS we look at */
#define JWT_USER_MAX  255

enum jwt_status {
	JWT_OK,
	JWT_MALFORMED, /* not three strict base64url parts of JSON */
	JWT_BAD_ALG,   /* "none", HS*, unknown, or a key of another type */
	JWT_NO_KEY,    /* no key with that kid (or none of the right type) */
	JWT_BAD_SIGNATURE, /* no key verifies the signature */
	JWT_EXPIRED,       /* exp + skew <= now, or exp missing */
	JWT_NOT_YET,       /* nbf - skew > now, or iat in the future */
	JWT_BAD_ISSUER,
	JWT_BAD_AUDIENCE,
	JWT_NO_USER, /* the user claim is missing, empty or not a login */
};

struct jwt_policy {
	const char *issuer;   /* required "iss"; NULL or "" = not checked */
	const char *audience; /* required in "aud"; NULL or "" = not checked */
	const char *user_claim; /* "email", "sub", "preferred_username" */
	long long now;          /* seconds since the epoch */
	long long skew;         /* seconds of clock skew tolerated */
};

struct jwt_result {
	char user[JWT_USER_MAX + 1]; /* the user claim's value */
	long long exp;               /* the token's "exp" (0 if none) */
};

/*
 * jwt_verify - verify token[0..len) against keys and pol. JWT_OK fills out;
 * anything else says why (for the log; never log the token itself).
 */
enum jwt_status jwt_verify(const char *token, size_t len,
    const struct jwks *keys, const struct jwt_policy *pol,
    struct jwt_result *out);

/*
 * jwt_check_claims - the claim checks alone, on a decoded JSON object (also
 * used for RFC 7662 introspection answers). require_exp: a missing exp is
 * JWT_EXPIRED.
 */
enum jwt_status jwt_check_claims(const json_t *claims,
    const struct jwt_policy *pol, int require_exp, struct jwt_result *out);

/* jwt_is_compact - 1 if token looks like a compact JWS (two dots, base64url characters). */
int jwt_is_compact(const char *token, size_t len);

/* jwt_status_name - "expired", "bad-signature", ... for log lines. */
const char *jwt_status_name(enum jwt_status st);

/*
 * jwt_b64url_decode - strict RFC 4648 §5 base64url without padding: only
 * [A-Za-z0-9_-], length % 4 != 1, zero trailing bits. Decoded length, or
 * -1 if invalid or out is too small.
 */
long jwt_b64url_decode(
    const char *in, size_t n, unsigned char *out, size_t outsize);

#endif
