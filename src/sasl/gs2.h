/*
 * gs2.h - the GS2 header that starts SCRAM (RFC 5802 §7) and OAUTHBEARER
 * (RFC 7628 §3.1) client messages, and the saslname encoding ("=2C" for
 * ',', "=3D" for '=') both use for identities. The non-standard "F,"
 * prefix of RFC 5801 is not part of either mechanism and is refused.
 */
#ifndef POSTERN_SASL_GS2_H
#define POSTERN_SASL_GS2_H

#include <stddef.h>

#define GS2_CBNAME_MAX  32  /* "tls-exporter" */
#define GS2_AUTHZID_MAX 255 /* decoded octets */

enum gs2_cbflag {
	GS2_CB_NONE,   /* "n": the client does not support channel binding */
	GS2_CB_CLIENT, /* "y": the client does, but thinks the server does not */
	GS2_CB_USED,   /* "p=name": the client binds to channel type name */
};

struct gs2_header {
	enum gs2_cbflag flag;
	char cb_name[GS2_CBNAME_MAX + 1];  /* for GS2_CB_USED */
	char authzid[GS2_AUTHZID_MAX + 1]; /* decoded; "" if none */
	size_t authzid_len;
	size_t len; /* octets of the header, both ',' included */
};

/*
 * gs2_parse - parse the header at the start of p[0..n); the rest of the
 * message starts at p + out->len. 0, or -1 if it does not parse.
 */
int gs2_parse(const unsigned char *p, size_t n, struct gs2_header *out);

/*
 * gs2_saslname_decode - in[0..n) to out (NUL-terminated); the decoded length,
 * or -1 on a bare '=' or ',', a NUL, an empty name or too small an out.
 */
long gs2_saslname_decode(const char *in, size_t n, char *out, size_t outsize);

/* gs2_saslname_encode - the reverse; the encoded length, or -1 if out is too small. */
long gs2_saslname_encode(const char *in, size_t n, char *out, size_t outsize);

#endif
