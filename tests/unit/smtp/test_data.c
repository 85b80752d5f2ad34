/*
 * test_data.c - the DATA reader: end of data, dot-unstuffing, limits, and
 * every SMTP smuggling variant (CVE-2023-51764/-51765/-51766). Each case is
 * fed whole, split into two chunks at every position, and byte by byte;
 * all feeds must give the same result.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"

#define OUT_MAX 4096

struct sink_buf {
	char data[OUT_MAX];
	size_t len;
	int calls;
	int fail; /* return -1 on every call */
};

static int
sink(void *arg, const char *p, size_t n)
{
	struct sink_buf *b = arg;

	assert_true(n > 0);
	assert_true(b->len + n <= sizeof(b->data));
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->calls++;
	return b->fail ? -1 : 0;
}

struct result {
	int done;
	size_t used;
	enum data_error err;
	unsigned long long size;
	struct sink_buf out;
};

/*
 * run - feed in[0..len) in chunks starting at the offsets cuts[0..ncuts)
 * (ascending, each > 0); stop at the end of data.
 */
static void
run(const char *in, size_t len, unsigned long long max_size, size_t line_max,
    const size_t *cuts, size_t ncuts, struct result *res)
{
	struct data_reader r;
	size_t pos = 0, c, end, used;

	memset(res, 0, sizeof(*res));
	data_reader_init(&r, max_size, line_max, sink, &res->out);
	for (c = 0; c <= ncuts; c++) {
		end = c < ncuts ? cuts[c] : len;
		if (end < pos)
			continue;
		used = 12345;
		res->done = data_reader_feed(&r, in + pos, end - pos, &used);
		if (res->done) {
			assert_true(used <= end - pos);
			res->used = pos + used;
			break;
		}
		assert_int_equal(used, end - pos);
		pos = end;
		res->used = pos;
	}
	res->err = data_reader_error(&r);
	res->size = data_reader_size(&r);
	if (res->done) {
		/* after the end, nothing more is taken */
		assert_int_equal(data_reader_feed(&r, "x", 1, &used), 1);
		assert_int_equal(used, 0);
	}
}

static void
assert_same(const struct result *a, const struct result *b)
{
	assert_int_equal(a->done, b->done);
	assert_int_equal(a->used, b->used);
	assert_int_equal(a->err, b->err);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->out.len, b->out.len);
	assert_memory_equal(a->out.data, b->out.data, a->out.len);
}

struct data_case {
	const char *name;
	const char *in;
	unsigned long long max_size;
	size_t line_max;
	int done;
	size_t used; /* (size_t)-1: all of in */
	enum data_error err;
	const char *out;         /* NULL: do not check (error cases) */
	unsigned long long size; /* (unsigned long long)-1: do not check */
};

#define ALL  ((size_t)-1)
#define ANY  ((unsigned long long)-1)
#define LMAX 1000

static const struct data_case cases[] = {
    /* end of data */
    {"simple", "hello\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK, "hello\r\n", 7},
    {"empty message", ".\r\n", 0, LMAX, 1, ALL, DATA_OK, "", 0},
    {"empty line then end", "\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK, "\r\n", 2},
    {"pipelined rest", "a\r\n.\r\nQUIT\r\n", 0, LMAX, 1, 6, DATA_OK, "a\r\n",
        3},
    {"two lines", "a\r\nb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK, "a\r\nb\r\n", 6},
    {"incomplete dot", "abc\r\n.", 0, LMAX, 0, ALL, DATA_OK, "abc\r\n", 5},
    {"incomplete dot cr", "abc\r\n.\r", 0, LMAX, 0, ALL, DATA_OK, "abc\r\n", 5},
    {"no end", "abc\r\n", 0, LMAX, 0, ALL, DATA_OK, "abc\r\n", 5},
    {"nothing", "", 0, LMAX, 0, ALL, DATA_OK, "", 0},
    {"dot mid line", "a.\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK, "a.\r\n", 4},

    /* dot-unstuffing */
    {"stuffed dot", "..foo\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK, ".foo\r\n", 6},
    {"stuffed lone dot", "..\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK, ".\r\n", 3},
    {"unstuffed leading dot", ".foo\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK,
        "foo\r\n", 5},
    {"three dots", "...\r\nx\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK, "..\r\nx\r\n",
        7},
    {"stuffed later line", "a\r\n..b\r\n.\r\n", 0, LMAX, 1, ALL, DATA_OK,
        "a\r\n.b\r\n", 7},

    /* smuggling: none of these end the data */
    {"LF.LF", "a\n.\nb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_LF, NULL, ANY},
    {"CRLF.LF", "a\r\n.\nb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_LF, NULL,
        ANY},
    {"LF.CRLF", "a\n.\r\nb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_LF, NULL,
        ANY},
    {"CR.CRLF", "a\r.\r\nb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_CR, NULL,
        ANY},
    {"CR.CR", "a\r.\rb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_CR, NULL, ANY},
    {"CRLF.CR", "a\r\n.\rb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_CR, NULL,
        ANY},
    {"LF.LF never ends", "a\n.\nMAIL FROM:<x@y>\r\n", 0, LMAX, 0, ALL,
        DATA_ERR_BARE_LF, NULL, ANY},
    {"CRLF.LF never ends", "a\r\n.\nRCPT TO:<x@y>\r\n", 0, LMAX, 0, ALL,
        DATA_ERR_BARE_LF, NULL, ANY},
    {"LF.CRLF never ends", "a\n.\r\nQUIT\r\n", 0, LMAX, 0, ALL,
        DATA_ERR_BARE_LF, NULL, ANY},
    {"CR.CRLF never ends", "a\r.\r\nQUIT\r\n", 0, LMAX, 0, ALL,
        DATA_ERR_BARE_CR, NULL, ANY},
    {"start .LF", ".\n.\r\n", 0, LMAX, 0, ALL, DATA_ERR_BARE_LF, NULL, ANY},
    {"start LF.CRLF", "\n.\r\n", 0, LMAX, 0, ALL, DATA_ERR_BARE_LF, NULL, ANY},
    {"CRLF LF.CRLF", "a\r\n\n.\r\n", 0, LMAX, 0, ALL, DATA_ERR_BARE_LF, NULL,
        ANY},
    {"start CR.CRLF", "\r.\r\n", 0, LMAX, 0, ALL, DATA_ERR_BARE_CR, NULL, ANY},
    {"dot CR CR LF", "a\r\n.\r\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_CR,
        NULL, ANY},
    {"CR CR LF is one real end", "a\r\r\n.\r\n", 0, LMAX, 1, ALL,
        DATA_ERR_BARE_CR, NULL, ANY},
    {"bare LF in text", "a\nb\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_LF, "a",
        ANY},
    {"bare CR in text", "ab\rc\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_CR,
        "ab\r", ANY},
    {"first error wins", "a\rb\nc\r\n.\r\n", 0, LMAX, 1, ALL, DATA_ERR_BARE_CR,
        NULL, ANY},

    /* line length: line_max counts the CRLF and a stuffing dot */
    {"line at limit", "12345678\r\n.\r\n", 0, 10, 1, ALL, DATA_OK,
        "12345678\r\n", 10},
    {"line over limit", "123456789\r\n.\r\n", 0, 10, 1, ALL,
        DATA_ERR_LINE_TOO_LONG, NULL, 11},
    {"long line no CRLF", "123456789012345", 0, 10, 0, ALL,
        DATA_ERR_LINE_TOO_LONG, "1234567890", 15},
    {"stuffed line over limit", "..2345678\r\n.\r\n", 0, 10, 1, ALL,
        DATA_ERR_LINE_TOO_LONG, NULL, ANY},
    {"long then short", "123456789012\r\nab\r\n.\r\n", 0, 10, 1, ALL,
        DATA_ERR_LINE_TOO_LONG, NULL, ANY},
    {"limit resets per line", "12345678\r\n12345678\r\n.\r\n", 0, 10, 1, ALL,
        DATA_OK, "12345678\r\n12345678\r\n", 20},

    /* size */
    {"size at limit", "abc\r\n.\r\n", 5, LMAX, 1, ALL, DATA_OK, "abc\r\n", 5},
    {"size over limit", "abcd\r\n.\r\n", 5, LMAX, 1, ALL, DATA_ERR_TOO_BIG,
        "abcd\r", 6},
    {"size excludes stuffing", "..\r\n.\r\n", 3, LMAX, 1, ALL, DATA_OK, ".\r\n",
        3},
    {"size counted past error", "a\nbcdefgh\r\n.\r\n", 0, LMAX, 1, ALL,
        DATA_ERR_BARE_LF, "a", 11},
};

static void
test_cases(void **state)
{
	size_t i, k, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct data_case *t = &cases[i];
		size_t len = strlen(t->in);
		struct result got, other;
		size_t *cuts;

		print_message("case: %s\n", t->name);
		run(t->in, len, t->max_size, t->line_max, NULL, 0, &got);
		assert_int_equal(got.done, t->done);
		assert_int_equal(got.used, t->used == ALL ? len : t->used);
		assert_int_equal(got.err, t->err);
		if (t->out != NULL) {
			assert_int_equal(got.out.len, strlen(t->out));
			assert_memory_equal(got.out.data, t->out, got.out.len);
		}
		if (t->size != ANY)
			assert_int_equal(got.size, t->size);
		if (t->err != DATA_OK && t->out == NULL) {
			/* whatever was passed, no smuggled command is in it */
			assert_null(
			    memmem(got.out.data, got.out.len, "QUIT", 4));
		}

		/* two chunks, split at every position */
		for (k = 0; k <= len; k++) {
			run(t->in, len, t->max_size, t->line_max, &k, 1,
			    &other);
			assert_same(&got, &other);
		}
		/* three chunks, every pair of positions */
		for (k = 1; k < len; k++) {
			for (j = k + 1; j < len; j++) {
				size_t two[2] = {k, j};

				run(t->in, len, t->max_size, t->line_max, two,
				    2, &other);
				assert_same(&got, &other);
			}
		}
		/* byte by byte */
		cuts = calloc(len + 1, sizeof(*cuts));
		assert_non_null(cuts);
		for (k = 0; k < len; k++)
			cuts[k] = k + 1;
		run(t->in, len, t->max_size, t->line_max, cuts, len, &other);
		assert_same(&got, &other);
		free(cuts);
	}
}

/* The sink gets runs, not bytes: one call for plain lines fed at once. */
static void
test_batches(void **state)
{
	static const char in[] = "line one\r\nline two\r\nline three\r\n.\r\n";
	struct result got;

	(void)state;
	run(in, sizeof(in) - 1, 0, LMAX, NULL, 0, &got);
	assert_int_equal(got.done, 1);
	assert_int_equal(got.out.calls, 1);
	assert_int_equal(got.out.len, sizeof(in) - 1 - 3);
}

/* A failing sink is DATA_ERR_SINK, is called no more, and the end is found. */
static void
test_sink_failure(void **state)
{
	static const char in[] = "a\r\n..b\r\nc\r\n.\r\nQUIT\r\n";
	struct data_reader r;
	struct sink_buf b;
	size_t used;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.fail = 1;
	data_reader_init(&r, 0, LMAX, sink, &b);
	assert_int_equal(data_reader_feed(&r, in, sizeof(in) - 1, &used), 1);
	assert_int_equal(used, sizeof(in) - 1 - 6);
	assert_int_equal(data_reader_error(&r), DATA_ERR_SINK);
	assert_int_equal(b.calls, 1);
}

/* A long message in pieces: size accounting over many feeds. */
static void
test_large(void **state)
{
	static const char line[] = "0123456789abcdef0123456789abcdef\r\n";
	struct data_reader r;
	struct sink_buf b;
	size_t used, i, ll = sizeof(line) - 1;

	(void)state;
	memset(&b, 0, sizeof(b));
	data_reader_init(&r, 100 * ll, LMAX, sink, &b);
	for (i = 0; i < 100; i++) {
		assert_int_equal(data_reader_feed(&r, line, ll, &used), 0);
		b.len = 0; /* keep the buffer small */
	}
	assert_int_equal(data_reader_feed(&r, ".\r\n", 3, &used), 1);
	assert_int_equal(data_reader_error(&r), DATA_OK);
	assert_int_equal(data_reader_size(&r), 100 * ll);

	data_reader_init(&r, 100 * ll - 1, LMAX, sink, &b);
	for (i = 0; i < 100; i++)
		assert_int_equal(data_reader_feed(&r, line, ll, &used), 0);
	assert_int_equal(data_reader_feed(&r, ".\r\n", 3, &used), 1);
	assert_int_equal(data_reader_error(&r), DATA_ERR_TOO_BIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_batches),
	    cmocka_unit_test(test_sink_failure),
	    cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
