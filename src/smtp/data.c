/*
 * data.c - the DATA reader (RFC 5321 §4.1.1.4, §4.5.2): end-of-data
 * detection, dot-unstuffing, line and size limits, bare CR/LF refusal.
 * Only CR LF "." CR LF ends a message (SMTP smuggling, CVE-2023-51764,
 * -51765, -51766): a bare LF or bare CR is recorded as an error and is
 * never a line end. Byte-at-a-time state machine, so input may be split
 * anywhere; the sink gets contiguous runs, never single bytes.
 */
#include "smtp/data.h"

/*
 * States. BOL means "just after a real CRLF" (or the start of the data):
 * only there does a "." start the end-of-data sequence or get unstuffed.
 */
enum {
	DATA_S_BOL,    /* start of a line */
	DATA_S_TEXT,   /* inside a line */
	DATA_S_CR,     /* inside a line, after a CR */
	DATA_S_DOT,    /* "." at BOL (removed) */
	DATA_S_DOT_CR, /* "." CR at BOL: LF ends the data */
	DATA_S_DONE,   /* end of data found */
};

void
data_reader_init(struct data_reader *r, unsigned long long max_size,
    size_t line_max, data_sink *sink, void *sink_arg)
{
	r->state = DATA_S_BOL;
	r->line_len = 0;
	r->size = 0;
	r->max_size = max_size;
	r->line_max = line_max;
	r->error = DATA_OK;
	r->sink = sink;
	r->sink_arg = sink_arg;
}

/*
 * data_flush - pass in[*start..end) to the sink unless an error is set;
 * start only moves forward.
 */
static void
data_flush(struct data_reader *r, const char *in, size_t *start, size_t end)
{
	if (end <= *start)
		return;
	if (r->error == DATA_OK &&
	    r->sink(r->sink_arg, in + *start, end - *start) == -1)
		r->error = DATA_ERR_SINK;
	*start = end;
}

/*
 * data_fail - record err (first one wins) after flushing what came before
 * the byte at i; byte i itself and everything after are not passed on.
 */
static void
data_fail(struct data_reader *r, const char *in, size_t *start, size_t i,
    enum data_error err)
{
	data_flush(r, in, start, i);
	if (r->error == DATA_OK)
		r->error = err;
}

/*
 * data_count - account one body byte at i (passed to the sink, or that
 * would be); sets DATA_ERR_TOO_BIG once the body exceeds max_size.
 */
static void
data_count(struct data_reader *r, const char *in, size_t *start, size_t i)
{
	r->size++;
	if (r->max_size != 0 && r->size > r->max_size)
		data_fail(r, in, start, i, DATA_ERR_TOO_BIG);
}

/* data_line_byte - count one wire byte of the current line (CRLF included). */
static void
data_line_byte(struct data_reader *r, const char *in, size_t *start, size_t i)
{
	r->line_len++;
	if (r->line_max != 0 && r->line_len > r->line_max)
		data_fail(r, in, start, i, DATA_ERR_LINE_TOO_LONG);
}

/* data_text - a byte inside a line (state TEXT after it, or CR). */
static void
data_text(struct data_reader *r, const char *in, size_t *start, size_t i)
{
	data_line_byte(r, in, start, i);
	data_count(r, in, start, i);
	if (in[i] == '\r') {
		r->state = DATA_S_CR;
	} else {
		if (in[i] == '\n') /* not after CR: bare LF */
			data_fail(r, in, start, i, DATA_ERR_BARE_LF);
		r->state = DATA_S_TEXT;
	}
}

int
data_reader_feed(
    struct data_reader *r, const char *in, size_t len, size_t *used_r)
{
	size_t i, start = 0;

	if (r->state == DATA_S_DONE) {
		*used_r = 0;
		return 1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		switch (r->state) {
		case DATA_S_BOL:
			r->line_len = 0;
			if (c == '.') {
				/* transparency dot or start of the end: drop it */
				data_flush(r, in, &start, i);
				start = i + 1;
				data_line_byte(r, in, &start, i);
				r->state = DATA_S_DOT;
			} else {
				data_text(r, in, &start, i);
			}
			break;
		case DATA_S_DOT:
			if (c == '\r') {
				/* maybe the terminator: hold the CR back */
				data_flush(r, in, &start, i);
				start = i + 1;
				data_line_byte(r, in, &start, i);
				r->state = DATA_S_DOT_CR;
			} else {
				data_text(r, in, &start, i);
			}
			break;
		case DATA_S_DOT_CR:
			if (c == '\n') {
				data_flush(r, in, &start, i);
				r->state = DATA_S_DONE;
				*used_r = i + 1;
				return 1;
			}
			/*
			 * The held-back CR was bare. It is never passed on
			 * (the error stops the sink); count it as body.
			 */
			data_count(r, in, &start, i);
			data_fail(r, in, &start, i, DATA_ERR_BARE_CR);
			data_text(r, in, &start, i);
			break;
		case DATA_S_CR:
			if (c == '\n') {
				data_line_byte(r, in, &start, i);
				data_count(r, in, &start, i);
				r->state = DATA_S_BOL;
				break;
			}
			data_fail(r, in, &start, i, DATA_ERR_BARE_CR);
			data_text(r, in, &start, i);
			break;
		case DATA_S_TEXT:
		default:
			data_text(r, in, &start, i);
			break;
		}
	}
	data_flush(r, in, &start, len);
	*used_r = len;
	return 0;
}

enum data_error
data_reader_error(const struct data_reader *r)
{
	return r->error;
}

unsigned long long
data_reader_size(const struct data_reader *r)
{
	return r->size;
}
