/*
 * fuzz_addr.c - RFC 5321 paths under every flag combination. The first
 * input byte picks the flags, the rest is the path. Properties (STYLE.md,
 * the CVE-2020-7247 lesson): anything accepted contains no control
 * character, and addr_format() of it parses back to the same struct —
 * as a path always, and as a bare mailbox when it has a domain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* clean - no C0 control, DEL or NUL before the terminator. */
static int
clean(const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
		/* C1 controls in UTF-8: U+0080..U+009F */
		if ((unsigned char)s[i] == 0xc2 && i + 1 < max &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return 0;
	}
	return i < max;
}

static void
check(const struct mailaddr *a, unsigned int flags)
{
	struct mailaddr b;
	char out[ADDR_PATH_MAX + 8], path[ADDR_PATH_MAX + 10];
	size_t consumed;
	long n;

	if (!clean(a->local, sizeof(a->local)) ||
	    !clean(a->domain, sizeof(a->domain)))
		abort();
	n = addr_format(a, out, sizeof(out));
	if (n < 0 || (size_t)n > ADDR_PATH_MAX - 2 || strlen(out) != (size_t)n)
		abort();
	path[0] = '<';
	memcpy(path + 1, out, (size_t)n);
	path[n + 1] = '>';
	path[n + 2] = '\0';
	memset(&b, 0, sizeof(b));
	if (addr_parse_path(path, (size_t)n + 2, flags, &b, &consumed) != 0 ||
	    consumed != (size_t)n + 2 || strcmp(a->local, b.local) != 0 ||
	    strcmp(a->domain, b.domain) != 0)
		abort();
	if (a->domain[0] != '\0') {
		memset(&b, 0, sizeof(b));
		if (addr_parse_mailbox(out, (size_t)n, flags, &b) != 0 ||
		    strcmp(a->local, b.local) != 0 ||
		    strcmp(a->domain, b.domain) != 0)
			abort();
		if (!addr_valid_domain(a->domain, flags))
			abort();
	}
	if (addr_is_null(a) != (out[0] == '\0'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr a;
	unsigned int flags;
	size_t consumed;
	char *s;

	if (size < 1 || size > 4096)
		return 0;
	flags = data[0] & (ADDR_F_UTF8 | ADDR_F_ALLOW_NULL | ADDR_F_NO_DOMAIN);
	data++;
	size--;
	/* exact-size copy: ASan catches any read past len */
	s = malloc(size > 0 ? size : 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);

	if (addr_parse_path(s, size, flags, &a, &consumed) == 0) {
		if (consumed < 2 || consumed > size ||
		    consumed > ADDR_PATH_MAX || s[consumed - 1] != '>')
			abort();
		check(&a, flags);
	}
	if (addr_parse_mailbox(s, size, flags, &a) == 0) {
		if (a.domain[0] == '\0')
			abort();
		check(&a, flags);
	}
	free(s);
	return 0;
}
