/*
 * cmd_misc.c - NOOP, QUIT, VRFY, HELP (RFC 5321 §4.1.1.5-10). RSET is in
 * session.c with the other transaction resets.
 */
#include "core/config.h"
#include "smtp/session.h"

void
smtp_cmd_noop(struct smtp_session *s, const char *args)
{
	(void)args; /* RFC 5321 §4.1.1.9: a parameter is allowed and ignored */
	smtp_reply(s, 250, "2.0.0", "Ok");
}

void
smtp_cmd_quit(struct smtp_session *s, const char *args)
{
	(void)args;
	smtp_reply(s, 221, "2.0.0", "Bye");
	smtp_session_close(s);
}

void
smtp_cmd_vrfy(struct smtp_session *s, const char *args)
{
	if (args[0] == '\0') {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: VRFY address");
		return;
	}
	/* RFC 5321 §3.5.3: 252 when we will not verify (no user enumeration). */
	smtp_reply(s, 252, "2.5.2",
	    "Cannot VRFY user, but will accept message and attempt delivery");
}

void
smtp_cmd_help(struct smtp_session *s, const char *args)
{
	(void)args;
	smtp_reply(s, 214, "2.0.0",
	    "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP "
	    "VRFY HELP QUIT");
}
