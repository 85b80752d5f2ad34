/*
 * test_ratelimit.c - auth/ratelimit.h with a mock clock: sliding windows,
 * per-user overrides, recipient budgets, the hard cap and release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/ratelimit.h"

static const struct rl_config cfg = {
    .messages_per_hour = 3,
    .recipients_per_day = 10,
    .message_window_s = 3600,
    .recipient_window_s = 86400,
    .hard_cap_factor = 3,
};

static void
test_messages_window_slides(void **state)
{
	struct ratelimit *r = rl_new();
	struct rl_limits lim = {3, 0};
	struct rl_config c = cfg;
	uint32_t budget;
	int newly, i;

	c.hard_cap_factor = 0;
	for (i = 0; i < 3; i++) {
		assert_int_equal(rl_mail(r, &c, &lim, "a@x.org", 1000 + i * 60,
		                     &budget, &newly),
		    RL_OK);
		assert_int_equal(budget, UINT32_MAX);
		rl_accept(r, &c, &lim, "a@x.org", 1, 1000 + i * 60, &newly);
	}
	assert_int_equal(rl_mail(r, &c, &lim, "a@x.org", 1200, &budget, &newly),
	    RL_OVER_MESSAGES);
	/* other logins are not affected */
	assert_int_equal(
	    rl_mail(r, &c, &lim, "b@x.org", 1200, &budget, &newly), RL_OK);
	/* the first message leaves the window after an hour */
	assert_int_equal(
	    rl_mail(r, &c, &lim, "a@x.org", 1000 + 3600 + 60, &budget, &newly),
	    RL_OK);
	/* a per-user limit from the passdb replaces the default */
	lim.messages = 10;
	assert_int_equal(
	    rl_mail(r, &c, &lim, "a@x.org", 1300, &budget, &newly), RL_OK);
	rl_free(r);
}

static void
test_short_window(void **state)
{
	struct ratelimit *r = rl_new();
	struct rl_limits lim = {1, 0};
	struct rl_config c = cfg;
	uint32_t budget;
	int newly;

	c.message_window_s = 3;
	c.hard_cap_factor = 0;
	assert_int_equal(
	    rl_mail(r, &c, &lim, "a@x.org", 0, &budget, &newly), RL_OK);
	rl_accept(r, &c, &lim, "a@x.org", 1, 0, &newly);
	assert_int_equal(rl_mail(r, &c, &lim, "a@x.org", 2, &budget, &newly),
	    RL_OVER_MESSAGES);
	assert_int_equal(
	    rl_mail(r, &c, &lim, "a@x.org", 3, &budget, &newly), RL_OK);
	rl_free(r);
}

static void
test_recipient_budget(void **state)
{
	struct ratelimit *r = rl_new();
	struct rl_limits lim = {0, 10};
	uint32_t budget;
	int newly;

	assert_int_equal(
	    rl_mail(r, &cfg, &lim, "a@x.org", 10, &budget, &newly), RL_OK);
	assert_int_equal(budget, 10);
	rl_accept(r, &cfg, &lim, "a@x.org", 7, 10, &newly);
	assert_int_equal(
	    rl_mail(r, &cfg, &lim, "a@x.org", 20, &budget, &newly), RL_OK);
	assert_int_equal(budget, 3);
	rl_accept(r, &cfg, &lim, "a@x.org", 3, 20, &newly);
	assert_int_equal(rl_mail(r, &cfg, &lim, "a@x.org", 30, &budget, &newly),
	    RL_OVER_RECIPIENTS);
	assert_int_equal(
	    rl_mail(r, &cfg, &lim, "a@x.org", 86400 + 40, &budget, &newly),
	    RL_OK);
	rl_free(r);
}

static void
test_hard_cap_contains(void **state)
{
	struct ratelimit *r = rl_new();
	struct rl_limits lim = {3, 1000};
	uint32_t budget;
	int newly, i;
	enum rl_verdict v;

	for (i = 0; i < 3; i++) {
		assert_int_equal(
		    rl_mail(r, &cfg, &lim, "spam@x.org", 5, &budget, &newly),
		    RL_OK);
		rl_accept(r, &cfg, &lim, "spam@x.org", 1, 5, &newly);
	}
	/* refused attempts count toward the cap (3 x 3 = 9) */
	for (i = 3; i < 9; i++)
		assert_int_equal(
		    rl_mail(r, &cfg, &lim, "spam@x.org", 6, &budget, &newly),
		    RL_OVER_MESSAGES);
	v = rl_mail(r, &cfg, &lim, "spam@x.org", 7, &budget, &newly);
	assert_int_equal(v, RL_CONTAINED);
	assert_int_equal(newly, 1);
	assert_true(rl_contained(r, "SPAM@x.org"));
	/* from now on: accepted, held, no new containment */
	assert_int_equal(
	    rl_mail(r, &cfg, &lim, "spam@x.org", 8, &budget, &newly),
	    RL_CONTAINED);
	assert_int_equal(newly, 0);
	assert_int_equal(
	    rl_accept(r, &cfg, &lim, "spam@x.org", 1, 8, &newly), RL_CONTAINED);
	/* containment survives the window; only release ends it */
	rl_expire(r, &cfg, 10 * 86400);
	assert_true(rl_contained(r, "spam@x.org"));
	assert_int_equal(rl_release(r, "spam@x.org"), 1);
	assert_int_equal(rl_release(r, "spam@x.org"), 0);
	assert_int_equal(
	    rl_mail(r, &cfg, &lim, "spam@x.org", 10 * 86400, &budget, &newly),
	    RL_OK);
	rl_free(r);
}

static void
test_recipient_hard_cap(void **state)
{
	struct ratelimit *r = rl_new();
	struct rl_limits lim = {0, 10};
	int newly;

	assert_int_equal(
	    rl_accept(r, &cfg, &lim, "b@x.org", 30, 1, &newly), RL_OK);
	assert_int_equal(
	    rl_accept(r, &cfg, &lim, "b@x.org", 1, 2, &newly), RL_CONTAINED);
	assert_int_equal(newly, 1);
	rl_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_messages_window_slides),
	    cmocka_unit_test(test_short_window),
	    cmocka_unit_test(test_recipient_budget),
	    cmocka_unit_test(test_hard_cap_contains),
	    cmocka_unit_test(test_recipient_hard_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
