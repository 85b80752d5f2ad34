/*
 * certmap.c - map a verified client certificate to a login for EXTERNAL
 * (RFC 4422 Appendix A): by SHA-256 fingerprint listed for the user as the
 * passwd-file extra field "cert=sha256:<hex>", or by an e-mail address in
 * the certificate that is itself a login. Parses only what the worker
 * reported; never sees the certificate.
 */
#include <string.h>
#include <strings.h>

#include "auth/certmap.h"
#include "auth/passdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"

#define FPR_HEX 64

static int
valid_fingerprint(const char *hex, size_t n)
{
	size_t i;

	if (n != FPR_HEX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		        (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * identity = token *(SP token)
 * token    = "sha256:" 64HEXDIG / "email:" addr / "subject-email:" addr
 */
int
certmap_pick(int rule, const char *identity, const char *authzid, char *out,
    size_t outlen)
{
	const char *p = identity, *prefix;
	size_t plen, n, vlen;
	int found = 0;

	if (identity == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	switch (rule) {
	case CONFIG_EXTERNAL_FINGERPRINT:
		prefix = "sha256:";
		break;
	case CONFIG_EXTERNAL_SAN_EMAIL:
		prefix = "email:";
		break;
	case CONFIG_EXTERNAL_SUBJECT_EMAIL:
		prefix = "subject-email:";
		break;
	default:
		return -1;
	}
	plen = strlen(prefix);
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n > plen && strncmp(p, prefix, plen) == 0) {
			vlen = n - plen;
			if (rule == CONFIG_EXTERNAL_FINGERPRINT) {
				/* the whole token is the extra field's value */
				if (!valid_fingerprint(p + plen, vlen) ||
				    n >= outlen)
					return -1;
				memcpy(out, p, n);
				out[n] = '\0';
				return 0;
			}
			if (vlen > CERTMAP_VALUE_MAX || vlen >= outlen) {
				p += n;
				continue;
			}
			if (!found) {
				memcpy(out, p + plen, vlen);
				out[vlen] = '\0';
				found = 1;
			}
			/* the address the client asked to act as, if owned */
			if (authzid != NULL && strlen(authzid) == vlen &&
			    strncasecmp(authzid, p + plen, vlen) == 0) {
				memcpy(out, p + plen, vlen);
				out[vlen] = '\0';
				return 0;
			}
		}
		p += n;
	}
	return found ? 0 : -1;
}

void
certmap_resolve(struct passdb *db, int rule, const char *identity,
    const char *authzid, passdb_cb *cb, void *arg)
{
	char value[CERTMAP_VALUE_MAX + 1];
	struct cred_result r;

	if (certmap_pick(rule, identity, authzid, value, sizeof(value)) < 0) {
		memset(&r, 0, sizeof(r));
		r.status = PASSDB_NO_USER;
		if (passdb_reply_later(db, &r, cb, arg) < 0)
			log_err("certmap: cannot schedule a reply; request "
			        "dropped");
		return;
	}
	if (rule == CONFIG_EXTERNAL_FINGERPRINT)
		passdb_find_by_field(db, "cert", value, cb, arg);
	else
		passdb_find_by_field(db, NULL, value, cb, arg);
}
