/*
 * secret.h - buffers that hold passwords and keys.
 * Locked in memory where possible, wiped on free; the logger never formats them.
 */
#ifndef POSTERN_CORE_SECRET_H
#define POSTERN_CORE_SECRET_H

#include <stddef.h>

struct secret {
	unsigned char *data; /* always NUL-terminated one past len */
	size_t len;
};

/* secret_new - copy len bytes into a new secret; NULL on allocation failure. */
struct secret *secret_new(const void *p, size_t len);

/* secret_free - wipe and free s; NULL is ignored. */
void secret_free(struct secret *s);

/* secret_wipe - zero n bytes at p in a way the compiler cannot elide. */
void secret_wipe(void *p, size_t n);

/* ct_memeq - constant-time comparison of two n-byte regions: 1 equal, 0 not. */
int ct_memeq(const void *a, const void *b, size_t n);

/* ct_streq - constant-time (in the length of b) string comparison: 1 equal, 0 not. */
int ct_streq(const char *a, const char *b);

#endif
