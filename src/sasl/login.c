/*
 * login.c - LOGIN (draft-murchison-sasl-login-00), server and client sides.
 * The server sends "Username:" and "Password:" (raw bytes; the SMTP layer
 * base64-encodes them). A client's initial response is the user name.
 */
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"

#define LOGIN_USER_PROMPT "Username:"
#define LOGIN_PASS_PROMPT "Password:"

enum login_phase {
	LOGIN_START,
	LOGIN_WANT_USER, /* "Username:" sent */
	LOGIN_WANT_PASS, /* "Password:" sent */
	LOGIN_DONE,
};

struct login_state {
	enum login_phase phase;
};

struct login_client_state {
	int sent_user;
	int sent_pass;
};

/* login_user - take the user name and ask for the password. */
static enum sasl_status
login_user(struct sasl_exchange *x, struct login_state *st,
    const struct bytes *in, struct buf *out)
{
	if (in == NULL || in->len == 0 ||
	    memchr(in->data, '\0', in->len) != NULL ||
	    sasl_x_set_authcid(x, (const char *)in->data, in->len) < 0)
		return sasl_x_fail(x, SASL_ERR_MALFORMED);
	if (buf_appends(out, LOGIN_PASS_PROMPT) < 0)
		return sasl_x_fail(x, SASL_ERR_TEMP);
	st->phase = LOGIN_WANT_PASS;
	return SASL_CONTINUE;
}

static enum sasl_status
login_step(struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct login_state *st = x->state;

	switch (st->phase) {
	case LOGIN_START:
		if (in != NULL)
			return login_user(x, st, in, out);
		if (buf_appends(out, LOGIN_USER_PROMPT) < 0)
			return sasl_x_fail(x, SASL_ERR_TEMP);
		st->phase = LOGIN_WANT_USER;
		return SASL_CONTINUE;
	case LOGIN_WANT_USER:
		return login_user(x, st, in, out);
	case LOGIN_WANT_PASS:
		st->phase = LOGIN_DONE;
		if (in == NULL || in->len == 0 || in->len > SASL_PASS_MAX ||
		    memchr(in->data, '\0', in->len) != NULL)
			return sasl_x_fail(x, SASL_ERR_MALFORMED);
		if (sasl_x_verify_password(x, in->data, in->len) < 0)
			return SASL_TEMPFAIL;
		return SASL_PENDING;
	case LOGIN_DONE:
		break;
	}
	return sasl_x_fail(x, SASL_ERR_MALFORMED);
}

static enum sasl_status
login_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	(void)out;
	return sasl_x_verify_result(x, r);
}

/* prompt_is - challenge starts with word (case-insensitive). */
static int
prompt_is(const struct bytes *ch, const char *word)
{
	size_t n = strlen(word);

	return ch != NULL && ch->len >= n &&
	    strncasecmp((const char *)ch->data, word, n) == 0;
}

/*
 * login_client_step - the user name as initial response (challenge NULL) or
 * on "Username:", the password on "Password:". Unrecognized prompts are
 * answered in order: user name first, then password.
 */
static enum sasl_status
login_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	struct login_client_state *st = c->state;
	size_t clen = c->authcid != NULL ? strlen(c->authcid) : 0;
	int want_pass;

	if (clen == 0 || clen > SASL_USER_MAX || c->password == NULL ||
	    c->password->len == 0 || c->password->len > SASL_PASS_MAX ||
	    memchr(c->password->data, '\0', c->password->len) != NULL)
		return SASL_FAIL;
	if (challenge == NULL)
		want_pass = 0;
	else if (prompt_is(challenge, "User"))
		want_pass = 0;
	else if (prompt_is(challenge, "Pass"))
		want_pass = 1;
	else
		want_pass = st->sent_user;

	if (!want_pass) {
		if (st->sent_user)
			return SASL_FAIL;
		st->sent_user = 1;
		if (buf_append(response, c->authcid, clen) < 0)
			return SASL_FAIL;
		return SASL_CONTINUE;
	}
	if (st->sent_pass)
		return SASL_FAIL;
	st->sent_pass = 1;
	if (buf_append(response, c->password->data, c->password->len) < 0) {
		buf_reset(response);
		return SASL_FAIL;
	}
	return SASL_CONTINUE;
}

const struct sasl_mech sasl_mech_login = {
    .name = "LOGIN",
    /* Clients may send the user name as an initial response. */
    .flags = SASL_F_PLAINTEXT | SASL_F_CLIENT_FIRST,
    .need = SASL_NEED_VERIFY,
    .scheme = NULL,
    .state_size = sizeof(struct login_state),
    .step = login_step,
    .resume = login_resume,
    .client_state_size = sizeof(struct login_client_state),
    .client_step = login_client_step,
};
