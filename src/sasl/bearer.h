/*
 * bearer.h - what OAUTHBEARER (RFC 7628) and XOAUTH2 share: the %x01
 * separated key/value list, the "auth=Bearer <token>" value (RFC 6750
 * §2.1), the JSON failure status and the resume() after token validation.
 */
#ifndef POSTERN_SASL_BEARER_H
#define POSTERN_SASL_BEARER_H

#include <stddef.h>

#include "sasl/mech.h"

#define SASL_TOKEN_MAX 8192 /* octets of a bearer token */

struct sasl_exchange;
struct cred_result;

struct sasl_bearer_msg {
	const char *token; /* b64token of "auth=Bearer ..." */
	size_t token_len;
	const char *user; /* XOAUTH2 "user=" value, NULL if absent */
	size_t user_len;
};

/*
 * sasl_bearer_parse_kv - kvpairs followed by the closing kvsep, exactly
 * filling p[0..n):
 *   *kvpair kvsep
 *   kvpair = key "=" value kvsep     key = 1*ALPHA
 *   value  = *(VCHAR / SP / HTAB / CR / LF)   kvsep = %x01
 * "auth" is required; "user" is taken when allow_user; other keys (host,
 * port) are ignored; a key twice is an error. 0, or -1.
 */
int sasl_bearer_parse_kv(const unsigned char *p, size_t n, int allow_user,
    struct sasl_bearer_msg *out);

/*
 * sasl_bearer_resume - common resume(): OK when the token's login matches
 * the authzid (if any); an invalid token sets *failed and returns
 * SASL_CONTINUE with the JSON status {"status":status,...} in out.
 */
enum sasl_status sasl_bearer_resume(struct sasl_exchange *x,
    const struct cred_result *r, struct buf *out, int *failed,
    const char *status);

#endif
