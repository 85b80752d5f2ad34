/*
 * scheme_crypt.c - crypt(3) schemes via libxcrypt: SHA512-CRYPT ($6$),
 * SHA256-CRYPT ($5$), BLF-CRYPT ($2b$, $2y$, $2a$), YESCRYPT ($y$), and
 * CRYPT for any string crypt_rn() accepts. Verification recomputes the
 * hash with the stored setting and compares in constant time.
 */
#include <stdlib.h>
#include <string.h>

#include <crypt.h>

#include "auth/scheme.h"
#include "core/secret.h"

/* crypt_check - 1 match, 0 mismatch, -1 when stored is not a valid setting. */
static int
crypt_check(const struct secret *plain, const char *stored)
{
	struct crypt_data *cd;
	const char *h;
	int rc;

	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return -1;
	h = crypt_rn((const char *)plain->data, stored, cd, (int)sizeof(*cd));
	if (h == NULL || h[0] == '*' || strlen(h) != strlen(stored))
		rc = -1;
	else
		rc = ct_streq(stored, h);
	secret_wipe(cd, sizeof(*cd));
	free(cd);
	return rc;
}

/* crypt_make - hash plain with a fresh salt for prefix (NULL = library default). */
static int
crypt_make(const char *prefix, unsigned long count, const struct secret *plain,
    char *out, size_t outlen)
{
	struct crypt_data *cd;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *h;
	size_t n;
	int rc = -1;

	if (crypt_gensalt_rn(prefix, count, NULL, 0, salt, (int)sizeof(salt)) ==
	    NULL)
		return -1;
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return -1;
	h = crypt_rn((const char *)plain->data, salt, cd, (int)sizeof(*cd));
	if (h != NULL && h[0] != '*') {
		n = strlen(h);
		if (n < outlen) {
			memcpy(out, h, n + 1);
			rc = 0;
		}
	}
	secret_wipe(cd, sizeof(*cd));
	free(cd);
	return rc;
}

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int
sha512_crypt_verify(const struct secret *plain, const char *stored)
{
	return has_prefix(stored, "$6$") ? crypt_check(plain, stored) : -1;
}

static int
sha256_crypt_verify(const struct secret *plain, const char *stored)
{
	return has_prefix(stored, "$5$") ? crypt_check(plain, stored) : -1;
}

static int
blf_crypt_verify(const struct secret *plain, const char *stored)
{
	if (!has_prefix(stored, "$2b$") && !has_prefix(stored, "$2y$") &&
	    !has_prefix(stored, "$2a$"))
		return -1;
	return crypt_check(plain, stored);
}

static int
yescrypt_verify(const struct secret *plain, const char *stored)
{
	return has_prefix(stored, "$y$") ? crypt_check(plain, stored) : -1;
}

static int
any_crypt_verify(const struct secret *plain, const char *stored)
{
	return stored[0] != '\0' ? crypt_check(plain, stored) : -1;
}

static int
sha512_crypt_generate(const struct secret *plain, char *out, size_t outlen)
{
	return crypt_make("$6$", 0, plain, out, outlen);
}

static int
sha256_crypt_generate(const struct secret *plain, char *out, size_t outlen)
{
	return crypt_make("$5$", 0, plain, out, outlen);
}

static int
blf_crypt_generate(const struct secret *plain, char *out, size_t outlen)
{
	/* bcrypt truncates at 72 octets; refuse rather than hash a prefix */
	if (plain->len > 72)
		return -1;
	return crypt_make("$2b$", 0, plain, out, outlen);
}

static int
yescrypt_generate(const struct secret *plain, char *out, size_t outlen)
{
	return crypt_make("$y$", 0, plain, out, outlen);
}

const struct pw_scheme pw_scheme_sha512_crypt = {
    .name = "SHA512-CRYPT",
    .flags = PW_CAN_GENERATE,
    .verify = sha512_crypt_verify,
    .generate = sha512_crypt_generate,
};

const struct pw_scheme pw_scheme_sha256_crypt = {
    .name = "SHA256-CRYPT",
    .flags = PW_CAN_GENERATE,
    .verify = sha256_crypt_verify,
    .generate = sha256_crypt_generate,
};

const struct pw_scheme pw_scheme_blf_crypt = {
    .name = "BLF-CRYPT",
    .flags = PW_CAN_GENERATE,
    .verify = blf_crypt_verify,
    .generate = blf_crypt_generate,
};

const struct pw_scheme pw_scheme_yescrypt = {
    .name = "YESCRYPT",
    .flags = PW_CAN_GENERATE,
    .verify = yescrypt_verify,
    .generate = yescrypt_generate,
};

/* CRYPT - whatever crypt(3) understands; verify only (Dovecot's CRYPT generates DES). */
const struct pw_scheme pw_scheme_crypt = {
    .name = "CRYPT",
    .flags = 0,
    .verify = any_crypt_verify,
    .generate = NULL,
};
