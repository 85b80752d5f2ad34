/*
 * rand.h - CSPRNG wrappers (getrandom(2) via libsodium's randombytes).
 */
#ifndef POSTERN_CORE_RAND_H
#define POSTERN_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

/* rand_bytes - fill p with n random bytes (never fails; aborts if the kernel cannot). */
void rand_bytes(void *p, size_t n);

/* rand_u64 - a random 64-bit value. */
uint64_t rand_u64(void);

/* rand_token - n random characters from [A-Za-z0-9] into out (size n + 1), NUL-terminated. */
void rand_token(char *out, size_t n);

#endif
