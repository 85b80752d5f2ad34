/*
 * test_secret.c - secret.h: copies, termination, wiping, constant-time
 * comparisons; and rand.h's output shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/rand.h"
#include "core/secret.h"

static void
test_new_free(void **state)
{
	static const struct {
		const char *p;
		size_t len;
	} cases[] = {
	    {"hunter2", 7},
	    {"", 0},
	    {"a\0b", 3},
	};
	struct secret *s;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = secret_new(cases[i].p, cases[i].len);
		assert_non_null(s);
		assert_int_equal(s->len, cases[i].len);
		assert_memory_equal(s->data, cases[i].p, cases[i].len);
		assert_int_equal(s->data[s->len], '\0');
		secret_free(s);
	}
	s = secret_new(NULL, 0);
	assert_non_null(s);
	assert_int_equal(s->len, 0);
	secret_free(s);
	secret_free(NULL);
}

static void
test_wipe(void **state)
{
	unsigned char b[32];
	size_t i;

	memset(b, 0xa5, sizeof(b));
	secret_wipe(b, 16);
	for (i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], i < 16 ? 0 : 0xa5);
	secret_wipe(NULL, 0);
	secret_wipe(b, 0);
}

static void
test_ct_memeq(void **state)
{
	static const struct {
		const char *a, *b;
		size_t n;
		int want;
	} cases[] = {
	    {"abcd", "abcd", 4, 1},
	    {"abcd", "abce", 4, 0},
	    {"xbcd", "abcd", 4, 0},
	    {"abcd", "abce", 3, 1},
	    {"", "", 0, 1},
	    {"\x80", "\x00", 1, 0},
	    {"\xff", "\xfe", 1, 0},
	    {"\x01", "\x00", 1, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ct_memeq(cases[i].a, cases[i].b, cases[i].n),
		    cases[i].want);
}

static void
test_ct_streq(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
	    {"secret", "secret", 1},
	    {"secret", "secreT", 0},
	    {"secre", "secret", 0},
	    {"secrets", "secret", 0},
	    {"", "", 1},
	    {"", "x", 0},
	    {"x", "", 0},
	    {"Secret", "secret", 0},
	    {"\xc3\xa9", "\xc3\xa9", 1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
		    ct_streq(cases[i].a, cases[i].b), cases[i].want);
}

static void
test_rand(void **state)
{
	char tok[33], tok2[33];
	unsigned char z[64], r[64];
	size_t i;

	rand_token(tok, 32);
	rand_token(tok2, 32);
	assert_int_equal(strlen(tok), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                       "abcdefghijklmnopqrstuvwxyz0123456789",
		    tok[i]));
	assert_string_not_equal(tok, tok2);
	rand_token(tok, 0);
	assert_string_equal(tok, "");
	memset(z, 0, sizeof(z));
	memset(r, 0, sizeof(r));
	rand_bytes(r, sizeof(r));
	assert_memory_not_equal(r, z, sizeof(r));
	assert_true(rand_u64() != rand_u64());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_free),
	    cmocka_unit_test(test_wipe),
	    cmocka_unit_test(test_ct_memeq),
	    cmocka_unit_test(test_ct_streq),
	    cmocka_unit_test(test_rand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
