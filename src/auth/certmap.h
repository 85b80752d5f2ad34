/*
 * certmap.h - EXTERNAL's rule from a verified client certificate to a login
 * ([auth] external_map). The worker reports the certificate as
 * space-separated tokens: "sha256:<64 lowercase hex of the DER>",
 * "email:<SAN rfc822Name>" (one per address), "subject-email:<address>".
 */
#ifndef POSTERN_AUTH_CERTMAP_H
#define POSTERN_AUTH_CERTMAP_H

#include <stddef.h>

#include "auth/passdb.h"

#define CERTMAP_VALUE_MAX 255

/*
 * certmap_pick - the value the rule (enum config_external_map) looks up in
 * identity, into out: "sha256:<hex>" for fingerprint, else an address. For
 * san-email, the SAN address equal to authzid (any case) when there is
 * one, else the first. 0, or -1 when the certificate offers none.
 */
int certmap_pick(int rule, const char *identity, const char *authzid, char *out,
    size_t outlen);

/*
 * certmap_resolve - the login identity maps to under rule; cb runs later on
 * the loop with PASSDB_OK (r->user), PASSDB_NO_USER, PASSDB_DISABLED (or
 * CRED_DISABLED) or PASSDB_TEMPFAIL.
 */
void certmap_resolve(struct passdb *db, int rule, const char *identity,
    const char *authzid, passdb_cb *cb, void *arg);

#endif
