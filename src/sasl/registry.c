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
