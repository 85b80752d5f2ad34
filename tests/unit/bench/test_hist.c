/*
 * test_hist.c - bench/hist.h: bucket layout (contiguous, ~3% wide),
 * percentiles against exact ranks, merge, clamping, empty histograms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/hist.h"

/* Buckets tile the value range: each starts where the previous ended. */
static void
test_layout(void **state)
{
	unsigned int i;

	(void)state;
	assert_int_equal(bench_hist_low(0), 0);
	for (i = 1; i < BENCH_HIST_BUCKETS; i++) {
		uint64_t low = bench_hist_low(i);

		assert_int_equal(
		    low, bench_hist_low(i - 1) + bench_hist_width(i - 1));
		assert_int_equal(bench_hist_index(low), i);
		assert_int_equal(
		    bench_hist_index(low + bench_hist_width(i) - 1), i);
		/* relative width at most 1/32 above the exact range */
		if (low >= 64)
			assert_true(bench_hist_width(i) * 32 <= low);
	}
	assert_int_equal(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

static void
test_percentiles(void **state)
{
	static const struct {
		double p;
		uint64_t
		    exact; /* rank ceil(p/100 * 1000) of 1..1000 times 1000 */
	} cases[] = {
	    {50, 500000},
	    {90, 900000},
	    {99, 990000},
	    {99.9, 999000},
	    {0.1, 1000},
	};
	struct bench_hist h;
	size_t i;
	uint64_t v;

	(void)state;
	bench_hist_init(&h);
	for (v = 1000; v >= 1; v--)
		bench_hist_add(&h, v * 1000); /* 1 ms .. 1 s in us, any order */
	assert_int_equal(h.n, 1000);
	assert_int_equal(h.min, 1000);
	assert_int_equal(h.max, 1000000);
	assert_true(
	    bench_hist_mean(&h) > 500499.0 && bench_hist_mean(&h) < 500501.0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t got = bench_hist_percentile(&h, cases[i].p);
		uint64_t want = cases[i].exact;
		uint64_t diff = got > want ? got - want : want - got;

		assert_true(diff * 32 <= want); /* within ~3% */
	}
	assert_int_equal(bench_hist_percentile(&h, 100), 1000000);
	assert_int_equal(bench_hist_percentile(&h, 0), 1000);
}

static void
test_small_exact(void **state)
{
	struct bench_hist h;
	uint64_t v;

	(void)state;
	bench_hist_init(&h);
	/* below 64 every value has its own bucket: exact answers */
	for (v = 1; v <= 10; v++)
		bench_hist_add(&h, v);
	assert_int_equal(bench_hist_percentile(&h, 50), 5);
	assert_int_equal(bench_hist_percentile(&h, 10), 1);
	assert_int_equal(bench_hist_percentile(&h, 91), 10);
	/* one value: every percentile is it, clamped to min/max */
	bench_hist_init(&h);
	bench_hist_add(&h, 123456);
	assert_int_equal(bench_hist_percentile(&h, 1), 123456);
	assert_int_equal(bench_hist_percentile(&h, 99), 123456);
}

static void
test_empty_and_merge(void **state)
{
	struct bench_hist a, b;
	uint64_t v;

	(void)state;
	bench_hist_init(&a);
	bench_hist_init(&b);
	assert_int_equal(bench_hist_percentile(&a, 50), 0);
	assert_true(bench_hist_mean(&a) == 0.0);
	bench_hist_merge(&a, &b); /* empty into empty */
	assert_int_equal(a.n, 0);
	for (v = 1; v <= 100; v++)
		bench_hist_add(v <= 50 ? &a : &b, v * 100);
	bench_hist_merge(&a, &b);
	assert_int_equal(a.n, 100);
	assert_int_equal(a.min, 100);
	assert_int_equal(a.max, 10000);
	v = bench_hist_percentile(&a, 50);
	assert_true(v >= 4800 && v <= 5200);
	/* merging into an empty histogram takes min and max over */
	bench_hist_init(&b);
	bench_hist_merge(&b, &a);
	assert_int_equal(b.min, 100);
	assert_int_equal(b.max, 10000);
	assert_int_equal(b.n, 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_percentiles),
	    cmocka_unit_test(test_small_exact),
	    cmocka_unit_test(test_empty_and_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
