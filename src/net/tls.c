/*
 * tls.c - OpenSSL server contexts (RFC 3207 STARTTLS and RFC 8314 implicit
 * TLS share them) and the per-connection facts the SMTP and SASL layers need.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/config.h"
#include "core/str.h"
#include "net/tls.h"

const char *
tls_errors(char *buf, size_t len)
{
	unsigned long e;
	size_t off = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		if (off > 0 && off + 2 < len)
			off += (size_t)snprintf(buf + off, len - off, "; ");
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s", one);
	}
	if (buf[0] == '\0')
		str_copy(buf, "unknown TLS error", len);
	return buf;
}

SSL_CTX *
tls_server_ctx_new(const struct config *c, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	char ebuf[512];

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s",
		    tls_errors(ebuf, sizeof(ebuf)));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, c->tls_min_version) != 1)
		goto fail;
	/* No renegotiation (CVE-2009-3555 family, CPU DoS), no compression
	 * (CRIME); the server picks the cipher order. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle sessions give their 34 KiB of record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (c->tls_ciphers[0] != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, c->tls_ciphers) != 1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_certificate) != 1) {
		snprintf(err, errlen, "certificate %s: %s", c->tls_certificate,
		    tls_errors(ebuf, sizeof(ebuf)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) !=
	    1) {
		snprintf(err, errlen, "key %s: %s", c->tls_key,
		    tls_errors(ebuf, sizeof(ebuf)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "key %s does not match certificate %s",
		    c->tls_key, c->tls_certificate);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Resumption: stateless tickets (rotated by OpenSSL per context) and
	 * a session cache; both are per process. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"postern",
	    7);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	SSL_CTX_set_timeout(ctx, 3600);
	return ctx;
fail:
	snprintf(err, errlen, "TLS settings: %s", tls_errors(ebuf, sizeof(ebuf)));
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_get_info(SSL *ssl, struct tls_info *out)
{
	const SSL_CIPHER *cipher;
	int alg_bits = 0;

	memset(out, 0, sizeof(*out));
	str_copy(out->version, SSL_get_version(ssl), sizeof(out->version));
	cipher = SSL_get_current_cipher(ssl);
	if (cipher != NULL) {
		str_copy(out->cipher, SSL_CIPHER_get_name(cipher),
		    sizeof(out->cipher));
		out->bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	}
}

void
tls_chanbind(SSL *ssl, unsigned char *unique, size_t *unique_len,
    size_t unique_max, unsigned char *exporter, size_t *exporter_len)
{
	static const char label[] = "EXPORTER-Channel-Binding";

	*unique_len = 0;
	*exporter_len = 0;
	if (SSL_version(ssl) == TLS1_3_VERSION) {
		/* RFC 9266: 32 bytes, empty context. */
		if (SSL_export_keying_material(ssl, exporter, 32, label,
		    sizeof(label) - 1, NULL, 0, 0) == 1)
			*exporter_len = 32;
		return;
	}
	/* RFC 5929 §3.1: the first Finished message of the latest handshake;
	 * on a full handshake that is the client's, the server's peer
	 * Finished. Resumed handshakes send the server's first. */
	if (SSL_session_reused(ssl))
		*unique_len = SSL_get_finished(ssl, unique, unique_max);
	else
		*unique_len = SSL_get_peer_finished(ssl, unique, unique_max);
	if (*unique_len > unique_max)
		*unique_len = 0;
	/* RFC 9266 §3 also defines tls-exporter for TLS 1.2 with extended
	 * master secret; offer it only there. */
	if (SSL_get_extms_support(ssl) == 1 &&
	    SSL_export_keying_material(ssl, exporter, 32, label,
		sizeof(label) - 1, NULL, 0, 0) == 1)
		*exporter_len = 32;
}
