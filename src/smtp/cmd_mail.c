/*
 * cmd_mail.c - MAIL and RCPT (RFC 5321 §4.1.1.2-3) with their ESMTP
 * parameters, relay control (only local domains without AUTH) and the
 * recipient lookup through the auth service, which owns the user list.
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "deliver/maildir.h"
#include "policy/relay.h"
#include "smtp/session.h"

static void
mail_arg_error(struct smtp_session *s, enum smtp_arg_error e)
{
	switch (e) {
	case SMTP_ARG_BAD_ADDRESS:
		smtp_reply_error(
		    s, 501, "5.1.7", "Error: bad sender address syntax");
		break;
	case SMTP_ARG_UNKNOWN_PARAM:
		smtp_reply_error(
		    s, 555, "5.5.4", "Error: unsupported MAIL parameter");
		break;
	case SMTP_ARG_BAD_PARAM:
		smtp_reply_error(s, 501, "5.5.4", "Error: bad MAIL parameter");
		break;
	case SMTP_ARG_TOO_BIG:
		smtp_reply_error(
		    s, 552, "5.3.4", "Error: message size exceeds fixed limit");
		break;
	case SMTP_ARG_SYNTAX:
	default:
		smtp_reply_error(
		    s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		break;
	}
}

void
smtp_cmd_mail(struct smtp_session *s, const char *args, size_t len)
{
	struct smtp_tx *tx;
	enum smtp_arg_error e;
	char fq[ADDR_PATH_MAX * 2], from[ADDR_PATH_MAX + 1];

	if (s->tx != NULL) {
		smtp_reply_error(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (s->listener->auth == LISTENER_AUTH_REQUIRED && !s->authenticated) {
		smtp_reply_error(s, 530, "5.7.0", "Authentication required");
		return;
	}
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL) {
		smtp_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	tx->body_fd = -1;
	e = smtp_parse_mail(args, len, s->cfg->max_message_size, &tx->mail);
	if (e != SMTP_ARG_OK) {
		free(tx);
		mail_arg_error(s, e);
		return;
	}
	/* RFC 1870 §6.1: refuse what we could not keep, before the body. */
	if (!s->ops->space_ok(s->ops_arg, tx->mail.size)) {
		free(tx);
		log_warn(
		    "session=%s event=refused reason=spool-full", s->idstr);
		smtp_reply(
		    s, 452, "4.3.1", "Error: insufficient system storage");
		return;
	}
	/* RFC 4954 §5: AUTH= from a session we do not trust becomes <>;
	 * an authenticated session vouches for its own login only. */
	if (tx->mail.has_auth)
		str_copy(tx->mail.auth, s->authenticated ? s->login : "<>",
		    sizeof(tx->mail.auth));
	tx->rcpt_budget = UINT32_MAX;
	s->tx = tx;
	smtp_enter_state(s, SMTP_STATE_MAIL);
	if (addr_format(&tx->mail.from, from, sizeof(from)) < 0)
		from[0] = '\0';
	log_debug("session=%s event=mail from=%s", s->idstr,
	    log_q(fq, sizeof(fq), from, (size_t)-1));
	if (s->authenticated && s->ops->mail_check != NULL) {
		/* sender ownership and rate limits: the auth service knows
		 * the login's addresses and counts (smtp_session_mail_done) */
		s->auth_xid = (s->id << 16) | (++s->xid_seq & 0xffff);
		s->wait = SMTP_WAIT_POLICY;
		s->ops->mail_check(s->ops_arg, s->auth_xid, tx);
		return;
	}
	smtp_reply(s, 250, "2.1.0", "Ok");
}

/* policy_text - the auth service's reply text, or dflt; control characters dropped. */
static const char *
policy_text(const char *text, const char *dflt, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (text == NULL || text[0] == '\0')
		return dflt;
	for (i = 0; text[i] != '\0' && o + 1 < outlen; i++)
		if ((unsigned char)text[i] >= 0x20 && text[i] != 0x7f)
			out[o++] = text[i];
	out[o] = '\0';
	return out;
}

int
smtp_session_mail_done(struct smtp_session *s, uint64_t xid,
    enum proto_policy v, uint32_t rcpt_budget, const char *text)
{
	char t[256];

	if (s->wait != SMTP_WAIT_POLICY || s->auth_xid != xid ||
	    s->tx == NULL || s->state != SMTP_STATE_MAIL)
		return 0;
	s->wait = SMTP_WAIT_NONE;
	switch (v) {
	case PROTO_P_OK:
	case PROTO_P_HOLD:
		/* a contained login is not told: its mail waits on hold */
		s->tx->held = v == PROTO_P_HOLD;
		s->tx->rcpt_budget = rcpt_budget;
		smtp_reply(s, 250, "2.1.0", "Ok");
		return 1;
	default:
		break;
	}
	smtp_tx_free(s);
	smtp_enter_state(s, SMTP_STATE_HELO);
	switch (v) {
	case PROTO_P_REFUSE:
		smtp_reply_error(s, 553, "5.7.1", "%s",
		    policy_text(text,
		        "Sender address not owned by the "
		        "authenticated user",
		        t, sizeof(t)));
		break;
	case PROTO_P_LIMIT:
		smtp_reply(s, 452, "4.7.1", "%s",
		    policy_text(text, "Sending limit reached, try again later",
		        t, sizeof(t)));
		break;
	default:
		smtp_reply(s, 451, "4.7.1", "%s",
		    policy_text(text,
		        "Sender check unavailable, try again "
		        "later",
		        t, sizeof(t)));
		break;
	}
	return s->state != SMTP_STATE_CLOSING;
}

static void
rcpt_arg_error(struct smtp_session *s, enum smtp_arg_error e)
{
	switch (e) {
	case SMTP_ARG_BAD_ADDRESS:
		smtp_reply_error(
		    s, 501, "5.1.3", "Error: bad recipient address syntax");
		break;
	case SMTP_ARG_UNKNOWN_PARAM:
		smtp_reply_error(
		    s, 555, "5.5.4", "Error: unsupported RCPT parameter");
		break;
	case SMTP_ARG_BAD_PARAM:
		smtp_reply_error(s, 501, "5.5.4", "Error: bad RCPT parameter");
		break;
	default:
		smtp_reply_error(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		break;
	}
}

static int add_rcpt(struct smtp_tx *tx, const struct smtp_rcpt *r);

void
smtp_cmd_rcpt(struct smtp_session *s, const char *args, size_t len)
{
	struct smtp_rcpt_args ra;
	enum smtp_arg_error e;
	char address[ADDR_PATH_MAX + 1];

	if (s->tx == NULL) {
		smtp_reply_error(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	e = smtp_parse_rcpt(args, len, s->tx->mail.smtputf8, &ra);
	if (e != SMTP_ARG_OK) {
		rcpt_arg_error(s, e);
		return;
	}
	if (s->tx->nrcpts >= s->cfg->max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	if (s->tx->nrcpts >= s->tx->rcpt_budget) {
		char lq[300];

		log_info("session=%s event=rcpt result=limit "
		         "reason=recipients-per-day login=%s",
		    s->idstr, log_q(lq, sizeof(lq), s->login, (size_t)-1));
		smtp_reply(s, 452, "4.7.1",
		    "Error: recipient limit for this period reached, try "
		    "again later");
		return;
	}
	if (ra.to.domain[0] == '\0') {
		/* "<Postmaster>" (RFC 5321 §4.1.1.3): our postmaster. */
		str_copy(ra.to.domain,
		    s->cfg->nlocal_domains > 0 ? s->cfg->local_domains[0]
		                               : s->cfg->hostname,
		    sizeof(ra.to.domain));
	}
	str_lower(ra.to.domain);
	if (addr_format(&ra.to, address, sizeof(address)) < 0) {
		smtp_reply_error(
		    s, 501, "5.1.3", "Error: bad recipient address syntax");
		return;
	}
	if (!config_is_local_domain(s->cfg, ra.to.domain)) {
		struct smtp_rcpt r;

		if (!relay_allowed(s->authenticated, s->cfg->trusted_networks,
		        s->client_addr)) {
			log_info("session=%s event=rcpt result=relay-denied "
			         "client=%s",
			    s->idstr, s->client_addr);
			smtp_reply_error(
			    s, 554, "5.7.1", "Error: relay access denied");
			return;
		}
		/* Authenticated: relay; the queue routes it. */
		memset(&r, 0, sizeof(r));
		r.addr = ra.to;
		str_copy(r.mailbox, address, sizeof(r.mailbox));
		if (add_rcpt(s->tx, &r) == -1) {
			smtp_reply(s, 452, "4.3.1", "Error: out of memory");
			return;
		}
		smtp_enter_state(s, SMTP_STATE_RCPT);
		smtp_reply(s, 250, "2.1.5", "Ok");
		return;
	}
	memset(&s->pending_rcpt, 0, sizeof(s->pending_rcpt));
	s->pending_rcpt.addr = ra.to;
	s->auth_xid = (s->id << 16) | (++s->xid_seq & 0xffff);
	s->wait = SMTP_WAIT_RCPT;
	s->ops->rcpt_lookup(s->ops_arg, s->auth_xid, address);
}

/* add_rcpt - append r unless the same mailbox is already there; 0 or -1. */
static int
add_rcpt(struct smtp_tx *tx, const struct smtp_rcpt *r)
{
	size_t i;

	for (i = 0; i < tx->nrcpts; i++)
		if (str_ieq(tx->rcpts[i].mailbox, r->mailbox))
			return 0;
	if (tx->nrcpts == tx->rcpt_cap) {
		size_t cap = tx->rcpt_cap ? tx->rcpt_cap * 2 : 4;
		struct smtp_rcpt *v = reallocarray(tx->rcpts, cap, sizeof(*v));

		if (v == NULL)
			return -1;
		tx->rcpts = v;
		tx->rcpt_cap = cap;
	}
	tx->rcpts[tx->nrcpts++] = *r;
	return 0;
}

int
smtp_session_rcpt_done(struct smtp_session *s, uint64_t xid,
    enum proto_rcpt status, const char *mailbox)
{
	struct smtp_rcpt *r = &s->pending_rcpt;
	struct mailaddr box;
	char aq[ADDR_PATH_MAX * 2], address[ADDR_PATH_MAX + 1];
	char path[4096];

	if (s->wait != SMTP_WAIT_RCPT || s->auth_xid != xid || s->tx == NULL)
		return 0;
	s->wait = SMTP_WAIT_NONE;
	if (addr_format(&r->addr, address, sizeof(address)) < 0)
		address[0] = '\0';
	log_q(aq, sizeof(aq), address, (size_t)-1);
	if (status == PROTO_RCPT_NOT_FOUND &&
	    str_ieq(r->addr.local, "postmaster")) {
		/* RFC 5321 §4.5.1: postmaster always exists. */
		status = PROTO_RCPT_FOUND;
		mailbox = address;
	}
	switch (status) {
	case PROTO_RCPT_FOUND:
		break;
	case PROTO_RCPT_NOT_FOUND:
		log_info("session=%s event=rcpt result=unknown-user to=%s",
		    s->idstr, aq);
		smtp_reply_error(s, 550, "5.1.1", "Error: user unknown");
		return 1;
	case PROTO_RCPT_TEMPFAIL:
	default:
		smtp_reply(s, 451, "4.3.0",
		    "Error: recipient lookup failed, "
		    "try again later");
		return 1;
	}
	str_copy(r->mailbox, mailbox, sizeof(r->mailbox));
	r->local = 1;
	/* Refuse now what local delivery could never store (no '/', "..",
	 * leading dots: the path must stay inside the mail tree). */
	if (addr_parse_mailbox(
	        r->mailbox, strlen(r->mailbox), ADDR_F_UTF8, &box) == -1 ||
	    maildir_path(s->cfg->maildir, &box, path, sizeof(path)) == -1) {
		log_warn("session=%s event=rcpt result=bad-mailbox to=%s",
		    s->idstr, aq);
		smtp_reply_error(
		    s, 553, "5.1.3", "Error: mailbox name not allowed");
		return 1;
	}
	if (add_rcpt(s->tx, r) == -1) {
		smtp_reply(s, 452, "4.3.1", "Error: out of memory");
		return 1;
	}
	smtp_enter_state(s, SMTP_STATE_RCPT);
	log_debug("session=%s event=rcpt to=%s", s->idstr, aq);
	smtp_reply(s, 250, "2.1.5", "Ok");
	return 1;
}
