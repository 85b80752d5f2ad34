/*
 * fuzz_headers.c - the header scanner and the RFC 5322 address-list parser
 * (smtp/headers.c). The first byte picks a chunk size; the input is fed in
 * chunks and whole. Properties: both feedings agree on the section length,
 * the fields seen and the addresses; every address found is a valid RFC
 * 5321 mailbox without control characters; the parser alone never
 * reports more addresses than it was given room for.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "smtp/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run(struct hdr_scan *h, const char *p, size_t n, size_t step)
{
	size_t off = 0;

	hdr_scan_init(h);
	while (off < n) {
		size_t k = n - off < step ? n - off : step;

		(void)hdr_scan_feed(h, p + off, k);
		off += k;
	}
	hdr_scan_end(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_scan a, b;
	struct hdr_addr out[4];
	struct mailaddr m;
	size_t step, i;
	long n;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	run(&a, (const char *)data, size, step);
	run(&b, (const char *)data, size, size + 1);
	if (a.state != b.state || a.scanned != b.scanned || a.have != b.have ||
	    a.naddrs != b.naddrs || a.bad != b.bad ||
	    a.need_blank != b.need_blank)
		abort();
	for (i = 0; i < a.naddrs; i++) {
		if (strcmp(a.addrs[i].addr, b.addrs[i].addr) != 0)
			abort();
		if (addr_parse_mailbox(a.addrs[i].addr, strlen(a.addrs[i].addr),
		        ADDR_F_UTF8, &m) == -1)
			abort();
	}
	hdr_scan_free(&a);
	hdr_scan_free(&b);
	n = hdr_parse_addresses((const char *)data, size, out, 4);
	if (n > 4)
		abort();
	for (i = 0; n > 0 && i < (size_t)n; i++)
		if (addr_parse_mailbox(out[i].addr, strlen(out[i].addr),
		        ADDR_F_UTF8, &m) == -1)
			abort();
	return 0;
}
