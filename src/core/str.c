/*
 * str.c - small bounded string helpers (see str.h).
 * ASCII-only case handling: never depends on the locale.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

static int
ascii_lower(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	return c;
}

static int
ascii_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

size_t
str_copy(char *dst, const char *src, size_t dstsize)
{
	size_t len, n;

	len = strlen(src);
	if (dstsize == 0)
		return len;
	n = len < dstsize - 1 ? len : dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return len;
}

size_t
str_append(char *dst, const char *src, size_t dstsize)
{
	size_t dlen;

	dlen = strnlen(dst, dstsize);
	if (dlen == dstsize)
		return dstsize + strlen(src);
	return dlen + str_copy(dst + dlen, src, dstsize - dlen);
}

char *
str_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		*p = (char)ascii_lower((unsigned char)*p);
	return s;
}

int
str_ieq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		if (ascii_lower((unsigned char)*a) !=
		    ascii_lower((unsigned char)*b))
			return 0;
	}
	return *a == '\0' && *b == '\0';
}

int
str_iprefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		if (*s == '\0' ||
		    ascii_lower((unsigned char)*s) !=
		        ascii_lower((unsigned char)*prefix))
			return 0;
	}
	return 1;
}

char *
str_trim(char *s)
{
	size_t len;

	while (ascii_space((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && ascii_space((unsigned char)s[len - 1]))
		len--;
	s[len] = '\0';
	return s;
}

char *
str_dup(const char *s)
{
	size_t len;
	char *p;

	len = strlen(s);
	p = malloc(len + 1);
	if (p == NULL) {
		fputs("postern: out of memory\n", stderr);
		abort();
	}
	memcpy(p, s, len + 1);
	return p;
}

int
str_is_printable_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 1;
}

/*
 * str_valid_utf8 - RFC 3629 §4:
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 * The narrowed second-byte ranges exclude overlongs, surrogates and > U+10FFFF.
 */
int
str_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, k, ntail;
	unsigned char lo, hi;

	i = 0;
	while (i < len) {
		lo = 0x80;
		hi = 0xbf;
		if (p[i] < 0x80) {
			i++;
			continue;
		} else if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			ntail = 1;
		} else if (p[i] == 0xe0) {
			ntail = 2;
			lo = 0xa0;
		} else if (p[i] == 0xed) {
			ntail = 2;
			hi = 0x9f;
		} else if (p[i] >= 0xe1 && p[i] <= 0xef) {
			ntail = 2;
		} else if (p[i] == 0xf0) {
			ntail = 3;
			lo = 0x90;
		} else if (p[i] >= 0xf1 && p[i] <= 0xf3) {
			ntail = 3;
		} else if (p[i] == 0xf4) {
			ntail = 3;
			hi = 0x8f;
		} else {
			return 0;
		}
		if (len - i - 1 < ntail)
			return 0;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return 0;
		for (k = 2; k <= ntail; k++) {
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				return 0;
		}
		i += ntail + 1;
	}
	return 1;
}

int
str_to_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	unsigned int d;

	if (*s == '\0')
		return -1;
	v = 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned int)(*s - '0');
		/* d > max would make max - d wrap around. */
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

void
str_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}
