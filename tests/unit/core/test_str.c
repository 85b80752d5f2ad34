/*
 * test_str.c - str.h: bounded copies, ASCII case, trimming, UTF-8, numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/str.h"

static void
test_copy(void **state)
{
	static const struct {
		const char *src;
		size_t size;
		const char *want;
		size_t ret;
	} cases[] = {
	    {"hello", 10, "hello", 5},
	    {"hello", 6, "hello", 5},
	    {"hello", 5, "hell", 5},
	    {"hello", 1, "", 5},
	    {"", 4, "", 0},
	};
	char dst[16];
	size_t i, got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(dst, 'x', sizeof(dst));
		got = str_copy(dst, cases[i].src, cases[i].size);
		assert_int_equal(got, cases[i].ret);
		assert_string_equal(dst, cases[i].want);
	}
	/* size 0 writes nothing */
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(str_copy(dst, "abc", 0), 3);
	assert_int_equal(dst[0], 'x');
}

static void
test_append(void **state)
{
	static const struct {
		const char *dst;
		const char *src;
		size_t size;
		const char *want;
		size_t ret;
	} cases[] = {
	    {"ab", "cd", 10, "abcd", 4},
	    {"ab", "cd", 5, "abcd", 4},
	    {"ab", "cd", 4, "abc", 4},
	    {"ab", "cd", 3, "ab", 4},
	    {"", "xyz", 2, "x", 3},
	};
	char dst[16];
	size_t i, got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(dst, cases[i].dst);
		got = str_append(dst, cases[i].src, cases[i].size);
		assert_int_equal(got, cases[i].ret);
		assert_string_equal(dst, cases[i].want);
	}
	/* dst not terminated within size: strlcat returns size + strlen(src) */
	memcpy(dst, "abcd", 4);
	assert_int_equal(str_append(dst, "xy", 4), 6);
}

static void
test_case(void **state)
{
	static const struct {
		const char *a, *b;
		int eq, prefix;
	} cases[] = {
	    {"HeLLo", "hello", 1, 1},
	    {"hello", "hell", 0, 1},
	    {"hell", "hello", 0, 0},
	    {"", "", 1, 1},
	    {"abc", "", 0, 1},
	    {"AUTH PLAIN", "auth ", 0, 1},
	    {"\xc3\x89", "\xc3\xa9", 0, 0}, /* no Unicode folding */
	    {"[", "{", 0, 0},
	};
	char s[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(str_ieq(cases[i].a, cases[i].b), cases[i].eq);
		assert_int_equal(
		    str_iprefix(cases[i].a, cases[i].b), cases[i].prefix);
	}
	strcpy(s, "MiXeD 123 \xc3\x89");
	assert_ptr_equal(str_lower(s), s);
	assert_string_equal(s, "mixed 123 \xc3\x89");
}

static void
test_trim(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"  a b \t\r\n", "a b"},
	    {"abc", "abc"},
	    {"   ", ""},
	    {"", ""},
	    {"\v\fx", "x"},
	};
	char s[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(s, cases[i].in);
		assert_string_equal(str_trim(s), cases[i].want);
	}
}

static void
test_dup(void **state)
{
	char *p;

	p = str_dup("copy me");
	assert_string_equal(p, "copy me");
	free(p);
}

static void
test_printable(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		int want;
	} cases[] = {
	    {"hello world ~", 13, 1},
	    {"", 0, 1},
	    {"a\tb", 3, 0},
	    {"a\x7f", 2, 0},
	    {"\xc3\xa9", 2, 0},
	    {"a\0b", 3, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
		    str_is_printable_ascii(cases[i].s, cases[i].len),
		    cases[i].want);
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		int want;
	} cases[] = {
	    {"plain ascii", 1},
	    {"", 1},
	    {"caf\xc3\xa9", 1},
	    {"\xe2\x82\xac", 1},     /* U+20AC */
	    {"\xf0\x9f\x98\x80", 1}, /* U+1F600 */
	    {"\xf4\x8f\xbf\xbf", 1}, /* U+10FFFF */
	    {"\xed\x9f\xbf", 1},     /* U+D7FF */
	    {"\xee\x80\x80", 1},     /* U+E000 */
	    {"\xc0\xaf", 0},         /* overlong '/' */
	    {"\xc1\xbf", 0},         /* overlong */
	    {"\xe0\x80\xaf", 0},     /* overlong 3 */
	    {"\xf0\x80\x80\xaf", 0}, /* overlong 4 */
	    {"\xed\xa0\x80", 0},     /* surrogate U+D800 */
	    {"\xed\xbf\xbf", 0},     /* surrogate U+DFFF */
	    {"\xf4\x90\x80\x80", 0}, /* > U+10FFFF */
	    {"\xf5\x80\x80\x80", 0},
	    {"\xff", 0},
	    {"\x80", 0},     /* lone continuation */
	    {"\xc3", 0},     /* truncated */
	    {"\xe2\x82", 0}, /* truncated */
	    {"\xc3\x28", 0}, /* bad continuation */
	    {"a\xf0\x9f\x98", 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(str_valid_utf8(cases[i].s, strlen(cases[i].s)),
		    cases[i].want);
	}
	/* the length bounds the check: a valid prefix of a longer string */
	assert_int_equal(str_valid_utf8("\xc3\xa9\xc3", 2), 1);
}

static void
test_to_uint(void **state)
{
	static const struct {
		const char *s;
		unsigned long long max;
		int rc;
		unsigned long long want;
	} cases[] = {
	    {"0", 10, 0, 0},
	    {"10", 10, 0, 10},
	    {"11", 10, -1, 0},
	    {"007", 10, 0, 7},
	    {"", 10, -1, 0},
	    {"-1", 10, -1, 0},
	    {"+1", 10, -1, 0},
	    {" 1", 10, -1, 0},
	    {"1 ", 10, -1, 0},
	    {"1x", 10, -1, 0},
	    {"18446744073709551615", ~0ULL, 0, ~0ULL},
	    {"18446744073709551616", ~0ULL, -1, 0},
	    {"99999999999999999999999", ~0ULL, -1, 0},
	    {"65535", 65535, 0, 65535},
	    {"65536", 65535, -1, 0},
	    {"2", 1, -1, 0}, /* a digit above max must not wrap max - d */
	    {"9", 0, -1, 0},
	    {"1", 1, 0, 1},
	};
	unsigned long long got;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = 12345;
		assert_int_equal(
		    str_to_uint(cases[i].s, cases[i].max, &got), cases[i].rc);
		if (cases[i].rc == 0)
			assert_true(got == cases[i].want);
		else
			assert_true(got == 12345);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_append),
	    cmocka_unit_test(test_case),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_dup),
	    cmocka_unit_test(test_printable),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_to_uint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
