/*
 * received.c - the Received: trace field (RFC 5321 §4.4) with the RFC 3848
 * protocol keywords (ESMTP, ESMTPA, ESMTPS, ESMTPSA; UTF8SMTP* for SMTPUTF8
 * sessions, RFC 6531 §3.7.3), the TLS parameters and the login.
 */
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "smtp/session.h"

/* safe_token - c is allowed in a domain-ish trace token. */
static int
safe_token(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		        c == '_' || c == ':' || c == '[' || c == ']'))
			return 0;
	}
	return 1;
}

/* comment_escape - s as RFC 5322 comment content: quote '(', ')', '\'. */
static int
comment_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '(' || *s == ')' || *s == '\\')
			if (buf_append(out, "\\", 1) == -1)
				return -1;
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			continue;
		if (buf_append(out, s, 1) == -1)
			return -1;
	}
	return 0;
}

static const char *
protocol(const struct smtp_session *s, const struct smtp_tx *tx)
{
	static const char *const names[2][2][2] = {
	    /* [utf8][tls][auth] */
	    {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
	    {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
	};

	if (!s->esmtp && !s->tls && !s->authenticated)
		return "SMTP";
	return names[tx->mail.smtputf8 ? 1 : 0][s->tls ? 1 : 0]
	            [s->authenticated ? 1 : 0];
}

int
smtp_received_header(
    const struct smtp_session *s, const struct smtp_tx *tx, struct buf *out)
{
	char date[64], to[ADDR_PATH_MAX + 1];
	struct tm tm;
	time_t now = time(NULL);
	int r = 0;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		return -1;
	if (s->authenticated && s->cfg->privacy)
		/* [policy] privacy: neither the address nor the HELO name
		 * of an authenticated submitter leaves the server */
		r |= buf_appends(
		    out, "Received: from unknown (authenticated)\r\n");
	else
		r |= buf_printf(out, "Received: from %s ([%s])\r\n",
		    safe_token(s->helo) ? s->helo : "unknown", s->client_addr);
	if (s->tls)
		r |=
		    buf_printf(out, "\t(using %s with cipher %s (%d bits))\r\n",
		        s->tls_version, s->tls_cipher, s->tls_bits);
	if (s->authenticated) {
		r |= buf_appends(out, "\t(authenticated as ");
		r |= comment_escape(out, s->login);
		r |= buf_appends(out, ")\r\n");
	}
	r |= buf_printf(out, "\tby %s (Postern) with %s id %s",
	    s->cfg->hostname, protocol(s, tx), tx->id);
	if (tx->nrcpts == 1 &&
	    addr_format(&tx->rcpts[0].addr, to, sizeof(to)) > 0)
		r |= buf_printf(out, "\r\n\tfor <%s>", to);
	r |= buf_printf(out, "; %s\r\n", date);
	return r == 0 ? 0 : -1;
}
