/*
 * data.h - the DATA reader (RFC 5321 §4.1.1.4, §4.5.2): finds the end of
 * data, removes dot-stuffing, enforces line and size limits, and refuses
 * bare CR and bare LF (SMTP smuggling, CVE-2023-51764 family). Only
 * CR LF "." CR LF ends a message; a bare LF or CR never ends or splits one.
 * Pure: bytes in, body bytes out through a sink. Fuzzed.
 */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stddef.h>

/* Why a message read to its end must still be refused. First one wins. */
enum data_error {
	DATA_OK,
	DATA_ERR_BARE_LF,       /* 554 5.6.0 (RFC 5321 §2.3.8) */
	DATA_ERR_BARE_CR,       /* 554 5.6.0 */
	DATA_ERR_LINE_TOO_LONG, /* 500 5.5.6: a line over 1000 octets incl. CRLF */
	DATA_ERR_TOO_BIG,       /* 552 5.3.4: over max_size */
	DATA_ERR_SINK,          /* the sink failed (disk): 451 4.3.0 */
};

/* data_sink - receives unstuffed body bytes with CRLF line ends; 0 or -1. */
typedef int data_sink(void *arg, const char *p, size_t n);

struct data_reader {
	/* private */
	int state;
	size_t line_len;
	unsigned long long size;
	unsigned long long max_size;
	size_t line_max;
	enum data_error error;
	data_sink *sink;
	void *sink_arg;
};

/* data_reader_init - ready to read a new message: max_size octets (0 = no limit), lines of line_max incl. CRLF. */
void data_reader_init(struct data_reader *r, unsigned long long max_size,
    size_t line_max, data_sink *sink, void *sink_arg);

/*
 * data_reader_feed - consume in[0..len). Returns 1 when the end of data was
 * found (*used_r = bytes up to and including the final CRLF; the rest is the
 * next command), 0 if all bytes were used and more are needed. After an
 * error is recorded, bytes are still scanned for the end but no longer
 * passed to the sink.
 */
int data_reader_feed(
    struct data_reader *r, const char *in, size_t len, size_t *used_r);

/* data_reader_error - the first error seen, DATA_OK if none. */
enum data_error data_reader_error(const struct data_reader *r);

/* data_reader_size - body octets passed (or that would have been passed) to the sink. */
unsigned long long data_reader_size(const struct data_reader *r);

#endif
