/*
 * mech.h - the SASL mechanism interface (RFC 4422), server and client sides.
 * Mechanisms are pure: no I/O, no storage. They ask the exchange to verify a
 * password or to fetch stored credentials and are resumed with the answer.
 */
#ifndef POSTERN_SASL_MECH_H
#define POSTERN_SASL_MECH_H

#include <stddef.h>

#include "core/buf.h"

struct sasl_exchange;
struct sasl_client;
struct cred_result;
struct secret;

struct bytes {
	const unsigned char *data;
	size_t len;
};

enum sasl_status {
	SASL_CONTINUE, /* out holds the next challenge */
	SASL_OK,       /* authenticated; out may hold final server data */
	SASL_FAIL,     /* x->error says why */
	SASL_TEMPFAIL, /* backend trouble: 454 4.7.0 */
	SASL_PENDING,  /* waiting for the passdb; resume() follows */
};

enum sasl_need {
	SASL_NEED_NOTHING,
	SASL_NEED_VERIFY,      /* a plain password to check */
	SASL_NEED_CREDENTIALS, /* stored credentials of mech->scheme */
};

/* Why an exchange failed; the SMTP layer maps these to replies. */
enum sasl_error {
	SASL_ERR_NONE,
	SASL_ERR_CREDENTIALS, /* 535 5.7.8: wrong password, unknown user, bad proof */
	SASL_ERR_MALFORMED, /* 501 5.5.2: the client's message does not parse */
	SASL_ERR_AUTHZ,    /* 535 5.7.8: authzid not allowed for this authcid */
	SASL_ERR_DISABLED, /* 535 5.7.8 to the client; logged as disabled */
	SASL_ERR_MUST_CHANGE, /* 432 4.7.12 */
	SASL_ERR_NO_SCHEME, /* 534 5.7.9: stored credentials cannot serve this mechanism */
	SASL_ERR_CHANBIND, /* 535 5.7.8: channel binding mismatch or downgrade */
	SASL_ERR_TEMP,     /* 454 4.7.0 */
};

#define SASL_F_PLAINTEXT                                                       \
	0x01 /* reveals the password: not offered before TLS unless allowed */
#define SASL_F_CHANBIND 0x02 /* -PLUS: needs channel-binding data */
#define SASL_F_CLIENTCERT                                                      \
	0x04 /* EXTERNAL: identity from the TLS client certificate */
#define SASL_F_WEAK 0x08 /* CRAM-MD5: offered only after TLS unless allowed */
#define SASL_F_CLIENT_FIRST                                                    \
	0x10 /* client sends first; an initial response is allowed */

struct sasl_mech {
	const char *name;   /* "PLAIN" */
	unsigned int flags; /* SASL_F_* */
	enum sasl_need need;
	const char *scheme; /* for SASL_NEED_CREDENTIALS: "SCRAM-SHA-256" */
	size_t
	    state_size; /* per-exchange private state, zeroed, wiped on free */

	/* step - in: the client's decoded message (NULL before a first message
	 * when the server speaks first or there was no initial response). */
	enum sasl_status (*step)(
	    struct sasl_exchange *x, const struct bytes *in, struct buf *out);
	/* resume - after step() returned SASL_PENDING, with the passdb's answer. */
	enum sasl_status (*resume)(struct sasl_exchange *x,
	    const struct cred_result *r, struct buf *out);

	/* Client side (postern send, relay). challenge NULL for the first call. */
	size_t client_state_size;
	enum sasl_status (*client_step)(struct sasl_client *c,
	    const struct bytes *challenge, struct buf *response);
};

#endif
