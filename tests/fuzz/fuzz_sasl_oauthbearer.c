/*
 * fuzz_sasl_oauthbearer.c - the OAUTHBEARER server step and resume on arbitrary
 * client messages and validator answers (fuzz_sasl_mech.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_sasl_mech.h"
#include "sasl/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_mech(&sasl_mech_oauthbearer, data, size);
	return 0;
}
