/*
 * fuzz_data.c - the DATA reader. The first input byte picks a split point
 * and the limits; the rest is fed whole, in two chunks, and byte by byte.
 * Property: every way of feeding gives the same end, error, size and body;
 * the body never holds a bare CR or LF when no error was recorded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	char *p;
	size_t len;
	size_t cap;
};

static int
sink(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	if (n == 0)
		abort(); /* never called with nothing */
	if (o->len + n > o->cap)
		abort(); /* never more out than in */
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return 0;
}

struct run {
	int done;
	size_t used;
	enum data_error err;
	unsigned long long size;
	struct out out;
};

/* feed - cut at the offsets in cuts[0..n) (ascending), then the rest. */
static void
feed(const char *in, size_t len, unsigned long long max, size_t line_max,
    const size_t *cuts, size_t n, struct run *r)
{
	struct data_reader dr;
	size_t pos = 0, c, end, used;

	r->done = 0;
	r->used = 0;
	r->out.len = 0;
	data_reader_init(&dr, max, line_max, sink, &r->out);
	for (c = 0; c <= n; c++) {
		end = c < n ? cuts[c] : len;
		if (end < pos)
			continue;
		r->done = data_reader_feed(&dr, in + pos, end - pos, &used);
		if (r->done) {
			if (used > end - pos)
				abort();
			r->used = pos + used;
			break;
		}
		if (used != end - pos)
			abort();
		pos = end;
		r->used = pos;
	}
	r->err = data_reader_error(&dr);
	r->size = data_reader_size(&dr);
}

static void
same(const struct run *a, const struct run *b)
{
	if (a->done != b->done || a->used != b->used || a->err != b->err ||
	    a->size != b->size || a->out.len != b->out.len ||
	    memcmp(a->out.p, b->out.p, a->out.len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t line_maxes[] = {1000, 8, 0, 78};
	struct run a, b;
	const char *in;
	size_t len, cut, i, *cuts;
	unsigned long long max;
	size_t line_max;

	if (size < 1)
		return 0;
	in = (const char *)data + 1;
	len = size - 1;
	cut = len == 0 ? 0 : data[0] % (len + 1);
	line_max = line_maxes[(data[0] >> 4) & 3];
	max = (data[0] & 0x40) ? 64 : 0;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.out.cap = b.out.cap = len;
	a.out.p = malloc(len + 1);
	b.out.p = malloc(len + 1);
	if (a.out.p == NULL || b.out.p == NULL)
		abort();

	feed(in, len, max, line_max, NULL, 0, &a);
	feed(in, len, max, line_max, &cut, 1, &b);
	same(&a, &b);

	cuts = malloc((len + 1) * sizeof(*cuts));
	if (cuts == NULL)
		abort();
	for (i = 0; i < len; i++)
		cuts[i] = i + 1;
	feed(in, len, max, line_max, cuts, len, &b);
	same(&a, &b);
	free(cuts);

	if (a.err == DATA_OK) {
		/* clean body: LF only after CR, CR only before LF (or last) */
		for (i = 0; i < a.out.len; i++) {
			if (a.out.p[i] == '\n' &&
			    (i == 0 || a.out.p[i - 1] != '\r'))
				abort();
			if (a.out.p[i] == '\r' && i + 1 < a.out.len &&
			    a.out.p[i + 1] != '\n')
				abort();
		}
		if (a.size != a.out.len)
			abort();
		if (max != 0 && a.size > max)
			abort();
	}
	/* the end, when found, is exactly CR LF . CR LF (or . CR LF at the start) */
	if (a.done) {
		if (a.used < 3 || memcmp(in + a.used - 3, ".\r\n", 3) != 0)
			abort();
		if (a.used > 3 &&
		    (a.used < 5 || in[a.used - 5] != '\r' ||
		        in[a.used - 4] != '\n'))
			abort();
	}
	free(a.out.p);
	free(b.out.p);
	return 0;
}
