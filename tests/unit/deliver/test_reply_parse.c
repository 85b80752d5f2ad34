/*
 * test_reply_parse.c - the SMTP/LMTP reply parser (src/deliver/reply_parse.c):
 * well-formed replies, the limits, code validation and consistency, and
 * that feeding byte by byte gives what feeding at once gives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/reply_parse.h"

struct reply_case {
	const char *in;
	enum reply_status want;
	int code;
	const char *enh;
	const char *text; /* lines joined by '\n' */
	size_t nlines;
	enum reply_error err;
};

static const struct reply_case cases[] = {
    {"250 OK\r\n", REPLY_DONE, 250, "", "OK", 1, REPLY_ERR_NONE},
    {"250 2.1.0 Sender OK\r\n", REPLY_DONE, 250, "2.1.0", "Sender OK", 1,
        REPLY_ERR_NONE},
    {"250\r\n", REPLY_DONE, 250, "", "", 1, REPLY_ERR_NONE},
    {"250 \r\n", REPLY_DONE, 250, "", "", 1, REPLY_ERR_NONE},
    {"220 mx.example ESMTP\n", REPLY_DONE, 220, "", "mx.example ESMTP", 1,
        REPLY_ERR_NONE},
    {"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
        REPLY_DONE, 250, "", "mx.example\nPIPELINING\nSIZE 1000\n8BITMIME", 4,
        REPLY_ERR_NONE},
    /* RFC 2034: the enhanced code on each line is stripped when equal */
    {"550-5.1.1 no such\r\n550 5.1.1 user\r\n", REPLY_DONE, 550, "5.1.1",
        "no such\nuser", 2, REPLY_ERR_NONE},
    /* an enhanced code of another class is text */
    {"550 4.1.1 odd\r\n", REPLY_DONE, 550, "", "4.1.1 odd", 1, REPLY_ERR_NONE},
    {"451 4.7.0\r\n", REPLY_DONE, 451, "4.7.0", "", 1, REPLY_ERR_NONE},
    {"250 2.0.00 x\r\n", REPLY_DONE, 250, "", "2.0.00 x", 1, REPLY_ERR_NONE},
    {"250 2.0.1000 x\r\n", REPLY_DONE, 250, "", "2.0.1000 x", 1,
        REPLY_ERR_NONE},
    /* control characters and 8-bit octets become '?' */
    {"554 bad\x01\x80\tx\r\n", REPLY_DONE, 554, "", "bad???x", 1,
        REPLY_ERR_NONE},
    {"250 a\0b\r\n", REPLY_DONE, 250, "", "a?b", 1, REPLY_ERR_NONE},
    /* incomplete */
    {"250-first\r\n", REPLY_MORE, 0, NULL, NULL, 0, REPLY_ERR_NONE},
    {"250 no line end", REPLY_MORE, 0, NULL, NULL, 0, REPLY_ERR_NONE},
    {"", REPLY_MORE, 0, NULL, NULL, 0, REPLY_ERR_NONE},
    /* malformed */
    {"25 short\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_CODE},
    {"\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_CODE},
    {"199 low\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_CODE},
    {"600 high\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_CODE},
    {"260 bad second digit\r\n", REPLY_ERROR, 0, NULL, NULL, 0,
        REPLY_ERR_BAD_CODE},
    {"25x x\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_CODE},
    {"2500 x\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_SEPARATOR},
    {"250_x\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_SEPARATOR},
    {"250-a\r\n550 b\r\n", REPLY_ERROR, 0, NULL, NULL, 0,
        REPLY_ERR_CODE_MISMATCH},
    {"250-a\r\nxyz\r\n", REPLY_ERROR, 0, NULL, NULL, 0, REPLY_ERR_BAD_CODE},
};

/* feed - the whole input at once, or one byte at a time. */
static enum reply_status
feed(struct reply_parser *p, const char *in, size_t len, int bytewise,
    size_t *used_r, struct smtp_reply *out)
{
	enum reply_status st = REPLY_MORE;
	size_t i, u;

	if (!bytewise)
		return reply_parse(p, in, len, used_r, out);
	*used_r = 0;
	for (i = 0; i < len; i++) {
		st = reply_parse(p, in + i, 1, &u, out);
		*used_r += u;
		if (st != REPLY_MORE)
			return st;
	}
	return st;
}

static void
test_cases(void **state)
{
	struct reply_parser *p = malloc(sizeof(*p));
	struct smtp_reply *r = malloc(sizeof(*r));
	size_t i, len, used;
	int bytewise;

	(void)state;
	assert_non_null(p);
	assert_non_null(r);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];

		/* cases with a NUL: the length runs to the last "\n" */
		len = strlen(c->in);
		if (strcmp(c->in, "250 a") == 0)
			len = 9;
		for (bytewise = 0; bytewise <= 1; bytewise++) {
			enum reply_status st;

			reply_parse_init(p);
			memset(r, 0, sizeof(*r));
			st = feed(p, c->in, len, bytewise, &used, r);
			if (st != c->want)
				fail_msg("case %zu (%s): status %d, want %d", i,
				    bytewise ? "bytewise" : "whole", st,
				    c->want);
			if (st == REPLY_ERROR)
				assert_int_equal(p->error, c->err);
			if (st != REPLY_DONE)
				continue;
			assert_int_equal(used, len);
			assert_int_equal(r->code, c->code);
			assert_string_equal(r->enh, c->enh);
			assert_string_equal(r->text, c->text);
			assert_int_equal(r->textlen, strlen(c->text));
			assert_int_equal(r->nlines, c->nlines);
			assert_int_equal(r->local, 0);
		}
	}
	free(p);
	free(r);
}

/* Pipelined replies: each DONE stops right after its reply. */
static void
test_pipelined(void **state)
{
	static const char in[] = "250 2.1.0 ok\r\n550 5.1.1 no\r\n354 go\r\n";
	struct reply_parser *p = malloc(sizeof(*p));
	struct smtp_reply *r = malloc(sizeof(*r));
	size_t off = 0, used;
	int codes[3], n = 0;

	(void)state;
	reply_parse_init(p);
	while (off < sizeof(in) - 1 && n < 3) {
		assert_int_equal(
		    reply_parse(p, in + off, sizeof(in) - 1 - off, &used, r),
		    REPLY_DONE);
		codes[n++] = r->code;
		off += used;
	}
	assert_int_equal(n, 3);
	assert_int_equal(codes[0], 250);
	assert_int_equal(codes[1], 550);
	assert_int_equal(codes[2], 354);
	assert_string_equal(r->text, "go");
	free(p);
	free(r);
}

/* Line length: REPLY_LINE_MAX octets pass, one more fails (CR not counted). */
static void
test_line_limit(void **state)
{
	static char line[REPLY_LINE_MAX + 8];
	struct reply_parser *p = malloc(sizeof(*p));
	struct smtp_reply *r = malloc(sizeof(*r));
	size_t used;

	(void)state;
	assert_non_null(p);
	assert_non_null(r);
	memset(line, 'a', REPLY_LINE_MAX + 8);
	memcpy(line, "250 ", 4);
	memcpy(line + REPLY_LINE_MAX, "\r\n", 2);
	reply_parse_init(p);
	assert_int_equal(
	    reply_parse(p, line, REPLY_LINE_MAX + 2, &used, r), REPLY_DONE);
	assert_int_equal(r->textlen, REPLY_LINE_MAX - 4);

	memset(line, 'a', REPLY_LINE_MAX + 8);
	memcpy(line, "250 ", 4);
	memcpy(line + REPLY_LINE_MAX + 1, "\r\n", 2);
	reply_parse_init(p);
	assert_int_equal(
	    reply_parse(p, line, REPLY_LINE_MAX + 3, &used, r), REPLY_ERROR);
	assert_int_equal(p->error, REPLY_ERR_LINE_TOO_LONG);
	/* sticky */
	assert_int_equal(
	    reply_parse(p, "250 ok\r\n", 8, &used, r), REPLY_ERROR);

	/* without any line end: fails as soon as the cap is passed */
	memset(line, 'a', REPLY_LINE_MAX + 8);
	memcpy(line, "250 ", 4);
	reply_parse_init(p);
	assert_int_equal(
	    reply_parse(p, line, REPLY_LINE_MAX + 8, &used, r), REPLY_ERROR);
	assert_int_equal(p->error, REPLY_ERR_LINE_TOO_LONG);
	free(p);
	free(r);
}

/* Line count and total text caps. */
static void
test_count_limits(void **state)
{
	struct reply_parser *p = malloc(sizeof(*p));
	struct smtp_reply *r = malloc(sizeof(*r));
	char line[REPLY_LINE_MAX + 4];
	size_t i, used;
	enum reply_status st = REPLY_MORE;

	(void)state;
	reply_parse_init(p);
	for (i = 0; i < REPLY_LINES_MAX - 1; i++) {
		assert_int_equal(
		    reply_parse(p, "250-x\r\n", 7, &used, r), REPLY_MORE);
	}
	assert_int_equal(reply_parse(p, "250 x\r\n", 7, &used, r), REPLY_DONE);
	assert_int_equal(r->nlines, REPLY_LINES_MAX);

	reply_parse_init(p);
	for (i = 0; i < REPLY_LINES_MAX; i++)
		(void)reply_parse(p, "250-x\r\n", 7, &used, r);
	assert_int_equal(reply_parse(p, "250 x\r\n", 7, &used, r), REPLY_ERROR);
	assert_int_equal(p->error, REPLY_ERR_TOO_MANY_LINES);

	/* long lines: the text cap comes before the line cap */
	memset(line, 'b', sizeof(line));
	memcpy(line, "250-", 4);
	memcpy(line + 1000, "\r\n", 2);
	reply_parse_init(p);
	for (i = 0; i < REPLY_LINES_MAX && st == REPLY_MORE; i++)
		st = reply_parse(p, line, 1002, &used, r);
	assert_int_equal(st, REPLY_ERROR);
	assert_int_equal(p->error, REPLY_ERR_TEXT_TOO_LONG);
	free(p);
	free(r);
}

static void
test_enh(void **state)
{
	(void)state;
	assert_int_equal(reply_parse_enh("2.0.0", 5), 5);
	assert_int_equal(reply_parse_enh("5.1.10 x", 8), 6);
	assert_int_equal(reply_parse_enh("4.123.999", 9), 9);
	assert_int_equal(reply_parse_enh("3.0.0", 5), 0);
	assert_int_equal(reply_parse_enh("2.0", 3), 0);
	assert_int_equal(reply_parse_enh("2.0.0x", 6), 0);
	assert_int_equal(reply_parse_enh("2..0", 4), 0);
	assert_int_equal(reply_parse_enh("2.01.0", 6), 0);
	assert_int_equal(reply_parse_enh("2.0.0000", 8), 0);
}

static void
test_format(void **state)
{
	struct smtp_reply *r = malloc(sizeof(*r));
	struct reply_parser *p = malloc(sizeof(*p));
	char out[32];
	size_t used;
	const char *s;
	size_t n;

	(void)state;
	reply_parse_init(p);
	assert_int_equal(
	    reply_parse(
	        p, "550-5.1.1 user\r\n550 5.1.1 unknown\r\n", 35, &used, r),
	    REPLY_DONE);
	assert_string_equal(
	    reply_format(r, out, sizeof(out)), "550 5.1.1 user unknown");
	assert_int_equal(reply_line(r, 1, &s, &n), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(s, "unknown", 7);
	assert_int_equal(reply_line(r, 2, &s, &n), -1);
	assert_string_equal(reply_format(r, out, 16), "550 5.1.1 us...");

	reply_set_local(r, 421, "4.4.2", "timeout \x01 %d", 5);
	assert_int_equal(r->local, 1);
	assert_string_equal(
	    reply_format(r, out, sizeof(out)), "421 4.4.2 timeout ? 5");
	reply_set_local(r, 451, "bogus", "x");
	assert_string_equal(r->enh, "");
	free(r);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_count_limits),
	    cmocka_unit_test(test_enh),
	    cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
