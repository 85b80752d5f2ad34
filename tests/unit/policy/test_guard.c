/*
 * test_guard.c - auth/guard.h with a mock clock: a stale password counts
 * once, distinct ones count each, spraying counts per (account, password),
 * IPv6 /64 grouping, growing delays, bans and their expiry, allow-lists,
 * account delays without account bans, restored counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/guard.h"

static const struct guard_config base_cfg = {
    .enabled = 1,
    .max_failures = 5,
    .ban_after = 10,
    .ban_time_s = 3600,
    .window_s = 3600,
    .base_delay_ms = 100,
    .delay_base_ms = 1000,
    .delay_max_ms = 8000,
    .allow = "10.0.0.0/8",
};

static void
attempt_fail(struct guard *g, const char *addr, const char *login,
    const char *pw, int64_t now, struct guard_verdict *v)
{
	unsigned char h[GUARD_HASH_LEN];

	guard_attempt_hash(g, login, pw, strlen(pw), h);
	guard_failure(g, addr, login, h, now, v);
}

static void
test_stale_password_counts_once(void **state)
{
	struct guard *g = guard_new(&base_cfg);
	struct guard_verdict v;
	int i;

	for (i = 0; i < 100; i++) {
		attempt_fail(g, "192.0.2.1", "alice@example.org",
		    "old-password", 1000 + i, &v);
		assert_int_equal(v.addr_failures, 1);
		assert_int_equal(v.delay_ms, 100);
		assert_false(v.banned);
		assert_int_equal(v.counted, i == 0);
	}
	assert_int_equal(guard_banned(g, "192.0.2.1", 2000, NULL), 0);
	guard_free(g);
}

static void
test_distinct_passwords_delay_then_ban(void **state)
{
	struct guard *g = guard_new(&base_cfg);
	struct guard_verdict v;
	static const unsigned int want[] = {
	    100, 100, 100, 100, 100, 1000, 2000, 4000, 8000, 8000};
	char pw[32];
	int64_t until;
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(pw, sizeof(pw), "guess-%d", i);
		attempt_fail(g, "192.0.2.1", "alice@example.org", pw, 1000, &v);
		assert_int_equal(v.addr_failures, i + 1);
		assert_int_equal(v.delay_ms, want[i]);
		assert_int_equal(v.banned, i == 9);
	}
	assert_string_equal(v.ban.key, "192.0.2.1");
	assert_int_equal(v.ban.until, 1000 + 3600);
	assert_int_equal(guard_banned(g, "192.0.2.1", 1001, &until), 1);
	assert_int_equal(until, 4600);
	assert_int_equal(guard_banned(g, "192.0.2.2", 1001, NULL), 0);
	assert_int_equal(guard_nbans(g), 1);
	/* the ban ends on time, and is reported once */
	{
		struct guard_ban ended[4];

		assert_int_equal(guard_expire(g, 4599, ended, 4), 0);
		assert_int_equal(guard_banned(g, "192.0.2.1", 4600, NULL), 0);
		assert_int_equal(guard_expire(g, 4600, ended, 4), 1);
		assert_string_equal(ended[0].key, "192.0.2.1");
		assert_int_equal(guard_expire(g, 4601, ended, 4), 0);
	}
	guard_free(g);
}

static void
test_spraying_counts_per_account(void **state)
{
	struct guard *g = guard_new(&base_cfg);
	struct guard_verdict v;
	char login[64];
	int i;

	/* one password, many accounts: each pair is a guess */
	for (i = 0; i < 10; i++) {
		snprintf(login, sizeof(login), "user%d@example.org", i);
		attempt_fail(g, "198.51.100.7", login, "Summer2026!", 50, &v);
		assert_int_equal(v.account_failures, 1);
	}
	assert_true(v.banned);
	guard_free(g);
}

static void
test_distributed_guessing_delays_account_only(void **state)
{
	struct guard *g = guard_new(&base_cfg);
	struct guard_verdict v;
	char addr[32], pw[32];
	int i;

	/* many addresses, one account: the account's failures slow down */
	for (i = 0; i < 20; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i + 1);
		snprintf(pw, sizeof(pw), "guess-%d", i);
		attempt_fail(g, addr, "ceo@example.org", pw, 10, &v);
		assert_int_equal(v.addr_failures, 1);
		assert_int_equal(v.account_failures, i + 1);
		assert_false(v.banned);
	}
	assert_int_equal(v.delay_ms, 8000);
	/* but nobody is banned: the owner still logs in from anywhere */
	assert_int_equal(guard_nbans(g), 0);
	assert_int_equal(guard_banned(g, "203.0.113.1", 11, NULL), 0);
	guard_free(g);
}

static void
test_ipv6_prefix_grouping(void **state)
{
	struct guard *g = guard_new(&base_cfg);
	struct guard_verdict v;
	char addr[64], pw[32];
	int i;

	for (i = 0; i < 10; i++) {
		/* a new address of the same /64 for every guess */
		snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i + 1);
		snprintf(pw, sizeof(pw), "v6-%d", i);
		attempt_fail(g, addr, "alice@example.org", pw, 5, &v);
		assert_int_equal(v.addr_failures, i + 1);
	}
	assert_true(v.banned);
	assert_string_equal(v.ban.key, "2001:db8:1:2::/64");
	assert_int_equal(guard_banned(g, "2001:db8:1:2:ffff::9", 6, NULL), 1);
	assert_int_equal(guard_banned(g, "2001:db8:1:3::1", 6, NULL), 0);
	guard_free(g);
}

static void
test_allow_list_and_disabled(void **state)
{
	struct guard_config off = base_cfg;
	struct guard *g = guard_new(&base_cfg);
	struct guard_verdict v;
	char pw[32];
	int i;

	for (i = 0; i < 30; i++) {
		snprintf(pw, sizeof(pw), "x%d", i);
		attempt_fail(g, "10.1.2.3", "alice@example.org", pw, 5, &v);
		assert_int_equal(v.delay_ms, 100);
		assert_false(v.banned);
	}
	assert_int_equal(guard_nbans(g), 0);
	guard_free(g);
	off.enabled = 0;
	g = guard_new(&off);
	for (i = 0; i < 30; i++) {
		snprintf(pw, sizeof(pw), "x%d", i);
		attempt_fail(g, "192.0.2.1", "alice@example.org", pw, 5, &v);
		assert_false(v.banned);
	}
	guard_free(g);
}

static void
test_window_and_restore(void **state)
{
	struct guard *g = guard_new(&base_cfg);
	struct guard_verdict v;
	struct guard_counter cs[8];
	size_t n, i;
	char pw[32];
	int k;

	for (k = 0; k < 4; k++) {
		snprintf(pw, sizeof(pw), "w%d", k);
		attempt_fail(g, "192.0.2.9", "bob@example.org", pw, 100, &v);
	}
	assert_int_equal(v.addr_failures, 4);
	assert_true(guard_dirty(g));
	assert_false(guard_dirty(g));
	n = guard_counters(g, cs, 8);
	assert_int_equal(n, 2);
	/* a new process (new hash key) restores the counts */
	guard_free(g);
	g = guard_new(&base_cfg);
	for (i = 0; i < n; i++)
		guard_counter_restore(g, &cs[i], 200);
	attempt_fail(g, "192.0.2.9", "bob@example.org", "w9", 200, &v);
	assert_int_equal(v.addr_failures, 5);
	assert_int_equal(v.account_failures, 5);
	/* a whole window later, the count starts over */
	attempt_fail(g, "192.0.2.9", "bob@example.org", "w10", 200 + 3601, &v);
	assert_int_equal(v.addr_failures, 1);
	/* and idle counters are dropped */
	guard_expire(g, 200 + 3601 + 3601, NULL, 0);
	assert_int_equal(guard_counters(g, cs, 8), 0);
	guard_free(g);
}

static void
test_manual_bans(void **state)
{
	struct guard *g = guard_new(&base_cfg);
	struct guard_ban all[4];

	assert_int_equal(guard_ban_set(g, "192.0.2.1", 500, "manual"), 1);
	assert_int_equal(guard_ban_set(g, "192.0.2.1", 400, "shared"), 0);
	assert_int_equal(guard_ban_set(g, "192.0.2.1", 600, "shared"), 1);
	assert_int_equal(guard_bans(g, all, 4), 1);
	assert_int_equal(all[0].until, 600);
	assert_int_equal(guard_ban_clear(g, "192.0.2.1"), 1);
	assert_int_equal(guard_ban_clear(g, "192.0.2.1"), 0);
	assert_int_equal(guard_banned(g, "192.0.2.1", 1, NULL), 0);
	guard_free(g);
}

static void
test_hash_is_keyed(void **state)
{
	struct guard *a = guard_new(&base_cfg), *b = guard_new(&base_cfg);
	unsigned char h1[GUARD_HASH_LEN], h2[GUARD_HASH_LEN],
	    h3[GUARD_HASH_LEN];

	guard_attempt_hash(a, "Alice@Example.org", "pw", 2, h1);
	guard_attempt_hash(a, "alice@example.org", "pw", 2, h2);
	assert_memory_equal(h1, h2, GUARD_HASH_LEN); /* login case folded */
	guard_attempt_hash(b, "alice@example.org", "pw", 2, h3);
	assert_memory_not_equal(h1, h3, GUARD_HASH_LEN); /* per-process key */
	guard_attempt_hash(a, "alice@example.orgp", "w", 1, h3);
	assert_memory_not_equal(h1, h3, GUARD_HASH_LEN); /* no ambiguity */
	/* mechanisms that never show a password: every attempt distinct */
	guard_attempt_hash(a, "alice@example.org", NULL, 0, h2);
	guard_attempt_hash(a, "alice@example.org", NULL, 0, h3);
	assert_memory_not_equal(h2, h3, GUARD_HASH_LEN);
	guard_free(a);
	guard_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stale_password_counts_once),
	    cmocka_unit_test(test_distinct_passwords_delay_then_ban),
	    cmocka_unit_test(test_spraying_counts_per_account),
	    cmocka_unit_test(test_distributed_guessing_delays_account_only),
	    cmocka_unit_test(test_ipv6_prefix_grouping),
	    cmocka_unit_test(test_allow_list_and_disabled),
	    cmocka_unit_test(test_window_and_restore),
	    cmocka_unit_test(test_manual_bans),
	    cmocka_unit_test(test_hash_is_keyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
