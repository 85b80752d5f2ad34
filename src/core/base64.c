/*
 * base64.c - strict RFC 4648 §4 base64, as RFC 4954 wants for AUTH:
 * the standard alphabet, '=' padding required, no whitespace, and the
 * unused bits of the last symbol must be zero (§3.5), so every byte string
 * has exactly one accepted encoding.
 */
#include <limits.h>
#include <string.h>

#include "core/base64.h"
#include "core/secret.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_size(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

size_t
base64_decoded_max(size_t n)
{
	return (n + 3) / 4 * 3;
}

long
base64_encode(const void *in, size_t n, char *out, size_t outsize)
{
	const unsigned char *p = in;
	size_t i, o;
	unsigned long v;

	if (n > ((size_t)-1 - 1) / 4 * 3 - 2 ||
	    outsize < base64_encoded_size(n))
		return -1;
	o = 0;
	for (i = 0; i + 3 <= n; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = b64_alphabet[v & 0x3f];
	}
	if (n - i == 1) {
		v = (unsigned long)p[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

/* b64_value - the 6-bit value of an alphabet character, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * base64_decode - encoded = *4base64-char [ 2base64-char "==" / 3base64-char "=" ]
 * Padding may appear only in the last quantum. On error, whatever was
 * already written to out is wiped.
 */
long
base64_decode(const char *in, size_t n, unsigned char *out, size_t outsize)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i, o, pad, outlen;
	int v0, v1, v2, v3;

	if (n % 4 != 0 || n > (size_t)LONG_MAX)
		return -1;
	if (n == 0)
		return 0;
	pad = 0;
	if (p[n - 1] == '=')
		pad = p[n - 2] == '=' ? 2 : 1;
	outlen = n / 4 * 3 - pad;
	if (outlen > outsize)
		return -1;
	o = 0;
	for (i = 0; i < n; i += 4) {
		v0 = b64_value(p[i]);
		v1 = b64_value(p[i + 1]);
		if (i + 4 == n && pad == 2) {
			v2 = 0;
			v3 = 0;
			if ((v1 & 0x0f) != 0)
				goto bad;
		} else if (i + 4 == n && pad == 1) {
			v2 = b64_value(p[i + 2]);
			v3 = 0;
			if (v2 >= 0 && (v2 & 0x03) != 0)
				goto bad;
		} else {
			v2 = b64_value(p[i + 2]);
			v3 = b64_value(p[i + 3]);
		}
		if (v0 < 0 || v1 < 0 || v2 < 0 || v3 < 0)
			goto bad;
		out[o++] = (unsigned char)(v0 << 2 | v1 >> 4);
		if (o < outlen)
			out[o++] = (unsigned char)((v1 & 0x0f) << 4 | v2 >> 2);
		if (o < outlen)
			out[o++] = (unsigned char)((v2 & 0x03) << 6 | v3);
	}
	return (long)o;
bad:
	secret_wipe(out, o);
	return -1;
}
