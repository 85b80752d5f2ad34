/*
 * xoauth2.c - XOAUTH2, Google's predecessor of OAUTHBEARER, server and
 * client sides (developers.google.com/gmail/imap/xoauth2-protocol):
 *   message = "user=" user %x01 "auth=Bearer " token %x01 %x01
 * user is required and must be the token's login. A bad token gets a JSON
 * status as a challenge; the client answers an empty line and the exchange
 * fails (535 5.7.8).
 */
#include <string.h>

#include "core/buf.h"
#include "core/secret.h"
#include "sasl/bearer.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"

struct xoauth2_state {
	int challenged;
	int got_message;
	int failed; /* sent the failure status; only an empty line may follow */
};

struct xoauth2_client_state {
	int sent;
	int acked;
};

static enum sasl_status
xoauth2_step(struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct xoauth2_state *st = x->state;
	struct sasl_bearer_msg m;

	(void)out;
	if (st->failed)
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	if (st->got_message)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (in == NULL) {
		if (st->challenged)
			return sasl_x_fail(x, SASL_ERR_MALFORMED);
		st->challenged = 1;
		return SASL_CONTINUE;
	}
	st->got_message = 1;
	if (in->data == NULL || in->len == 0 ||
	    sasl_bearer_parse_kv(in->data, in->len, 1, &m) < 0 ||
	    m.user == NULL || m.user_len == 0)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (sasl_x_set_authzid(x, m.user, m.user_len) < 0)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (sasl_x_validate_token(x, m.token, m.token_len) < 0)
		return SASL_TEMPFAIL;
	return SASL_PENDING;
}

static enum sasl_status
xoauth2_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	struct xoauth2_state *st = x->state;

	/* Google answers {"status":"401","schemes":"bearer","scope":...} */
	return sasl_bearer_resume(x, r, out, &st->failed, "401");
}

static enum sasl_status
xoauth2_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	struct xoauth2_client_state *st = c->state;
	size_t ulen = c->authcid != NULL ? strlen(c->authcid) : 0;

	(void)challenge;
	if (st->sent) {
		/* a failure status: acknowledge with an empty response */
		if (st->acked)
			return SASL_FAIL;
		st->acked = 1;
		return SASL_CONTINUE;
	}
	if (ulen == 0 || ulen > 255 || memchr(c->authcid, 0x01, ulen) != NULL ||
	    c->password == NULL || c->password->len == 0 ||
	    c->password->len > SASL_TOKEN_MAX)
		return SASL_FAIL;
	st->sent = 1;
	if (buf_appends(response, "user=") < 0 ||
	    buf_append(response, c->authcid, ulen) < 0 ||
	    buf_appends(response,
	        "\x01"
	        "auth=Bearer ") < 0 ||
	    buf_append(response, c->password->data, c->password->len) < 0 ||
	    buf_append(response, "\x01\x01", 2) < 0) {
		buf_reset(response);
		return SASL_FAIL;
	}
	return SASL_CONTINUE;
}

const struct sasl_mech sasl_mech_xoauth2 = {
    .name = "XOAUTH2",
    .flags = SASL_F_PLAINTEXT | SASL_F_CLIENT_FIRST,
    .need = SASL_NEED_NOTHING,
    .scheme = NULL,
    .state_size = sizeof(struct xoauth2_state),
    .step = xoauth2_step,
    .resume = xoauth2_resume,
    .client_state_size = sizeof(struct xoauth2_client_state),
    .client_step = xoauth2_client_step,
};
