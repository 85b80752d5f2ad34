/*
 * tls.h - OpenSSL 3 server contexts and per-connection TLS facts.
 * TLS 1.2 and 1.3 only; no renegotiation, no compression; buffers released
 * on idle connections (SSL_MODE_RELEASE_BUFFERS) to keep idle sessions small.
 */
#ifndef POSTERN_NET_TLS_H
#define POSTERN_NET_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct config;

struct tls_info {
	char version[16]; /* "TLSv1.3" */
	char cipher[64];  /* "TLS_AES_256_GCM_SHA384" */
	int bits;         /* symmetric key bits */
};

/* tls_server_ctx_new - context from [tls] of c; NULL with err on failure. */
SSL_CTX *tls_server_ctx_new(const struct config *c, char *err, size_t errlen);

/* tls_get_info - version and cipher of an established connection. */
void tls_get_info(SSL *ssl, struct tls_info *out);

/*
 * tls_chanbind - channel-binding data of an established server-side
 * connection: tls-unique (RFC 5929, TLS 1.2 only) and tls-exporter (RFC 9266).
 * Lengths 0 when not defined for this connection.
 */
void tls_chanbind(SSL *ssl, unsigned char *unique, size_t *unique_len,
    size_t unique_max, unsigned char *exporter, size_t *exporter_len);

/*
 * tls_client_verify - set how ssl (a server-side connection) asks for a
 * client certificate: mode is enum listener_cert. "request" never fails the
 * handshake; tls_client_identity() then reports only a verified certificate.
 */
void tls_client_verify(SSL *ssl, int mode);

/*
 * tls_client_identity - for a verified client certificate, the identities
 * EXTERNAL may map (space separated): "sha256:<hex of the DER>",
 * "email:<SAN rfc822Name>" ..., "subject-email:<emailAddress>". Returns the
 * length written, 0 when there is no verified certificate.
 */
size_t tls_client_identity(SSL *ssl, char *out, size_t outlen);

/*
 * tls_legacy - let ssl (a server-side connection of a legacy_tls listener)
 * accept TLS 1.0 and 1.1 handshakes: the floor, and OpenSSL 3's security
 * level 0 (SHA-1 handshakes). Who may log in over them is the auth
 * service's decision (a credential granted the relaxed floor).
 */
void tls_legacy(SSL *ssl);

/* tls_errors - drain OpenSSL's error queue into buf as one line; returns buf. */
const char *tls_errors(char *buf, size_t len);

#endif
