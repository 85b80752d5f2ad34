/*
 * cram_md5.h - the HMAC-MD5 precomputation CRAM-MD5 stores instead of the
 * password (RFC 2104 §4; Dovecot's CRAM-MD5 scheme): the MD5 states after
 * the K^opad and K^ipad blocks, four little-endian words each, outer first.
 */
#ifndef POSTERN_SASL_CRAM_MD5_H
#define POSTERN_SASL_CRAM_MD5_H

#include <stddef.h>

#define CRAM_MD5_CONTEXT_LEN 32
#define CRAM_MD5_DIGEST_LEN  16

/* sasl_cram_md5_context - the stored form of key; 0 or -1. */
int sasl_cram_md5_context(
    const void *key, size_t keylen, unsigned char ctx[CRAM_MD5_CONTEXT_LEN]);

/* sasl_cram_md5_digest - HMAC-MD5(key, msg) from key's context; 0 or -1. */
int sasl_cram_md5_digest(const unsigned char ctx[CRAM_MD5_CONTEXT_LEN],
    const void *msg, size_t len, unsigned char out[CRAM_MD5_DIGEST_LEN]);

/* sasl_cram_md5_set_hostname - the domain of our challenges ("<n.t@host>"). */
void sasl_cram_md5_set_hostname(const char *host);

#endif
