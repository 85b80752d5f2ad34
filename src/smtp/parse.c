/*
 * parse.c - pure SMTP command parsing: line splitting with limits (RFC 5321
 * §4.5.3.1), verbs (§4.1), MAIL FROM / RCPT TO arguments (§4.1.2) with the
 * ESMTP parameters SIZE (RFC 1870), BODY (RFC 6152, 3030), SMTPUTF8
 * (RFC 6531) and AUTH= (RFC 4954 §5). No I/O, no allocation; fuzzed.
 * Addresses are validated by core/addr; nothing here accepts early.
 */
#include <limits.h>
#include <string.h>

#include "core/addr.h"
#include "core/xtext.h"
#include "smtp/parse.h"

enum smtp_line_status
smtp_line_next(const char *buf, size_t len, size_t limit, size_t *linelen_r,
    size_t *consume_r)
{
	const char *lf;
	size_t n;

	*linelen_r = 0;
	*consume_r = 0;
	lf = memchr(buf, '\n', len);
	if (lf == NULL) {
		if (len >= limit) {
			/* no room left for a terminator within the limit */
			*consume_r = len;
			return SMTP_LINE_TOO_LONG;
		}
		return SMTP_LINE_NEED_MORE;
	}
	n = (size_t)(lf - buf) + 1; /* with the LF */
	*consume_r = n;
	if (n > limit)
		return SMTP_LINE_TOO_LONG;
	n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*linelen_r = n;
	return SMTP_LINE_OK;
}

static const struct {
	const char *name;
	enum smtp_cmd cmd;
} smtp_verbs[] = {
    {"HELO", SMTP_CMD_HELO},
    {"EHLO", SMTP_CMD_EHLO},
    {"MAIL", SMTP_CMD_MAIL},
    {"RCPT", SMTP_CMD_RCPT},
    {"DATA", SMTP_CMD_DATA},
    {"BDAT", SMTP_CMD_BDAT},
    {"RSET", SMTP_CMD_RSET},
    {"NOOP", SMTP_CMD_NOOP},
    {"QUIT", SMTP_CMD_QUIT},
    {"VRFY", SMTP_CMD_VRFY},
    {"EXPN", SMTP_CMD_EXPN},
    {"HELP", SMTP_CMD_HELP},
    {"STARTTLS", SMTP_CMD_STARTTLS},
    {"AUTH", SMTP_CMD_AUTH},
};

/* Verbs that mean an HTTP client is talking to us (when followed by SP). */
static const char *const http_verbs[] = {
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "CONNECT",
    "OPTIONS",
};

static int
is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char
to_upper(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 'a' + 'A') : c;
}

/* ieq_n - 1 if s[0..n) equals the upper-case word w ignoring ASCII case. */
static int
ieq_n(const char *s, size_t n, const char *w)
{
	size_t i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++) {
		if (to_upper((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
	}
	return 1;
}

/* iprefix_n - 1 if s[0..n) starts with the upper-case word w ignoring case. */
static int
iprefix_n(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);

	return n >= wl && ieq_n(s, wl, w);
}

/*
 * command = verb [ SP arguments ]          (RFC 5321 §4.1.1)
 * verb    = 1*ALPHA                         (ASCII letters only)
 * The line must hold no NUL and no control character other than HTAB.
 */
int
smtp_parse_command(const char *line, size_t len, struct smtp_command *out)
{
	size_t i, vlen, n;

	memset(out, 0, sizeof(*out));
	out->cmd = SMTP_CMD_UNKNOWN;
	out->args = "";
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++) {
		if (!is_alpha((unsigned char)line[vlen]))
			return -1;
	}
	if (vlen == 0)
		return -1;

	n = vlen < sizeof(out->verb) - 1 ? vlen : sizeof(out->verb) - 1;
	memcpy(out->verb, line, n);
	out->verb[n] = '\0';
	if (vlen < len) {
		out->args = line + vlen + 1;
		out->argslen = len - vlen - 1;
	}

	if (vlen < len) {
		for (i = 0; i < sizeof(http_verbs) / sizeof(http_verbs[0]);
		     i++) {
			if (ieq_n(line, vlen, http_verbs[i])) {
				out->cmd = SMTP_CMD_HTTP;
				return 0;
			}
		}
	}
	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++) {
		if (ieq_n(line, vlen, smtp_verbs[i].name)) {
			out->cmd = smtp_verbs[i].cmd;
			break;
		}
	}
	return 0;
}

/* One ESMTP parameter as found in the argument string. */
struct esmtp_param {
	const char *key;
	size_t keylen;
	const char *val; /* NULL when there is no "=" */
	size_t vallen;
};

/*
 * esmtp_next_param - split the next parameter off s[*pos..len).
 *   esmtp-param   = esmtp-keyword ["=" esmtp-value]     (RFC 5321 §4.1.2)
 *   esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value   = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)   (RFC 6531 §3.3)
 * Parameters are separated by SP; extra SP and trailing SP/HTAB are
 * tolerated. Returns 1 with a parameter, 0 at the end, -1 on bad syntax.
 */
static int
esmtp_next_param(const char *s, size_t len, size_t *pos, struct esmtp_param *p)
{
	size_t i = *pos, end;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len) {
		*pos = i;
		return 0;
	}
	for (end = i; end < len && s[end] != ' ' && s[end] != '\t'; end++)
		;
	p->key = s + i;
	for (p->keylen = 0; i + p->keylen < end; p->keylen++) {
		unsigned char c = (unsigned char)s[i + p->keylen];

		if (c == '=')
			break;
		if (!is_alpha(c) && !is_digit(c) &&
		    (c != '-' || p->keylen == 0))
			return -1;
	}
	if (p->keylen == 0)
		return -1;
	i += p->keylen;
	p->val = NULL;
	p->vallen = 0;
	if (i < end) {
		i++; /* "=" */
		p->val = s + i;
		p->vallen = end - i;
		if (p->vallen == 0)
			return -1;
		for (; i < end; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c < 33 || c == '=' || c == 127)
				return -1;
		}
	}
	*pos = end;
	return 1;
}

/*
 * parse_path_prefix - "FROM:" / "TO:" [SP] "<" ... : match the keyword
 * (case-insensitive), skip one optional SP (Postfix tolerates it), and
 * check that a path follows. Returns the offset of "<" or -1.
 */
static long
parse_path_prefix(const char *args, size_t len, const char *kw)
{
	size_t i = strlen(kw);

	if (!iprefix_n(args, len, kw))
		return -1;
	if (i < len && args[i] == ' ')
		i++;
	if (i >= len || args[i] != '<')
		return -1;
	return (long)i;
}

/*
 * parse_size - SIZE value: 1*20DIGIT (RFC 1870 §3). 0 ok, -1 bad syntax,
 * 1 when the number does not fit in 64 bits.
 */
static int
parse_size(const char *v, size_t n, unsigned long long *out)
{
	unsigned long long x = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (!is_digit((unsigned char)v[i]))
			return -1;
		d = (unsigned)(v[i] - '0');
		if (x > (ULLONG_MAX - d) / 10)
			return 1;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/* Bits for duplicate detection in MAIL parameters. */
#define MAIL_P_SIZE 0x01
#define MAIL_P_BODY 0x02
#define MAIL_P_UTF8 0x04
#define MAIL_P_AUTH 0x08

/*
 * mail_param - apply one MAIL parameter to out.
 *   size-param = "SIZE=" 1*20DIGIT                       (RFC 1870)
 *   body-param = "BODY=" ("7BIT" / "8BITMIME" / "BINARYMIME") (RFC 6152, 3030)
 *   utf8-param = "SMTPUTF8"                              (RFC 6531 §3.4)
 *   auth-param = "AUTH=" xtext                           (RFC 4954 §5)
 * *too_big is set for a SIZE over max_size (reported after the rest parsed).
 */
static enum smtp_arg_error
mail_param(const struct esmtp_param *p, unsigned long long max_size,
    unsigned *seen, int *too_big, struct smtp_mail_args *out)
{
	unsigned bit;
	int rc;

	if (ieq_n(p->key, p->keylen, "SIZE"))
		bit = MAIL_P_SIZE;
	else if (ieq_n(p->key, p->keylen, "BODY"))
		bit = MAIL_P_BODY;
	else if (ieq_n(p->key, p->keylen, "SMTPUTF8"))
		bit = MAIL_P_UTF8;
	else if (ieq_n(p->key, p->keylen, "AUTH"))
		bit = MAIL_P_AUTH;
	else
		return SMTP_ARG_UNKNOWN_PARAM;
	if (*seen & bit)
		return SMTP_ARG_BAD_PARAM;
	*seen |= bit;

	switch (bit) {
	case MAIL_P_SIZE:
		if (p->val == NULL)
			return SMTP_ARG_BAD_PARAM;
		rc = parse_size(p->val, p->vallen, &out->size);
		if (rc == -1)
			return SMTP_ARG_BAD_PARAM;
		if (rc == 1) {
			if (max_size == 0)
				return SMTP_ARG_BAD_PARAM;
			*too_big = 1;
		} else if (max_size != 0 && out->size > max_size) {
			*too_big = 1;
		}
		out->has_size = 1;
		break;
	case MAIL_P_BODY:
		if (p->val == NULL)
			return SMTP_ARG_BAD_PARAM;
		if (ieq_n(p->val, p->vallen, "7BIT"))
			out->body = SMTP_BODY_7BIT;
		else if (ieq_n(p->val, p->vallen, "8BITMIME"))
			out->body = SMTP_BODY_8BITMIME;
		else if (ieq_n(p->val, p->vallen, "BINARYMIME"))
			out->body = SMTP_BODY_BINARYMIME;
		else
			return SMTP_ARG_BAD_PARAM;
		break;
	case MAIL_P_UTF8:
		if (p->val != NULL)
			return SMTP_ARG_BAD_PARAM;
		out->smtputf8 = 1;
		break;
	case MAIL_P_AUTH:
	default:
		if (p->val == NULL)
			return SMTP_ARG_BAD_PARAM;
		if (xtext_decode(
		        p->val, p->vallen, out->auth, sizeof(out->auth)) < 0)
			return SMTP_ARG_BAD_PARAM;
		out->has_auth = 1;
		break;
	}
	return SMTP_ARG_OK;
}

/* mail_auth_valid - the decoded AUTH= value is "<>" or a mailbox. */
static int
mail_auth_valid(const char *v, int utf8)
{
	struct mailaddr a;
	size_t n = strlen(v);

	if (n == 2 && v[0] == '<' && v[1] == '>')
		return 1;
	if (addr_parse_mailbox(v, n, utf8 ? ADDR_F_UTF8 : 0, &a) == -1)
		return 0;
	return 1;
}

/*
 * mail = "FROM:" [SP] Reverse-path [SP Mail-parameters]  (RFC 5321 §4.1.1.2)
 * Mail-parameters = esmtp-param *(SP esmtp-param)
 * The path is checked leniently (UTF-8 allowed) to find its end, then again
 * with the real flags once the parameters say whether SMTPUTF8 was given.
 */
enum smtp_arg_error
smtp_parse_mail(const char *args, size_t len, unsigned long long max_size,
    struct smtp_mail_args *out)
{
	struct esmtp_param p;
	enum smtp_arg_error e;
	unsigned seen = 0, flags;
	size_t pos, used;
	long start;
	int too_big = 0, rc;

	memset(out, 0, sizeof(*out));
	out->body = SMTP_BODY_7BIT;
	start = parse_path_prefix(args, len, "FROM:");
	if (start < 0)
		return SMTP_ARG_SYNTAX;
	pos = (size_t)start;
	if (addr_parse_path(args + pos, len - pos,
	        ADDR_F_ALLOW_NULL | ADDR_F_UTF8, &out->from, &used) == -1)
		return SMTP_ARG_BAD_ADDRESS;
	pos += used;
	if (pos < len && args[pos] != ' ' && args[pos] != '\t')
		return SMTP_ARG_SYNTAX;

	for (;;) {
		rc = esmtp_next_param(args, len, &pos, &p);
		if (rc == -1)
			return SMTP_ARG_SYNTAX;
		if (rc == 0)
			break;
		e = mail_param(&p, max_size, &seen, &too_big, out);
		if (e != SMTP_ARG_OK)
			return e;
	}

	if (out->has_auth && !mail_auth_valid(out->auth, out->smtputf8))
		return SMTP_ARG_BAD_PARAM;
	flags = ADDR_F_ALLOW_NULL | (out->smtputf8 ? ADDR_F_UTF8 : 0);
	if (addr_parse_path(args + start, len - (size_t)start, flags,
	        &out->from, &used) == -1)
		return SMTP_ARG_BAD_ADDRESS;
	if (too_big)
		return SMTP_ARG_TOO_BIG;
	return SMTP_ARG_OK;
}

/*
 * rcpt = "TO:" [SP] ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *        Forward-path ) [SP Rcpt-parameters]             (RFC 5321 §4.1.1.3)
 * No RCPT parameters are supported: any well-formed one is unknown.
 */
enum smtp_arg_error
smtp_parse_rcpt(
    const char *args, size_t len, int utf8, struct smtp_rcpt_args *out)
{
	struct esmtp_param p;
	unsigned flags;
	size_t pos, used;
	long start;
	int rc;

	memset(out, 0, sizeof(*out));
	start = parse_path_prefix(args, len, "TO:");
	if (start < 0)
		return SMTP_ARG_SYNTAX;
	pos = (size_t)start;
	flags = ADDR_F_NO_DOMAIN | (utf8 ? ADDR_F_UTF8 : 0);
	if (addr_parse_path(args + pos, len - pos, flags, &out->to, &used) ==
	    -1)
		return SMTP_ARG_BAD_ADDRESS;
	pos += used;
	if (pos < len && args[pos] != ' ' && args[pos] != '\t')
		return SMTP_ARG_SYNTAX;
	rc = esmtp_next_param(args, len, &pos, &p);
	if (rc == -1)
		return SMTP_ARG_SYNTAX;
	if (rc == 1)
		return SMTP_ARG_UNKNOWN_PARAM;
	return SMTP_ARG_OK;
}
