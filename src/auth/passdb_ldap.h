/*
 * passdb_ldap.h - the pure parts of the "ldap" passdb, for tests: RFC 4515
 * escaping of assertion values and filling the configured filter with the
 * login. Nothing here touches the network.
 */
#ifndef POSTERN_AUTH_PASSDB_LDAP_H
#define POSTERN_AUTH_PASSDB_LDAP_H

#include <stddef.h>

/*
 * passdb_ldap_escape - RFC 4515 §3 valueencoding of in[0..inlen): '*', '(',
 * ')', '\', NUL, controls, DEL and every non-ASCII octet become "\XX".
 * Writes a NUL-terminated string to out; returns its length, or (size_t)-1
 * (out set to "") if it does not fit.
 */
size_t passdb_ldap_escape(
    const char *in, size_t inlen, char *out, size_t outlen);

/*
 * passdb_ldap_filter - tmpl with every "%s" replaced by the escaped login
 * and "%%" by "%". 0, or -1 if the result does not fit in out (out = "") or
 * tmpl has another '%' escape.
 */
int passdb_ldap_filter(
    const char *tmpl, const char *login, char *out, size_t outlen);

#endif
