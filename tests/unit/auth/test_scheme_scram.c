/*
 * test_scheme_scram.c - the SCRAM-SHA-1, SCRAM-SHA-256 and CRAM-MD5 schemes
 * (src/auth/scheme_scram.c): RFC 5802/7677 records, Dovecot's CRAM-MD5
 * layout ("doveadm pw" output for "password"), plain-password checks,
 * generation, and the credential fields "postern user" writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/scheme.h"
#include "auth/scheme_scram.h"
#include "auth/userfile.h"
#include "core/secret.h"
#include "sasl/scram_math.h"

#define SHA1_REC                                                               \
	"{SCRAM-SHA-1}4096,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,"     \
	"D+CSWLOshSulAsxiupA+qs2/fTE="
#define SHA256_REC                                                             \
	"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"                        \
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"                        \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
/* doveadm pw -s CRAM-MD5 -p password */
#define DOVECOT_CRAM                                                           \
	"{CRAM-MD5}"                                                           \
	"9186d855e11eba527a7a52ca82b313e180d62234f0acc9051b527243d41e2740"

static struct secret
P(const char *s) {
	struct secret x = {(unsigned char *)(uintptr_t)s, strlen(s)};

	return x;
}

static void
test_verify_vectors(void **state)
{
	struct secret pencil = P("pencil"), wrong = P("pencil2"),
	              password = P("password");

	assert_int_equal(pw_verify(&pencil, SHA1_REC), 1);
	assert_int_equal(pw_verify(&wrong, SHA1_REC), 0);
	assert_int_equal(pw_verify(&pencil, SHA256_REC), 1);
	assert_int_equal(pw_verify(&wrong, SHA256_REC), 0);
	assert_int_equal(pw_verify(&pencil, "{scram-sha-256}4096,abc"), -1);
	assert_int_equal(pw_verify(&pencil,
	                     "{SCRAM-SHA-1}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
	                     "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	                     "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="),
	    -1);
	assert_int_equal(pw_verify(&password, DOVECOT_CRAM), 1);
	assert_int_equal(pw_verify(&wrong, DOVECOT_CRAM), 0);
	assert_int_equal(pw_verify(&password,
	                     "{CRAM-MD5}9186D855E11EBA527A7A52CA82B313E180D6"
	                     "2234F0ACC9051B527243D41E2740"),
	    1);
	assert_int_equal(pw_verify(&password, "{CRAM-MD5}9186d855"), -1);
	assert_int_equal(pw_verify(&password,
	                     "{CRAM-MD5}x186d855e11eba527a7a52ca82b313e180d6"
	                     "2234f0acc9051b527243d41e2740"),
	    -1);
}

static void
test_generate(void **state)
{
	struct secret pw = P("correct horse"), bad = P("correct horsE");
	char out[512], a[512];
	struct scram_record rec;

	struct secret password = P("password");

	assert_int_equal(pw_hash("CRAM-MD5", &password, out, sizeof(out)), 0);
	assert_string_equal(out, DOVECOT_CRAM);

	pw_scram_set_iterations(4096);
	assert_int_equal(pw_hash("SCRAM-SHA-256", &pw, out, sizeof(out)), 0);
	assert_int_equal(strncmp(out, "{SCRAM-SHA-256}4096,", 20), 0);
	assert_int_equal(pw_verify(&pw, out), 1);
	assert_int_equal(pw_verify(&bad, out), 0);
	/* a fresh salt every time */
	assert_int_equal(pw_hash("SCRAM-SHA-256", &pw, a, sizeof(a)), 0);
	assert_string_not_equal(a, out);

	assert_int_equal(
	    pw_scram_record("SCRAM-SHA-1", &pw, 5000, out, sizeof(out)), 0);
	assert_int_equal(strncmp(out, "{SCRAM-SHA-1}5000,", 18), 0);
	assert_int_equal(
	    scram_record_parse(&scram_sha1, out + 13, strlen(out + 13), &rec),
	    0);
	assert_int_equal(rec.salt_len, 16);
	assert_int_equal(pw_verify(&pw, out), 1);
	assert_int_equal(
	    pw_scram_record("CRAM-MD5", &pw, 4096, out, sizeof(out)), -1);
	assert_int_equal(
	    pw_scram_record("SCRAM-SHA-256", &pw, 4096, out, 20), -1);
}

static const char *
field(const struct userfile_line *l, const char *key, char *out, size_t n)
{
	const char *p = strstr(l->rest, key);
	size_t len;

	if (p == NULL)
		return NULL;
	p += strlen(key) + 1;
	len = strcspn(p, " ");
	snprintf(out, n, "%.*s", (int)len, p);
	return out;
}

/* What "postern user add/passwd" stores for each configuration. */
static void
test_user_credentials(void **state)
{
	struct userfile uf;
	struct userfile_line *l;
	struct secret pw = P("s3cret"), other = P("other");
	char err[256], v[512], first[512];

	memset(&uf, 0, sizeof(uf));
	/* add: the default hash and SCRAM-SHA-256 keys, nothing else */
	assert_int_equal(
	    pw_set_user_credentials(&uf, "a@example.org", "ARGON2ID", &pw,
	        "PLAIN LOGIN SCRAM-SHA-256", 4096, err, sizeof(err)),
	    0);
	l = userfile_find(&uf, "a@example.org");
	assert_non_null(l);
	assert_int_equal(strncmp(l->password, "{ARGON2ID}$argon2id$", 20), 0);
	assert_int_equal(pw_verify(&pw, l->password), 1);
	assert_int_equal(
	    strncmp(l->rest, ":::::scram-sha-256={SCRAM-SHA-256}4096,", 39), 0);
	assert_non_null(field(l, "scram-sha-256", first, sizeof(first)));
	assert_int_equal(pw_verify(&pw, first), 1);
	assert_null(strstr(l->rest, "cram-md5"));
	assert_null(strstr(l->rest, "scram-sha-1"));

	/* passwd with CRAM-MD5 and SCRAM-SHA-1-PLUS on: all three, new keys */
	assert_int_equal(
	    pw_set_user_credentials(&uf, "A@example.org", "ARGON2ID", &other,
	        "SCRAM-SHA-256, CRAM-MD5,SCRAM-SHA-1-PLUS", 4096, err,
	        sizeof(err)),
	    0);
	assert_int_equal(uf.n, 1);
	assert_int_equal(pw_verify(&other, l->password), 1);
	assert_non_null(field(l, "scram-sha-256", v, sizeof(v)));
	assert_int_equal(pw_verify(&other, v), 1);
	assert_int_equal(pw_verify(&pw, v), 0);
	assert_non_null(field(l, "scram-sha-1", v, sizeof(v)));
	assert_int_equal(strncmp(v, "{SCRAM-SHA-1}", 13), 0);
	assert_int_equal(pw_verify(&other, v), 1);
	assert_non_null(field(l, "cram-md5", v, sizeof(v)));
	assert_int_equal(strncmp(v, "{CRAM-MD5}", 10), 0);
	assert_int_equal(pw_verify(&other, v), 1);

	/* CRAM-MD5 and SCRAM-SHA-1 off again: their stale keys go away */
	assert_int_equal(
	    pw_set_user_credentials(&uf, "a@example.org", "SCRAM-SHA-256", &pw,
	        "PLAIN", 4096, err, sizeof(err)),
	    0);
	assert_int_equal(strncmp(l->password, "{SCRAM-SHA-256}", 15), 0);
	assert_int_equal(pw_verify(&pw, l->password), 1);
	/* the main password is the SCRAM record: no copy in the extras */
	assert_string_equal(l->rest, "");
	userfile_free(&uf);

	/* other fields of an existing line survive */
	memset(&uf, 0, sizeof(uf));
	assert_int_equal(userfile_set(&uf, "b", "{PLAIN}x"), 0);
	l = userfile_find(&uf, "b");
	free(l->rest);
	l->rest = strdup("1000:1000:B:/home/b::nologin cram-md5=old x=y");
	assert_int_equal(pw_set_user_credentials(&uf, "b", "SCRAM-SHA-1", &pw,
	                     "", 4096, err, sizeof(err)),
	    0);
	assert_int_equal(
	    strncmp(
	        l->rest, "1000:1000:B:/home/b::nologin x=y scram-sha-256=", 47),
	    0);
	/* userfile_set_field on its own */
	assert_int_equal(userfile_set_field(l, "scram-sha-256", NULL), 0);
	assert_string_equal(l->rest, "1000:1000:B:/home/b::nologin x=y");
	assert_int_equal(userfile_set_field(l, "X", "z"), 0);
	assert_string_equal(l->rest, "1000:1000:B:/home/b::nologin X=z");
	assert_int_equal(userfile_set_field(l, "k", "a b"), -1);
	assert_int_equal(userfile_set_field(l, "k", "a:b"), -1);
	assert_int_equal(userfile_set_field(l, "k=", "v"), -1);
	userfile_free(&uf);

	/* an unknown scheme fails without touching the file's data */
	memset(&uf, 0, sizeof(uf));
	assert_int_equal(pw_set_user_credentials(
	                     &uf, "c", "NOPE", &pw, "", 4096, err, sizeof(err)),
	    -1);
	assert_int_equal(uf.n, 0);
	userfile_free(&uf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verify_vectors),
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_user_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
