/*
 * test_buf.c - buf.h: appends under a hard cap, printf, consume, reset, free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"

static void
test_append_cap(void **state)
{
	static const struct {
		size_t max;
		const char *parts[4];
		int rc[4];
		const char *want;
	} cases[] = {
	    {10, {"hello", "world"}, {0, 0}, "helloworld"},
	    {10, {"hello", "world!"}, {0, -1}, "hello"},
	    {10, {"hello world"}, {-1}, ""},
	    {0, {"", "x"}, {0, -1}, ""},
	    {3, {"a", "b", "c", "d"}, {0, 0, 0, -1}, "abc"},
	};
	struct buf b;
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, cases[i].max);
		for (k = 0; k < 4 && cases[i].parts[k] != NULL; k++)
			assert_int_equal(
			    buf_appends(&b, cases[i].parts[k]), cases[i].rc[k]);
		assert_int_equal(b.len, strlen(cases[i].want));
		if (b.data != NULL)
			assert_string_equal(b.data, cases[i].want);
		assert_true(b.len <= b.max);
		buf_free(&b);
		assert_null(b.data);
		assert_int_equal(b.len, 0);
	}
}

static void
test_growth(void **state)
{
	struct buf b;
	char chunk[100];
	size_t i;

	memset(chunk, 'q', sizeof(chunk));
	buf_init(&b, 100000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 100000);
	buf_free(&b);
	/* a huge n never wraps the length check */
	buf_init(&b, (size_t)-1);
	assert_int_equal(buf_append(&b, "a", 1), 0);
	assert_int_equal(buf_append(&b, chunk, (size_t)-1), -1);
	assert_int_equal(buf_append(&b, chunk, (size_t)-2), -1);
	buf_free(&b);
}

static void
test_printf(void **state)
{
	struct buf b;

	buf_init(&b, 16);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "abc"), 0);
	assert_string_equal(b.data, "42-abc");
	assert_int_equal(buf_printf(&b, "%s", "0123456789"), 0);
	assert_int_equal(b.len, 16);
	assert_int_equal(buf_printf(&b, "%s", "x"), -1);
	assert_string_equal(b.data, "42-abc0123456789");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_printf(&b, "%s", "0123456789abcdefg"), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_consume(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
	    {"hello world", 6, "world"}, {"hello", 0, "hello"},
	    {"hello", 5, ""}, {"hello", 9, ""}, /* clamped */
	};
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 64);
		assert_int_equal(buf_appends(&b, cases[i].in), 0);
		buf_consume(&b, cases[i].n);
		assert_int_equal(b.len, strlen(cases[i].want));
		assert_string_equal(b.data, cases[i].want);
		buf_free(&b);
	}
	/* consume on an empty, never-allocated buffer */
	buf_init(&b, 8);
	buf_consume(&b, 0);
	buf_reset(&b);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_cap),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_consume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
