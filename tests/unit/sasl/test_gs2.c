/*
 * test_gs2.c - the GS2 header and saslname coding (src/sasl/gs2.c), with
 * the names Dovecot's tests use: ',' and '=' in identities.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sasl/gs2.h"

static int
parse(const char *s, struct gs2_header *g)
{
	return gs2_parse((const unsigned char *)s, strlen(s), g);
}

static void
test_headers(void **state)
{
	struct gs2_header g;

	assert_int_equal(parse("n,,n=user,r=x", &g), 0);
	assert_int_equal(g.flag, GS2_CB_NONE);
	assert_int_equal(g.len, 3);
	assert_string_equal(g.authzid, "");
	assert_int_equal(parse("y,,", &g), 0);
	assert_int_equal(g.flag, GS2_CB_CLIENT);
	assert_int_equal(parse("p=tls-exporter,,n=u", &g), 0);
	assert_int_equal(g.flag, GS2_CB_USED);
	assert_string_equal(g.cb_name, "tls-exporter");
	assert_int_equal(g.len, 16);
	assert_int_equal(parse("p=tls-unique,a=admin=2Cx=3Dy,n=u", &g), 0);
	assert_string_equal(g.cb_name, "tls-unique");
	assert_string_equal(g.authzid, "admin,x=y");
	assert_int_equal(g.authzid_len, 9);
	assert_int_equal(g.len, strlen("p=tls-unique,a=admin=2Cx=3Dy,"));
	/* OAUTHBEARER's form */
	assert_int_equal(
	    parse("n,a=user@example.com,\001auth=Bearer x", &g), 0);
	assert_string_equal(g.authzid, "user@example.com");
}

static void
test_bad_headers(void **state)
{
	static const char *const bad[] = {
	    "",
	    "n",
	    "n,",
	    "x,,",
	    "N,,",
	    "F,n,,",
	    "n,a,",
	    "n,a=,",
	    "n,a=x",
	    "n,a=x=2,",
	    "n,a=x=,",
	    "n,a=x=41,",
	    "n,b=x,",
	    "p,,",
	    "p=,,",
	    "p=tls_unique,,",
	    "p=tls-unique",
	    "p=tls-unique,",
	    "p=0123456789012345678901234567890123,,",
	    "yy,,",
	    "n;,",
	};
	struct gs2_header g;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &g), -1);
	/* a NUL in the authzid */
	assert_int_equal(
	    gs2_parse((const unsigned char *)"n,a=a\0b,,", 9, &g), -1);
}

static void
test_saslname(void **state)
{
	static const struct {
		const char *plain, *enc;
	} names[] = {
	    {"user", "user"},
	    {"a,b", "a=2Cb"},
	    {"a=b", "a=3Db"},
	    {",=,=", "=2C=3D=2C=3D"},
	    {"=2C", "=3D2C"},
	    {"ü@example.org", "ü@example.org"},
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(gs2_saslname_encode(names[i].plain,
		                     strlen(names[i].plain), buf, sizeof(buf)),
		    (long)strlen(names[i].enc));
		assert_string_equal(buf, names[i].enc);
		assert_int_equal(gs2_saslname_decode(names[i].enc,
		                     strlen(names[i].enc), buf, sizeof(buf)),
		    (long)strlen(names[i].plain));
		assert_string_equal(buf, names[i].plain);
	}
	assert_int_equal(gs2_saslname_decode("", 0, buf, sizeof(buf)), -1);
	assert_int_equal(gs2_saslname_decode("a,b", 3, buf, sizeof(buf)), -1);
	assert_int_equal(gs2_saslname_decode("a=2c", 4, buf, sizeof(buf)), -1);
	assert_int_equal(gs2_saslname_decode("a=", 2, buf, sizeof(buf)), -1);
	assert_int_equal(gs2_saslname_decode("abcd", 4, buf, 4), -1);
	assert_int_equal(gs2_saslname_decode("abc", 3, buf, 4), 3);
	assert_int_equal(gs2_saslname_encode("a,b", 3, buf, 5), -1);
	assert_int_equal(gs2_saslname_encode("a,b", 3, buf, 6), 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_saslname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
