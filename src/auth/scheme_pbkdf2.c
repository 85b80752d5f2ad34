/*
 * scheme_pbkdf2.c - PBKDF2 schemes via OpenSSL, in Dovecot's layout
 *   stored = "$1$" salt "$" rounds "$" hex(derived key)
 * where salt is used as written (its ASCII octets). PBKDF2 is Dovecot's
 * PBKDF2-HMAC-SHA1 (20-octet key); PBKDF2-SHA256 is the same layout with
 * HMAC-SHA256 and a 32-octet key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/scheme.h"
#include "core/rand.h"
#include "core/secret.h"

#define PBKDF2_SALT_LEN      16 /* characters, as Dovecot generates */
#define PBKDF2_MAX_KEY       64
#define PBKDF2_MAX_ROUNDS    10000000UL
#define PBKDF2_SHA1_ROUNDS   5000UL   /* Dovecot's default */
#define PBKDF2_SHA256_ROUNDS 600000UL /* OWASP 2023 for PBKDF2-HMAC-SHA256 */

/* The salt alphabet: Dovecot draws from the base64 alphabet. */
static const char salt_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * pbkdf2_parse - split "$1$salt$rounds$hex" into its parts. salt_r points
 * into stored; 0 or -1 (malformed).
 */
static int
pbkdf2_parse(const char *stored, const char **salt_r, size_t *saltlen_r,
    unsigned long *rounds_r, unsigned char *key, size_t keylen)
{
	const char *salt, *d1, *d2, *hex;
	char *end;
	unsigned long rounds;
	size_t i;

	if (strncmp(stored, "$1$", 3) != 0)
		return -1;
	salt = stored + 3;
	d1 = strchr(salt, '$');
	if (d1 == NULL || d1 == salt)
		return -1;
	d2 = strchr(d1 + 1, '$');
	if (d2 == NULL || d2 == d1 + 1 || d1[1] < '0' || d1[1] > '9')
		return -1;
	rounds = strtoul(d1 + 1, &end, 10);
	if (end != d2 || rounds == 0 || rounds > PBKDF2_MAX_ROUNDS)
		return -1;
	hex = d2 + 1;
	if (strlen(hex) != keylen * 2)
		return -1;
	for (i = 0; i < keylen; i++) {
		unsigned int v = 0;
		int k;

		for (k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned int)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned int)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned int)(c - 'A' + 10);
			else
				return -1;
		}
		key[i] = (unsigned char)v;
	}
	*salt_r = salt;
	*saltlen_r = (size_t)(d1 - salt);
	*rounds_r = rounds;
	return 0;
}

static int
pbkdf2_verify_md(const struct secret *plain, const char *stored,
    const EVP_MD *md, size_t keylen)
{
	unsigned char want[PBKDF2_MAX_KEY], got[PBKDF2_MAX_KEY];
	const char *salt;
	size_t saltlen;
	unsigned long rounds;
	int rc;

	if (pbkdf2_parse(stored, &salt, &saltlen, &rounds, want, keylen) < 0)
		return -1;
	if (PKCS5_PBKDF2_HMAC((const char *)plain->data, (int)plain->len,
	        (const unsigned char *)salt, (int)saltlen, (int)rounds, md,
	        (int)keylen, got) != 1)
		return -1;
	rc = ct_memeq(want, got, keylen);
	secret_wipe(got, sizeof(got));
	return rc;
}

static int
pbkdf2_generate_md(const struct secret *plain, char *out, size_t outlen,
    const EVP_MD *md, size_t keylen, unsigned long rounds)
{
	unsigned char key[PBKDF2_MAX_KEY], r[PBKDF2_SALT_LEN];
	char salt[PBKDF2_SALT_LEN + 1], hex[PBKDF2_MAX_KEY * 2 + 1];
	size_t i;
	int n;

	rand_bytes(r, sizeof(r));
	for (i = 0; i < PBKDF2_SALT_LEN; i++)
		salt[i] = salt_chars[r[i] & 63];
	salt[PBKDF2_SALT_LEN] = '\0';
	if (PKCS5_PBKDF2_HMAC((const char *)plain->data, (int)plain->len,
	        (const unsigned char *)salt, PBKDF2_SALT_LEN, (int)rounds, md,
	        (int)keylen, key) != 1)
		return -1;
	for (i = 0; i < keylen; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", key[i]);
	secret_wipe(key, sizeof(key));
	n = snprintf(out, outlen, "$1$%s$%lu$%s", salt, rounds, hex);
	secret_wipe(hex, sizeof(hex));
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
pbkdf2_sha1_verify(const struct secret *plain, const char *stored)
{
	return pbkdf2_verify_md(plain, stored, EVP_sha1(), 20);
}

static int
pbkdf2_sha1_generate(const struct secret *plain, char *out, size_t outlen)
{
	return pbkdf2_generate_md(
	    plain, out, outlen, EVP_sha1(), 20, PBKDF2_SHA1_ROUNDS);
}

static int
pbkdf2_sha256_verify(const struct secret *plain, const char *stored)
{
	return pbkdf2_verify_md(plain, stored, EVP_sha256(), 32);
}

static int
pbkdf2_sha256_generate(const struct secret *plain, char *out, size_t outlen)
{
	return pbkdf2_generate_md(
	    plain, out, outlen, EVP_sha256(), 32, PBKDF2_SHA256_ROUNDS);
}

const struct pw_scheme pw_scheme_pbkdf2 = {
    .name = "PBKDF2",
    .flags = PW_WEAK | PW_CAN_GENERATE,
    .verify = pbkdf2_sha1_verify,
    .generate = pbkdf2_sha1_generate,
};

const struct pw_scheme pw_scheme_pbkdf2_sha256 = {
    .name = "PBKDF2-SHA256",
    .flags = PW_CAN_GENERATE,
    .verify = pbkdf2_sha256_verify,
    .generate = pbkdf2_sha256_generate,
};
