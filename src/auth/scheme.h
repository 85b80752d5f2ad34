/*
 * scheme.h - password schemes in Dovecot's "{SCHEME}data" notation and as
 * bare crypt strings ("$6$...", "$2b$...", "$y$...", "$argon2id$...").
 * One registry; one file per library wrapped (scheme_sodium.c, scheme_crypt.c).
 */
#ifndef POSTERN_AUTH_SCHEME_H
#define POSTERN_AUTH_SCHEME_H

#include <stddef.h>

struct secret;

#define PW_WEAK         0x01 /* accepted, but rehash-worthy */
#define PW_CAN_GENERATE 0x02

struct pw_scheme {
	const char *name; /* "ARGON2ID" */
	unsigned int flags;
	/* verify - 1 match, 0 mismatch, -1 malformed stored value. Constant time. */
	int (*verify)(const struct secret *plain, const char *stored);
	/* generate - write the stored form WITHOUT the "{NAME}" prefix; 0 or -1. */
	int (*generate)(const struct secret *plain, char *out, size_t outlen);
};

/* pw_scheme_find - scheme by name (case-insensitive), NULL if unknown. */
const struct pw_scheme *pw_scheme_find(const char *name);

/*
 * pw_split - split a stored password "{SCHEME}data" or a crypt string into its
 * scheme and data (data points into stored). Returns the scheme or NULL.
 */
const struct pw_scheme *pw_split(const char *stored, const char **data_r);

/*
 * pw_split_name - like pw_split, but a "{NAME}" prefix need not be a scheme
 * we know (SCRAM records, CRAM-MD5 contexts): the name is copied into name.
 * 0 with *data_r set, or -1.
 */
int pw_split_name(
    const char *stored, char *name, size_t namelen, const char **data_r);

/* pw_verify - 1 match, 0 mismatch, -1 unknown scheme/malformed. Constant time in the secret. */
int pw_verify(const struct secret *plain, const char *stored);

/* pw_hash - "{NAME}data" for plain under scheme name; 0 or -1. */
int pw_hash(
    const char *scheme, const struct secret *plain, char *out, size_t outlen);

/*
 * pw_dummy_verify - spend the same time a verification of the default scheme
 * costs, for unknown users (same time for unknown user and wrong password).
 */
void pw_dummy_verify(const struct secret *plain);

/* The schemes, one per library wrapped; pw_scheme_find() is the public way in. */
extern const struct pw_scheme pw_scheme_argon2id; /* scheme_sodium.c */
extern const struct pw_scheme pw_scheme_argon2i;
extern const struct pw_scheme pw_scheme_sha512_crypt; /* scheme_crypt.c */
extern const struct pw_scheme pw_scheme_sha256_crypt;
extern const struct pw_scheme pw_scheme_blf_crypt;
extern const struct pw_scheme pw_scheme_yescrypt;
extern const struct pw_scheme pw_scheme_crypt;
extern const struct pw_scheme pw_scheme_pbkdf2; /* scheme_pbkdf2.c */
extern const struct pw_scheme pw_scheme_pbkdf2_sha256;

#define PW_DEFAULT_SCHEME "ARGON2ID"

/*
 * pw_allow_plain - whether stored PLAIN/CLEAR passwords may verify (the
 * [auth] allow_plain_scheme setting). Default: allowed in the library; the
 * auth service sets it from the configuration at start and on reload.
 */
void pw_allow_plain(int allowed);

#endif
