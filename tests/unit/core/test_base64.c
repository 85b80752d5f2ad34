/*
 * test_base64.c - base64.h: RFC 4648 §10 vectors and strictness.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"

static const struct {
	const char *plain;
	const char *enc;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
    {"\0user\0pass", "AHVzZXIAcGFzcw=="},
};

static void
test_vectors(void **state)
{
	char enc[64];
	unsigned char dec[64];
	size_t i, plen;
	long n;

	/* "\0user\0pass" has embedded NULs: its length is fixed */
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		plen = i == 7 ? 10 : strlen(vectors[i].plain);
		n = base64_encode(vectors[i].plain, plen, enc, sizeof(enc));
		assert_int_equal(n, (long)strlen(vectors[i].enc));
		assert_string_equal(enc, vectors[i].enc);
		assert_int_equal(
		    base64_encoded_size(plen), strlen(vectors[i].enc) + 1);
		n = base64_decode(
		    vectors[i].enc, strlen(vectors[i].enc), dec, sizeof(dec));
		assert_int_equal(n, (long)plen);
		assert_memory_equal(dec, vectors[i].plain, plen);
		assert_true(base64_decoded_max(strlen(vectors[i].enc)) >= plen);
	}
}

static void
test_strict(void **state)
{
	static const struct {
		const char *in;
		long want;
	} cases[] = {
	    {"Zg==", 1},
	    {"Zg=", -1}, /* missing padding */
	    {"Zg", -1},
	    {"Zg===", -1}, /* extra padding */
	    {"Zh==", -1},  /* non-zero trailing bits */
	    {"Zm9=", -1},  /* non-zero trailing bits */
	    {"Zm8=", 2},
	    {"Zm 8=", -1}, /* whitespace */
	    {"Zm8=\r\n", -1},
	    {" Zm8=", -1},
	    {"Zm8=Zm8=", -1}, /* padding in the middle */
	    {"Z===", -1},
	    {"====", -1},
	    {"=Zm8", -1},
	    {"Zm-_", -1}, /* URL alphabet */
	    {"Zm9vYmFy", 6},
	    {"AAAA", 3},
	    {"////", 3},
	    {"+/+/", 3},
	};
	unsigned char dec[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(base64_decode(cases[i].in, strlen(cases[i].in),
		                     dec, sizeof(dec)),
		    cases[i].want);
	}
	/* explicit embedded NUL, length 5 */
	assert_int_equal(base64_decode("Zm9v\0", 5, dec, sizeof(dec)), -1);
	assert_int_equal(base64_decode("Zm9v\0AAA", 8, dec, sizeof(dec)), -1);
}

static void
test_sizes(void **state)
{
	char enc[8];
	unsigned char dec[8];

	/* exact fit and one short */
	assert_int_equal(base64_encode("foo", 3, enc, 5), 4);
	assert_int_equal(base64_encode("foo", 3, enc, 4), -1);
	assert_int_equal(base64_encode("", 0, enc, 1), 0);
	assert_string_equal(enc, "");
	assert_int_equal(base64_encode("", 0, enc, 0), -1);
	assert_int_equal(base64_decode("Zm9v", 4, dec, 3), 3);
	assert_int_equal(base64_decode("Zm9v", 4, dec, 2), -1);
	assert_int_equal(base64_decode("Zm8=", 4, dec, 2), 2);
	assert_int_equal(base64_decode("", 0, NULL, 0), 0);
	assert_int_equal(base64_encoded_size(0), 1);
	assert_int_equal(base64_encoded_size(1), 5);
	assert_int_equal(base64_encoded_size(3), 5);
	assert_int_equal(base64_encoded_size(4), 9);
}

static void
test_roundtrip_all_bytes(void **state)
{
	unsigned char in[256], dec[256];
	char enc[400];
	size_t n;
	long m;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (unsigned char)n;
	for (n = 0; n <= sizeof(in); n++) {
		m = base64_encode(in, n, enc, sizeof(enc));
		assert_true(m >= 0);
		assert_int_equal(
		    base64_decode(enc, (size_t)m, dec, sizeof(dec)), (long)n);
		assert_memory_equal(in, dec, n);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_roundtrip_all_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
