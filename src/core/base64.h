/*
 * base64.h - strict RFC 4648 base64 (standard alphabet, padding required).
 * The decoder rejects whitespace, bad padding and non-zero trailing bits,
 * which is what RFC 4954 asks of AUTH exchanges.
 */
#ifndef POSTERN_CORE_BASE64_H
#define POSTERN_CORE_BASE64_H

#include <stddef.h>

/* base64_encoded_size - bytes needed to encode n bytes, including the NUL. */
size_t base64_encoded_size(size_t n);

/* base64_decoded_max - upper bound of decoded bytes for an n-char input. */
size_t base64_decoded_max(size_t n);

/* base64_encode - encode in[0..n) into out (NUL-terminated); length written or -1 if too small. */
long base64_encode(const void *in, size_t n, char *out, size_t outsize);

/* base64_decode - strict decode of in[0..n) into out; decoded length, or -1 invalid/too small. */
long base64_decode(
    const char *in, size_t n, unsigned char *out, size_t outsize);

#endif
