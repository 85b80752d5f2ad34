/*
 * scram.h - SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants (RFC 5802,
 * RFC 7677, channel bindings RFC 5929 / RFC 9266): what the auth service
 * configures. The mechanisms themselves are in registry.h.
 */
#ifndef POSTERN_SASL_SCRAM_H
#define POSTERN_SASL_SCRAM_H

#include <stddef.h>

#define SASL_SCRAM_FAKE_KEY_LEN 32

/*
 * sasl_scram_configure - the key from which the salts and keys of unknown
 * users (and of users without SCRAM keys) are derived, so their exchanges
 * look like real ones and stay the same across attempts, and the iteration
 * count those fake records show. Until called, a random key chosen on first
 * use and SCRAM_ITER_DEFAULT are used. keylen must be SASL_SCRAM_FAKE_KEY_LEN.
 */
void sasl_scram_configure(
    const unsigned char *key, size_t keylen, unsigned int iterations);

/*
 * sasl_scram_test_nonces - for unit tests only: use these nonces (client,
 * server's part) instead of random ones; NULL for random again.
 */
void sasl_scram_test_nonces(const char *client, const char *server);

#endif
