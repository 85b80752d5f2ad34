/*
 * scheme_sodium.c - ARGON2ID (the default) and ARGON2I via libsodium.
 * Stored form: the PHC string "$argon2id$v=19$m=...,t=...,p=1$salt$hash".
 * libsodium only verifies p=1 strings, as it only generates them.
 */
#include <string.h>

#include <sodium.h>

#include "auth/scheme.h"
#include "core/secret.h"

/* sodium_ready - sodium_init() is idempotent and thread-safe. */
static int
sodium_ready(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

static int
argon2id_verify(const struct secret *plain, const char *stored)
{
	if (sodium_ready() < 0)
		return -1;
	if (strncmp(stored, "$argon2id$", 10) != 0)
		return -1;
	/* needs_rehash parses the string: -1 means it is not a valid hash */
	if (crypto_pwhash_argon2id_str_needs_rehash(stored,
	        crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) < 0)
		return -1;
	return crypto_pwhash_argon2id_str_verify(
	           stored, (const char *)plain->data, plain->len) == 0
	    ? 1
	    : 0;
}

static int
argon2i_verify(const struct secret *plain, const char *stored)
{
	if (sodium_ready() < 0)
		return -1;
	if (strncmp(stored, "$argon2i$", 9) != 0)
		return -1;
	if (crypto_pwhash_argon2i_str_needs_rehash(stored,
	        crypto_pwhash_argon2i_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_argon2i_MEMLIMIT_INTERACTIVE) < 0)
		return -1;
	return crypto_pwhash_argon2i_str_verify(
	           stored, (const char *)plain->data, plain->len) == 0
	    ? 1
	    : 0;
}

static int
argon2id_generate(const struct secret *plain, char *out, size_t outlen)
{
	char tmp[crypto_pwhash_argon2id_STRBYTES];
	size_t n;

	if (sodium_ready() < 0)
		return -1;
	if (crypto_pwhash_argon2id_str(tmp, (const char *)plain->data,
	        plain->len, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0)
		return -1;
	n = strlen(tmp);
	if (n >= outlen)
		return -1;
	memcpy(out, tmp, n + 1);
	return 0;
}

static int
argon2i_generate(const struct secret *plain, char *out, size_t outlen)
{
	char tmp[crypto_pwhash_argon2i_STRBYTES];
	size_t n;

	if (sodium_ready() < 0)
		return -1;
	if (crypto_pwhash_argon2i_str(tmp, (const char *)plain->data,
	        plain->len, crypto_pwhash_argon2i_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_argon2i_MEMLIMIT_INTERACTIVE) != 0)
		return -1;
	n = strlen(tmp);
	if (n >= outlen)
		return -1;
	memcpy(out, tmp, n + 1);
	return 0;
}

const struct pw_scheme pw_scheme_argon2id = {
    .name = "ARGON2ID",
    .flags = PW_CAN_GENERATE,
    .verify = argon2id_verify,
    .generate = argon2id_generate,
};

const struct pw_scheme pw_scheme_argon2i = {
    .name = "ARGON2I",
    .flags = PW_CAN_GENERATE,
    .verify = argon2i_verify,
    .generate = argon2i_generate,
};
