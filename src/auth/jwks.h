/*
 * jwks.h - a JSON Web Key Set (RFC 7517) of public signature keys for local
 * bearer-token validation: RSA (RS256), EC P-256 (ES256) and OKP Ed25519
 * (EdDSA, RFC 8037). Keys are turned into OpenSSL EVP_PKEYs once, at load.
 * Only public keys are accepted; symmetric ("oct") keys are never used.
 */
#ifndef POSTERN_AUTH_JWKS_H
#define POSTERN_AUTH_JWKS_H

#include <stddef.h>

#include <openssl/evp.h>

#define JWKS_FILE_MAX (256 * 1024) /* a larger file is refused */
#define JWKS_KEYS_MAX 64
#define JWK_KID_MAX   128

enum jwk_kty {
	JWK_KTY_RSA,     /* "RSA", n/e, >= 2048 bits */
	JWK_KTY_EC_P256, /* "EC" with crv "P-256", x/y */
	JWK_KTY_ED25519, /* "OKP" with crv "Ed25519", x */
};

struct jwk {
	char kid[JWK_KID_MAX + 1]; /* "" when the key has none */
	enum jwk_kty kty;
	char alg[16]; /* the key's "alg" member, "" if absent */
	EVP_PKEY *pkey;
};

struct jwks {
	struct jwk *keys;
	size_t n;
	size_t skipped; /* keys of a type or use we do not verify with */
};

/*
 * jwks_parse - a JWKS document {"keys":[...]} of len bytes. Unsupported key
 * types and non-signature keys are skipped (counted); a malformed key, one
 * with private material ("d"), or a set without one usable key is an error:
 * NULL with a message in err.
 */
struct jwks *jwks_parse(const char *text, size_t len, char *err, size_t errlen);

/* jwks_load - read path (at most JWKS_FILE_MAX bytes) and jwks_parse it. */
struct jwks *jwks_load(const char *path, char *err, size_t errlen);

/* jwks_free - free the keys; NULL ignored. */
void jwks_free(struct jwks *ks);

#endif
