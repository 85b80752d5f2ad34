/*
 * fuzz_dovecot_auth.c - what Dovecot's auth process may send us
 * (src/auth/dovecot_proto.c). The input is split at LF like the driver
 * does; every line is parsed. Properties: no crash or overread on any
 * line; a parsed reply's strings lie inside the line; and a value
 * tab-escaped by dovecot_escape comes back unchanged as "user=".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dovecot_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const char *s, const char *line, size_t size)
{
	if (s != NULL && (s < line || s > line + size))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dovecot_reply r;
	char *copy, *line, *nl, *esc, *rt;
	size_t len, rest, n;

	if (size > 65536)
		return 0;
	copy = malloc(size + 1);
	esc = malloc(2 * size + 1);
	rt = malloc(2 * size + 16);
	if (copy == NULL || esc == NULL || rt == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';

	/* every LF-terminated line, and the unterminated rest */
	line = copy;
	rest = size;
	while (rest > 0) {
		nl = memchr(line, '\n', rest);
		len = nl != NULL ? (size_t)(nl - line) : rest;
		if (dovecot_parse_line(line, len, &r) == 0) {
			inside(r.user, line, len);
			inside(r.reason, line, len);
			inside(r.senders, line, len);
			inside(r.mech, line, len);
			if (r.cmd == DOVECOT_CMD_USER &&
			    (r.user == NULL || r.user[0] == '\0'))
				abort();
		}
		if (nl == NULL)
			break;
		rest -= len + 1;
		line = nl + 1;
	}

	/* round trip: escape(s) parses back to s (s without NUL or CR/LF
	 * issues: escaping covers them) */
	memcpy(copy, data, size);
	copy[size] = '\0';
	n = strlen(copy);
	if (dovecot_escape(copy, esc, 2 * size + 1) == (size_t)-1)
		abort();
	memcpy(rt, "OK\t1\tuser=", 10);
	memcpy(rt + 10, esc, strlen(esc) + 1);
	if (n > 0 && strlen(rt) <= DOVECOT_LINE_MAX) {
		if (dovecot_parse_line(rt, strlen(rt), &r) != 0 ||
		    r.user == NULL || strcmp(r.user, copy) != 0)
			abort();
	}
	free(copy);
	free(esc);
	free(rt);
	return 0;
}
