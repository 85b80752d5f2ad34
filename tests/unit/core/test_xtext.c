/*
 * test_xtext.c - xtext.h: RFC 3461 §4 decode/encode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/xtext.h"

static void
test_decode(void **state)
{
	static const struct {
		const char *in;
		long rc;
		const char *want;
	} cases[] = {
	    {"", 0, ""},
	    {"user@example.com", 16, "user@example.com"},
	    {"a+2Bb", 3, "a+b"},
	    {"a+3Db", 3, "a=b"},
	    {"+20", 1, " "},
	    {"+C3+A9", 2, "\xc3\xa9"},
	    {"!~", 2, "!~"},
	    {"a+2b", -1, NULL}, /* lower-case hex */
	    {"a+", -1, NULL},   /* truncated */
	    {"a+2", -1, NULL},
	    {"a+G0", -1, NULL},
	    {"a=b", -1, NULL}, /* '=' is not an xchar */
	    {"a b", -1, NULL}, /* space */
	    {"a\tb", -1, NULL},
	    {"a\x7f", -1, NULL},
	    {"\xc3\xa9", -1, NULL},
	    {"+00", -1, NULL}, /* would truncate the C string */
	    {"++2B", -1, NULL},
	};
	char out[64];
	size_t i;
	long rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = xtext_decode(
		    cases[i].in, strlen(cases[i].in), out, sizeof(out));
		assert_int_equal(rc, cases[i].rc);
		if (rc >= 0)
			assert_string_equal(out, cases[i].want);
	}
}

static void
test_decode_sizes(void **state)
{
	char out[4];

	assert_int_equal(xtext_decode("abc", 3, out, 4), 3);
	assert_int_equal(xtext_decode("abcd", 4, out, 4), -1);
	assert_int_equal(xtext_decode("ab+2B", 5, out, 4), 3);
	assert_int_equal(xtext_decode("", 0, out, 1), 0);
	assert_int_equal(xtext_decode("", 0, out, 0), -1);
	/* length bounds the input: a '+' cut by n is truncated */
	assert_int_equal(xtext_decode("a+2B", 2, out, 4), -1);
}

static void
test_encode(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
	    {"", 0, ""},
	    {"user@example.com", 16, "user@example.com"},
	    {"a+b=c", 5, "a+2Bb+3Dc"},
	    {"a b", 3, "a+20b"},
	    {"\xc3\xa9", 2, "+C3+A9"},
	    {"\0\n", 2, "+00+0A"},
	    {"~\x7f", 2, "~+7F"},
	};
	char out[64];
	size_t i;
	long rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = xtext_encode(cases[i].in, cases[i].n, out, sizeof(out));
		assert_int_equal(rc, (long)strlen(cases[i].want));
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(xtext_encode("a+", 2, out, 5), 4);
	assert_int_equal(xtext_encode("a+", 2, out, 4), -1);
	assert_int_equal(xtext_encode("ab", 2, out, 2), -1);
}

static void
test_roundtrip(void **state)
{
	char in[255], enc[800], dec[256];
	size_t i;
	long n;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)(i + 1);
	n = xtext_encode(in, sizeof(in), enc, sizeof(enc));
	assert_true(n > 0);
	assert_int_equal(
	    xtext_decode(enc, (size_t)n, dec, sizeof(dec)), (long)sizeof(in));
	assert_memory_equal(in, dec, sizeof(in));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_decode_sizes),
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
