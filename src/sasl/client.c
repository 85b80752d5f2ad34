/*
 * client.c - client side of a SASL exchange (postern send, smarthost relay):
 * holds the identities and the mechanism's client state, caps round trips.
 * The identities and the password are borrowed, not copied.
 */
#include <stdlib.h>

#include "core/buf.h"
#include "core/secret.h"
#include "sasl/client.h"
#include "sasl/exchange.h"

struct sasl_client *
sasl_client_new(const struct sasl_mech *mech, const char *authcid,
    const char *authzid, const struct secret *password)
{
	struct sasl_client *c;

	if (mech == NULL || mech->client_step == NULL)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->mech = mech;
	if (mech->client_state_size > 0) {
		c->state = calloc(1, mech->client_state_size);
		if (c->state == NULL) {
			free(c);
			return NULL;
		}
	}
	c->authcid = authcid;
	c->authzid = authzid;
	c->password = password;
	return c;
}

void
sasl_client_free(struct sasl_client *c)
{
	if (c == NULL)
		return;
	if (c->state != NULL) {
		secret_wipe(c->state, c->mech->client_state_size);
		free(c->state);
	}
	secret_wipe(c, sizeof(*c));
	free(c);
}

enum sasl_status
sasl_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	buf_reset(response);
	if (c->steps >= SASL_STEPS_MAX)
		return SASL_FAIL;
	c->steps++;
	return c->mech->client_step(c, challenge, response);
}
