/*
 * cmd_starttls.c - STARTTLS (RFC 3207). After the 220, input already
 * received is discarded by the worker (CVE-2011-0411) and the session
 * forgets everything it learnt in plaintext once the handshake is done.
 */
#include "core/config.h"
#include "core/log.h"
#include "smtp/session.h"

void
smtp_cmd_starttls(struct smtp_session *s, const char *args)
{
	if (s->listener->tls != LISTENER_TLS_STARTTLS) {
		smtp_reply_error(
		    s, 502, "5.5.1", "Error: command not implemented");
		return;
	}
	if (s->tls) {
		smtp_reply_error(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (args[0] != '\0') {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	smtp_enter_state(s, SMTP_STATE_TLS);
	s->ops->starttls(s->ops_arg);
}
