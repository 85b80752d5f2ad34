/*
 * client.h - client side of a SASL exchange (postern send, smarthost relay).
 */
#ifndef POSTERN_SASL_CLIENT_H
#define POSTERN_SASL_CLIENT_H

#include "sasl/mech.h"

struct sasl_client {
	const struct sasl_mech *mech;
	void *state; /* mech->client_state_size bytes */
	const char *authcid;
	const char *authzid; /* NULL or "" for none */
	const struct secret *password;
	/* Channel binding for -PLUS mechanisms (and SCRAM's "y" flag): the
	 * type ("tls-exporter", "tls-unique") and the data of this TLS
	 * connection; NULL/0 without TLS. Borrowed, like the identities. */
	const char *cb_type;
	const unsigned char *cb_data;
	size_t cb_len;
	int steps;
};

/* sasl_client_new - client exchange for mech with the given identities; NULL on ENOMEM. */
struct sasl_client *sasl_client_new(const struct sasl_mech *mech,
    const char *authcid, const char *authzid, const struct secret *password);

/* sasl_client_free - wipe and free. */
void sasl_client_free(struct sasl_client *c);

/* sasl_client_step - produce the response to challenge (NULL for the initial response). */
enum sasl_status sasl_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response);

#endif
