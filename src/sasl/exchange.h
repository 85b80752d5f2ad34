/*
 * exchange.h - one server-side SASL exchange: mechanism state, identities,
 * the pending passdb request, and what the TLS layer told us.
 * The auth service owns exchanges; mechanisms only call the sasl_x_* functions.
 */
#ifndef POSTERN_SASL_EXCHANGE_H
#define POSTERN_SASL_EXCHANGE_H

#include <stddef.h>

#include "sasl/mech.h"

#define SASL_USER_MAX 255 /* authcid / authzid octets */
#define SASL_PASS_MAX                                                          \
	255 /* password octets (RFC 4616 limit, applied to LOGIN too) */
#define SASL_STEPS_MAX 10 /* round trips per exchange */

enum sasl_pending_kind {
	SASL_PENDING_NONE,
	SASL_PENDING_VERIFY, /* verify x->password for x->authcid */
	SASL_PENDING_CREDENTIALS, /* fetch credentials of x->pending_scheme for x->authcid */
	SASL_PENDING_TOKEN, /* validate the bearer token in x->password (OAUTHBEARER, XOAUTH2) */
	SASL_PENDING_CERT, /* map x->conn.cert_identity to a login (EXTERNAL); x->authzid selects */
};

/* What the worker reports about the connection. Nothing secret. */
struct sasl_conn_info {
	int tls;                     /* 1 when the session is under TLS */
	char tls_version[16];        /* "TLSv1.3" */
	unsigned char cb_unique[64]; /* tls-unique (TLS 1.2) */
	size_t cb_unique_len;
	unsigned char cb_exporter[32]; /* tls-exporter (RFC 9266) */
	size_t cb_exporter_len;
	char cert_identity
	    [256]; /* verified client certificate identity, "" if none */
	char client_addr[64];
	int plus_advertised; /* a -PLUS mechanism was offered to this client */
};

struct sasl_exchange {
	const struct sasl_mech *mech;
	void *state; /* mech->state_size bytes */
	struct sasl_conn_info conn;
	int allow_authzid;

	char authcid[SASL_USER_MAX + 1];
	char authzid[SASL_USER_MAX + 1];
	char user[SASL_USER_MAX + 1]; /* canonical login after OK */

	enum sasl_pending_kind pending;
	struct secret *password; /* for SASL_PENDING_VERIFY; wiped after use */
	const char *pending_scheme;

	enum sasl_error error;
	const char *
	    reason; /* static detail for the audit log (SCRAM e= value), or NULL */
	int steps;    /* round trips so far (capped) */
	int finished; /* OK/FAIL/TEMPFAIL returned: no more steps */
};

/* sasl_exchange_new - a fresh exchange for mech; NULL on allocation failure. */
struct sasl_exchange *sasl_exchange_new(const struct sasl_mech *mech,
    const struct sasl_conn_info *conn, int allow_authzid);

/* sasl_exchange_free - wipe state and password, free. NULL ignored. */
void sasl_exchange_free(struct sasl_exchange *x);

/* sasl_exchange_step - run mech->step; caps the number of round trips. */
enum sasl_status sasl_exchange_step(
    struct sasl_exchange *x, const struct bytes *in, struct buf *out);

/* sasl_exchange_resume - run mech->resume with the passdb answer; clears pending and the password. */
enum sasl_status sasl_exchange_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out);

/* sasl_x_set_authcid - validate (UTF-8, no NUL/control, <= 255) and store; 0 or -1 (error set to MALFORMED). */
int sasl_x_set_authcid(struct sasl_exchange *x, const char *user, size_t len);

/* sasl_x_set_authzid - same for the authorization identity; empty means "same as authcid". */
int sasl_x_set_authzid(struct sasl_exchange *x, const char *user, size_t len);

/* sasl_x_verify_password - ask for a password check; the mechanism then returns SASL_PENDING. -1 on ENOMEM. */
int sasl_x_verify_password(struct sasl_exchange *x, const void *pw, size_t len);

/* sasl_x_lookup_credentials - ask for stored credentials of scheme; the mechanism then returns SASL_PENDING. */
void sasl_x_lookup_credentials(struct sasl_exchange *x, const char *scheme);

/*
 * sasl_x_validate_token - ask the auth service to validate a bearer token
 * (kept like a password: in x->password, wiped after use). The answer's
 * user is the token's login; the mechanism then returns SASL_PENDING.
 * -1 on ENOMEM.
 */
int sasl_x_validate_token(struct sasl_exchange *x, const void *tok, size_t len);

/* sasl_x_map_certificate - ask for the login the client certificate maps to; then SASL_PENDING. */
void sasl_x_map_certificate(struct sasl_exchange *x);

/* sasl_x_fail - set x->error and return SASL_FAIL (for "return sasl_x_fail(x, ...)"). */
enum sasl_status sasl_x_fail(struct sasl_exchange *x, enum sasl_error e);

/*
 * sasl_x_finish_identity - after the passdb said OK for authcid (canonical
 * name canon): apply the authzid rule and set x->user. SASL_OK or SASL_FAIL.
 */
enum sasl_status sasl_x_finish_identity(
    struct sasl_exchange *x, const char *canon);

/*
 * sasl_x_verify_result - the common resume() of password mechanisms (PLAIN,
 * LOGIN): map a passdb answer to SASL_OK / SASL_FAIL / SASL_TEMPFAIL,
 * applying the authzid rule and CRED_MUST_CHANGE.
 */
enum sasl_status sasl_x_verify_result(
    struct sasl_exchange *x, const struct cred_result *r);

#endif
