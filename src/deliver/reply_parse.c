/*
 * reply_parse.c - bounded, incremental parser for SMTP/LMTP replies
 * (RFC 5321 §4.2, RFC 2034 enhanced codes). The client side of a relay is
 * untrusted-input code (CVE-2020-8794: OpenSMTPD trusted a multi-line
 * reply): every line, the number of lines and the stored text are capped,
 * codes are checked, and what is kept is printable ASCII only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deliver/reply_parse.h"

void
reply_parse_init(struct reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

const char *
reply_parse_error_str(enum reply_error e)
{
	switch (e) {
	case REPLY_ERR_NONE:
		return "no error";
	case REPLY_ERR_LINE_TOO_LONG:
		return "reply line too long";
	case REPLY_ERR_TOO_MANY_LINES:
		return "too many reply lines";
	case REPLY_ERR_TEXT_TOO_LONG:
		return "reply text too long";
	case REPLY_ERR_BAD_CODE:
		return "malformed reply code";
	case REPLY_ERR_BAD_SEPARATOR:
		return "malformed reply separator";
	case REPLY_ERR_CODE_MISMATCH:
		return "reply code changes between lines";
	}
	return "unknown reply error";
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * digits - 1 to 3 digits at s[*i..n), no leading zero unless the value is
 * 0 (RFC 3463: subject and detail are "0" / 1*3digit without leading 0).
 */
static int
digits(const char *s, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && is_digit(s[*i]) && *i - start < 3)
		(*i)++;
	if (*i == start)
		return 0;
	if (*i < n && is_digit(s[*i]))
		return 0; /* 4 digits */
	if (s[start] == '0' && *i - start > 1)
		return 0;
	return 1;
}

/*
 * status-code = class "." subject "." detail      (RFC 3463 §2)
 * class = "2" / "4" / "5"
 * subject = 1*3digit ; detail = 1*3digit
 */
size_t
reply_parse_enh(const char *s, size_t n)
{
	size_t i = 0;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	if (!digits(s, n, &i) || i >= n || s[i] != '.')
		return 0;
	i++;
	if (!digits(s, n, &i))
		return 0;
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

/* append_text - sanitised s[0..n) to r->text; -1 if it does not fit. */
static int
append_text(struct smtp_reply *r, const char *s, size_t n)
{
	size_t i;

	if (n >= sizeof(r->text) - r->textlen)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		r->text[r->textlen++] =
		    (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	r->text[r->textlen] = '\0';
	return 0;
}

/*
 * Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *              Reply-code [ SP textstring ] CRLF      (RFC 5321 §4.2)
 * Reply-code = %x32-35 %x30-35 %x30-39
 *
 * take_line - one complete line (CR already dropped). 1 when it ends the
 * reply, 0 when more lines follow, -1 on error (p->error set).
 */
static int
take_line(struct reply_parser *p, const char *s, size_t n)
{
	struct smtp_reply *r = &p->reply;
	const char *text;
	size_t tlen, elen;
	int code, last;

	if (n < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' ||
	    !is_digit(s[2])) {
		p->error = REPLY_ERR_BAD_CODE;
		return -1;
	}
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (n == 3 || s[3] == ' ') {
		last = 1;
	} else if (s[3] == '-') {
		last = 0;
	} else {
		p->error = REPLY_ERR_BAD_SEPARATOR;
		return -1;
	}
	if (p->in_reply && code != r->code) {
		p->error = REPLY_ERR_CODE_MISMATCH;
		return -1;
	}
	if (r->nlines >= REPLY_LINES_MAX) {
		p->error = REPLY_ERR_TOO_MANY_LINES;
		return -1;
	}
	text = n > 4 ? s + 4 : "";
	tlen = n > 4 ? n - 4 : 0;
	elen = reply_parse_enh(text, tlen);
	if (!p->in_reply) {
		r->code = code;
		/* an enhanced code must belong to the same class */
		if (elen > 0 && elen < sizeof(r->enh) && text[0] == s[0]) {
			memcpy(r->enh, text, elen);
			r->enh[elen] = '\0';
		} else {
			elen = 0;
		}
	} else if (elen == 0 || r->enh[0] == '\0' || strlen(r->enh) != elen ||
	    memcmp(r->enh, text, elen) != 0) {
		elen = 0;
	}
	if (elen > 0) {
		text += elen;
		tlen -= elen;
		if (tlen > 0) { /* the space after the code */
			text++;
			tlen--;
		}
	}
	if (r->nlines > 0) { /* the line separator, kept as is */
		if (r->textlen + 1 >= sizeof(r->text)) {
			p->error = REPLY_ERR_TEXT_TOO_LONG;
			return -1;
		}
		r->text[r->textlen++] = '\n';
		r->text[r->textlen] = '\0';
	}
	if (append_text(r, text, tlen) == -1) {
		p->error = REPLY_ERR_TEXT_TOO_LONG;
		return -1;
	}
	r->nlines++;
	p->in_reply = 1;
	return last;
}

enum reply_status
reply_parse(struct reply_parser *p, const char *in, size_t len, size_t *used_r,
    struct smtp_reply *out)
{
	size_t i;
	int rc;

	*used_r = 0;
	if (p->error != REPLY_ERR_NONE)
		return REPLY_ERROR;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c != '\n') {
			/* room for REPLY_LINE_MAX octets and a CR */
			if (p->linelen >= REPLY_LINE_MAX + 1) {
				p->error = REPLY_ERR_LINE_TOO_LONG;
				*used_r = i;
				return REPLY_ERROR;
			}
			p->line[p->linelen++] = c;
			continue;
		}
		if (p->linelen > 0 && p->line[p->linelen - 1] == '\r')
			p->linelen--;
		if (p->linelen > REPLY_LINE_MAX) {
			p->error = REPLY_ERR_LINE_TOO_LONG;
			*used_r = i;
			return REPLY_ERROR;
		}
		rc = take_line(p, p->line, p->linelen);
		p->linelen = 0;
		if (rc == -1) {
			*used_r = i + 1;
			return REPLY_ERROR;
		}
		if (rc == 1) {
			*used_r = i + 1;
			memcpy(out, &p->reply, sizeof(*out));
			memset(&p->reply, 0, sizeof(p->reply));
			p->in_reply = 0;
			return REPLY_DONE;
		}
	}
	*used_r = len;
	return REPLY_MORE;
}

int
reply_line(const struct smtp_reply *r, size_t i, const char **s_r, size_t *n_r)
{
	const char *s = r->text, *end = r->text + r->textlen, *nl;

	if (i >= r->nlines)
		return -1;
	for (; i > 0; i--) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			return -1;
		s = nl + 1;
	}
	nl = memchr(s, '\n', (size_t)(end - s));
	*s_r = s;
	*n_r = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
	return 0;
}

const char *
reply_format(const struct smtp_reply *r, char *out, size_t outsize)
{
	size_t pos = 0, i;
	int n;

	if (outsize == 0)
		return out;
	n = snprintf(out, outsize, "%03d%s%s", r->code,
	    r->enh[0] != '\0' ? " " : "", r->enh);
	if (n < 0 || (size_t)n >= outsize)
		return out;
	pos = (size_t)n;
	for (i = 0; i < r->textlen; i++) {
		char c = r->text[i] == '\n' ? ' ' : r->text[i];

		if (pos == (size_t)n) {
			if (pos + 1 >= outsize)
				break;
			out[pos++] = ' ';
		}
		if (pos + 1 >= outsize)
			break;
		out[pos++] = c;
	}
	out[pos] = '\0';
	if (i < r->textlen && outsize > 4) {
		size_t at = pos < outsize - 4 ? pos : outsize - 4;

		memcpy(out + at, "...", 4);
	}
	return out;
}

void
reply_set_local(
    struct smtp_reply *r, int code, const char *enh, const char *fmt, ...)
{
	char tmp[REPLY_LINE_MAX];
	va_list ap;
	int n;

	memset(r, 0, sizeof(*r));
	r->code = code;
	r->local = 1;
	if (enh != NULL && reply_parse_enh(enh, strlen(enh)) == strlen(enh) &&
	    strlen(enh) < sizeof(r->enh))
		memcpy(r->enh, enh, strlen(enh) + 1);
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = (int)sizeof(tmp) - 1;
	(void)append_text(r, tmp, (size_t)n);
	r->nlines = 1;
}
