/*
 * test_apppass.c - app passwords and device credentials (src/auth/apppass.c):
 * client networks (IPv4, IPv6, IPv4-mapped, hosts, bad input), the order of
 * verification (main password first, then each credential), disabled users,
 * unknown users, generated passwords.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/apppass.h"
#include "auth/scheme.h"
#include "core/secret.h"

/* "pencil" (mkpasswd, see test_scheme.c) and doveadm's SSHA512 of "pencil" */
/* clang-format off */
#define SHA512_PENCIL "{SHA512-CRYPT}$6$saltsaltsaltsalt$TC.srYZRdhUNd1hUaX8BXmGPkCpq7TP8IIfBuwlVqWVsOskMwYShHaSiuvPe57wq5SGBJgI8u2TksJeC/Zaz50"
#define SSHA512_PENCIL "{SSHA512}0SVlkXhn603iHEmcCyoV63T7awFF/bRIuilxmSBV0cujZP+/ENbWLDUuntFIqnJP0IRgKyBplVyvpRqgjCCzMoSFRSA="
/* clang-format on */

static void
test_networks(void **state)
{
	static const struct {
		const char *nets, *addr;
		int want;
	} cases[] = {
	    {NULL, "192.0.2.1", 1},
	    {"", "192.0.2.1", 1},
	    {"192.0.2.0/24", "192.0.2.77", 1},
	    {"192.0.2.0/24", "192.0.3.1", 0},
	    {"10.0.0.0/8, 192.0.2.0/24", "192.0.2.1", 1},
	    {"192.0.2.7", "192.0.2.7", 1},
	    {"192.0.2.7", "192.0.2.8", 0},
	    {"192.0.2.0/25", "192.0.2.128", 0},
	    {"192.0.2.0/0", "203.0.113.9", 1},
	    {"2001:db8::/32", "2001:db8:1::5", 1},
	    {"2001:db8::/32", "2001:db9::5", 0},
	    {"2001:db8::/32", "192.0.2.1", 0},
	    {"192.0.2.0/24", "::ffff:192.0.2.9", 1},
	    {"192.0.2.0/24", "[::ffff:192.0.2.9]", 1},
	    {"192.0.2.0/33", "192.0.2.1", 0},
	    {"nonsense", "192.0.2.1", 0},
	    {"192.0.2.0/24", "not-an-address", 0},
	    {"192.0.2.0/24", "", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (apppass_network_ok(cases[i].nets, cases[i].addr) !=
		    cases[i].want)
			fail_msg("networks=%s addr=%s: want %d",
			    cases[i].nets ? cases[i].nets : "(null)",
			    cases[i].addr, cases[i].want);
	assert_true(apppass_networks_valid("192.0.2.0/24 2001:db8::/48"));
	assert_true(apppass_networks_valid("192.0.2.1"));
	assert_false(apppass_networks_valid(""));
	assert_false(apppass_networks_valid("192.0.2.0/40"));
	assert_false(apppass_networks_valid("example.org"));
	assert_false(apppass_networks_valid("192.0.2.0/24 x"));
}

static void
test_verify_order(void **state)
{
	struct account a;
	struct secret *good = secret_new("pencil", 6);
	struct secret *bad = secret_new("crayon", 6);
	int matched, malformed;

	(void)state;
	memset(&a, 0, sizeof(a));
	strcpy(a.login, "alice@example.org");
	a.password = strdup("{SHA512-CRYPT}$6$saltsaltsaltsalt$nope");
	assert_int_equal(
	    account_add_cred(&a, "broken", "{NOPE}x", NULL, NULL, 0, 0), 0);
	assert_int_equal(account_add_cred(&a, "phone", SSHA512_PENCIL,
	                     "192.0.2.0/24", "phone@example.org", 10, 0x0301),
	    0);
	assert_int_equal(
	    apppass_verify(&a, good, &matched, &malformed), PASSDB_OK);
	assert_int_equal(matched, 1);
	assert_true(malformed);
	assert_int_equal(
	    apppass_verify(&a, bad, &matched, &malformed), PASSDB_MISMATCH);
	assert_int_equal(matched, -1);
	/* the main password is tried first */
	free(a.password);
	a.password = strdup(SHA512_PENCIL);
	assert_int_equal(
	    apppass_verify(&a, good, &matched, &malformed), PASSDB_OK);
	assert_int_equal(matched, -1);
	/* disabled: only after a matching password */
	a.disabled = 1;
	assert_int_equal(
	    apppass_verify(&a, good, &matched, &malformed), PASSDB_DISABLED);
	assert_int_equal(
	    apppass_verify(&a, bad, &matched, &malformed), PASSDB_MISMATCH);
	/* unknown user: the dummy hash, NO_USER */
	assert_int_equal(
	    apppass_verify(NULL, good, &matched, &malformed), PASSDB_NO_USER);
	assert_int_equal(account_add_sender(&a, "alias@example.org"), 0);
	assert_string_equal(a.senders[0], "alias@example.org");
	assert_null(a.senders[1]);
	account_free_fields(&a);
	assert_null(a.password);
	secret_free(good);
	secret_free(bad);
}

static void
test_generate(void **state)
{
	char a[32], b[32];
	size_t i;

	(void)state;
	apppass_generate(a, sizeof(a));
	apppass_generate(b, sizeof(b));
	assert_int_equal(strlen(a), 23); /* 4 groups of 5, 3 dashes */
	assert_string_not_equal(a, b);
	for (i = 0; a[i] != '\0'; i++)
		assert_true((a[i] >= 'a' && a[i] <= 'z') ||
		    (a[i] >= '2' && a[i] <= '9') || a[i] == '-');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_networks),
	    cmocka_unit_test(test_verify_order),
	    cmocka_unit_test(test_generate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
