/*
 * sasl_test.h - helpers shared by the SASL mechanism tests.
 */
#ifndef POSTERN_TEST_SASL_H
#define POSTERN_TEST_SASL_H

#include <string.h>

#include "auth/passdb.h"
#include "sasl/mech.h"

/* B - bytes of a string literal, embedded NULs included. */
#define B(lit) ((struct bytes){(const unsigned char *)(lit), sizeof(lit) - 1})

static inline struct cred_result
cred(enum passdb_status st, const char *user, unsigned int flags)
{
	struct cred_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.user = user;
	r.flags = flags;
	return r;
}

#endif
