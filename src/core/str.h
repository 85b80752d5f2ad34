/*
 * str.h - small bounded string helpers.
 * No I/O, no allocation except where a function says so.
 */
#ifndef POSTERN_CORE_STR_H
#define POSTERN_CORE_STR_H

#include <stddef.h>

/* str_copy - strlcpy: copy src into dst (size dstsize), always NUL-terminate; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t dstsize);

/* str_append - strlcat: append src to dst (size dstsize); returns the length it tried to create. */
size_t str_append(char *dst, const char *src, size_t dstsize);

/* str_lower - lower-case ASCII letters of s in place; returns s. */
char *str_lower(char *s);

/* str_ieq - 1 if a and b are equal ignoring ASCII case, else 0. */
int str_ieq(const char *a, const char *b);

/* str_iprefix - 1 if s starts with prefix ignoring ASCII case, else 0. */
int str_iprefix(const char *s, const char *prefix);

/* str_trim - strip leading and trailing ASCII whitespace in place; returns the start. */
char *str_trim(char *s);

/* str_dup - strdup that aborts on allocation failure (start-up and admin paths only). */
char *str_dup(const char *s);

/* str_is_printable_ascii - 1 if s[0..len) holds only 0x20..0x7e, else 0. */
int str_is_printable_ascii(const char *s, size_t len);

/* str_valid_utf8 - 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates), else 0. */
int str_valid_utf8(const char *s, size_t len);

/* str_to_uint - parse a decimal unsigned number in [0, max]; 0 ok, -1 on junk or overflow. */
int str_to_uint(const char *s, unsigned long long max, unsigned long long *out);

/* str_errf - format an error message into err[errlen] (nothing if err is NULL or errlen 0); errno is kept. */
void str_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
