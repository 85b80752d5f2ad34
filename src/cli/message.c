/*
 * message.c - build and prepare messages for postern send / sendmail
 * (RFC 5322 §3.6 fields, RFC 2045 MIME headers, RFC 2047 encoded words).
 * Addresses in To:/Cc:/Bcc: are parsed with the server's own address-list
 * parser (smtp/headers.c), so the client and the sender check agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/message.h"
#include "core/base64.h"
#include "core/rand.h"
#include "core/str.h"
#include "smtp/headers.h"

int
msg_rcpts_add(struct msg_rcpts *r, const char *addr)
{
	char **nv, *copy;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (str_ieq(r->v[i], addr))
			return 0;
	if (r->n >= MSG_RCPTS_MAX)
		return -1;
	if (r->n == r->cap) {
		size_t cap = r->cap == 0 ? 8 : r->cap * 2;

		nv = realloc(r->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		r->v = nv;
		r->cap = cap;
	}
	copy = str_dup(addr);
	if (copy == NULL)
		return -1;
	r->v[r->n++] = copy;
	return 0;
}

void
msg_rcpts_free(struct msg_rcpts *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

int
msg_rcpts_add_list(
    struct msg_rcpts *r, const char *list, char *err, size_t errlen)
{
	struct hdr_addr *a;
	long n, i;
	int rc = -1;

	a = calloc(MSG_RCPTS_MAX, sizeof(*a));
	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = hdr_parse_addresses(list, strlen(list), a, MSG_RCPTS_MAX);
	if (n < 0) {
		snprintf(err, errlen,
		    "cannot parse the address list \"%.200s\"", list);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (msg_rcpts_add(r, a[i].addr) < 0) {
			snprintf(err, errlen, "too many recipients");
			goto out;
		}
	}
	rc = 0;
out:
	free(a);
	return rc;
}

int
msg_addr_of(const char *value, char *out, size_t outlen)
{
	struct hdr_addr a[1];

	if (hdr_parse_addresses(value, strlen(value), a, 1) != 1)
		return -1;
	if (str_copy(out, a[0].addr, outlen) >= outlen)
		return -1;
	return 0;
}

void
msg_date(char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", outlen);
}

/* add_msgid - "Message-ID: <random.time@host>" CRLF. */
static int
add_msgid(struct buf *out, const char *hostname)
{
	char tok[25];

	rand_token(tok, sizeof(tok) - 1);
	tok[sizeof(tok) - 1] = '\0';
	return buf_printf(out, "Message-ID: <%s.%lld@%s>\r\n", tok,
	    (long long)time(NULL),
	    hostname != NULL && hostname[0] != '\0' ? hostname : "localhost");
}

/* has_ctl - a header value must not contain CR, LF or NUL. */
static int
has_ctl(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/*
 * add_encoded - value as RFC 2047 B encoded words (at most 45 input octets
 * each, never splitting a UTF-8 sequence), folded onto new lines.
 */
static int
add_encoded(struct buf *out, const char *value)
{
	size_t n = strlen(value), i = 0, k;
	char enc[80];

	while (i < n) {
		k = n - i > 45 ? 45 : n - i;
		while (i + k < n && k > 1 &&
		    ((unsigned char)value[i + k] & 0xc0) == 0x80)
			k--;
		if (base64_encode(value + i, k, enc, sizeof(enc)) < 0)
			return -1;
		if (buf_printf(
		        out, "%s=?UTF-8?B?%s?=", i > 0 ? "\r\n " : "", enc) < 0)
			return -1;
		i += k;
	}
	return 0;
}

int
msg_build(struct buf *out, const char *from, const struct msg_rcpts *to,
    const char *subject, const char *body, const char *hostname, char *err,
    size_t errlen)
{
	char date[64];
	const char *p;
	size_t i;
	int utf8 = !is_ascii(body) || !is_ascii(from);

	if (has_ctl(from) || (subject != NULL && has_ctl(subject))) {
		snprintf(err, errlen, "a header value contains a line break");
		return -1;
	}
	msg_date(date, sizeof(date));
	if (buf_printf(out, "From: %s\r\n", from) < 0)
		goto too_big;
	if (to->n > 0) {
		if (buf_appends(out, "To: ") < 0)
			goto too_big;
		for (i = 0; i < to->n; i++)
			if (buf_printf(out, "%s%s", i > 0 ? ",\r\n " : "",
			        to->v[i]) < 0)
				goto too_big;
		if (buf_appends(out, "\r\n") < 0)
			goto too_big;
	}
	if (subject != NULL) {
		if (buf_appends(out, "Subject: ") < 0)
			goto too_big;
		if (is_ascii(subject) ? buf_appends(out, subject) < 0
		                      : add_encoded(out, subject) < 0)
			goto too_big;
		if (buf_appends(out, "\r\n") < 0)
			goto too_big;
	}
	if (buf_printf(out, "Date: %s\r\n", date) < 0 ||
	    add_msgid(out, hostname) < 0 ||
	    buf_printf(out,
	        "MIME-Version: 1.0\r\n"
	        "Content-Type: text/plain; charset=%s\r\n"
	        "Content-Transfer-Encoding: %s\r\n\r\n",
	        utf8 ? "UTF-8" : "us-ascii", utf8 ? "8bit" : "7bit") < 0)
		goto too_big;
	/* the body, with CRLF line ends and a final line end */
	for (p = body; *p != '\0'; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n' || *p == '\r') {
			if (buf_append(out, "\r\n", 2) < 0)
				goto too_big;
		} else if (buf_append(out, p, 1) < 0) {
			goto too_big;
		}
	}
	if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		if (buf_append(out, "\r\n", 2) < 0)
			goto too_big;
	return 0;
too_big:
	snprintf(err, errlen, "message too big");
	return -1;
}

/* field_is - the field line at s[0..n) is called name (case-insensitive). */
static int
field_is(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && s[k] == ':' && strncasecmp(s, name, k) == 0;
}

/* line_end - end of the line starting at i (index after its LF, or n). */
static size_t
line_end(const char *in, size_t n, size_t i)
{
	const char *lf = memchr(in + i, '\n', n - i);

	return lf != NULL ? (size_t)(lf - in) + 1 : n;
}

/* is_field_start - "name:" with a name of printable ASCII but ':'. */
static int
is_field_start(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == ':')
			return i > 0;
		if (ch <= 0x20 || ch >= 0x7f)
			return 0;
	}
	return 0;
}

/* is_blank_line - an empty line (LF or CRLF). */
static int
is_blank_line(const char *s, size_t n)
{
	return (n == 1 && s[0] == '\n') ||
	    (n == 2 && s[0] == '\r' && s[1] == '\n');
}

/* field_value - the unfolded value of the field at in[s..e) (NUL-terminated). */
static char *
field_value(const char *in, size_t s, size_t e)
{
	const char *colon = memchr(in + s, ':', e - s);
	size_t i, o = 0;
	char *v;

	if (colon == NULL)
		return NULL;
	s = (size_t)(colon - in) + 1;
	v = malloc(e - s + 1);
	if (v == NULL)
		return NULL;
	for (i = s; i < e; i++)
		if (in[i] != '\r' && in[i] != '\n')
			v[o++] = in[i];
	v[o] = '\0';
	return v;
}

int
msg_prepare(const char *in, size_t n, const struct msg_fix *fix,
    struct msg_rcpts *extract, struct buf *out, struct msg_info *info,
    char *err, size_t errlen)
{
	static const char *const rcpt_fields[] = {"To", "Cc", "Bcc"};
	int have_from = 0, have_date = 0, have_msgid = 0;
	size_t i = 0, e, fe, k, body, head_end;
	char date[64];
	char *v;

	memset(info, 0, sizeof(*info));
	for (k = 0; k < n; k++) {
		if ((unsigned char)in[k] >= 0x80) {
			info->eightbit = 1;
			break;
		}
	}
	/* an mbox "From " line before the header is not part of it */
	if (n >= 5 && memcmp(in, "From ", 5) == 0)
		i = line_end(in, n, 0);
	body = i;
	/* first pass: find the end of the header section and what it has */
	while (i < n) {
		e = line_end(in, n, i);
		if (is_blank_line(in + i, e - i) ||
		    !is_field_start(in + i, e - i))
			break;
		/* the field with its continuation lines */
		fe = e;
		while (fe < n && (in[fe] == ' ' || in[fe] == '\t'))
			fe = line_end(in, n, fe);
		if (field_is(in + i, e - i, "From")) {
			if (!have_from) {
				v = field_value(in, i, fe);
				if (v != NULL &&
				    msg_addr_of(v, info->from_addr,
				        sizeof(info->from_addr)) < 0)
					info->from_addr[0] = '\0';
				free(v);
			}
			have_from = 1;
		} else if (field_is(in + i, e - i, "Date")) {
			have_date = 1;
		} else if (field_is(in + i, e - i, "Message-ID")) {
			have_msgid = 1;
		}
		if (extract != NULL) {
			for (k = 0; k < 3; k++) {
				if (!field_is(in + i, e - i, rcpt_fields[k]))
					continue;
				v = field_value(in, i, fe);
				if (v == NULL) {
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				/* an empty To: (undisclosed) is no error */
				if (str_trim(v)[0] != '\0' &&
				    msg_rcpts_add_list(
				        extract, v, err, errlen) < 0) {
					free(v);
					return -1;
				}
				free(v);
			}
		}
		i = fe;
	}
	head_end = i;

	/* added fields first, then the header without Bcc:, then the rest */
	if (fix->received != NULL &&
	    buf_printf(out, "Received: %s\r\n", fix->received) < 0)
		goto too_big;
	if (!have_from && fix->from_header != NULL &&
	    fix->from_header[0] != '\0') {
		if (has_ctl(fix->from_header) ||
		    buf_printf(out, "From: %s\r\n", fix->from_header) < 0)
			goto too_big;
		info->added_from = 1;
	}
	if (!have_date) {
		msg_date(date, sizeof(date));
		if (buf_printf(out, "Date: %s\r\n", date) < 0)
			goto too_big;
	}
	if (!have_msgid && add_msgid(out, fix->hostname) < 0)
		goto too_big;
	i = body;
	while (i < head_end) {
		e = line_end(in, n, i);
		fe = e;
		while (fe < head_end && (in[fe] == ' ' || in[fe] == '\t'))
			fe = line_end(in, n, fe);
		if (!field_is(in + i, e - i, "Bcc") &&
		    buf_append(out, in + i, fe - i) < 0)
			goto too_big;
		i = fe;
	}
	/* a header without a blank line after it and no body still ends */
	if (head_end == n && (out->len == 0 || out->data[out->len - 1] != '\n'))
		if (buf_append(out, "\r\n", 2) < 0)
			goto too_big;
	if (head_end < n &&
	    !is_blank_line(in + head_end, line_end(in, n, head_end) - head_end))
		if (buf_append(out, "\r\n", 2) < 0) /* body without blank */
			goto too_big;
	if (buf_append(out, in + head_end, n - head_end) < 0)
		goto too_big;
	return 0;
too_big:
	snprintf(err, errlen, "message too big or bad From: value");
	return -1;
}
