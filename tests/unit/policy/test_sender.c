/*
 * test_sender.c - policy/sender.h: ownership tables (login, aliases,
 * domains, map grants, null sender) and the sender_login map parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/sender.h"

static const char map_text[] =
    "# address            logins\n"
    "shared@example.org   alice@example.org, bob@example.org\n"
    "\n"
    "  @partner.example   Carol@Example.org\n"
    "boss@example.org\talice@example.org\r\n";

static void
test_ownership_table(void **state)
{
	static const char *const alice_senders[] = {
	    "alias@example.org", "@team.example", NULL};
	char err[128];
	struct sender_map *m =
	    sender_map_parse(map_text, strlen(map_text), err, sizeof(err));
	static const struct {
		const char *login;
		int with_senders;
		int allow_null;
		const char *address;
		enum sender_via want;
	} cases[] = {
	    {"alice@example.org", 1, 0, "alice@example.org", SENDER_VIA_LOGIN},
	    {"alice@example.org", 1, 0, "ALICE@Example.ORG", SENDER_VIA_LOGIN},
	    {"alice@example.org", 1, 0, "alias@example.org", SENDER_VIA_ALIAS},
	    {"alice@example.org", 1, 0, "anyone@team.example",
	        SENDER_VIA_DOMAIN},
	    {"alice@example.org", 1, 0, "anyone@sub.team.example",
	        SENDER_DENIED},
	    {"alice@example.org", 1, 0, "shared@example.org", SENDER_VIA_MAP},
	    {"alice@example.org", 1, 0, "boss@example.org", SENDER_VIA_MAP},
	    {"bob@example.org", 0, 0, "shared@example.org", SENDER_VIA_MAP},
	    {"bob@example.org", 0, 0, "boss@example.org", SENDER_DENIED},
	    {"carol@example.org", 0, 0, "x@partner.example", SENDER_VIA_MAP},
	    {"carol@example.org", 0, 0, "x@other.example", SENDER_DENIED},
	    {"alice@example.org", 1, 0, "bob@example.org", SENDER_DENIED},
	    {"alice@example.org", 1, 0, "", SENDER_DENIED},
	    {"alice@example.org", 1, 1, "", SENDER_VIA_NULL},
	    {"alice@example.org", 1, 0, "alice", SENDER_DENIED},
	    /* a login that is a prefix of another is not that other */
	    {"alice@example.or", 0, 0, "shared@example.org", SENDER_DENIED},
	    {"lice@example.org", 0, 0, "shared@example.org", SENDER_DENIED},
	};
	size_t i;

	assert_non_null(m);
	assert_int_equal(sender_map_size(m), 3);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sender_via got = sender_check(cases[i].login,
		    cases[i].with_senders ? alice_senders : NULL, m,
		    cases[i].allow_null, cases[i].address);

		if (got != cases[i].want)
			fail_msg("case %zu: %s as %s: got %s want %s", i,
			    cases[i].login, cases[i].address,
			    sender_via_name(got),
			    sender_via_name(cases[i].want));
	}
	assert_int_equal(sender_check("alice@example.org", NULL, NULL, 0,
	                     "shared@example.org"),
	    SENDER_DENIED);
	sender_map_free(m);
}

static void
test_grants_listing(void **state)
{
	char err[128];
	struct sender_map *m =
	    sender_map_parse(map_text, strlen(map_text), err, sizeof(err));
	const char *out[8];

	assert_non_null(m);
	assert_int_equal(sender_map_grants(m, "ALICE@example.org", out, 8), 2);
	assert_string_equal(out[0], "boss@example.org");
	assert_string_equal(out[1], "shared@example.org");
	assert_int_equal(sender_map_grants(m, "nobody@example.org", out, 8), 0);
	sender_map_free(m);
}

static void
test_map_errors(void **state)
{
	static const char *const bad[] = {
	    "shared@example.org\n",               /* no logins */
	    "shared@example.org   , ,\n",         /* empty list */
	    "not an address alice@example.org\n", /* the key must be an address */
	    "@bad..domain alice@example.org\n",
	    "a@example.org x\na@example.org y\n", /* duplicate */
	    "a@example.org x\x01y\n",
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(
		    sender_map_parse(bad[i], strlen(bad[i]), err, sizeof(err)));
		assert_true(err[0] != '\0');
	}
	assert_null(
	    sender_map_load("/nonexistent/sender_login", err, sizeof(err)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ownership_table),
	    cmocka_unit_test(test_grants_listing),
	    cmocka_unit_test(test_map_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
