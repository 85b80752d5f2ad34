/*
 * dovecot_proto.c - parsing and building lines of Dovecot's authentication
 * protocol v1.2 (Dovecot's doc/auth-protocol; its client side). Pure: no
 * I/O, no allocation except the request that carries a password, which is
 * a struct secret so it is wiped. Fuzzed by tests/fuzz/fuzz_dovecot_auth.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dovecot_proto.h"
#include "core/base64.h"
#include "core/secret.h"
#include "core/str.h"

#define DOVECOT_USER_MAX 512

/* unescape - decode \001 escapes of s in place; -1 on a decoded NUL or a trailing \001. */
static int
unescape(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (*s != '\001') {
			*w++ = *s;
			continue;
		}
		s++;
		switch (*s) {
		case '\0':
			return -1;
		case '0':
			return -1; /* a NUL inside a value: nothing we accept */
		case '1':
			*w++ = '\001';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 'l':
			*w++ = '\n';
			break;
		default:
			*w++ = *s;
			break;
		}
	}
	*w = '\0';
	return 0;
}

/* parse_uint - a decimal number without sign or leading junk, at most max. */
static int
parse_uint(const char *s, unsigned long long max, unsigned int *out)
{
	unsigned long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9' ||
	    str_to_uint(s, max, &v) < 0)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static const struct {
	const char *name;
	enum dovecot_cmd cmd;
} cmds[] = {
    {"VERSION", DOVECOT_CMD_VERSION},
    {"MECH", DOVECOT_CMD_MECH},
    {"SPID", DOVECOT_CMD_SPID},
    {"CUID", DOVECOT_CMD_CUID},
    {"COOKIE", DOVECOT_CMD_COOKIE},
    {"DONE", DOVECOT_CMD_DONE},
    {"OK", DOVECOT_CMD_OK},
    {"FAIL", DOVECOT_CMD_FAIL},
    {"CONT", DOVECOT_CMD_CONT},
    {"USER", DOVECOT_CMD_USER},
    {"NOTFOUND", DOVECOT_CMD_NOTFOUND},
};

/* optional - one "name=value" or "boolean" parameter of OK / FAIL / USER. */
static void
optional(struct dovecot_reply *r, const char *f)
{
	if (strncmp(f, "user=", 5) == 0)
		r->user = f + 5;
	else if (strncmp(f, "reason=", 7) == 0)
		r->reason = f + 7;
	else if (strncmp(f, "senders=", 8) == 0)
		r->senders = f + 8;
	else if (strcmp(f, "temp") == 0 || strcmp(f, "code=temp_fail") == 0)
		r->temp = 1;
	else if (strcmp(f, "code=user_disabled") == 0)
		r->disabled = 1;
	else if (strcmp(f, "code=pass_expired") == 0)
		r->expired = 1;
	else if (strcmp(f, "nologin") == 0 || strncmp(f, "nologin=", 8) == 0 ||
	    strcmp(f, "proxy") == 0 || strncmp(f, "proxy=", 6) == 0)
		r->nologin = 1;
}

/*
 * line    = command *(TAB field)            ; fields tab-escaped
 * OK      = "OK" TAB id *(TAB param)        ; FAIL alike; CONT TAB id TAB data
 * USER    = "USER" TAB id TAB userid *(TAB param)
 * VERSION = "VERSION" TAB major TAB minor ; MECH = "MECH" TAB name *(TAB param)
 */
int
dovecot_parse_line(char *line, size_t len, struct dovecot_reply *out)
{
	char *f[DOVECOT_FIELDS_MAX];
	size_t nf = 0, i;
	char *p = line, *tab;

	memset(out, 0, sizeof(*out));
	if (len > DOVECOT_LINE_MAX || memchr(line, '\0', len) != NULL)
		return -1;
	line[len] = '\0';
	for (;;) {
		if (nf == DOVECOT_FIELDS_MAX)
			return -1;
		f[nf++] = p;
		tab = strchr(p, '\t');
		if (tab == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	for (i = 0; i < nf; i++)
		if (unescape(f[i]) < 0)
			return -1;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(f[0], cmds[i].name) == 0)
			out->cmd = cmds[i].cmd;
	switch (out->cmd) {
	case DOVECOT_CMD_UNKNOWN:
	case DOVECOT_CMD_SPID:
	case DOVECOT_CMD_CUID:
	case DOVECOT_CMD_COOKIE:
	case DOVECOT_CMD_DONE:
		return 0;
	case DOVECOT_CMD_VERSION:
		if (nf < 3 || parse_uint(f[1], 0xffff, &out->major) < 0 ||
		    parse_uint(f[2], 0xffff, &out->minor) < 0)
			return -1;
		return 0;
	case DOVECOT_CMD_MECH:
		if (nf < 2 || f[1][0] == '\0')
			return -1;
		out->mech = f[1];
		return 0;
	case DOVECOT_CMD_CONT:
		if (nf < 2)
			return -1;
		break;
	case DOVECOT_CMD_USER:
		if (nf < 3)
			return -1;
		out->user = f[2];
		break;
	default:
		if (nf < 2)
			return -1;
		break;
	}
	if (parse_uint(f[1], 0xffffffffULL, &out->id) < 0)
		return -1;
	if (out->cmd == DOVECOT_CMD_CONT)
		return 0;
	for (i = out->cmd == DOVECOT_CMD_USER ? 3 : 2; i < nf; i++)
		optional(out, f[i]);
	/* auth-userdb: "FAIL" TAB id TAB <error message> */
	if (out->cmd == DOVECOT_CMD_FAIL && out->reason == NULL && nf > 2 &&
	    strchr(f[2], '=') == NULL)
		out->reason = f[2];
	if (out->cmd == DOVECOT_CMD_USER && out->user[0] == '\0')
		return -1;
	return 0;
}

size_t
dovecot_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	char esc;

	if (outlen == 0)
		return (size_t)-1;
	for (; *in != '\0'; in++) {
		switch (*in) {
		case '\001':
			esc = '1';
			break;
		case '\t':
			esc = 't';
			break;
		case '\r':
			esc = 'r';
			break;
		case '\n':
			esc = 'l';
			break;
		default:
			esc = 0;
			break;
		}
		if (o + (esc != 0 ? 2 : 1) >= outlen) {
			out[0] = '\0';
			return (size_t)-1;
		}
		if (esc != 0) {
			out[o++] = '\001';
			out[o++] = esc;
		} else
			out[o++] = *in;
	}
	out[o] = '\0';
	return o;
}

/* valid_service - what Dovecot takes as a service name. */
static int
valid_service(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

struct secret *
dovecot_auth_line(unsigned int id, const char *service, const char *user,
    const struct secret *password)
{
	/* both wiped before return: they hold the password */
	unsigned char raw[1 + DOVECOT_USER_MAX + 1 + DOVECOT_LINE_MAX / 2];
	char line[DOVECOT_LINE_MAX + 128];
	struct secret *out = NULL;
	size_t ulen, rawlen;
	int n;
	long enc;

	if (user == NULL || password == NULL || !valid_service(service))
		return NULL;
	ulen = strlen(user);
	if (ulen == 0 || ulen > DOVECOT_USER_MAX ||
	    password->len > DOVECOT_LINE_MAX / 2 ||
	    memchr(password->data, '\0', password->len) != NULL)
		return NULL;
	n = snprintf(line, sizeof(line),
	    "AUTH\t%u\tPLAIN\tservice=%s\tnologin\tsecured\tno-penalty\t"
	    "resp=",
	    id, service);
	if (n < 0 || (size_t)n >= 128)
		return NULL;
	/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd */
	rawlen = 1 + ulen + 1 + password->len;
	raw[0] = '\0';
	memcpy(raw + 1, user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, password->data, password->len);
	enc =
	    base64_encode(raw, rawlen, line + n, sizeof(line) - (size_t)n - 1);
	if (enc >= 0) {
		line[(size_t)n + (size_t)enc] = '\n';
		out = secret_new(line, (size_t)n + (size_t)enc + 1);
	}
	secret_wipe(raw, sizeof(raw));
	secret_wipe(line, sizeof(line));
	return out;
}

size_t
dovecot_user_line(unsigned int id, const char *service, const char *user,
    char *out, size_t outlen)
{
	char esc[DOVECOT_USER_MAX * 2 + 1];
	int n;

	if (outlen == 0)
		return (size_t)-1;
	out[0] = '\0';
	if (user == NULL || user[0] == '\0' || !valid_service(service) ||
	    strlen(user) > DOVECOT_USER_MAX ||
	    dovecot_escape(user, esc, sizeof(esc)) == (size_t)-1)
		return (size_t)-1;
	n = snprintf(
	    out, outlen, "USER\t%u\t%s\tservice=%s\n", id, esc, service);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return (size_t)-1;
	}
	return (size_t)n;
}

size_t
dovecot_split_senders(char *buf, const char **out, size_t max)
{
	char *tok, *save = NULL;
	size_t n = 0;

	if (max == 0)
		return 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL && n + 1 < max;
	     tok = strtok_r(NULL, ", ", &save))
		if (str_is_printable_ascii(tok, strlen(tok)))
			out[n++] = tok;
	out[n] = NULL;
	return n;
}
