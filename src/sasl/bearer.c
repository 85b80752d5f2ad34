/*
 * bearer.c - the parts OAUTHBEARER (RFC 7628 §3.1) and XOAUTH2 share: the
 * key/value list, the bearer credential (RFC 6750 §2.1) and the failure
 * status (RFC 7628 §3.2.2). Pure: the token itself goes to the exchange,
 * which hands it to the auth service like a password.
 */
#include <string.h>
#include <strings.h>

#include "auth/passdb.h"
#include "core/buf.h"
#include "core/str.h"
#include "sasl/bearer.h"
#include "sasl/exchange.h"

static int
is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* value = *(VCHAR / SP / HTAB / CR / LF) */
static int
value_char(unsigned char c)
{
	return (c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t' || c == '\r' ||
	    c == '\n';
}

/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int
valid_b64token(const char *t, size_t n)
{
	size_t i = 0;

	while (i < n &&
	    (is_alpha((unsigned char)t[i]) || (t[i] >= '0' && t[i] <= '9') ||
	        t[i] == '-' || t[i] == '.' || t[i] == '_' || t[i] == '~' ||
	        t[i] == '+' || t[i] == '/'))
		i++;
	if (i == 0)
		return 0;
	while (i < n && t[i] == '=')
		i++;
	return i == n;
}

/* credentials = "Bearer" 1*SP b64token  (the scheme name in any case) */
static int
parse_auth(const char *v, size_t n, struct sasl_bearer_msg *out)
{
	size_t i = 6;

	if (n < 8 || strncasecmp(v, "Bearer", 6) != 0 || v[6] != ' ')
		return -1;
	while (i < n && v[i] == ' ')
		i++;
	if (n - i == 0 || n - i > SASL_TOKEN_MAX ||
	    !valid_b64token(v + i, n - i))
		return -1;
	out->token = v + i;
	out->token_len = n - i;
	return 0;
}

int
sasl_bearer_parse_kv(const unsigned char *p, size_t n, int allow_user,
    struct sasl_bearer_msg *out)
{
	size_t i = 0, k, v;
	int have_auth = 0, have_user = 0, have_host = 0, have_port = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		if (i >= n)
			return -1; /* the closing kvsep is missing */
		if (p[i] == 0x01)
			break;
		for (k = i; k < n && is_alpha(p[k]); k++)
			;
		if (k == i || k >= n || p[k] != '=')
			return -1;
		for (v = k + 1; v < n && p[v] != 0x01; v++)
			if (!value_char(p[v]))
				return -1;
		if (v >= n)
			return -1;
		if (k - i == 4 && memcmp(p + i, "auth", 4) == 0) {
			if (have_auth++ ||
			    parse_auth(
			        (const char *)p + k + 1, v - k - 1, out) < 0)
				return -1;
		} else if (allow_user && k - i == 4 &&
		    memcmp(p + i, "user", 4) == 0) {
			if (have_user++)
				return -1;
			out->user = (const char *)p + k + 1;
			out->user_len = v - k - 1;
		} else if (k - i == 4 && memcmp(p + i, "host", 4) == 0) {
			if (have_host++)
				return -1;
		} else if (k - i == 4 && memcmp(p + i, "port", 4) == 0) {
			if (have_port++)
				return -1;
		}
		i = v + 1;
	}
	/* the closing kvsep must end the message */
	if (i + 1 != n || !have_auth)
		return -1;
	return 0;
}

/* json_str - append s as a JSON string (RFC 8259 §7). */
static int
json_str(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			if (buf_append(out, e, 2) < 0)
				return -1;
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = {
			    '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			if (buf_append(out, e, 6) < 0)
				return -1;
		} else if (buf_append(out, s, 1) < 0)
			return -1;
	}
	return buf_append(out, "\"", 1);
}

/* fail_status - RFC 7628 §3.2.2: {"status":..., "schemes":"bearer", "scope":...} */
static enum sasl_status
fail_status(struct sasl_exchange *x, struct buf *out, const char *status,
    const char *scope)
{
	buf_reset(out);
	if (buf_appends(out, "{\"status\":") < 0 || json_str(out, status) < 0 ||
	    buf_appends(out, ",\"schemes\":\"bearer\"") < 0 ||
	    (scope != NULL && scope[0] != '\0' &&
	        (buf_appends(out, ",\"scope\":") < 0 ||
	            json_str(out, scope) < 0)) ||
	    buf_appends(out, "}") < 0) {
		buf_reset(out);
		x->error = SASL_ERR_TEMP;
		return SASL_TEMPFAIL;
	}
	return SASL_CONTINUE;
}

enum sasl_status
sasl_bearer_resume(struct sasl_exchange *x, const struct cred_result *r,
    struct buf *out, int *failed, const char *status)
{
	switch (r->status) {
	case PASSDB_OK:
		break;
	case PASSDB_DISABLED:
		return sasl_x_fail(x, SASL_ERR_DISABLED);
	case PASSDB_MISMATCH:
	case PASSDB_NO_USER:
		/* the token is not good: tell the client, wait for its ack */
		*failed = 1;
		return fail_status(x, out, status, r->oauth_scope);
	case PASSDB_NO_SCHEME:
	case PASSDB_TEMPFAIL:
	default:
		x->error = SASL_ERR_TEMP;
		return SASL_TEMPFAIL;
	}
	if (r->flags & CRED_DISABLED)
		return sasl_x_fail(x, SASL_ERR_DISABLED);
	if (r->user == NULL ||
	    sasl_x_set_authcid(x, r->user, strlen(r->user)) < 0)
		return sasl_x_fail(x, SASL_ERR_CREDENTIALS);
	/* a token speaks for its own user only, whatever allow_authzid says */
	if (x->authzid[0] != '\0' && !str_ieq(x->authzid, x->authcid)) {
		x->user[0] = '\0';
		return sasl_x_fail(x, SASL_ERR_AUTHZ);
	}
	return sasl_x_finish_identity(x, r->user);
}
