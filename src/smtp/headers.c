/*
 * headers.c - the header scanner (see headers.h). RFC 5322 grammar used:
 *
 *   field        = field-name ":" unstructured CRLF *(WSP text CRLF)  ; §2.2, folding
 *   field-name   = 1*ftext            ; %d33-57 / %d59-126
 *   address-list = (address *("," address)) / obs-addr-list   ; §3.4, §4.4
 *   address      = mailbox / group
 *   group        = display-name ":" [group-list] ";" [CFWS]
 *   mailbox      = name-addr / addr-spec
 *   name-addr    = [display-name] angle-addr
 *   angle-addr   = [CFWS] "<" addr-spec ">" [CFWS]
 *   display-name = phrase = 1*(atom / quoted-string / ".")   ; obs-phrase
 *   addr-spec    = local-part "@" domain
 *   local-part   = dot-atom / quoted-string
 *   domain       = dot-atom / domain-literal
 *   CFWS         = comments (nested, quoted-pairs) and folding white space
 *
 * Encoded words (RFC 2047) are atoms of a phrase here: they are never
 * decoded, so nothing inside one can become an address. Source routes
 * (obs-angle-addr) and obs-local-part with CFWS between words are refused.
 * Bytes >= 0x80 count as atext (RFC 6532).
 */
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "smtp/headers.h"

#define COMMENT_DEPTH_MAX 16

void
hdr_scan_init(struct hdr_scan *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->head, HDR_SECTION_MAX);
}

void
hdr_scan_free(struct hdr_scan *h)
{
	buf_free(&h->head);
}

static int
is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* scan_lines - look at the complete lines after h->scanned. */
static void
scan_lines(struct hdr_scan *h)
{
	for (;;) {
		const char *line = h->head.data + h->scanned;
		size_t avail = h->head.len - h->scanned, n;
		const char *lf = memchr(line, '\n', avail);

		if (lf == NULL)
			return;
		n = (size_t)(lf - line) + 1; /* with CRLF */
		if (n <= 2) {
			/* the blank line: part of the header section */
			h->scanned += n;
			h->state = HDR_S_DONE;
			return;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (!h->in_field)
				goto not_a_field;
			h->scanned += n;
			continue;
		}
		{
			size_t i = 0;

			while (i < n && is_ftext((unsigned char)line[i]))
				i++;
			if (i == 0 || i >= n || line[i] != ':')
				goto not_a_field;
		}
		h->in_field = 1;
		h->scanned += n;
		continue;
not_a_field:
		/* RFC 5322 §2.1: the body starts here; the writer adds the
		 * missing blank line. */
		h->need_blank = 1;
		h->state = HDR_S_DONE;
		return;
	}
}

size_t
hdr_scan_feed(struct hdr_scan *h, const char *p, size_t n)
{
	size_t room, take;

	if (h->state != HDR_S_READING)
		return 0;
	room = h->head.max - h->head.len;
	take = n < room ? n : room;
	if (buf_append(&h->head, p, take) == -1) {
		h->state = HDR_S_OVERFLOW;
		return 0;
	}
	scan_lines(h);
	if (h->state == HDR_S_DONE)
		return take;
	if (take < n || h->head.len == h->head.max)
		h->state = HDR_S_OVERFLOW;
	return take;
}

/* ---- address lists ---- */

struct lex {
	const char *p;
	const char *end;
	int err;
};

static int
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* skip_cfws - white space, folding and (nested) comments. */
static void
skip_cfws(struct lex *x)
{
	while (x->p < x->end) {
		unsigned char c = (unsigned char)*x->p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			x->p++;
			continue;
		}
		if (c != '(')
			return;
		{
			int depth = 0;

			while (x->p < x->end) {
				c = (unsigned char)*x->p++;
				if (c == '\\') {
					if (x->p == x->end)
						break;
					x->p++;
				} else if (c == '(') {
					if (++depth > COMMENT_DEPTH_MAX) {
						x->err = 1;
						return;
					}
				} else if (c == ')') {
					if (--depth == 0)
						break;
				}
			}
			if (depth != 0) {
				x->err = 1;
				return;
			}
		}
	}
}

enum tok {
	TOK_END,
	TOK_ATOM, /* atext and '.' */
	TOK_QUOTED,
	TOK_LITERAL, /* [domain literal] */
	TOK_SPECIAL,
	TOK_ERROR,
};

struct token {
	enum tok kind;
	const char *s; /* ATOM: text; QUOTED/LITERAL: including delimiters */
	size_t n;
	char c; /* SPECIAL */
};

static struct token
next_token(struct lex *x)
{
	struct token t;

	memset(&t, 0, sizeof(t));
	skip_cfws(x);
	if (x->err) {
		t.kind = TOK_ERROR;
		return t;
	}
	if (x->p == x->end) {
		t.kind = TOK_END;
		return t;
	}
	t.s = x->p;
	if (*x->p == '"' || *x->p == '[') {
		char close = *x->p == '"' ? '"' : ']';

		t.kind = *x->p == '"' ? TOK_QUOTED : TOK_LITERAL;
		x->p++;
		while (x->p < x->end && *x->p != close) {
			if (*x->p == '\\') {
				if (++x->p == x->end)
					break;
			} else if (close == ']' && (*x->p == '[')) {
				break;
			}
			x->p++;
		}
		if (x->p == x->end || *x->p != close) {
			t.kind = TOK_ERROR;
			return t;
		}
		x->p++;
		t.n = (size_t)(x->p - t.s);
		return t;
	}
	if (is_atext((unsigned char)*x->p) || *x->p == '.') {
		while (x->p < x->end &&
		    (is_atext((unsigned char)*x->p) || *x->p == '.'))
			x->p++;
		t.kind = TOK_ATOM;
		t.n = (size_t)(x->p - t.s);
		return t;
	}
	if (strchr("<>@,;:", *x->p) != NULL) {
		t.kind = TOK_SPECIAL;
		t.c = *x->p++;
		t.n = 1;
		return t;
	}
	t.kind = TOK_ERROR;
	return t;
}

static struct token
peek_token(struct lex *x)
{
	struct lex save = *x;
	struct token t = next_token(x);

	*x = save;
	return t;
}

static int
valid_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
		if (s[i] != '.' && !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/*
 * local_text - the local part of a token as RFC 5321 text: a dot-atom as
 * is; a quoted string unquoted when its content is a dot-atom, else kept
 * quoted with only the needed escapes. 0 or -1.
 */
static int
local_text(const struct token *t, char *out, size_t outsize)
{
	char raw[ADDR_LOCAL_MAX * 2 + 3];
	size_t i, r = 0;

	if (t->kind == TOK_ATOM) {
		if (!valid_dot_atom(t->s, t->n) || t->n >= outsize ||
		    t->n > ADDR_LOCAL_MAX)
			return -1;
		memcpy(out, t->s, t->n);
		out[t->n] = '\0';
		return 0;
	}
	if (t->kind != TOK_QUOTED)
		return -1;
	for (i = 1; i + 1 < t->n; i++) {
		char c = t->s[i];

		if (c == '\\')
			c = t->s[++i];
		if (c == '\r' || c == '\n')
			continue; /* folding inside the quotes */
		if (r + 1 >= sizeof(raw) - 2)
			return -1;
		raw[r++] = c;
	}
	raw[r] = '\0';
	if (valid_dot_atom(raw, r)) {
		if (r >= outsize || r > ADDR_LOCAL_MAX)
			return -1;
		memcpy(out, raw, r + 1);
		return 0;
	}
	{
		size_t o = 0;

		if (o + 1 >= outsize)
			return -1;
		out[o++] = '"';
		for (i = 0; i < r; i++) {
			if (raw[i] == '"' || raw[i] == '\\') {
				if (o + 1 >= outsize)
					return -1;
				out[o++] = '\\';
			}
			if (o + 1 >= outsize)
				return -1;
			out[o++] = raw[i];
		}
		if (o + 2 > outsize)
			return -1;
		out[o++] = '"';
		out[o] = '\0';
		return o <= ADDR_LOCAL_MAX ? 0 : -1;
	}
}

/* finish_addr - local "@" domain token into out, validated as a mailbox. */
static int
finish_addr(const char *local, const struct token *dom, struct hdr_addr *out)
{
	char buf[ADDR_PATH_MAX + 1];
	size_t ln = strlen(local);
	struct mailaddr a;

	if (dom->kind == TOK_ATOM) {
		if (!valid_dot_atom(dom->s, dom->n))
			return -1;
	} else if (dom->kind != TOK_LITERAL) {
		return -1;
	}
	if (ln + 1 + dom->n >= sizeof(buf))
		return -1;
	memcpy(buf, local, ln);
	buf[ln] = '@';
	memcpy(buf + ln + 1, dom->s, dom->n);
	buf[ln + 1 + dom->n] = '\0';
	if (addr_parse_mailbox(buf, strlen(buf), ADDR_F_UTF8, &a) == -1)
		return -1;
	str_copy(out->addr, buf, sizeof(out->addr));
	return 0;
}

/* addr_spec - local-part "@" domain, the local part already read as t. */
static int
addr_spec(struct lex *x, const struct token *t, struct hdr_addr *out)
{
	char local[ADDR_LOCAL_MAX * 2 + 4];
	struct token at, dom;

	if (local_text(t, local, sizeof(local)) == -1)
		return -1;
	at = next_token(x);
	if (at.kind != TOK_SPECIAL || at.c != '@')
		return -1;
	dom = next_token(x);
	return finish_addr(local, &dom, out);
}

long
hdr_parse_addresses(const char *v, size_t n, struct hdr_addr *out, size_t max)
{
	struct lex x = {v, v + n, 0};
	size_t count = 0;
	int in_group = 0;

	for (;;) {
		struct token first = next_token(&x), t;
		size_t words = 0;

		if (first.kind == TOK_END)
			break;
		if (first.kind == TOK_ERROR)
			return -1;
		if (first.kind == TOK_SPECIAL && first.c == ',')
			continue; /* obs-mbox-list: empty member */
		if (first.kind == TOK_SPECIAL && first.c == ';' && in_group) {
			in_group = 0;
			continue;
		}
		t = first;
		/* a phrase, or the local part of a bare addr-spec */
		while (t.kind == TOK_ATOM || t.kind == TOK_QUOTED) {
			struct token nx = peek_token(&x);

			words++;
			if (words == 1 && nx.kind == TOK_SPECIAL &&
			    nx.c == '@') {
				if (count == max ||
				    addr_spec(&x, &first, &out[count]) == -1)
					return -1;
				count++;
				goto after_mailbox;
			}
			t = next_token(&x);
		}
		if (t.kind == TOK_SPECIAL && t.c == '<') {
			struct token local = next_token(&x), gt;

			if (count == max ||
			    addr_spec(&x, &local, &out[count]) == -1)
				return -1;
			gt = next_token(&x);
			if (gt.kind != TOK_SPECIAL || gt.c != '>')
				return -1;
			count++;
			goto after_mailbox;
		}
		if (t.kind == TOK_SPECIAL && t.c == ':' && words > 0 &&
		    !in_group) {
			in_group = 1;
			continue;
		}
		return -1;
after_mailbox:
		t = next_token(&x);
		if (t.kind == TOK_END)
			break;
		if (t.kind == TOK_SPECIAL && t.c == ',')
			continue;
		if (t.kind == TOK_SPECIAL && t.c == ';' && in_group) {
			in_group = 0;
			t = peek_token(&x);
			if (t.kind == TOK_SPECIAL && t.c == ',')
				(void)next_token(&x);
			continue;
		}
		return -1;
	}
	if (in_group)
		return -1;
	return (long)count;
}

/* ---- fields ---- */

static void
field(struct hdr_scan *h, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	int sender = 0;
	long got;
	size_t i;

	if (nlen == 8 && strncasecmp(name, "Received", 8) == 0) {
		h->nreceived++;
		return;
	}
	if (nlen == 4 && strncasecmp(name, "Date", 4) == 0) {
		h->have |= HDR_HAVE_DATE;
		return;
	}
	if (nlen == 10 && strncasecmp(name, "Message-ID", 10) == 0) {
		h->have |= HDR_HAVE_MSGID;
		return;
	}
	if (nlen == 6 && strncasecmp(name, "Sender", 6) == 0)
		sender = 1;
	else if (!(nlen == 4 && strncasecmp(name, "From", 4) == 0))
		return;
	h->have |= sender ? HDR_HAVE_SENDER : HDR_HAVE_FROM;
	got = hdr_parse_addresses(
	    v, vlen, &h->addrs[h->naddrs], HDR_MAX_ADDRS - h->naddrs);
	if (got <= 0) {
		/* an empty From: is as unusable as a broken one */
		if (!h->bad)
			str_copy(h->bad_field, sender ? "Sender" : "From",
			    sizeof(h->bad_field));
		h->bad = 1;
		return;
	}
	for (i = 0; i < (size_t)got; i++)
		h->addrs[h->naddrs + i].sender = sender;
	h->naddrs += (size_t)got;
}

void
hdr_scan_end(struct hdr_scan *h)
{
	const char *p, *end;

	if (h->state == HDR_S_READING) {
		/* the message ended inside the header: all of it is header */
		h->scanned = h->head.len;
		h->state = HDR_S_DONE;
	}
	if (h->in_field < 0)
		return; /* parsed already */
	h->in_field = -1;
	if (h->head.data == NULL)
		return; /* nothing was buffered */
	p = h->head.data;
	end = p + h->scanned;
	while (p < end) {
		const char *colon, *v, *q;
		size_t nlen;

		if (*p == '\r' || *p == '\n')
			break; /* the blank line */
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			break;
		nlen = (size_t)(colon - p);
		v = colon + 1;
		/* the value runs to a CRLF not followed by WSP */
		q = v;
		for (;;) {
			const char *lf = memchr(q, '\n', (size_t)(end - q));

			if (lf == NULL) {
				q = end;
				break;
			}
			q = lf + 1;
			if (q >= end || (*q != ' ' && *q != '\t'))
				break;
		}
		field(h, p, nlen, v, (size_t)(q - v));
		p = q;
	}
}
