/*
 * hist.c - logarithmic latency buckets (see hist.h). Values below 64 get
 * a bucket each; above, each power of two [2^e, 2^(e+1)) is split into 32
 * equal sub-buckets, so a bucket is at most 1/32 of its lower bound wide.
 */
#include <math.h>
#include <string.h>

#include "bench/hist.h"

void
bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
}

unsigned int
bench_hist_index(uint64_t v)
{
	unsigned int e, shift, i;

	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned int)v;
	e = 63u - (unsigned int)__builtin_clzll(v); /* >= SUB_BITS + 1 */
	if (e > BENCH_HIST_MAX_EXP)
		return BENCH_HIST_BUCKETS - 1;
	shift = e - BENCH_HIST_SUB_BITS;
	i = 2 * BENCH_HIST_SUB +
	    (e - BENCH_HIST_SUB_BITS - 1) * BENCH_HIST_SUB +
	    (unsigned int)((v >> shift) - BENCH_HIST_SUB);
	return i;
}

uint64_t
bench_hist_low(unsigned int i)
{
	unsigned int k, e;

	if (i < 2 * BENCH_HIST_SUB)
		return i;
	k = (i - 2 * BENCH_HIST_SUB) / BENCH_HIST_SUB;
	e = k + BENCH_HIST_SUB_BITS + 1;
	return ((uint64_t)((i - 2 * BENCH_HIST_SUB) % BENCH_HIST_SUB) +
	           BENCH_HIST_SUB)
	    << (e - BENCH_HIST_SUB_BITS);
}

uint64_t
bench_hist_width(unsigned int i)
{
	unsigned int e;

	if (i < 2 * BENCH_HIST_SUB)
		return 1;
	e = (i - 2 * BENCH_HIST_SUB) / BENCH_HIST_SUB + BENCH_HIST_SUB_BITS + 1;
	return (uint64_t)1 << (e - BENCH_HIST_SUB_BITS);
}

void
bench_hist_add(struct bench_hist *h, uint64_t v)
{
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (h->n == 0 || v > h->max)
		h->max = v;
	h->n++;
	h->sum += (double)v;
	h->b[bench_hist_index(v)]++;
}

void
bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	unsigned int i;

	if (src->n == 0)
		return;
	if (dst->n == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->n == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->n += src->n;
	dst->sum += src->sum;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
}

uint64_t
bench_hist_percentile(const struct bench_hist *h, double p)
{
	uint64_t rank, seen = 0, v;
	unsigned int i;

	if (h->n == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	if (p <= 0.0)
		return h->min;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->n);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	if (i == BENCH_HIST_BUCKETS)
		return h->max;
	v = bench_hist_low(i) + bench_hist_width(i) / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

double
bench_hist_mean(const struct bench_hist *h)
{
	return h->n == 0 ? 0.0 : h->sum / (double)h->n;
}
