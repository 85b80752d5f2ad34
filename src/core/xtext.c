/*
 * xtext.c - RFC 3461 §4 xtext:
 *   xtext   = *( xchar / hexchar )
 *   xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *             except for "+" and "="
 *   hexchar = ASCII "+" immediately followed by two upper case
 *             hexadecimal digits
 * The decoder also rejects "+00": the result is a C string and an embedded
 * NUL would silently shorten it.
 */
#include <limits.h>

#include "core/xtext.h"

static int
xtext_xchar(unsigned char c)
{
	return c >= '!' && c <= '~' && c != '+' && c != '=';
}

/* xtext_hexval - value of an upper-case hex digit, or -1. */
static int
xtext_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
xtext_decode(const char *in, size_t n, char *out, size_t outsize)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i, o;
	int hi, lo;

	if (outsize == 0 || n > (size_t)LONG_MAX)
		return -1;
	o = 0;
	for (i = 0; i < n; i++) {
		if (o + 1 >= outsize)
			return -1;
		if (p[i] == '+') {
			if (n - i < 3)
				return -1;
			hi = xtext_hexval(p[i + 1]);
			lo = xtext_hexval(p[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (xtext_xchar(p[i])) {
			out[o++] = (char)p[i];
		} else {
			return -1;
		}
	}
	out[o] = '\0';
	return (long)o;
}

long
xtext_encode(const char *in, size_t n, char *out, size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)in;
	size_t i, o;

	if (outsize == 0 || n > (size_t)LONG_MAX / 3)
		return -1;
	o = 0;
	for (i = 0; i < n; i++) {
		if (xtext_xchar(p[i])) {
			if (outsize - o < 2)
				return -1;
			out[o++] = (char)p[i];
		} else {
			if (outsize - o < 4)
				return -1;
			out[o++] = '+';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 0xf];
		}
	}
	out[o] = '\0';
	return (long)o;
}
