/*
 * test_passdb_ldap.c - the pure parts of the ldap passdb: RFC 4515 escaping
 * of the login and filling the configured filter. The driver itself is
 * tested against a real slapd (tests/integration/test_ldap.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/passdb_ldap.h"

static void
test_escape(void **state)
{
	static const struct {
		const char *in;
		size_t inlen;
		const char *want;
	} cases[] = {
	    {"alice@example.test", 18, "alice@example.test"},
	    {"*", 1, "\\2a"},
	    {"a*)(uid=*", 9, "a\\2a\\29\\28uid=\\2a"},
	    {"\\", 1, "\\5c"},
	    {"x\0y", 3, "x\\00y"},
	    {"tab\there", 8, "tab\\09here"},
	    {"\x7f", 1, "\\7f"},
	    {"b\xc3\xa9", 3, "b\\c3\\a9"}, /* UTF-8: escaped octet by octet */
	    {"", 0, ""},
	};
	char out[128];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = passdb_ldap_escape(
		    cases[i].in, cases[i].inlen, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
	}
}

static void
test_escape_bounds(void **state)
{
	char out[4];

	(void)state;
	/* "abc" needs 4 octets with its NUL */
	assert_int_equal(passdb_ldap_escape("abc", 3, out, sizeof(out)), 3);
	assert_int_equal(
	    passdb_ldap_escape("abcd", 4, out, sizeof(out)), (size_t)-1);
	assert_string_equal(out, "");
	/* an escape never gets cut in half */
	assert_int_equal(
	    passdb_ldap_escape("a*", 2, out, sizeof(out)), (size_t)-1);
	assert_string_equal(out, "");
	assert_int_equal(passdb_ldap_escape("*", 1, out, sizeof(out)), 3);
	assert_int_equal(passdb_ldap_escape("x", 1, out, 0), (size_t)-1);
}

static void
test_filter(void **state)
{
	static const struct {
		const char *tmpl;
		const char *login;
		int rc;
		const char *want;
	} cases[] = {
	    {"(&(objectClass=inetOrgPerson)(mail=%s))", "bob@example.test", 0,
	        "(&(objectClass=inetOrgPerson)(mail=bob@example.test))"},
	    /* the classic injection: it stays one assertion value */
	    {"(mail=%s)", "*)(|(mail=*", 0,
	        "(mail=\\2a\\29\\28|\\28mail=\\2a)"},
	    {"(|(uid=%s)(mail=%s))", "a(b", 0, "(|(uid=a\\28b)(mail=a\\28b))"},
	    {"(&(mail=%s)(x=100%%))", "c", 0, "(&(mail=c)(x=100%))"},
	    {"(mail=%d)", "c", -1, ""},
	    {"(mail=%", "c", -1, ""},
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(passdb_ldap_filter(cases[i].tmpl,
		                     cases[i].login, out, sizeof(out)),
		    cases[i].rc);
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_filter_too_long(void **state)
{
	char login[400], out[64];

	(void)state;
	memset(login, 'a', sizeof(login) - 1);
	login[sizeof(login) - 1] = '\0';
	/* longer than any login the driver accepts */
	assert_int_equal(
	    passdb_ldap_filter("(mail=%s)", login, out, sizeof(out)), -1);
	assert_string_equal(out, "");
	/* fits the login buffer but not out */
	assert_int_equal(passdb_ldap_filter("(mail=%s)",
	                     "0123456789012345678901234567890"
	                     "123456789012345678901234567890",
	                     out, sizeof(out)),
	    -1);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_escape_bounds),
	    cmocka_unit_test(test_filter),
	    cmocka_unit_test(test_filter_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
