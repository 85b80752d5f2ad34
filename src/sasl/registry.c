/*
 * registry.c - the table of mechanisms Postern implements, by name.
 * What is advertised to a client (configuration ∩ passdb ability ∩ TLS
 * state) is decided by the caller from these descriptions.
 */
#include <stddef.h>

#include "core/str.h"
#include "sasl/registry.h"

static const struct sasl_mech *const mechs[] = {
    &sasl_mech_plain,
    &sasl_mech_login,
    &sasl_mech_cram_md5,
    &sasl_mech_scram_sha1,
    &sasl_mech_scram_sha1_plus,
    &sasl_mech_scram_sha256,
    &sasl_mech_scram_sha256_plus,
    &sasl_mech_external,
    &sasl_mech_oauthbearer,
    &sasl_mech_xoauth2,
    NULL,
};

const struct sasl_mech *
sasl_mech_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; mechs[i] != NULL; i++) {
		if (str_ieq(mechs[i]->name, name))
			return mechs[i];
	}
	return NULL;
}

const struct sasl_mech *const *
sasl_mech_all(void)
{
	return mechs;
}
