/*
 * fuzz_smtp_parse.c - command lines through the whole parse path: line
 * splitting, verb, then MAIL/RCPT arguments. Properties: nothing crashes,
 * line_next stays in bounds, and an accepted address or AUTH= value holds
 * no control characters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_clean(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			abort();
	}
}

static void
parse_line(const char *line, size_t len)
{
	struct smtp_command c;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;

	if (smtp_parse_command(line, len, &c) == -1)
		return;
	if (c.argslen != 0 &&
	    (c.args < line || c.args + c.argslen > line + len))
		abort();
	switch (c.cmd) {
	case SMTP_CMD_MAIL:
		if (smtp_parse_mail(c.args, c.argslen, 10000000, &m) ==
		    SMTP_ARG_OK) {
			check_clean(m.from.local);
			check_clean(m.from.domain);
			check_clean(m.auth);
		}
		(void)smtp_parse_mail(c.args, c.argslen, 0, &m);
		break;
	case SMTP_CMD_RCPT:
		if (smtp_parse_rcpt(c.args, c.argslen, 0, &r) == SMTP_ARG_OK) {
			check_clean(r.to.local);
			check_clean(r.to.domain);
		}
		if (smtp_parse_rcpt(c.args, c.argslen, 1, &r) == SMTP_ARG_OK) {
			check_clean(r.to.local);
			check_clean(r.to.domain);
		}
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t pos = 0, linelen, consume;
	enum smtp_line_status st;

	/* as lines */
	while (pos < size) {
		st = smtp_line_next(buf + pos, size - pos, SMTP_CMD_LINE_MAX,
		    &linelen, &consume);
		if (st == SMTP_LINE_NEED_MORE)
			break;
		if (consume == 0 || consume > size - pos || linelen >= consume)
			abort();
		if (st == SMTP_LINE_OK)
			parse_line(buf + pos, linelen);
		pos += consume;
	}
	/* and the whole input as one line */
	parse_line(buf, size);
	/* the argument parsers on their own */
	{
		struct smtp_mail_args m;
		struct smtp_rcpt_args r;

		(void)smtp_parse_mail(buf, size, 1000, &m);
		(void)smtp_parse_rcpt(buf, size, 1, &r);
	}
	return 0;
}
