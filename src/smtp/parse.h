/*
 * parse.h - pure SMTP command parsing (RFC 5321 §4.1, RFC 1870, 6152, 6531,
 * 4954 §5). No I/O: takes a line, fills a struct. Fuzzed.
 */
#ifndef POSTERN_SMTP_PARSE_H
#define POSTERN_SMTP_PARSE_H

#include <stddef.h>

#include "core/addr.h"

#define SMTP_CMD_LINE_MAX  512   /* RFC 5321 §4.5.3.1.4, incl. CRLF */
#define SMTP_TEXT_LINE_MAX 1000  /* RFC 5321 §4.5.3.1.6, incl. CRLF */
#define SMTP_AUTH_LINE_MAX 12288 /* RFC 4954 §4, incl. CRLF */

enum smtp_cmd {
	SMTP_CMD_UNKNOWN,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_HTTP, /* "GET ", "POST ", ... : close the session (chasquid) */
};

struct smtp_command {
	enum smtp_cmd cmd;
	const char *
	    args; /* after the verb and one SP; "" if none (points into the line) */
	size_t argslen;
	char verb[16]; /* the verb as sent, for logs; truncated */
};

/* smtp_line_status - result of looking for the next line in an input buffer. */
enum smtp_line_status {
	SMTP_LINE_OK, /* *linelen_r bytes of line (without CRLF/LF), *consume_r to drop */
	SMTP_LINE_NEED_MORE, /* no LF yet and fewer than limit bytes */
	SMTP_LINE_TOO_LONG, /* limit bytes without LF: caller discards to the next LF */
};

/*
 * smtp_line_next - find the first line in buf[0..len) ending in LF (a CR
 * before it is removed); limit counts the terminator. Over-long complete
 * lines are SMTP_LINE_TOO_LONG with *consume_r set past their LF.
 */
enum smtp_line_status smtp_line_next(const char *buf, size_t len, size_t limit,
    size_t *linelen_r, size_t *consume_r);

/*
 * smtp_parse_command - split line[0..len) (no CRLF) into verb and arguments.
 * Returns 0, or -1 when the line is not a command at all (empty, NUL or
 * other control characters, non-ASCII verb): 500 5.5.2.
 */
int smtp_parse_command(const char *line, size_t len, struct smtp_command *out);

enum smtp_body {
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

/* Errors from the MAIL/RCPT argument parsers, each a distinct reply. */
enum smtp_arg_error {
	SMTP_ARG_OK,
	SMTP_ARG_SYNTAX,        /* 501 5.5.4 "Syntax: MAIL FROM:<address>" */
	SMTP_ARG_BAD_ADDRESS,   /* 501 5.1.7 (sender) / 501 5.1.3 (recipient) */
	SMTP_ARG_UNKNOWN_PARAM, /* 555 5.5.4 */
	SMTP_ARG_BAD_PARAM, /* 501 5.5.4: a known parameter with a bad value */
	SMTP_ARG_TOO_BIG,   /* 552 5.3.4: SIZE= over the limit */
};

struct smtp_mail_args {
	struct mailaddr from;
	unsigned long long size; /* SIZE=, 0 if absent */
	int has_size;
	enum smtp_body body;
	int smtputf8;
	int has_auth; /* AUTH= given */
	char auth[ADDR_PATH_MAX +
	    1]; /* xtext-decoded AUTH= value; "<>" or a mailbox */
};

struct smtp_rcpt_args {
	struct mailaddr to;
};

/*
 * smtp_parse_mail - parse "FROM:<path> [params]" (case-insensitive FROM:,
 * one optional space after the colon tolerated). max_size is the SIZE limit
 * (0 = none). utf8_ok: SMTPUTF8 was advertised. Fills out; returns SMTP_ARG_*.
 */
enum smtp_arg_error smtp_parse_mail(const char *args, size_t len,
    unsigned long long max_size, struct smtp_mail_args *out);

/* smtp_parse_rcpt - parse "TO:<path> [params]"; utf8 when MAIL had SMTPUTF8. */
enum smtp_arg_error smtp_parse_rcpt(
    const char *args, size_t len, int utf8, struct smtp_rcpt_args *out);

#endif
