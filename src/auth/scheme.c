/*
 * scheme.c - password scheme registry and Dovecot's "{SCHEME}data" notation.
 *   stored = "{" name "}" data / crypt-string
 * Bare crypt strings are recognized by their prefix. The library-backed
 * schemes live in scheme_sodium.c and scheme_crypt.c; the legacy schemes
 * here (PLAIN, CLEAR, SHA512, SSHA512) verify only and are flagged PW_WEAK.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/scheme.h"
#include "auth/scheme_scram.h"
#include "core/base64.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/str.h"

#define SCHEME_NAME_MAX 32
#define SHA512_LEN      64
#define STORED_MAX      512

/* [auth] allow_plain_scheme: stored cleartext verifies only when allowed. */
static _Atomic int plain_allowed = 1;

void
pw_allow_plain(int allowed)
{
	plain_allowed = allowed ? 1 : 0;
}

/* PLAIN / CLEAR - the password itself. */
static int
plain_verify(const struct secret *plain, const char *stored)
{
	size_t n = strlen(stored);
	int eq;

	if (!plain_allowed)
		return -1;

	/* compare the full length of both; leak only the attempt's length */
	eq = ct_streq(stored, (const char *)plain->data);
	return eq && n == plain->len ? 1 : 0;
}

/* sha512_of - SHA-512 of plain || salt into md (64 bytes); 0 or -1. */
static int
sha512_of(const struct secret *plain, const unsigned char *salt, size_t saltlen,
    unsigned char *md)
{
	EVP_MD_CTX *ctx;
	unsigned int mdlen = 0;
	int ok;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, plain->data, plain->len) == 1 &&
	    (saltlen == 0 || EVP_DigestUpdate(ctx, salt, saltlen) == 1) &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == SHA512_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* ssha_verify - SHA512: base64(H(p)); SSHA512: base64(H(p || salt) || salt). */
static int
ssha_verify(const struct secret *plain, const char *stored, int salted)
{
	unsigned char raw[STORED_MAX], md[SHA512_LEN];
	long n;
	int rc;

	n = base64_decode(stored, strlen(stored), raw, sizeof(raw));
	if (n < 0 || (!salted && n != SHA512_LEN) ||
	    (salted && n <= SHA512_LEN))
		return -1;
	if (sha512_of(plain, raw + SHA512_LEN,
	        salted ? (size_t)n - SHA512_LEN : 0, md) < 0)
		return -1;
	rc = ct_memeq(md, raw, SHA512_LEN);
	secret_wipe(md, sizeof(md));
	return rc;
}

/* ssha_generate - SHA512 / SSHA512 (16 random salt octets) for compatibility. */
static int
ssha_generate(const struct secret *plain, char *out, size_t outlen, int salted)
{
	unsigned char raw[SHA512_LEN + 16] = {0};
	size_t saltlen = salted ? 16 : 0;
	int rc;

	if (salted)
		rand_bytes(raw + SHA512_LEN, saltlen);
	if (sha512_of(plain, raw + SHA512_LEN, saltlen, raw) < 0)
		return -1;
	rc = base64_encode(raw, SHA512_LEN + saltlen, out, outlen) < 0 ? -1 : 0;
	secret_wipe(raw, sizeof(raw));
	return rc;
}

static int
sha512_generate(const struct secret *plain, char *out, size_t outlen)
{
	return ssha_generate(plain, out, outlen, 0);
}

static int
ssha512_generate(const struct secret *plain, char *out, size_t outlen)
{
	return ssha_generate(plain, out, outlen, 1);
}

static int
sha512_verify(const struct secret *plain, const char *stored)
{
	return ssha_verify(plain, stored, 0);
}

static int
ssha512_verify(const struct secret *plain, const char *stored)
{
	return ssha_verify(plain, stored, 1);
}

static const struct pw_scheme pw_scheme_plain = {
    .name = "PLAIN",
    .flags = PW_WEAK,
    .verify = plain_verify,
};

static const struct pw_scheme pw_scheme_clear = {
    .name = "CLEAR",
    .flags = PW_WEAK,
    .verify = plain_verify,
};

static const struct pw_scheme pw_scheme_sha512 = {
    .name = "SHA512",
    .flags = PW_WEAK | PW_CAN_GENERATE,
    .verify = sha512_verify,
    .generate = sha512_generate,
};

static const struct pw_scheme pw_scheme_ssha512 = {
    .name = "SSHA512",
    .flags = PW_WEAK | PW_CAN_GENERATE,
    .verify = ssha512_verify,
    .generate = ssha512_generate,
};

static const struct pw_scheme *const schemes[] = {
    &pw_scheme_argon2id,
    &pw_scheme_argon2i,
    &pw_scheme_sha512_crypt,
    &pw_scheme_sha256_crypt,
    &pw_scheme_blf_crypt,
    &pw_scheme_yescrypt,
    &pw_scheme_crypt,
    &pw_scheme_scram_sha256,
    &pw_scheme_scram_sha1,
    &pw_scheme_cram_md5,
    &pw_scheme_pbkdf2_sha256,
    &pw_scheme_pbkdf2,
    &pw_scheme_ssha512,
    &pw_scheme_sha512,
    &pw_scheme_plain,
    &pw_scheme_clear,
    NULL,
};

/* Bare crypt strings: prefix -> scheme. Longest prefixes first. */
static const struct {
	const char *prefix;
	const struct pw_scheme *scheme;
} crypt_prefixes[] = {
    {"$argon2id$", &pw_scheme_argon2id},
    {"$argon2i$", &pw_scheme_argon2i},
    {"$6$", &pw_scheme_sha512_crypt},
    {"$5$", &pw_scheme_sha256_crypt},
    {"$2b$", &pw_scheme_blf_crypt},
    {"$2y$", &pw_scheme_blf_crypt},
    {"$2a$", &pw_scheme_blf_crypt},
    {"$y$", &pw_scheme_yescrypt},
};

const struct pw_scheme *
pw_scheme_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; schemes[i] != NULL; i++) {
		if (str_ieq(schemes[i]->name, name))
			return schemes[i];
	}
	return NULL;
}

const struct pw_scheme *
pw_split(const char *stored, const char **data_r)
{
	char name[SCHEME_NAME_MAX];
	const char *end;
	size_t i, n;

	if (stored == NULL)
		return NULL;
	if (stored[0] == '{') {
		end = strchr(stored + 1, '}');
		if (end == NULL)
			return NULL;
		n = (size_t)(end - (stored + 1));
		if (n == 0 || n >= sizeof(name))
			return NULL;
		memcpy(name, stored + 1, n);
		name[n] = '\0';
		if (data_r != NULL)
			*data_r = end + 1;
		return pw_scheme_find(name);
	}
	for (i = 0; i < sizeof(crypt_prefixes) / sizeof(crypt_prefixes[0]);
	     i++) {
		if (strncmp(stored, crypt_prefixes[i].prefix,
		        strlen(crypt_prefixes[i].prefix)) == 0) {
			if (data_r != NULL)
				*data_r = stored;
			return crypt_prefixes[i].scheme;
		}
	}
	return NULL;
}

int
pw_verify(const struct secret *plain, const char *stored)
{
	const struct pw_scheme *s;
	const char *data = NULL;

	if (plain == NULL || plain->data == NULL)
		return -1;
	s = pw_split(stored, &data);
	if (s == NULL || data == NULL)
		return -1;
	/* a NUL inside the password can never match a C-string hash */
	if (memchr(plain->data, '\0', plain->len) != NULL)
		return s->verify(plain, data) < 0 ? -1 : 0;
	return s->verify(plain, data);
}

int
pw_hash(
    const char *scheme, const struct secret *plain, char *out, size_t outlen)
{
	const struct pw_scheme *s = pw_scheme_find(scheme);
	char tmp[STORED_MAX];
	int n;

	if (s == NULL || s->generate == NULL || !(s->flags & PW_CAN_GENERATE) ||
	    plain == NULL)
		return -1;
	if (s->generate(plain, tmp, sizeof(tmp)) < 0) {
		secret_wipe(tmp, sizeof(tmp));
		return -1;
	}
	n = snprintf(out, outlen, "{%s}%s", s->name, tmp);
	secret_wipe(tmp, sizeof(tmp));
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			secret_wipe(out, outlen);
		return -1;
	}
	return 0;
}

/* The dummy hash: generated once, on first use, from a fixed password. */
static pthread_mutex_t dummy_mtx = PTHREAD_MUTEX_INITIALIZER;
static char dummy_hash[STORED_MAX];
static int dummy_ready;

void
pw_dummy_verify(const struct secret *plain)
{
	static const char fixed[] = "postern-dummy-password";
	struct secret s = {
	    (unsigned char *)(uintptr_t)fixed, sizeof(fixed) - 1};
	struct secret empty = {(unsigned char *)(uintptr_t) "", 0};
	const struct secret *p = plain != NULL ? plain : &empty;
	int ready;

	if (pthread_mutex_lock(&dummy_mtx) != 0)
		return;
	if (!dummy_ready &&
	    pw_scheme_argon2id.generate(&s, dummy_hash, sizeof(dummy_hash)) ==
	        0)
		dummy_ready = 1;
	ready = dummy_ready;
	(void)pthread_mutex_unlock(&dummy_mtx);
	if (ready)
		(void)pw_scheme_argon2id.verify(p, dummy_hash);
}

int
pw_split_name(
    const char *stored, char *name, size_t namelen, const char **data_r)
{
	const struct pw_scheme *s;
	const char *end;
	size_t n;

	if (stored[0] == '{') {
		end = strchr(stored + 1, '}');
		if (end == NULL)
			return -1;
		n = (size_t)(end - stored - 1);
		if (n == 0 || n >= namelen)
			return -1;
		memcpy(name, stored + 1, n);
		name[n] = '\0';
		*data_r = end + 1;
		return 0;
	}
	s = pw_split(stored, data_r);
	if (s == NULL)
		return -1;
	(void)str_copy(name, s->name, namelen);
	return 0;
}
