/*
 * hist.h - latency histogram for postern bench: logarithmic buckets with 32
 * linear sub-buckets per power of two (HdrHistogram's layout at ~3%
 * relative precision), exact count, min, max and sum. No I/O, no clock.
 */
#ifndef POSTERN_BENCH_HIST_H
#define POSTERN_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_SUB      (1u << BENCH_HIST_SUB_BITS) /* 32 */
#define BENCH_HIST_MAX_EXP  40 /* values up to 2^41 - 1 (25 days in us) */
#define BENCH_HIST_BUCKETS                                                     \
	(2 * BENCH_HIST_SUB +                                                  \
	    (BENCH_HIST_MAX_EXP - BENCH_HIST_SUB_BITS) * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t n;
	uint64_t min;
	uint64_t max;
	double sum;
	uint64_t b[BENCH_HIST_BUCKETS];
};

/* bench_hist_init - empty histogram. */
void bench_hist_init(struct bench_hist *h);

/* bench_hist_add - record v (larger values are clamped into the last bucket). */
void bench_hist_add(struct bench_hist *h, uint64_t v);

/* bench_hist_merge - add every value of src to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/*
 * bench_hist_percentile - the value at percentile p (0 < p <= 100): the
 * middle of the bucket holding the ceil(p/100 * n)-th smallest value,
 * clamped to [min, max]; 0 when empty. p100 is max exactly.
 */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);

/* bench_hist_mean - arithmetic mean, 0 when empty. */
double bench_hist_mean(const struct bench_hist *h);

/* bench_hist_index - bucket of v; bench_hist_low/width - its range (tests). */
unsigned int bench_hist_index(uint64_t v);
uint64_t bench_hist_low(unsigned int i);
uint64_t bench_hist_width(unsigned int i);

#endif
