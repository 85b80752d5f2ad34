/*
 * plain.c - PLAIN (RFC 4616), server and client sides.
 *   message  = [authzid] UTF8NUL authcid UTF8NUL passwd
 *   authcid  = 1*SAFE ; MUST accept up to 255 octets
 *   authzid  = 1*SAFE
 *   passwd   = 1*SAFE
 *   SAFE     = UTF1 / UTF2 / UTF3 / UTF4 ; any UTF-8 except NUL
 * The server never looks at the password: it hands it to the exchange.
 */
#include <string.h>

#include "core/buf.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"

struct plain_state {
	int challenged; /* sent the empty challenge already */
	int got_message;
};

struct plain_client_state {
	int sent;
};

static enum sasl_status
plain_step(struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct plain_state *st = x->state;
	const char *msg, *nul1, *nul2, *authcid, *pw;
	size_t zlen, clen, plen;

	(void)out;
	if (st->got_message)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (in == NULL) {
		/* No initial response: RFC 4954 §4, send an empty challenge. */
		if (st->challenged)
			return sasl_x_fail(x, SASL_ERR_MALFORMED);
		st->challenged = 1;
		return SASL_CONTINUE;
	}
	st->got_message = 1;

	msg = (const char *)in->data;
	if (in->len == 0 || msg == NULL)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	nul1 = memchr(msg, '\0', in->len);
	if (nul1 == NULL)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	authcid = nul1 + 1;
	nul2 = memchr(authcid, '\0', in->len - (size_t)(authcid - msg));
	if (nul2 == NULL)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	pw = nul2 + 1;
	zlen = (size_t)(nul1 - msg);
	clen = (size_t)(nul2 - authcid);
	plen = in->len - (size_t)(pw - msg);

	/* exactly two NULs: none in the password */
	if (memchr(pw, '\0', plen) != NULL)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (clen == 0 || plen == 0 || zlen > SASL_USER_MAX ||
	    clen > SASL_USER_MAX || plen > SASL_PASS_MAX)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (!str_valid_utf8(pw, plen))
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (sasl_x_set_authzid(x, msg, zlen) < 0 ||
	    sasl_x_set_authcid(x, authcid, clen) < 0)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (sasl_x_verify_password(x, pw, plen) < 0)
		return SASL_TEMPFAIL;
	return SASL_PENDING;
}

static enum sasl_status
plain_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	(void)out;
	return sasl_x_verify_result(x, r);
}

/* plain_client_step - the whole message, as initial response or after "334 ". */
static enum sasl_status
plain_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	struct plain_client_state *st = c->state;
	const char *authzid = c->authzid != NULL ? c->authzid : "";
	size_t zlen = strlen(authzid);
	size_t clen = c->authcid != NULL ? strlen(c->authcid) : 0;

	(void)challenge;
	if (st->sent)
		return SASL_FAIL; /* PLAIN has no second round */
	if (clen == 0 || clen > SASL_USER_MAX || zlen > SASL_USER_MAX ||
	    c->password == NULL || c->password->len == 0 ||
	    c->password->len > SASL_PASS_MAX ||
	    memchr(c->password->data, '\0', c->password->len) != NULL ||
	    memchr(c->authcid, '\0', clen) != NULL)
		return SASL_FAIL;
	st->sent = 1;
	if (buf_append(response, authzid, zlen) < 0 ||
	    buf_append(response, "", 1) < 0 ||
	    buf_append(response, c->authcid, clen) < 0 ||
	    buf_append(response, "", 1) < 0 ||
	    buf_append(response, c->password->data, c->password->len) < 0) {
		buf_reset(response);
		return SASL_FAIL;
	}
	return SASL_CONTINUE;
}

const struct sasl_mech sasl_mech_plain = {
    .name = "PLAIN",
    .flags = SASL_F_PLAINTEXT | SASL_F_CLIENT_FIRST,
    .need = SASL_NEED_VERIFY,
    .scheme = NULL,
    .state_size = sizeof(struct plain_state),
    .step = plain_step,
    .resume = plain_resume,
    .client_state_size = sizeof(struct plain_client_state),
    .client_step = plain_client_step,
};
