/*
 * reply_parse.h - bounded parser for SMTP/LMTP replies (RFC 5321 §4.2,
 * enhanced codes RFC 2034/3463). Whatever the next hop sends is untrusted
 * input (CVE-2020-8794): lines, line count and stored text are capped,
 * codes validated, continuation lines must repeat the first line's code.
 */
#ifndef POSTERN_DELIVER_REPLY_PARSE_H
#define POSTERN_DELIVER_REPLY_PARSE_H

#include <stddef.h>

#define REPLY_LINE_MAX  2048 /* octets per line without CRLF (RFC: 510) */
#define REPLY_LINES_MAX 64   /* lines per reply (an EHLO reply is ~15) */
#define REPLY_TEXT_MAX  8192 /* stored text of all lines */

struct smtp_reply {
	int code;     /* 200..559 */
	char enh[16]; /* "5.1.1" from the first line, or "" */
	size_t nlines;
	/*
	 * Each line's text after "NNN-"/"NNN ", with a leading enhanced code
	 * equal to enh removed, bytes outside 0x20..0x7e replaced by '?',
	 * lines separated by '\n', NUL-terminated.
	 */
	char text[REPLY_TEXT_MAX];
	size_t textlen;
	int local; /* 1: made up by us (timeout, TLS...), not received */
};

enum reply_error {
	REPLY_ERR_NONE,
	REPLY_ERR_LINE_TOO_LONG,
	REPLY_ERR_TOO_MANY_LINES,
	REPLY_ERR_TEXT_TOO_LONG,
	REPLY_ERR_BAD_CODE,      /* not 3 digits [2-5][0-5][0-9] */
	REPLY_ERR_BAD_SEPARATOR, /* 4th octet not ' ', '-' or end */
	REPLY_ERR_CODE_MISMATCH, /* continuation with another code */
};

struct reply_parser {
	char line[REPLY_LINE_MAX + 1];
	size_t linelen;
	int in_reply;            /* a continuation line has been seen */
	enum reply_error error;  /* sticky once set */
	struct smtp_reply reply; /* the reply being assembled */
};

enum reply_status {
	REPLY_MORE,  /* all input used, no complete reply yet */
	REPLY_DONE,  /* *out holds a reply; input after it was not used */
	REPLY_ERROR, /* p->error says why; the connection is unusable */
};

/* reply_parse_init - ready p for the first reply. */
void reply_parse_init(struct reply_parser *p);

/*
 * reply_parse - feed in[0..len); *used_r tells how much was consumed. At
 * REPLY_DONE, consumption stops right after the reply's last line so that
 * pipelined replies stay in the caller's buffer; the parser is ready for
 * the next reply. Lines end in CRLF or a bare LF (the CR is dropped).
 */
enum reply_status reply_parse(struct reply_parser *p, const char *in,
    size_t len, size_t *used_r, struct smtp_reply *out);

/* reply_parse_error_str - short description of e. */
const char *reply_parse_error_str(enum reply_error e);

/*
 * reply_line - line i (0-based) of r: *s_r, *n_r (not NUL-terminated).
 * 0, or -1 if there is no such line.
 */
int reply_line(
    const struct smtp_reply *r, size_t i, const char **s_r, size_t *n_r);

/*
 * reply_format - "NNN X.Y.Z text text" (lines joined by spaces) into out,
 * truncated to fit with "..." ; printable ASCII only. Returns out.
 */
const char *reply_format(const struct smtp_reply *r, char *out, size_t outsize);

/*
 * reply_set_local - make r a reply of our own: code, enhanced code and
 * text (printf format; sanitised like received text), r->local = 1.
 */
void reply_set_local(struct smtp_reply *r, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * reply_parse_enh - an enhanced status code at s[0..n) (RFC 3463 §2:
 * class "." subject "." detail, 1-3 digits each, class 2/4/5) followed by
 * end or a space. Returns its length (without the space), 0 if none.
 */
size_t reply_parse_enh(const char *s, size_t n);

#endif
