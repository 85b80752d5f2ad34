/*
 * fuzz_jwt.c - JWT parsing and claim checks (src/auth/jwt.c) and JWKS
 * loading (src/auth/jwks.c) on arbitrary input. First byte 'K': the rest
 * is a JWK Set; otherwise the rest is a compact JWS verified against the
 * RFC 8037 Ed25519 key, and also, as JSON, a claim set. Properties: no
 * crash, no leak; JWT_OK only with a non-empty user.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/jwks.h"
#include "auth/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char keyset[] =
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jwks *keys;
	struct jwt_policy pol = {
	    "https://idp.example.test", "postern", "email", 1700000000LL, 60};
	struct jwt_result res;
	char err[256];
	json_error_t jerr;
	json_t *j;

	if (keys == NULL) {
		keys = jwks_parse(keyset, strlen(keyset), err, sizeof(err));
		if (keys == NULL)
			abort();
	}
	if (size < 1 || size > 65536)
		return 0;
	if (data[0] == 'K') {
		jwks_free(jwks_parse(
		    (const char *)data + 1, size - 1, err, sizeof(err)));
		return 0;
	}
	if (jwt_verify((const char *)data + 1, size - 1, keys, &pol, &res) ==
	        JWT_OK &&
	    res.user[0] == '\0')
		abort();
	j = json_loadb(
	    (const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
	if (j != NULL) {
		if (jwt_check_claims(j, &pol, data[0] & 1, &res) == JWT_OK &&
		    res.user[0] == '\0')
			abort();
		json_decref(j);
	}
	return 0;
}
