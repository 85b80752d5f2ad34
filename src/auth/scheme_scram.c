/*
 * scheme_scram.c - the SCRAM-SHA-1, SCRAM-SHA-256 and CRAM-MD5 password
 * schemes in Dovecot's notation:
 *   {SCRAM-SHA-256}iter,base64(salt),base64(StoredKey),base64(ServerKey)
 *   {CRAM-MD5}hex(HMAC-MD5 outer context || inner context)   ; 64 digits
 * They store what the mechanisms need and can check a plain password (so
 * PLAIN works for a user who holds only SCRAM keys), but never the password.
 * The key schedules are sasl/scram_math.c and sasl/cram_md5.c; this file
 * adds generation, verification and the fake-credential key of the auth
 * service (auth_mech_setup).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/scheme.h"
#include "auth/scheme_scram.h"
#include "auth/userfile.h"
#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/cram_md5.h"
#include "sasl/scram.h"
#include "sasl/scram_math.h"

/* The iteration count new records get ([auth] scram_iterations). */
static _Atomic unsigned int gen_iterations = SCRAM_ITER_DEFAULT;

void
pw_scram_set_iterations(unsigned int iterations)
{
	if (iterations >= SCRAM_ITER_MIN && iterations <= SCRAM_ITER_MAX)
		gen_iterations = iterations;
}

/* scram_gen - a record for plain under h with a fresh 16-octet salt. */
static int
scram_gen(const struct scram_hash *h, const struct secret *plain,
    unsigned int iterations, char *out, size_t outlen)
{
	struct scram_record rec;
	unsigned char salt[SCRAM_SALT_LEN];
	int rc;

	rand_bytes(salt, sizeof(salt));
	rc = scram_record_make(
	    h, plain->data, plain->len, salt, sizeof(salt), iterations, &rec);
	if (rc == 0)
		rc = scram_record_format(h, &rec, out, outlen);
	secret_wipe(&rec, sizeof(rec));
	return rc;
}

/* scram_check - 1 if plain derives the record's keys, 0 if not, -1 malformed. */
static int
scram_check(
    const struct scram_hash *h, const struct secret *plain, const char *stored)
{
	struct scram_record rec, mine;
	int rc = -1;

	if (scram_record_parse(h, stored, strlen(stored), &rec) < 0)
		return -1;
	if (scram_record_make(h, plain->data, plain->len, rec.salt,
	        rec.salt_len, rec.iter, &mine) == 0) {
		/* both keys, always, in constant time */
		rc = ct_memeq(mine.stored_key, rec.stored_key, h->len) &
		    ct_memeq(mine.server_key, rec.server_key, h->len);
	}
	secret_wipe(&rec, sizeof(rec));
	secret_wipe(&mine, sizeof(mine));
	return rc;
}

static int
scram_sha1_verify(const struct secret *plain, const char *stored)
{
	return scram_check(&scram_sha1, plain, stored);
}

static int
scram_sha256_verify(const struct secret *plain, const char *stored)
{
	return scram_check(&scram_sha256, plain, stored);
}

static int
scram_sha1_generate(const struct secret *plain, char *out, size_t outlen)
{
	return scram_gen(&scram_sha1, plain, gen_iterations, out, outlen);
}

static int
scram_sha256_generate(const struct secret *plain, char *out, size_t outlen)
{
	return scram_gen(&scram_sha256, plain, gen_iterations, out, outlen);
}

const struct pw_scheme pw_scheme_scram_sha1 = {
    .name = "SCRAM-SHA-1",
    .flags = PW_CAN_GENERATE,
    .verify = scram_sha1_verify,
    .generate = scram_sha1_generate,
};

const struct pw_scheme pw_scheme_scram_sha256 = {
    .name = "SCRAM-SHA-256",
    .flags = PW_CAN_GENERATE,
    .verify = scram_sha256_verify,
    .generate = scram_sha256_generate,
};

/* CRAM-MD5 */

static int
cram_generate(const struct secret *plain, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char ctx[CRAM_MD5_CONTEXT_LEN];
	size_t i;

	if (outlen < 2 * CRAM_MD5_CONTEXT_LEN + 1 ||
	    sasl_cram_md5_context(plain->data, plain->len, ctx) < 0) {
		secret_wipe(ctx, sizeof(ctx));
		return -1;
	}
	for (i = 0; i < CRAM_MD5_CONTEXT_LEN; i++) {
		out[2 * i] = hex[ctx[i] >> 4];
		out[2 * i + 1] = hex[ctx[i] & 0x0f];
	}
	out[2 * CRAM_MD5_CONTEXT_LEN] = '\0';
	secret_wipe(ctx, sizeof(ctx));
	return 0;
}

static int
cram_verify(const struct secret *plain, const char *stored)
{
	char mine[2 * CRAM_MD5_CONTEXT_LEN + 1], low[2 * CRAM_MD5_CONTEXT_LEN];
	size_t i, n = strlen(stored);
	int rc;

	if (n != 2 * CRAM_MD5_CONTEXT_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		char c = stored[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		        (c >= 'A' && c <= 'F')))
			return -1;
	}
	if (cram_generate(plain, mine, sizeof(mine)) < 0)
		return -1;
	/* Dovecot writes lower case; accept either */
	for (i = 0; i < n; i++)
		low[i] = stored[i] >= 'A' && stored[i] <= 'F'
		    ? (char)(stored[i] + ('a' - 'A'))
		    : stored[i];
	rc = ct_memeq(mine, low, n);
	secret_wipe(mine, sizeof(mine));
	return rc;
}

const struct pw_scheme pw_scheme_cram_md5 = {
    .name = "CRAM-MD5",
    .flags = PW_WEAK | PW_CAN_GENERATE,
    .verify = cram_verify,
    .generate = cram_generate,
};

int
pw_scram_record(const char *scheme, const struct secret *plain,
    unsigned int iterations, char *out, size_t outlen)
{
	const struct scram_hash *h = scram_hash_find(scheme);
	char tmp[SCRAM_RECORD_MAX];
	int n, rc = -1;

	if (h == NULL || plain == NULL)
		return -1;
	if (scram_gen(h, plain, iterations, tmp, sizeof(tmp)) == 0) {
		n = snprintf(out, outlen, "{%s}%s", h->scheme, tmp);
		rc = n > 0 && (size_t)n < outlen ? 0 : -1;
	}
	secret_wipe(tmp, sizeof(tmp));
	if (rc < 0 && outlen > 0)
		secret_wipe(out, outlen);
	return rc;
}

/* mech_enabled - 1 if one of the names is in the mechanisms list. */
static int
mech_enabled(const char *mechanisms, const char *a, const char *b)
{
	char list[1024], *tok, *save = NULL;

	(void)str_copy(
	    list, mechanisms != NULL ? mechanisms : "", sizeof(list));
	for (tok = strtok_r(list, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save))
		if (str_ieq(tok, a) || (b != NULL && str_ieq(tok, b)))
			return 1;
	return 0;
}

int
pw_set_user_credentials(struct userfile *uf, const char *user,
    const char *scheme, const struct secret *plain, const char *mechanisms,
    unsigned int iterations, char *err, size_t errlen)
{
	static const struct {
		const char *field, *scheme, *mech, *mech_plus;
		int always;
	} extra[] = {
	    {"scram-sha-256", "SCRAM-SHA-256", NULL, NULL, 1},
	    {"scram-sha-1", "SCRAM-SHA-1", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS",
	        0},
	    {"cram-md5", "CRAM-MD5", "CRAM-MD5", NULL, 0},
	};
	char stored[512];
	struct userfile_line *l;
	size_t i;
	int rc = -1;

	if (pw_hash(scheme, plain, stored, sizeof(stored)) < 0) {
		(void)snprintf(err, errlen, "hashing with %s failed", scheme);
		goto out;
	}
	if (userfile_set(uf, user, stored) < 0 ||
	    (l = userfile_find(uf, user)) == NULL) {
		(void)snprintf(err, errlen, "cannot set %s", user);
		goto out;
	}
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		const char *value = NULL;

		if (!str_ieq(scheme, extra[i].scheme) &&
		    (extra[i].always ||
		        mech_enabled(
		            mechanisms, extra[i].mech, extra[i].mech_plus))) {
			if (extra[i].scheme[0] == 'S'
			        ? pw_scram_record(extra[i].scheme, plain,
			              iterations, stored, sizeof(stored)) < 0
			        : pw_hash(extra[i].scheme, plain, stored,
			              sizeof(stored)) < 0) {
				(void)snprintf(err, errlen,
				    "cannot derive %s keys", extra[i].scheme);
				goto out;
			}
			value = stored;
		}
		if (userfile_set_field(l, extra[i].field, value) < 0) {
			(void)snprintf(err, errlen, "cannot set %s of %s",
			    extra[i].field, user);
			goto out;
		}
	}
	rc = 0;
out:
	secret_wipe(stored, sizeof(stored));
	return rc;
}

/*
 * load_key - the fake-credential key in path, created (0600, random) if
 * missing, so unknown users keep the same salt across restarts. 0 or -1.
 */
static int
load_key(const char *path, unsigned char *key, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		rand_bytes(key, len);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		n = write(fd, key, len);
		if (n != (ssize_t)len || fsync(fd) < 0) {
			(void)close(fd);
			(void)unlink(path);
			return -1;
		}
		return close(fd);
	}
	if (fd < 0)
		return -1;
	n = read(fd, key, len);
	(void)close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

void
auth_mech_setup(const struct config *c)
{
	unsigned char key[SASL_SCRAM_FAKE_KEY_LEN];
	char dir[PATH_MAX + 16], path[PATH_MAX + 32];
	int n;

	pw_scram_set_iterations(c->scram_iterations);
	sasl_cram_md5_set_hostname(c->hostname);
	n = snprintf(dir, sizeof(dir), "%s/private", c->spool);
	if (n < 0 || (size_t)n >= sizeof(dir))
		goto random;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto random;
	n = snprintf(path, sizeof(path), "%s/scram.key", dir);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    load_key(path, key, sizeof(key)) < 0)
		goto random;
	sasl_scram_configure(key, sizeof(key), c->scram_iterations);
	secret_wipe(key, sizeof(key));
	return;
random:
	log_warn("event=scram-key path=%s/private/scram.key error=\"%s\" "
	         "fallback=random-per-start",
	    c->spool, strerror(errno));
	rand_bytes(key, sizeof(key));
	sasl_scram_configure(key, sizeof(key), c->scram_iterations);
	secret_wipe(key, sizeof(key));
}
