/*
 * tls.c - OpenSSL server contexts (RFC 3207 STARTTLS and RFC 8314 implicit
 * TLS share them) and the per-connection facts the SMTP and SASL layers need.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

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
			off +=
			    (size_t)snprintf(buf + off, len - off, "%s", one);
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
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	        SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle sessions give their 34 KiB of record buffers back. */
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
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
	if (c->tls_client_ca[0] != '\0') {
		STACK_OF(X509_NAME) * names;

		if (SSL_CTX_load_verify_locations(
		        ctx, c->tls_client_ca, NULL) != 1) {
			snprintf(err, errlen, "client_ca %s: %s",
			    c->tls_client_ca, tls_errors(ebuf, sizeof(ebuf)));
			SSL_CTX_free(ctx);
			return NULL;
		}
		names = SSL_load_client_CA_file(c->tls_client_ca);
		if (names != NULL)
			SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify_depth(ctx, 5);
	}
	/* Resumption: stateless tickets (rotated by OpenSSL per context) and
	 * a session cache; both are per process. */
	SSL_CTX_set_session_id_context(
	    ctx, (const unsigned char *)"postern", 7);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	SSL_CTX_set_timeout(ctx, 3600);
	/* One TLS 1.3 ticket, not OpenSSL's two: a mail client resumes one
	 * connection at a time, and each ticket costs an encryption per
	 * handshake (issue 8: docs/PERFORMANCE.md). */
	(void)SSL_CTX_set_num_tickets(ctx, 1);
	return ctx;
fail:
	snprintf(
	    err, errlen, "TLS settings: %s", tls_errors(ebuf, sizeof(ebuf)));
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_legacy(SSL *ssl)
{
	(void)SSL_set_min_proto_version(ssl, TLS1_VERSION);
	SSL_set_security_level(ssl, 0);
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
	    SSL_export_keying_material(
	        ssl, exporter, 32, label, sizeof(label) - 1, NULL, 0, 0) == 1)
		*exporter_len = 32;
}

/* accept_any - "request" mode: let the handshake finish; the result is
 * checked with SSL_get_verify_result() before any identity is believed. */
static int
accept_any(int preverify_ok, X509_STORE_CTX *store)
{
	(void)preverify_ok;
	(void)store;
	return 1;
}

void
tls_client_verify(SSL *ssl, int mode)
{
	switch (mode) {
	case LISTENER_CERT_REQUEST:
		SSL_set_verify(ssl, SSL_VERIFY_PEER, accept_any);
		break;
	case LISTENER_CERT_REQUIRE:
		SSL_set_verify(ssl,
		    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		break;
	default:
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		break;
	}
}

/* add_token - append " prefix:value" if value is printable and fits. */
static void
add_token(char *out, size_t outlen, size_t *off, const char *prefix,
    const unsigned char *v, size_t n)
{
	size_t i, need = strlen(prefix) + n + 1;

	for (i = 0; i < n; i++)
		if (v[i] <= 0x20 || v[i] >= 0x7f)
			return;
	if (*off + need + 1 > outlen)
		return;
	if (*off > 0)
		out[(*off)++] = ' ';
	memcpy(out + *off, prefix, strlen(prefix));
	*off += strlen(prefix);
	memcpy(out + *off, v, n);
	*off += n;
	out[*off] = '\0';
}

size_t
tls_client_identity(SSL *ssl, char *out, size_t outlen)
{
	X509 *cert;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	size_t off = 0;
	GENERAL_NAMES *sans;
	int idx;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	cert = SSL_get0_peer_certificate(ssl);
	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) {
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		add_token(out, outlen, &off,
		    "sha256:", (const unsigned char *)hex, 2 * (size_t)mdlen);
	}
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (sans != NULL) {
		for (idx = 0; idx < sk_GENERAL_NAME_num(sans); idx++) {
			const GENERAL_NAME *gn =
			    sk_GENERAL_NAME_value(sans, idx);

			if (gn->type == GEN_EMAIL)
				add_token(out, outlen, &off, "email:",
				    ASN1_STRING_get0_data(gn->d.rfc822Name),
				    (size_t)ASN1_STRING_length(
				        gn->d.rfc822Name));
		}
		GENERAL_NAMES_free(sans);
	}
	idx = X509_NAME_get_index_by_NID(
	    X509_get_subject_name(cert), NID_pkcs9_emailAddress, -1);
	if (idx >= 0) {
		X509_NAME_ENTRY *e =
		    X509_NAME_get_entry(X509_get_subject_name(cert), idx);
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);

		add_token(out, outlen, &off,
		    "subject-email:", ASN1_STRING_get0_data(d),
		    (size_t)ASN1_STRING_length(d));
	}
	return off;
}
