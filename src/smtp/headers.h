/*
 * headers.h - a bounded scanner for the header section of a message as it
 * streams through DATA (RFC 5322 §2.2, §3.6): it keeps the section (at most
 * HDR_SECTION_MAX octets) so fix-ups can be written in front of it, notes
 * which of From:, Sender:, Date: and Message-ID: are present, and parses the
 * From: and Sender: address lists (display names, comments, quoted strings,
 * encoded words, groups) into bare addresses for the sender check. What it
 * cannot parse is reported, never guessed at. Pure; fuzzed.
 */
#ifndef POSTERN_SMTP_HEADERS_H
#define POSTERN_SMTP_HEADERS_H

#include <stddef.h>

#include "core/addr.h"
#include "core/buf.h"

#define HDR_SECTION_MAX (64 * 1024)
#define HDR_MAX_ADDRS   16 /* addresses kept from From: and Sender: together */

#define HDR_HAVE_FROM   0x01
#define HDR_HAVE_SENDER 0x02
#define HDR_HAVE_DATE   0x04
#define HDR_HAVE_MSGID  0x08

enum hdr_state {
	HDR_S_READING, /* still inside the header section */
	HDR_S_DONE, /* the section ended (blank line, or a line that is no field) */
	HDR_S_OVERFLOW, /* longer than HDR_SECTION_MAX: the rest streams unparsed */
};

struct hdr_addr {
	char addr[ADDR_PATH_MAX + 1]; /* "local@domain" */
	int sender;                   /* from Sender: (else From:) */
};

struct hdr_scan {
	struct buf head; /* the section as received */
	enum hdr_state state;
	size_t scanned;         /* header octets: complete lines looked at */
	int need_blank;         /* ended by a non-field line: add CRLF */
	int in_field;           /* a field started (continuations allowed) */
	unsigned int have;      /* HDR_HAVE_* */
	unsigned int nreceived; /* Received: fields (hop count, RFC 5321 6.3) */
	int bad;                /* a From:/Sender: that did not parse */
	char bad_field[16];     /* "From" or "Sender" */
	struct hdr_addr addrs[HDR_MAX_ADDRS];
	size_t naddrs;
};

/* hdr_scan_init - ready for a new message. */
void hdr_scan_init(struct hdr_scan *h);

/* hdr_scan_free - release the buffer. */
void hdr_scan_free(struct hdr_scan *h);

/*
 * hdr_scan_feed - take message bytes while the header section lasts.
 * Returns how many of p[0..n) were appended to h->head; once the state is
 * no longer READING the section is h->head[0..scanned) and what follows
 * in h->head (and the rest of p) is body. Takes nothing after that.
 */
size_t hdr_scan_feed(struct hdr_scan *h, const char *p, size_t n);

/*
 * hdr_scan_end - the message ended: whatever was buffered is the header
 * section (a message with no body); then the fields are parsed. Also call
 * it after feed() reported the end. Idempotent.
 */
void hdr_scan_end(struct hdr_scan *h);

/*
 * hdr_parse_addresses - RFC 5322 §3.4 address-list (mailbox-list, groups,
 * obsolete empty members) at v[0..n) into out (at most max); returns the
 * count, or -1 on a syntax error, an over-long address or more than max.
 */
long hdr_parse_addresses(
    const char *v, size_t n, struct hdr_addr *out, size_t max);

#endif
