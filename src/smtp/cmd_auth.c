/*
 * cmd_auth.c - AUTH (RFC 4954 §4): checks the command may run, decodes the
 * base64 of each client line, relays the exchange to the auth service and
 * turns its verdicts into replies. The worker never sees stored
 * credentials; it sees only what the client sends.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/mech.h"
#include "smtp/session.h"

#define AUTH_DECODED_MAX (SMTP_AUTH_LINE_MAX / 4 * 3 + 3)

static const struct smtp_mech_offer *
offer_find(const struct smtp_session *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nmechs; i++)
		if (str_ieq(s->mechs[i].name, name))
			return &s->mechs[i];
	return NULL;
}

static uint64_t
next_xid(struct smtp_session *s)
{
	s->xid_seq++;
	return (s->id << 16) | (s->xid_seq & 0xffff);
}

/* decode - base64 of a client line; "=" alone is the empty response (§4). */
static long
decode(const char *p, size_t n, unsigned char *out, size_t outsize)
{
	if (n == 1 && p[0] == '=')
		return 0;
	if (n == 0)
		return 0;
	return base64_decode(p, n, out, outsize);
}

void
smtp_cmd_auth(struct smtp_session *s, const char *args)
{
	char mech[64];
	const char *sp, *ir = NULL;
	size_t mlen;
	const struct smtp_mech_offer *m;
	unsigned char *dec = NULL;
	long declen = 0;
	int needs_tls;

	if (s->listener->auth == LISTENER_AUTH_OFF) {
		smtp_reply_error(
		    s, 503, "5.5.1", "Error: authentication not enabled");
		return;
	}
	if (s->authenticated) {
		smtp_reply_error(
		    s, 503, "5.5.1", "Error: already authenticated");
		return;
	}
	if (!s->esmtp) {
		smtp_reply_error(s, 503, "5.5.1", "Error: send EHLO first");
		return;
	}
	sp = strchr(args, ' ');
	mlen = sp ? (size_t)(sp - args) : strlen(args);
	if (mlen == 0 || mlen >= sizeof(mech)) {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: AUTH mechanism");
		return;
	}
	memcpy(mech, args, mlen);
	mech[mlen] = '\0';
	if (sp != NULL) {
		ir = sp + 1;
		if (ir[0] == '\0' || strchr(ir, ' ') != NULL) {
			smtp_reply_error(s, 501, "5.5.4",
			    "Syntax: AUTH mechanism [initial-response]");
			return;
		}
	}
	m = offer_find(s, mech);
	if (m == NULL || !smtp_mech_usable(s, mech, &needs_tls)) {
		if (m != NULL && needs_tls) {
			log_info("session=%s event=auth result=refused "
			         "reason=encryption-required mech=%s",
			    s->idstr, m->name);
			smtp_reply_error(s, 538, "5.7.11",
			    "Encryption required for requested authentication "
			    "mechanism");
			return;
		}
		smtp_reply_error(
		    s, 504, "5.5.4", "Unrecognized authentication mechanism");
		return;
	}
	if (ir != NULL) {
		if (!(m->flags & SASL_F_CLIENT_FIRST)) {
			/* RFC 4954 §4: initial response to a server-first mechanism. */
			smtp_reply_error(s, 501, "5.7.0",
			    "Error: initial response not allowed for %s",
			    m->name);
			return;
		}
		dec = malloc(AUTH_DECODED_MAX);
		if (dec == NULL) {
			smtp_reply(s, 454, "4.7.0",
			    "Temporary authentication failure");
			return;
		}
		declen = decode(ir, strlen(ir), dec, AUTH_DECODED_MAX);
		if (declen < 0) {
			free(dec);
			smtp_reply_error(
			    s, 501, "5.5.2", "Error: invalid base64 data");
			return;
		}
	}
	str_copy(s->auth_mech, m->name, sizeof(s->auth_mech));
	s->auth_xid = next_xid(s);
	s->wait = SMTP_WAIT_AUTH;
	smtp_enter_state(s, SMTP_STATE_AUTH);
	s->ops->auth_start(
	    s->ops_arg, s->auth_xid, m->name, dec, (size_t)declen, ir != NULL);
	if (dec != NULL) {
		secret_wipe(dec, AUTH_DECODED_MAX);
		free(dec);
	}
}

void
smtp_auth_response(struct smtp_session *s, const char *line, size_t len)
{
	unsigned char *dec;
	long declen;

	if (len == 1 && line[0] == '*') {
		s->ops->auth_cancel(s->ops_arg, s->auth_xid);
		smtp_enter_state(s, SMTP_STATE_HELO);
		log_info("session=%s event=auth result=cancelled mech=%s",
		    s->idstr, s->auth_mech);
		smtp_reply_error(s, 501, "5.7.0", "Authentication aborted");
		return;
	}
	dec = malloc(AUTH_DECODED_MAX);
	if (dec == NULL) {
		s->ops->auth_cancel(s->ops_arg, s->auth_xid);
		smtp_enter_state(s, SMTP_STATE_HELO);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	declen =
	    (len == 0) ? 0 : base64_decode(line, len, dec, AUTH_DECODED_MAX);
	if (declen < 0) {
		free(dec);
		s->ops->auth_cancel(s->ops_arg, s->auth_xid);
		smtp_enter_state(s, SMTP_STATE_HELO);
		smtp_reply_error(s, 501, "5.5.2", "Error: invalid base64 data");
		return;
	}
	s->wait = SMTP_WAIT_AUTH;
	s->ops->auth_step(s->ops_arg, s->auth_xid, dec, (size_t)declen);
	secret_wipe(dec, AUTH_DECODED_MAX);
	free(dec);
}

static void
challenge(struct smtp_session *s, const unsigned char *data, size_t len)
{
	char *enc;
	size_t need = base64_encoded_size(len);

	enc = malloc(need);
	if (enc == NULL || base64_encode(data, len, enc, need) < 0) {
		free(enc);
		s->ops->auth_cancel(s->ops_arg, s->auth_xid);
		smtp_enter_state(s, SMTP_STATE_HELO);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	/* 334 carries no enhanced status code (RFC 4954 §4). */
	smtp_reply(s, 334, NULL, "%s", enc);
	free(enc);
}

int
smtp_session_auth_done(struct smtp_session *s, uint64_t xid,
    enum proto_verdict v, const unsigned char *data, size_t len,
    const char *user)
{
	char uq[300];

	if (s->wait != SMTP_WAIT_AUTH || s->auth_xid != xid ||
	    s->state != SMTP_STATE_AUTH)
		return 0;
	s->wait = SMTP_WAIT_NONE;
	switch (v) {
	case PROTO_V_CONTINUE:
		challenge(s, data, len);
		return 1;
	case PROTO_V_OK:
		if (len > 0) {
			/* Final server data (SCRAM v=): 334, then the client's
			 * empty line; the auth service answers OK again. */
			challenge(s, data, len);
			return 1;
		}
		s->authenticated = 1;
		str_copy(s->login, user, sizeof(s->login));
		smtp_enter_state(s, SMTP_STATE_HELO);
		log_info("session=%s event=auth result=ok mech=%s login=%s "
		         "client=%s tls=%s",
		    s->idstr, s->auth_mech,
		    log_q(uq, sizeof(uq), s->login, (size_t)-1), s->client_addr,
		    s->tls ? s->tls_version : "no");
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		return 1;
	default:
		break;
	}
	smtp_enter_state(s, SMTP_STATE_HELO);
	s->auth_failures++;
	switch (v) {
	case PROTO_V_TEMPFAIL:
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		break;
	case PROTO_V_BANNED:
		/* the guard banned this address after too many failures */
		smtp_reply_error(s, 454, "4.7.0",
		    "Too many failed authentications from your address, try "
		    "again later");
		break;
	case PROTO_V_MALFORMED:
		smtp_reply_error(
		    s, 501, "5.5.2", "Error: malformed authentication data");
		break;
	case PROTO_V_NOMECH:
		smtp_reply_error(
		    s, 504, "5.5.4", "Unrecognized authentication mechanism");
		break;
	case PROTO_V_MUST_CHANGE:
		smtp_reply_error(
		    s, 432, "4.7.12", "A password transition is needed");
		break;
	case PROTO_V_NO_SCHEME:
		smtp_reply_error(
		    s, 534, "5.7.9", "Authentication mechanism is too weak");
		break;
	case PROTO_V_FAIL:
	default:
		smtp_reply_error(s, 535, "5.7.8",
		    "Error: authentication credentials invalid");
		break;
	}
	return s->state != SMTP_STATE_CLOSING;
}
