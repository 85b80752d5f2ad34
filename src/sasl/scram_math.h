/*
 * scram_math.h - the SCRAM key schedule (RFC 5802 §3) for SHA-1 and
 * SHA-256 (RFC 7677), and the stored-key record in Dovecot's notation
 *   record = iter "," base64(salt) "," base64(StoredKey) "," base64(ServerKey)
 * Pure computation over OpenSSL EVP; no I/O. Callers wipe what they pass.
 */
#ifndef POSTERN_SASL_SCRAM_MATH_H
#define POSTERN_SASL_SCRAM_MATH_H

#include <stddef.h>

#define SCRAM_HASH_MAX 32 /* SHA-256 */
#define SCRAM_SALT_MAX 64 /* octets of salt we accept */
#define SCRAM_SALT_LEN 16 /* octets of salt we generate */
#define SCRAM_ITER_MIN 1  /* accepted in stored records and from servers */
#define SCRAM_ITER_MAX                                                         \
	10000000 /* refuse more: a hostile server could stall us */
#define SCRAM_ITER_DEFAULT 4096 /* RFC 7677 §4: at least 4096 */
#define SCRAM_RECORD_MAX   256  /* longest record text, NUL included */

struct scram_hash {
	const char *scheme; /* "SCRAM-SHA-256": the credential scheme */
	size_t len;         /* digest octets: 20 or 32 */
	int nid;            /* OpenSSL NID of the digest */
};

extern const struct scram_hash scram_sha1;
extern const struct scram_hash scram_sha256;

struct scram_record {
	unsigned int iter;
	unsigned char salt[SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned char stored_key[SCRAM_HASH_MAX];
	unsigned char server_key[SCRAM_HASH_MAX];
};

/* scram_hash_find - by credential scheme name ("SCRAM-SHA-1"), or NULL. */
const struct scram_hash *scram_hash_find(const char *scheme);

/* scram_h - H(data) into out (h->len octets); 0 or -1. */
int scram_h(const struct scram_hash *h, const void *data, size_t len,
    unsigned char *out);

/* scram_hmac - HMAC(key, data) into out (h->len octets); 0 or -1. */
int scram_hmac(const struct scram_hash *h, const void *key, size_t keylen,
    const void *data, size_t len, unsigned char *out);

/* scram_hi - Hi(password, salt, i) = PBKDF2-HMAC-H, h->len octets; 0 or -1. */
int scram_hi(const struct scram_hash *h, const void *pw, size_t pwlen,
    const unsigned char *salt, size_t saltlen, unsigned int iter,
    unsigned char *out);

/*
 * scram_keys - from SaltedPassword: ClientKey = HMAC(SP, "Client Key"),
 * StoredKey = H(ClientKey), ServerKey = HMAC(SP, "Server Key"). Any output
 * may be NULL. 0 or -1.
 */
int scram_keys(const struct scram_hash *h, const unsigned char *salted,
    unsigned char *client_key, unsigned char *stored_key,
    unsigned char *server_key);

/* scram_record_make - a record for password with salt and iter; 0 or -1. */
int scram_record_make(const struct scram_hash *h, const void *pw, size_t pwlen,
    const unsigned char *salt, size_t saltlen, unsigned int iter,
    struct scram_record *out);

/* scram_record_parse - the text of a record (without "{SCHEME}"); 0 or -1 malformed. */
int scram_record_parse(const struct scram_hash *h, const char *s, size_t len,
    struct scram_record *out);

/* scram_record_format - the text of r into out; 0 or -1 if too small. */
int scram_record_format(const struct scram_hash *h,
    const struct scram_record *r, char *out, size_t outlen);

/*
 * scram_check_proof - server side: ClientSignature = HMAC(StoredKey, AuthMessage),
 * ClientKey = proof XOR ClientSignature; 1 if H(ClientKey) == StoredKey
 * (constant time), 0 if not, -1 on a wrong proof length or crypto failure.
 */
int scram_check_proof(const struct scram_hash *h,
    const unsigned char *stored_key, const void *authmsg, size_t authlen,
    const unsigned char *proof, size_t prooflen);

/*
 * scram_client_proof - client side: ClientProof and the ServerSignature to
 * expect, from SaltedPassword and AuthMessage (h->len octets each); 0 or -1.
 */
int scram_client_proof(const struct scram_hash *h, const unsigned char *salted,
    const void *authmsg, size_t authlen, unsigned char *proof,
    unsigned char *server_sig);

#endif
