/*
 * cmd_helo.c - HELO and EHLO (RFC 5321 §4.1.1.1) and the capability list:
 * PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
 * (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034), STARTTLS (RFC 3207),
 * AUTH (RFC 4954). HELO sessions get no extensions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "sasl/mech.h"
#include "smtp/session.h"

/* valid_helo - one token of printable ASCII, as clients really send it. */
static int
valid_helo(const char *a)
{
	size_t n = strlen(a);

	if (n == 0 || n > 255)
		return 0;
	if (!str_is_printable_ascii(a, n) || strchr(a, ' ') != NULL)
		return 0;
	return 1;
}

int
smtp_mech_usable(
    const struct smtp_session *s, const char *name, int *needs_tls_r)
{
	size_t i;
	const struct smtp_mech_offer *m = NULL;

	*needs_tls_r = 0;
	if (s->listener->auth == LISTENER_AUTH_OFF)
		return 0;
	for (i = 0; i < s->nmechs; i++) {
		if (str_ieq(s->mechs[i].name, name)) {
			m = &s->mechs[i];
			break;
		}
	}
	if (m == NULL)
		return 0;
	if (s->listener->mechanisms[0] != '\0') {
		/* A listener's own list narrows the [auth] list. */
		char list[sizeof(s->listener->mechanisms)];
		char *tok, *save = NULL;
		int found = 0;

		str_copy(list, s->listener->mechanisms, sizeof(list));
		for (tok = strtok_r(list, " \t,", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t,", &save))
			if (str_ieq(tok, name))
				found = 1;
		if (!found)
			return 0;
	}
	if ((m->flags & (SASL_F_CHANBIND | SASL_F_CLIENTCERT)) && !s->tls)
		return 0;
	if ((m->flags & SASL_F_CLIENTCERT) && s->cert_identity[0] == '\0')
		return 0;
	if ((m->flags & (SASL_F_PLAINTEXT | SASL_F_WEAK)) && !s->tls &&
	    !s->listener->plaintext_without_tls) {
		*needs_tls_r = 1;
		return 0;
	}
	/* Where TLS is on offer, authenticate only under it: even a
	 * mechanism that hides the password would leave the session that
	 * follows (and its mail) in clear (smtpd_tls_auth_only). */
	if (!s->tls && s->listener->tls == LISTENER_TLS_STARTTLS &&
	    !s->listener->plaintext_without_tls) {
		*needs_tls_r = 1;
		return 0;
	}
	return 1;
}

static void capability(struct smtp_session *s, struct buf *b, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
capability(struct smtp_session *s, struct buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	(void)s;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	/* "250-" now; the last line's '-' becomes ' ' before sending. */
	buf_printf(b, "250-%s\r\n", line);
}

void
smtp_cmd_helo(struct smtp_session *s, const char *args, int esmtp)
{
	struct buf b;
	char mechs[512];
	size_t i;
	int needs_tls;

	if (!valid_helo(args)) {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return;
	}
	/* RFC 5321 §4.1.4: EHLO/HELO in a transaction resets it. */
	smtp_tx_free(s);
	str_copy(s->helo, args, sizeof(s->helo));
	s->esmtp = esmtp;
	smtp_enter_state(s, SMTP_STATE_HELO);
	if (!esmtp) {
		smtp_reply(s, 250, NULL, "%s", s->cfg->hostname);
		return;
	}
	buf_init(&b, 4096);
	capability(s, &b, "%s", s->cfg->hostname);
	capability(s, &b, "PIPELINING");
	capability(s, &b, "SIZE %llu", s->cfg->max_message_size);
	if (s->listener->tls == LISTENER_TLS_STARTTLS && !s->tls)
		capability(s, &b, "STARTTLS");
	mechs[0] = '\0';
	for (i = 0; i < s->nmechs; i++) {
		if (!smtp_mech_usable(s, s->mechs[i].name, &needs_tls))
			continue;
		if (mechs[0] != '\0')
			str_append(mechs, " ", sizeof(mechs));
		str_append(mechs, s->mechs[i].name, sizeof(mechs));
	}
	if (mechs[0] != '\0' && !s->authenticated)
		capability(s, &b, "AUTH %s", mechs);
	capability(s, &b, "ENHANCEDSTATUSCODES");
	capability(s, &b, "8BITMIME");
	capability(s, &b, "SMTPUTF8");
	/* Last line: "250 " instead of "250-". */
	if (b.len >= 6) {
		size_t last = b.len - 2;

		while (last > 0 && b.data[last - 1] != '\n')
			last--;
		b.data[last + 3] = ' ';
		s->ops->write(s->ops_arg, b.data, b.len);
	}
	buf_free(&b);
}
