/*
 * gs2.c - the GS2 header (RFC 5802 §7, the SCRAM profile of RFC 5801 §4):
 *   gs2-header     = gs2-cbind-flag "," [ authzid ] ","
 *   gs2-cbind-flag = ("p=" cb-name) / "n" / "y"
 *   cb-name        = 1*(ALPHA / DIGIT / "." / "-")   ; RFC 5056 §7
 *   authzid        = "a=" saslname
 *   saslname       = 1*(value-safe-char / "=2C" / "=3D")
 *   value-safe-char = %x01-2B / %x2D-3C / %x3E-7F / UTF8-2 / UTF8-3 / UTF8-4
 * Used by SCRAM and OAUTHBEARER; UTF-8 validity is the caller's check.
 */
#include <string.h>

#include "sasl/gs2.h"

long
gs2_saslname_decode(const char *in, size_t n, char *out, size_t outsize)
{
	size_t i, o = 0;

	if (n == 0 || outsize == 0)
		return -1;
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (c == '\0' || c == ',')
			return -1;
		if (c == '=') {
			if (n - i < 3)
				return -1;
			if (in[i + 1] == '2' && in[i + 2] == 'C')
				c = ',';
			else if (in[i + 1] == '3' && in[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (o + 1 >= outsize)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

long
gs2_saslname_encode(const char *in, size_t n, char *out, size_t outsize)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		const char *rep = NULL;

		if (in[i] == ',')
			rep = "=2C";
		else if (in[i] == '=')
			rep = "=3D";
		if (rep != NULL) {
			if (o + 4 > outsize)
				return -1;
			memcpy(out + o, rep, 3);
			o += 3;
		} else {
			if (o + 2 > outsize)
				return -1;
			out[o++] = in[i];
		}
	}
	if (o >= outsize)
		return -1;
	out[o] = '\0';
	return (long)o;
}

static int
cbname_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-';
}

int
gs2_parse(const unsigned char *p, size_t n, struct gs2_header *out)
{
	const unsigned char *comma;
	size_t i = 0, alen;
	long dl;

	memset(out, 0, sizeof(*out));
	if (p == NULL || n < 3)
		return -1;
	if (p[0] == 'n' || p[0] == 'y') {
		out->flag = p[0] == 'n' ? GS2_CB_NONE : GS2_CB_CLIENT;
		i = 1;
	} else if (p[0] == 'p' && p[1] == '=') {
		out->flag = GS2_CB_USED;
		for (i = 2; i < n && cbname_char(p[i]); i++) {
			if (i - 2 >= GS2_CBNAME_MAX)
				return -1;
			out->cb_name[i - 2] = (char)p[i];
		}
		if (i == 2)
			return -1;
		out->cb_name[i - 2] = '\0';
	} else
		return -1;
	if (i >= n || p[i] != ',')
		return -1;
	i++;
	if (i >= n)
		return -1;
	if (p[i] == 'a') {
		if (i + 1 >= n || p[i + 1] != '=')
			return -1;
		i += 2;
		comma = memchr(p + i, ',', n - i);
		if (comma == NULL)
			return -1;
		alen = (size_t)(comma - (p + i));
		dl = gs2_saslname_decode((const char *)p + i, alen,
		    out->authzid, sizeof(out->authzid));
		if (dl < 0)
			return -1;
		out->authzid_len = (size_t)dl;
		i += alen;
	}
	if (i >= n || p[i] != ',')
		return -1;
	out->len = i + 1;
	return 0;
}
