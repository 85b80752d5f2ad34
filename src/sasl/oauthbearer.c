/*
 * oauthbearer.c - OAUTHBEARER (RFC 7628), server and client sides.
 *   client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep        (§3.1)
 *   gs2-header  = gs2-cb-flag "," [ "a=" saslname ] ","  ; "p=" refused
 * The token is validated by the auth service (SASL_PENDING_TOKEN). A bad
 * token gets the JSON status of §3.2.2 as a challenge; the client must
 * answer a lone %x01 and the exchange ends in failure (535 5.7.8).
 */
#include <string.h>

#include "core/buf.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/bearer.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/gs2.h"
#include "sasl/registry.h"

struct oauthbearer_state {
	int challenged;  /* sent the empty challenge already */
	int got_message; /* the client message was taken */
	int failed;      /* sent the failure status; only %x01 may follow */
};

struct oauthbearer_client_state {
	int sent;
	int acked;
};

static enum sasl_status
oauthbearer_step(
    struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct oauthbearer_state *st = x->state;
	struct gs2_header h;
	struct sasl_bearer_msg m;

	(void)out;
	if (st->failed) {
		/* §3.2.2: the client acknowledges with a single %x01; whatever
		 * it sends, the exchange fails now. */
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	}
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
	    gs2_parse(in->data, in->len, &h) < 0 || h.flag == GS2_CB_USED)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (h.len >= in->len || in->data[h.len] != 0x01 ||
	    sasl_bearer_parse_kv(
	        in->data + h.len + 1, in->len - h.len - 1, 0, &m) < 0)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (sasl_x_set_authzid(x, h.authzid, h.authzid_len) < 0)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (sasl_x_validate_token(x, m.token, m.token_len) < 0)
		return SASL_TEMPFAIL;
	return SASL_PENDING;
}

static enum sasl_status
oauthbearer_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	struct oauthbearer_state *st = x->state;

	return sasl_bearer_resume(x, r, out, &st->failed, "invalid_token");
}

/*
 * oauthbearer_client_step - "n,a=AUTHZID,^Aauth=Bearer TOKEN^A^A" with the
 * token in c->password; a challenge after it is a failure status, answered
 * with %x01 as §3.2.2 asks.
 */
static enum sasl_status
oauthbearer_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	struct oauthbearer_client_state *st = c->state;
	const char *authzid = c->authzid != NULL && c->authzid[0] != '\0'
	    ? c->authzid
	    : c->authcid;
	char enc[3 * 255 + 1];
	size_t alen = authzid != NULL ? strlen(authzid) : 0;

	if (st->sent) {
		if (st->acked)
			return SASL_FAIL;
		st->acked = 1;
		(void)challenge;
		return buf_append(response, "\x01", 1) < 0 ? SASL_FAIL
		                                           : SASL_CONTINUE;
	}
	if (c->password == NULL || c->password->len == 0 ||
	    c->password->len > SASL_TOKEN_MAX || alen > 255)
		return SASL_FAIL;
	st->sent = 1;
	if (buf_appends(response, "n,") < 0)
		goto fail;
	if (alen > 0) {
		if (gs2_saslname_encode(authzid, alen, enc, sizeof(enc)) < 0 ||
		    buf_appends(response, "a=") < 0 ||
		    buf_appends(response, enc) < 0)
			goto fail;
	}
	if (buf_appends(response,
	        ",\x01"
	        "auth=Bearer ") < 0 ||
	    buf_append(response, c->password->data, c->password->len) < 0 ||
	    buf_append(response, "\x01\x01", 2) < 0)
		goto fail;
	return SASL_CONTINUE;
fail:
	buf_reset(response);
	return SASL_FAIL;
}

const struct sasl_mech sasl_mech_oauthbearer = {
    .name = "OAUTHBEARER",
    /* a bearer token is as good as a password to whoever sees it */
    .flags = SASL_F_PLAINTEXT | SASL_F_CLIENT_FIRST,
    .need = SASL_NEED_NOTHING,
    .scheme = NULL,
    .state_size = sizeof(struct oauthbearer_state),
    .step = oauthbearer_step,
    .resume = oauthbearer_resume,
    .client_state_size = sizeof(struct oauthbearer_client_state),
    .client_step = oauthbearer_client_step,
};
