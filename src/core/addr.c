/*
 * addr.c - RFC 5321 §4.1.2 paths and mailboxes, RFC 6531 §3.3 UTF-8 forms.
 * Every validator is a list of rejections followed by a single success
 * exit at the bottom (the CVE-2020-7247 lesson): a special case is only
 * ever an earlier "return -1". Nothing accepted contains a control
 * character (C0, DEL, or C1 in UTF-8). Limits are checked before parsing.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "core/str.h"

/* a bare mailbox must also fit in a path: "<" Mailbox ">" <= 256 */
#define ADDR_MAILBOX_MAX (ADDR_PATH_MAX - 2)
#define ADDR_LABEL_MAX   63 /* RFC 1035 §2.3.4 */
#define ADDR_LIT_MAX     64 /* "[IPv6:" + 45 + "]" fits */

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 *         "-" / "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
 *       (RFC 5322 §3.2.3) =/ UTF8-non-ascii (RFC 6531 §3.3)
 */
static int
is_atext(unsigned char c, unsigned int flags)
{
	if (c >= 0x80)
		return (flags & ADDR_F_UTF8) != 0;
	/* c != 0: strchr() would find the terminator */
	return is_alpha(c) || is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* utf8_clean - valid UTF-8 with no C1 control (U+0080..U+009F = C2 80..9F). */
static int
utf8_clean(const char *s, size_t len)
{
	size_t i;

	if (!str_valid_utf8(s, len))
		return 0;
	for (i = 0; i + 1 < len; i++) {
		if ((unsigned char)s[i] == 0xc2 &&
		    (unsigned char)s[i + 1] <= 0x9f &&
		    (unsigned char)s[i + 1] >= 0x80)
			return 0;
	}
	return 1;
}

/*
 * Dot-string = Atom *("." Atom); Atom = 1*atext
 * Scans s[pos..len) and sets *end past the Dot-string.
 */
static int
scan_dot_string(
    const char *s, size_t len, size_t pos, unsigned int flags, size_t *end)
{
	size_t i;

	i = pos;
	while (i < len && (is_atext((unsigned char)s[i], flags) || s[i] == '.'))
		i++;
	if (i == pos)
		return -1;
	if (s[pos] == '.' || s[i - 1] == '.')
		return -1;
	if (memmem(s + pos, i - pos, "..", 2) != NULL)
		return -1;
	if (!utf8_clean(s + pos, i - pos))
		return -1;
	*end = i;
	return 0;
}

/*
 * Quoted-string   = DQUOTE *QcontentSMTP DQUOTE
 * QcontentSMTP    = qtextSMTP / quoted-pairSMTP
 * quoted-pairSMTP = %d92 %d32-126
 * qtextSMTP       = %d32-33 / %d35-91 / %d93-126 =/ UTF8-non-ascii
 * An empty Quoted-string ("") is rejected: RFC 5321 allows it but no
 * mailbox of ours has an empty local part.
 */
static int
scan_quoted(
    const char *s, size_t len, size_t pos, unsigned int flags, size_t *end)
{
	size_t i;
	unsigned char c;

	if (pos >= len || s[pos] != '"')
		return -1;
	i = pos + 1;
	for (;;) {
		if (i >= len)
			return -1;
		c = (unsigned char)s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= len)
				return -1;
			c = (unsigned char)s[i + 1];
			if (c < 32 || c > 126)
				return -1;
			i += 2;
			continue;
		}
		if (c >= 0x80 && (flags & ADDR_F_UTF8) == 0)
			return -1;
		if (c < 32 || c == 127)
			return -1;
		i++;
	}
	if (i == pos + 1)
		return -1;
	if (!utf8_clean(s + pos, i + 1 - pos))
		return -1;
	*end = i + 1;
	return 0;
}

/* Local-part = Dot-string / Quoted-string, at most 64 octets as sent. */
static int
scan_local(
    const char *s, size_t len, size_t pos, unsigned int flags, size_t *end)
{
	size_t e;
	int rc;

	if (pos >= len)
		return -1;
	if (s[pos] == '"')
		rc = scan_quoted(s, len, pos, flags, &e);
	else
		rc = scan_dot_string(s, len, pos, flags, &e);
	if (rc == -1)
		return -1;
	if (e - pos > ADDR_LOCAL_MAX)
		return -1;
	*end = e;
	return 0;
}

/*
 * Domain     = sub-domain *("." sub-domain)
 * sub-domain = Let-dig [Ldh-str]            =/ U-label (RFC 6531)
 * Ldh-str    = *( ALPHA / DIGIT / "-" ) Let-dig
 * Labels of 1..63 octets, 255 in all, no trailing dot. U-labels are taken
 * as LDH labels that may contain well-formed UTF-8; IDNA2008 checks belong
 * to whoever converts them to A-labels.
 */
static int
scan_domain_name(
    const char *s, size_t len, size_t pos, unsigned int flags, size_t *end)
{
	size_t i, label;
	unsigned char c;

	i = pos;
	label = 0;
	while (i < len) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return -1;
			label = 0;
		} else if (is_alpha(c) || is_digit(c) ||
		    (c >= 0x80 && (flags & ADDR_F_UTF8) != 0)) {
			label++;
		} else if (c == '-') {
			if (label == 0)
				return -1;
			label++;
		} else {
			break;
		}
		if (label > ADDR_LABEL_MAX)
			return -1;
		i++;
	}
	if (label == 0 || s[i - 1] == '-')
		return -1;
	if (i - pos > ADDR_DOMAIN_MAX)
		return -1;
	if (!utf8_clean(s + pos, i - pos))
		return -1;
	*end = i;
	return 0;
}

/* IPv4-address-literal = Snum 3("." Snum); Snum = 1*3DIGIT, 0..255 */
static int
valid_ipv4(const char *s, size_t len)
{
	size_t i, digits;
	unsigned int v, parts;

	i = 0;
	parts = 0;
	while (parts < 4) {
		v = 0;
		digits = 0;
		while (i < len && is_digit((unsigned char)s[i]) && digits < 3) {
			v = v * 10 + (unsigned int)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || v > 255)
			return 0;
		parts++;
		if (parts < 4) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i != len)
		return 0;
	return 1;
}

/*
 * IPv6-address-literal = "IPv6:" IPv6-addr (RFC 5321 §4.1.3); the address
 * itself is checked by inet_pton(3), whose grammar is RFC 4291 §2.2 (the
 * IPv6-full / -comp / -v4-full / -v4-comp forms of RFC 5321).
 */
static int
valid_ipv6(const char *s, size_t len)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	size_t i;

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_hex((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
			return 0;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET6, tmp, bin) != 1)
		return 0;
	return 1;
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                         General-address-literal ) "]"
 * General-address-literal (a Standardized-tag other than IPv6) is rejected:
 * no other tag has ever been registered.
 */
static int
scan_literal(const char *s, size_t len, size_t pos, size_t *end)
{
	const char *close;
	size_t n, inner;

	if (pos >= len || s[pos] != '[')
		return -1;
	n = len - pos < ADDR_LIT_MAX ? len - pos : ADDR_LIT_MAX;
	close = memchr(s + pos, ']', n);
	if (close == NULL)
		return -1;
	inner = (size_t)(close - (s + pos)) - 1;
	if (inner > 5 && strncasecmp(s + pos + 1, "IPv6:", 5) == 0) {
		if (!valid_ipv6(s + pos + 6, inner - 5))
			return -1;
	} else if (!valid_ipv4(s + pos + 1, inner)) {
		return -1;
	}
	*end = pos + inner + 2;
	return 0;
}

/* Domain / address-literal */
static int
scan_domain(
    const char *s, size_t len, size_t pos, unsigned int flags, size_t *end)
{
	if (pos >= len)
		return -1;
	if (s[pos] == '[')
		return scan_literal(s, len, pos, end);
	return scan_domain_name(s, len, pos, flags, end);
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), into a. */
static int
scan_mailbox(const char *s, size_t len, size_t pos, unsigned int flags,
    struct mailaddr *a, size_t *end)
{
	size_t lend, dend;

	if (scan_local(s, len, pos, flags, &lend) == -1)
		return -1;
	if (lend >= len || s[lend] != '@')
		return -1;
	if (scan_domain(s, len, lend + 1, flags, &dend) == -1)
		return -1;
	if (dend - (lend + 1) > ADDR_DOMAIN_MAX)
		return -1;
	memcpy(a->local, s + pos, lend - pos);
	a->local[lend - pos] = '\0';
	memcpy(a->domain, s + lend + 1, dend - lend - 1);
	a->domain[dend - lend - 1] = '\0';
	*end = dend;
	return 0;
}

/*
 * A-d-l = At-domain *( "," At-domain ) ":"; At-domain = "@" Domain
 * RFC 5321 §4.1.2 and appendix C: accepted for compatibility, then ignored.
 */
static int
skip_adl(const char *s, size_t len, size_t pos, unsigned int flags, size_t *end)
{
	size_t i;

	i = pos;
	for (;;) {
		if (i >= len || s[i] != '@')
			return -1;
		if (scan_domain_name(s, len, i + 1, flags, &i) == -1)
			return -1;
		if (i >= len)
			return -1;
		if (s[i] == ':')
			break;
		if (s[i] != ',')
			return -1;
		i++;
	}
	*end = i + 1;
	return 0;
}

/*
 * addr_parse_path - Path = "<" [ A-d-l ":" ] Mailbox ">"
 *   with "<>" (ADDR_F_ALLOW_NULL) and "<Postmaster>" (ADDR_F_NO_DOMAIN).
 * Only the first ADDR_PATH_MAX bytes are looked at: a longer path has no
 * '>' in range and fails.
 */
int
addr_parse_path(const char *s, size_t len, unsigned int flags,
    struct mailaddr *out, size_t *consumed_r)
{
	static const char pm[] = "Postmaster>";
	struct mailaddr a;
	size_t pos, end;

	if (len > ADDR_PATH_MAX)
		len = ADDR_PATH_MAX;
	if (len < 2 || s[0] != '<')
		return -1;
	memset(&a, 0, sizeof(a));
	pos = 1;
	if (s[pos] == '>') {
		/* null path: nothing to fill */
		if ((flags & ADDR_F_ALLOW_NULL) == 0)
			return -1;
		end = pos;
	} else if (len - pos >= sizeof(pm) - 1 &&
	    strncasecmp(s + pos, pm, sizeof(pm) - 1) == 0) {
		if ((flags & ADDR_F_NO_DOMAIN) == 0)
			return -1;
		memcpy(a.local, pm, sizeof(pm) - 2);
		end = pos + sizeof(pm) - 2;
	} else {
		if (s[pos] == '@' && skip_adl(s, len, pos, flags, &pos) == -1)
			return -1;
		if (scan_mailbox(s, len, pos, flags, &a, &end) == -1)
			return -1;
	}
	if (end >= len || s[end] != '>')
		return -1;
	*out = a;
	*consumed_r = end + 1;
	return 0;
}

int
addr_parse_mailbox(
    const char *s, size_t len, unsigned int flags, struct mailaddr *out)
{
	struct mailaddr a;
	size_t end;

	if (len > ADDR_MAILBOX_MAX)
		return -1;
	memset(&a, 0, sizeof(a));
	if (scan_mailbox(s, len, 0, flags, &a, &end) == -1)
		return -1;
	if (end != len)
		return -1;
	*out = a;
	return 0;
}

int
addr_valid_domain(const char *s, unsigned int flags)
{
	size_t len, end;

	len = strnlen(s, ADDR_DOMAIN_MAX + 1);
	if (len > ADDR_DOMAIN_MAX)
		return 0;
	if (scan_domain(s, len, 0, flags, &end) == -1)
		return 0;
	if (end != len)
		return 0;
	return 1;
}

long
addr_format(const struct mailaddr *a, char *out, size_t outsize)
{
	size_t llen, dlen, n;

	llen = strnlen(a->local, sizeof(a->local));
	dlen = strnlen(a->domain, sizeof(a->domain));
	if (llen == sizeof(a->local) || dlen == sizeof(a->domain))
		return -1;
	/* "" for the null path, "Postmaster" for "<Postmaster>" */
	n = dlen == 0 ? llen : llen + 1 + dlen;
	if (outsize == 0 || n >= outsize)
		return -1;
	memcpy(out, a->local, llen);
	if (dlen > 0) {
		out[llen] = '@';
		memcpy(out + llen + 1, a->domain, dlen);
	}
	out[n] = '\0';
	return (long)n;
}

int
addr_is_null(const struct mailaddr *a)
{
	return a->local[0] == '\0' && a->domain[0] == '\0';
}
