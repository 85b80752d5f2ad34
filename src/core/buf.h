/*
 * buf.h - growable byte buffer with a hard cap.
 * Every append checks the cap first; callers turn -1 into a protocol error.
 */
#ifndef POSTERN_CORE_BUF_H
#define POSTERN_CORE_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated one past len when non-NULL */
	size_t len;
	size_t cap;
	size_t max; /* hard cap on len */
};

/* buf_init - empty buffer that will never hold more than max bytes. */
void buf_init(struct buf *b, size_t max);

/* buf_append - append n bytes; 0, or -1 if the cap would be exceeded or memory is short. */
int buf_append(struct buf *b, const void *p, size_t n);

/* buf_appends - append a C string; as buf_append. */
int buf_appends(struct buf *b, const char *s);

/* buf_printf - append formatted text; as buf_append. */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* buf_consume - drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* buf_reset - len = 0, memory kept. */
void buf_reset(struct buf *b);

/* buf_free - free memory (wiping it first) and reset. */
void buf_free(struct buf *b);

#endif
