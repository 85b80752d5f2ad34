/*
 * scram_math.c - the SCRAM key schedule (RFC 5802 §3, RFC 7677) and the
 * stored-key record. HMAC and PBKDF2 come from OpenSSL; every intermediate
 * key is wiped before returning.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>

#include "core/base64.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/scram_math.h"

const struct scram_hash scram_sha1 = {"SCRAM-SHA-1", 20, NID_sha1};
const struct scram_hash scram_sha256 = {"SCRAM-SHA-256", 32, NID_sha256};

static const EVP_MD *
md_of(const struct scram_hash *h)
{
	return EVP_get_digestbynid(h->nid);
}

const struct scram_hash *
scram_hash_find(const char *scheme)
{
	if (scheme == NULL)
		return NULL;
	if (str_ieq(scheme, scram_sha1.scheme))
		return &scram_sha1;
	if (str_ieq(scheme, scram_sha256.scheme))
		return &scram_sha256;
	return NULL;
}

int
scram_h(const struct scram_hash *h, const void *data, size_t len,
    unsigned char *out)
{
	unsigned int n = 0;
	const EVP_MD *md = md_of(h);

	if (md == NULL || EVP_Digest(data, len, out, &n, md, NULL) != 1 ||
	    n != h->len)
		return -1;
	return 0;
}

int
scram_hmac(const struct scram_hash *h, const void *key, size_t keylen,
    const void *data, size_t len, unsigned char *out)
{
	unsigned int n = 0;
	const EVP_MD *md = md_of(h);
	static const unsigned char empty[1];

	if (md == NULL || keylen > 0x7fffffff)
		return -1;
	/* HMAC() treats a NULL key as "reuse the last one": never pass it */
	if (HMAC(md, key != NULL ? key : empty, (int)keylen,
	        data != NULL ? data : empty, len, out, &n) == NULL ||
	    n != h->len)
		return -1;
	return 0;
}

int
scram_hi(const struct scram_hash *h, const void *pw, size_t pwlen,
    const unsigned char *salt, size_t saltlen, unsigned int iter,
    unsigned char *out)
{
	const EVP_MD *md = md_of(h);

	if (md == NULL || iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX ||
	    pwlen > 0x7fffffff || saltlen > 0x7fffffff)
		return -1;
	if (PKCS5_PBKDF2_HMAC(pw != NULL ? pw : "", (int)pwlen, salt,
	        (int)saltlen, (int)iter, md, (int)h->len, out) != 1)
		return -1;
	return 0;
}

int
scram_keys(const struct scram_hash *h, const unsigned char *salted,
    unsigned char *client_key, unsigned char *stored_key,
    unsigned char *server_key)
{
	unsigned char ck[SCRAM_HASH_MAX];
	int rc = -1;

	if (scram_hmac(h, salted, h->len, "Client Key", 10, ck) < 0)
		goto out;
	if (client_key != NULL)
		memcpy(client_key, ck, h->len);
	if (stored_key != NULL && scram_h(h, ck, h->len, stored_key) < 0)
		goto out;
	if (server_key != NULL &&
	    scram_hmac(h, salted, h->len, "Server Key", 10, server_key) < 0)
		goto out;
	rc = 0;
out:
	secret_wipe(ck, sizeof(ck));
	return rc;
}

int
scram_record_make(const struct scram_hash *h, const void *pw, size_t pwlen,
    const unsigned char *salt, size_t saltlen, unsigned int iter,
    struct scram_record *out)
{
	unsigned char sp[SCRAM_HASH_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	if (saltlen == 0 || saltlen > sizeof(out->salt))
		return -1;
	rc = scram_hi(h, pw, pwlen, salt, saltlen, iter, sp);
	if (rc == 0)
		rc = scram_keys(h, sp, NULL, out->stored_key, out->server_key);
	secret_wipe(sp, sizeof(sp));
	if (rc < 0) {
		secret_wipe(out, sizeof(*out));
		return -1;
	}
	out->iter = iter;
	memcpy(out->salt, salt, saltlen);
	out->salt_len = saltlen;
	return 0;
}

/* field - the next ','-terminated field of s[0..len) at *pos. */
static int
field(const char *s, size_t len, size_t *pos, const char **f, size_t *flen)
{
	const char *comma;

	if (*pos > len)
		return -1;
	*f = s + *pos;
	comma = memchr(*f, ',', len - *pos);
	*flen = comma != NULL ? (size_t)(comma - *f) : len - *pos;
	*pos += *flen + 1;
	return 0;
}

/* b64_exact - decode f into out; -1 unless it is exactly want octets (want 0: 1..max). */
static long
b64_field(
    const char *f, size_t flen, unsigned char *out, size_t max, size_t want)
{
	unsigned char tmp[SCRAM_SALT_MAX + 4];
	long n;

	if (flen == 0 || base64_decoded_max(flen) > sizeof(tmp))
		return -1;
	n = base64_decode(f, flen, tmp, sizeof(tmp));
	if (n <= 0 || (size_t)n > max || (want != 0 && (size_t)n != want)) {
		secret_wipe(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(out, tmp, (size_t)n);
	secret_wipe(tmp, sizeof(tmp));
	return n;
}

int
scram_record_parse(const struct scram_hash *h, const char *s, size_t len,
    struct scram_record *out)
{
	const char *f;
	size_t flen, pos = 0, i;
	unsigned long long iter = 0;
	long n;

	memset(out, 0, sizeof(*out));
	if (s == NULL || len == 0 || len >= SCRAM_RECORD_MAX)
		goto bad;
	if (field(s, len, &pos, &f, &flen) < 0 || flen == 0 || flen > 9)
		goto bad;
	for (i = 0; i < flen; i++) {
		if (f[i] < '0' || f[i] > '9')
			goto bad;
		iter = iter * 10 + (unsigned)(f[i] - '0');
	}
	if (iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX)
		goto bad;
	out->iter = (unsigned int)iter;
	if (field(s, len, &pos, &f, &flen) < 0)
		goto bad;
	n = b64_field(f, flen, out->salt, sizeof(out->salt), 0);
	if (n < 0)
		goto bad;
	out->salt_len = (size_t)n;
	if (field(s, len, &pos, &f, &flen) < 0 ||
	    b64_field(f, flen, out->stored_key, h->len, h->len) < 0)
		goto bad;
	if (field(s, len, &pos, &f, &flen) < 0 ||
	    b64_field(f, flen, out->server_key, h->len, h->len) < 0)
		goto bad;
	if (pos != len + 1) /* trailing fields */
		goto bad;
	return 0;
bad:
	secret_wipe(out, sizeof(*out));
	return -1;
}

int
scram_record_format(const struct scram_hash *h, const struct scram_record *r,
    char *out, size_t outlen)
{
	char salt[SCRAM_SALT_MAX * 2], sk[SCRAM_HASH_MAX * 2],
	    svk[SCRAM_HASH_MAX * 2];
	int n, rc = -1;

	if (r->salt_len == 0 || r->salt_len > sizeof(r->salt))
		return -1;
	if (base64_encode(r->salt, r->salt_len, salt, sizeof(salt)) < 0 ||
	    base64_encode(r->stored_key, h->len, sk, sizeof(sk)) < 0 ||
	    base64_encode(r->server_key, h->len, svk, sizeof(svk)) < 0)
		goto out;
	n = snprintf(out, outlen, "%u,%s,%s,%s", r->iter, salt, sk, svk);
	if (n > 0 && (size_t)n < outlen)
		rc = 0;
	else if (outlen > 0)
		secret_wipe(out, outlen);
out:
	secret_wipe(sk, sizeof(sk));
	secret_wipe(svk, sizeof(svk));
	return rc;
}

int
scram_check_proof(const struct scram_hash *h, const unsigned char *stored_key,
    const void *authmsg, size_t authlen, const unsigned char *proof,
    size_t prooflen)
{
	unsigned char sig[SCRAM_HASH_MAX], ck[SCRAM_HASH_MAX],
	    sk[SCRAM_HASH_MAX];
	size_t i;
	int rc = -1;

	if (prooflen != h->len)
		return -1;
	if (scram_hmac(h, stored_key, h->len, authmsg, authlen, sig) < 0)
		goto out;
	for (i = 0; i < h->len; i++)
		ck[i] = proof[i] ^ sig[i];
	if (scram_h(h, ck, h->len, sk) < 0)
		goto out;
	rc = ct_memeq(sk, stored_key, h->len);
out:
	secret_wipe(sig, sizeof(sig));
	secret_wipe(ck, sizeof(ck));
	secret_wipe(sk, sizeof(sk));
	return rc;
}

int
scram_client_proof(const struct scram_hash *h, const unsigned char *salted,
    const void *authmsg, size_t authlen, unsigned char *proof,
    unsigned char *server_sig)
{
	unsigned char ck[SCRAM_HASH_MAX], stk[SCRAM_HASH_MAX],
	    svk[SCRAM_HASH_MAX], sig[SCRAM_HASH_MAX];
	size_t i;
	int rc = -1;

	if (scram_keys(h, salted, ck, stk, svk) < 0 ||
	    scram_hmac(h, stk, h->len, authmsg, authlen, sig) < 0 ||
	    scram_hmac(h, svk, h->len, authmsg, authlen, server_sig) < 0)
		goto out;
	for (i = 0; i < h->len; i++)
		proof[i] = ck[i] ^ sig[i];
	rc = 0;
out:
	secret_wipe(ck, sizeof(ck));
	secret_wipe(stk, sizeof(stk));
	secret_wipe(svk, sizeof(svk));
	secret_wipe(sig, sizeof(sig));
	return rc;
}
