/*
 * external.c - EXTERNAL (RFC 4422 Appendix A) over TLS with a verified
 * client certificate, server and client sides.
 *   message = [authzid]     ; UTF-8, no NUL; empty: "who the cert says"
 * The identity is what the worker reported of the certificate
 * (x->conn.cert_identity); the auth service maps it to a login under the
 * configured rule (SASL_PENDING_CERT). An authzid the certificate does not
 * own is refused, whatever allow_authzid says.
 */
#include <string.h>

#include "auth/passdb.h"
#include "core/buf.h"
#include "core/str.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"

struct external_state {
	int challenged;
	int got_message;
};

struct external_client_state {
	int sent;
};

static enum sasl_status
external_step(struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct external_state *st = x->state;

	(void)out;
	if (st->got_message)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (in == NULL) {
		if (st->challenged)
			return sasl_x_fail(x, SASL_ERR_MALFORMED);
		st->challenged = 1;
		return SASL_CONTINUE;
	}
	st->got_message = 1;
	if (in->len > 0 &&
	    (in->data == NULL || memchr(in->data, '\0', in->len) != NULL ||
	        sasl_x_set_authzid(x, (const char *)in->data, in->len) < 0))
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	/* no verified certificate: nothing to map (the worker should not
	 * have offered EXTERNAL) */
	if (!x->conn.tls || x->conn.cert_identity[0] == '\0')
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	sasl_x_map_certificate(x);
	return SASL_PENDING;
}

static enum sasl_status
external_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	(void)out;
	switch (r->status) {
	case PASSDB_OK:
		break;
	case PASSDB_MISMATCH:
	case PASSDB_NO_USER:
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	case PASSDB_DISABLED:
		return sasl_x_fail(x, SASL_ERR_DISABLED);
	case PASSDB_NO_SCHEME:
	case PASSDB_TEMPFAIL:
	default:
		x->error = SASL_ERR_TEMP;
		return SASL_TEMPFAIL;
	}
	if (r->flags & CRED_DISABLED)
		return sasl_x_fail(x, SASL_ERR_DISABLED);
	if (r->user == NULL ||
	    sasl_x_set_authcid(x, r->user, strlen(r->user)) < 0)
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	if (x->authzid[0] != '\0' && !str_ieq(x->authzid, x->authcid)) {
		x->user[0] = '\0';
		return sasl_x_fail(x, SASL_ERR_AUTHZ);
	}
	return sasl_x_finish_identity(x, r->user);
}

/* external_client_step - the authzid (or nothing) as the only message. */
static enum sasl_status
external_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	struct external_client_state *st = c->state;
	size_t zlen = c->authzid != NULL ? strlen(c->authzid) : 0;

	(void)challenge;
	if (st->sent || zlen > 255)
		return SASL_FAIL;
	st->sent = 1;
	if (zlen > 0 && buf_append(response, c->authzid, zlen) < 0)
		return SASL_FAIL;
	return SASL_CONTINUE;
}

const struct sasl_mech sasl_mech_external = {
    .name = "EXTERNAL",
    .flags = SASL_F_CLIENTCERT | SASL_F_CLIENT_FIRST,
    .need = SASL_NEED_NOTHING,
    .scheme = NULL,
    .state_size = sizeof(struct external_state),
    .step = external_step,
    .resume = external_resume,
    .client_state_size = sizeof(struct external_client_state),
    .client_step = external_client_step,
};
