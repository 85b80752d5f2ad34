/*
 * registry.h - the mechanisms Postern knows, by name.
 */
#ifndef POSTERN_SASL_REGISTRY_H
#define POSTERN_SASL_REGISTRY_H

#include "sasl/mech.h"

/* sasl_mech_find - the mechanism called name (case-insensitive), or NULL. */
const struct sasl_mech *sasl_mech_find(const char *name);

/* sasl_mech_all - NULL-terminated array of every known mechanism. */
const struct sasl_mech *const *sasl_mech_all(void);

extern const struct sasl_mech sasl_mech_plain;
extern const struct sasl_mech sasl_mech_login;
extern const struct sasl_mech sasl_mech_cram_md5;   /* cram_md5.c */
extern const struct sasl_mech sasl_mech_scram_sha1; /* scram.c */
extern const struct sasl_mech sasl_mech_scram_sha1_plus;
extern const struct sasl_mech sasl_mech_scram_sha256;
extern const struct sasl_mech sasl_mech_scram_sha256_plus;
extern const struct sasl_mech sasl_mech_external;    /* external.c */
extern const struct sasl_mech sasl_mech_oauthbearer; /* oauthbearer.c */
extern const struct sasl_mech sasl_mech_xoauth2;     /* xoauth2.c */

#endif
