/*
 * scheme_scram.h - SCRAM and CRAM-MD5 credentials kept beside (or instead
 * of) the password hash, and the auth service's set-up of the mechanisms
 * that use them (scheme_scram.c).
 */
#ifndef POSTERN_AUTH_SCHEME_SCRAM_H
#define POSTERN_AUTH_SCHEME_SCRAM_H

#include <stddef.h>

struct config;
struct secret;

extern const struct pw_scheme pw_scheme_scram_sha1;
extern const struct pw_scheme pw_scheme_scram_sha256;
extern const struct pw_scheme pw_scheme_cram_md5;

/* pw_scram_set_iterations - the iteration count of records pw_hash() makes. */
void pw_scram_set_iterations(unsigned int iterations);

/*
 * pw_scram_record - "{SCRAM-SHA-256}iter,salt,StoredKey,ServerKey" (or
 * SCRAM-SHA-1) for plain with a fresh salt; 0 or -1. Slow (PBKDF2).
 */
int pw_scram_record(const char *scheme, const struct secret *plain,
    unsigned int iterations, char *out, size_t outlen);

struct userfile;

/*
 * pw_set_user_credentials - set user's password in uf (adding the user if
 * new): the main password hashed under scheme, and the extra fields the
 * configured mechanisms need: "scram-sha-256=" always, "scram-sha-1=" when
 * SCRAM-SHA-1(-PLUS) and "cram-md5=" when CRAM-MD5 is in mechanisms (the
 * [auth] list). A field not needed any more is removed: stale keys would
 * keep an old password working. 0, or -1 with a reason in err.
 */
int pw_set_user_credentials(struct userfile *uf, const char *user,
    const char *scheme, const struct secret *plain, const char *mechanisms,
    unsigned int iterations, char *err, size_t errlen);

/*
 * auth_mech_setup - at auth service start and reload: the SCRAM iteration
 * count, the CRAM-MD5 challenge host name and the fake-credential key
 * (<spool>/private/scram.key, created 0600 if missing; a random key per
 * start, with a warning, if it cannot be read or created).
 */
void auth_mech_setup(const struct config *c);

#endif
