/*
 * exchange.c - one server-side SASL exchange (RFC 4422 §3): mechanism state,
 * identities, the pending passdb request and the round-trip cap.
 * Base64 and the SMTP framing ("334", "*") belong to the SMTP layer; this
 * file sees decoded bytes only. It never stores anything.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/passdb.h"
#include "core/buf.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/exchange.h"

struct sasl_exchange *
sasl_exchange_new(const struct sasl_mech *mech,
    const struct sasl_conn_info *conn, int allow_authzid)
{
	struct sasl_exchange *x;

	if (mech == NULL)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->mech = mech;
	if (mech->state_size > 0) {
		x->state = calloc(1, mech->state_size);
		if (x->state == NULL) {
			free(x);
			return NULL;
		}
	}
	if (conn != NULL)
		x->conn = *conn;
	x->allow_authzid = allow_authzid;
	x->pending = SASL_PENDING_NONE;
	x->error = SASL_ERR_NONE;
	return x;
}

void
sasl_exchange_free(struct sasl_exchange *x)
{
	if (x == NULL)
		return;
	if (x->state != NULL) {
		secret_wipe(x->state, x->mech->state_size);
		free(x->state);
	}
	secret_free(x->password);
	secret_wipe(x, sizeof(*x));
	free(x);
}

/* x_end - record that the exchange is over when st is final. */
static enum sasl_status
x_end(struct sasl_exchange *x, enum sasl_status st)
{
	switch (st) {
	case SASL_OK:
		x->finished = 1;
		break;
	case SASL_FAIL:
		if (x->error == SASL_ERR_NONE)
			x->error = SASL_ERR_MALFORMED;
		x->finished = 1;
		break;
	case SASL_TEMPFAIL:
		if (x->error == SASL_ERR_NONE)
			x->error = SASL_ERR_TEMP;
		x->finished = 1;
		break;
	case SASL_CONTINUE:
	case SASL_PENDING:
		break;
	}
	if (x->finished) {
		x->pending = SASL_PENDING_NONE;
		secret_free(x->password);
		x->password = NULL;
	}
	return st;
}

enum sasl_status
sasl_exchange_step(
    struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	enum sasl_status st;

	buf_reset(out);
	if (x->finished || x->pending != SASL_PENDING_NONE)
		return x_end(x, sasl_x_fail(x, SASL_ERR_MALFORMED));
	if (x->steps >= SASL_STEPS_MAX)
		return x_end(x, sasl_x_fail(x, SASL_ERR_MALFORMED));
	x->steps++;

	st = x->mech->step(x, in, out);
	if (st == SASL_PENDING && x->pending == SASL_PENDING_NONE) {
		/* a mechanism bug: pending without a request */
		return x_end(x, sasl_x_fail(x, SASL_ERR_TEMP));
	}
	if (st != SASL_PENDING && x->pending != SASL_PENDING_NONE) {
		x->pending = SASL_PENDING_NONE;
		secret_free(x->password);
		x->password = NULL;
	}
	return x_end(x, st);
}

enum sasl_status
sasl_exchange_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	enum sasl_status st;

	buf_reset(out);
	if (x->finished || x->pending == SASL_PENDING_NONE)
		return x_end(x, sasl_x_fail(x, SASL_ERR_MALFORMED));
	if (r == NULL) {
		x->error = SASL_ERR_TEMP;
		return x_end(x, SASL_TEMPFAIL);
	}
	x->pending = SASL_PENDING_NONE;
	x->pending_scheme = NULL;
	secret_free(x->password);
	x->password = NULL;

	st = x->mech->resume(x, r, out);
	if (st == SASL_PENDING && x->pending == SASL_PENDING_NONE)
		return x_end(x, sasl_x_fail(x, SASL_ERR_TEMP));
	return x_end(x, st);
}

/* valid_identity - UTF-8, no NUL, no control characters, <= SASL_USER_MAX. */
static int
valid_identity(const char *s, size_t len)
{
	size_t i;

	if (len > SASL_USER_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return str_valid_utf8(s, len);
}

int
sasl_x_set_authcid(struct sasl_exchange *x, const char *user, size_t len)
{
	if (user == NULL || len == 0 || !valid_identity(user, len)) {
		x->error = SASL_ERR_MALFORMED;
		return -1;
	}
	memcpy(x->authcid, user, len);
	x->authcid[len] = '\0';
	return 0;
}

int
sasl_x_set_authzid(struct sasl_exchange *x, const char *user, size_t len)
{
	if (len > 0 && (user == NULL || !valid_identity(user, len))) {
		x->error = SASL_ERR_MALFORMED;
		return -1;
	}
	if (len > 0)
		memcpy(x->authzid, user, len);
	x->authzid[len] = '\0';
	return 0;
}

int
sasl_x_verify_password(struct sasl_exchange *x, const void *pw, size_t len)
{
	secret_free(x->password);
	x->password = secret_new(pw, len);
	if (x->password == NULL) {
		x->error = SASL_ERR_TEMP;
		return -1;
	}
	x->pending = SASL_PENDING_VERIFY;
	x->pending_scheme = NULL;
	return 0;
}

void
sasl_x_lookup_credentials(struct sasl_exchange *x, const char *scheme)
{
	x->pending = SASL_PENDING_CREDENTIALS;
	x->pending_scheme = scheme;
}

/* ---- bearer tokens and client certificates (OAUTHBEARER, XOAUTH2, EXTERNAL) ---- */

int
sasl_x_validate_token(struct sasl_exchange *x, const void *tok, size_t len)
{
	secret_free(x->password);
	x->password = secret_new(tok, len);
	if (x->password == NULL) {
		x->error = SASL_ERR_TEMP;
		return -1;
	}
	x->pending = SASL_PENDING_TOKEN;
	x->pending_scheme = NULL;
	return 0;
}

void
sasl_x_map_certificate(struct sasl_exchange *x)
{
	x->pending = SASL_PENDING_CERT;
	x->pending_scheme = NULL;
}

enum sasl_status
sasl_x_fail(struct sasl_exchange *x, enum sasl_error e)
{
	x->error = e;
	return SASL_FAIL;
}

/*
 * sasl_x_finish_identity - RFC 4422 §3.4.1: an empty authzid, or one equal
 * to the authentication identity, means "act as myself". Anything else is
 * a request to act as someone else and needs allow_authzid.
 */
enum sasl_status
sasl_x_finish_identity(struct sasl_exchange *x, const char *canon)
{
	const char *self =
	    canon != NULL && canon[0] != '\0' ? canon : x->authcid;

	if (self[0] == '\0')
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	if (x->authzid[0] != '\0' && !str_ieq(x->authzid, x->authcid) &&
	    !str_ieq(x->authzid, self) && !x->allow_authzid) {
		x->user[0] = '\0';
		return sasl_x_fail(x, SASL_ERR_AUTHZ);
	}
	if (x->authzid[0] != '\0' && !str_ieq(x->authzid, x->authcid) &&
	    !str_ieq(x->authzid, self))
		(void)str_copy(x->user, x->authzid, sizeof(x->user));
	else
		(void)str_copy(x->user, self, sizeof(x->user));
	return SASL_OK;
}

enum sasl_status
sasl_x_verify_result(struct sasl_exchange *x, const struct cred_result *r)
{
	enum sasl_status st;

	switch (r->status) {
	case PASSDB_OK:
		st = sasl_x_finish_identity(x, r->user);
		if (st != SASL_OK)
			return st;
		if (r->flags & CRED_MUST_CHANGE) {
			x->user[0] = '\0';
			return sasl_x_fail(x, SASL_ERR_MUST_CHANGE);
		}
		return SASL_OK;
	case PASSDB_MISMATCH:
	case PASSDB_NO_USER:
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	case PASSDB_DISABLED:
		return sasl_x_fail(x, SASL_ERR_DISABLED);
	case PASSDB_NO_SCHEME:
	case PASSDB_TEMPFAIL:
		break;
	}
	x->error = SASL_ERR_TEMP;
	return SASL_TEMPFAIL;
}
