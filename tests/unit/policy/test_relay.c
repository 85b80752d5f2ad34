/*
 * test_relay.c - policy/relay.h: CIDR parsing and matching, guard keys
 * (IPv6 /64 grouping), relay permission.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/relay.h"

static void
test_cidr_match(void **state)
{
	static const struct {
		const char *net;
		const char *addr;
		int want;
	} cases[] = {
	    {"192.0.2.0/24", "192.0.2.77", 1},
	    {"192.0.2.0/24", "192.0.3.1", 0},
	    {"10.1.2.3/8", "10.200.0.1", 1}, /* host bits masked */
	    {"0.0.0.0/0", "203.0.113.9", 1},
	    {"127.0.0.2", "127.0.0.2", 1},
	    {"127.0.0.2", "127.0.0.1", 0},
	    {"2001:db8::/32", "2001:db8:ffff::1", 1},
	    {"2001:db8::/32", "2001:db9::1", 0},
	    {"::1", "::1", 1},
	    {"192.0.2.0/24", "::ffff:192.0.2.5", 1}, /* v4-mapped */
	    {"::ffff:192.0.2.0/120", "192.0.2.9", 1},
	    {"192.0.2.0/24", "2001:db8::1", 0},
	    {"192.0.2.0/24", "not-an-address", 0},
	    {"192.0.2.0/24", "", 0},
	};
	struct cidr c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cidr_parse(cases[i].net, &c), 0);
		assert_int_equal(cidr_match(&c, cases[i].addr), cases[i].want);
	}
}

static void
test_cidr_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "/8",
	    "192.0.2.0/",
	    "192.0.2.0/33",
	    "2001:db8::/129",
	    "192.0.2.0/-1",
	    "192.0.2.0/8x",
	    "example.org",
	    "192.0.2.0/24/1",
	    "::ffff:1.2.3.4/90",
	};
	struct cidr c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cidr_parse(bad[i], &c), -1);
}

static void
test_lists(void **state)
{
	char bad[64];

	assert_int_equal(
	    cidr_list_match("10.0.0.0/8, 192.0.2.0/24", "192.0.2.1"), 1);
	assert_int_equal(
	    cidr_list_match("10.0.0.0/8 192.0.2.0/24", "192.0.3.1"), 0);
	assert_int_equal(cidr_list_match("", "192.0.2.1"), 0);
	assert_int_equal(cidr_list_match(NULL, "192.0.2.1"), 0);
	assert_int_equal(cidr_list_match("bogus", "192.0.2.1"), -1);
	assert_int_equal(
	    cidr_list_valid("10.0.0.0/8,,  ::1", bad, sizeof(bad)), 0);
	assert_int_equal(
	    cidr_list_valid("10.0.0.0/8 nope", bad, sizeof(bad)), -1);
	assert_string_equal(bad, "nope");
}

static void
test_keys(void **state)
{
	char k[RELAY_KEY_MAX];

	assert_int_equal(relay_addr_key("192.0.2.7", k, sizeof(k)), 0);
	assert_string_equal(k, "192.0.2.7");
	assert_int_equal(relay_addr_key("::ffff:192.0.2.7", k, sizeof(k)), 0);
	assert_string_equal(k, "192.0.2.7");
	assert_int_equal(
	    relay_addr_key("2001:db8:1:2:aaaa::1", k, sizeof(k)), 0);
	assert_string_equal(k, "2001:db8:1:2::/64");
	/* the whole /64 is one client */
	assert_int_equal(
	    relay_addr_key("2001:db8:1:2:ffff:ffff:ffff:ffff", k, sizeof(k)),
	    0);
	assert_string_equal(k, "2001:db8:1:2::/64");
	assert_int_equal(relay_addr_key("2001:db8:1:3::1", k, sizeof(k)), 0);
	assert_string_equal(k, "2001:db8:1:3::/64");
	assert_int_equal(relay_addr_key("junk", k, sizeof(k)), -1);
	assert_int_equal(relay_addr_key("192.0.2.7", k, 4), -1);
}

static void
test_relay_allowed(void **state)
{
	assert_int_equal(relay_allowed(1, "", "203.0.113.1"), 1);
	assert_int_equal(relay_allowed(0, "", "203.0.113.1"), 0);
	assert_int_equal(relay_allowed(0, "203.0.113.0/24", "203.0.113.1"), 1);
	assert_int_equal(relay_allowed(0, "203.0.113.0/24", "198.51.100.1"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cidr_match),
	    cmocka_unit_test(test_cidr_bad),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_relay_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
