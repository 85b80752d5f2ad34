/*
 * fuzz_reply_parse.c - the SMTP/LMTP client's reply parser and EHLO
 * capability parser (src/deliver/reply_parse.c, smtp_client.c): what a
 * next hop sends is untrusted (CVE-2020-8794). The first input byte picks
 * a split point; the rest is fed whole, in two chunks, and byte by byte.
 * Properties: every way of feeding gives the same replies and the same
 * error; codes are 200..559; stored text is printable ASCII and '\n'
 * within the caps; an enhanced code, when kept, has the reply's class.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/reply_parse.h"
#include "deliver/smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REPLIES 64

struct run {
	size_t n;
	int codes[MAX_REPLIES];
	uint32_t sums[MAX_REPLIES];
	enum reply_error err;
	int error;
};

static uint32_t
sum(const struct smtp_reply *r)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < r->textlen; i++)
		h = (h ^ (unsigned char)r->text[i]) * 16777619u;
	for (i = 0; r->enh[i] != '\0'; i++)
		h = (h ^ (unsigned char)r->enh[i]) * 16777619u;
	return h ^ (uint32_t)r->nlines;
}

static void
check(const struct smtp_reply *r)
{
	struct smtpc_caps caps;
	size_t i, lines = 1;

	if (r->code < 200 || r->code > 559 || r->nlines == 0 ||
	    r->nlines > REPLY_LINES_MAX || r->textlen >= REPLY_TEXT_MAX ||
	    r->text[r->textlen] != '\0')
		abort();
	for (i = 0; i < r->textlen; i++) {
		unsigned char c = (unsigned char)r->text[i];

		if (c == '\n')
			lines++;
		else if (c < 0x20 || c > 0x7e)
			abort();
	}
	if (lines != r->nlines)
		abort();
	if (r->enh[0] != '\0' &&
	    (r->enh[0] != (char)('0' + r->code / 100) ||
	        reply_parse_enh(r->enh, strlen(r->enh)) != strlen(r->enh)))
		abort();
	smtpc_parse_ehlo(r, &caps);
	if (caps.auth_mechs[sizeof(caps.auth_mechs) - 1] != '\0')
		abort();
}

/* feed - in[0..n) in pieces of at most step (0 = split at cut). */
static void
feed(const uint8_t *in, size_t n, size_t step, size_t cut, struct run *out,
    struct reply_parser *p, struct smtp_reply *r)
{
	size_t off = 0, end, used;
	enum reply_status st;

	memset(out, 0, sizeof(*out));
	reply_parse_init(p);
	while (off < n) {
		if (step == 0)
			end = off < cut ? cut : n;
		else
			end = off + step < n ? off + step : n;
		while (off < end) {
			st = reply_parse(
			    p, (const char *)in + off, end - off, &used, r);
			if (used > end - off)
				abort();
			off += used;
			if (st == REPLY_ERROR) {
				out->error = 1;
				out->err = p->error;
				return;
			}
			if (st == REPLY_DONE) {
				check(r);
				if (out->n < MAX_REPLIES) {
					out->codes[out->n] = r->code;
					out->sums[out->n] = sum(r);
				}
				out->n++;
			} else if (off != end) {
				abort(); /* MORE consumes everything */
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reply_parser p;
	static struct smtp_reply r;
	struct run a, b, c;
	size_t cut;

	if (size < 1)
		return 0;
	cut = size > 1 ? data[0] % size : 0;
	data++;
	size--;
	feed(data, size, size + 1, 0, &a, &p, &r);
	feed(data, size, 0, cut, &b, &p, &r);
	feed(data, size, 1, 0, &c, &p, &r);
	if (memcmp(&a, &b, sizeof(a)) != 0 || memcmp(&a, &c, sizeof(a)) != 0)
		abort();
	return 0;
}
