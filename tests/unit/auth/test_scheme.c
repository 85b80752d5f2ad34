/*
 * test_scheme.c - password schemes. The known-answer hashes of "pencil"
 * were produced by independent tools, not by this code:
 *   mkpasswd (whois 5.5.17): SHA512-CRYPT, SHA256-CRYPT, bcrypt, yescrypt
 *   argon2 (the reference CLI, Debian argon2 package): ARGON2ID, ARGON2I
 *   python3 hashlib + base64: SHA512, SSHA512
 *   doveadm pw (Dovecot 2.3.19): PBKDF2, SSHA512
 *   python3 hashlib.pbkdf2_hmac: PBKDF2-SHA256 (Dovecot's layout, SHA-256)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/scheme.h"
#include "core/secret.h"

struct kat {
	const char *stored;
	const char *scheme; /* what pw_split should find */
};

/* clang-format off: the vectors stay one per line, as the tools printed them */
static const struct kat kats[] = {
    /* echo -n pencil | mkpasswd -s -m sha512crypt -S saltsaltsaltsalt */
    {"$6$saltsaltsaltsalt$TC."
     "srYZRdhUNd1hUaX8BXmGPkCpq7TP8IIfBuwlVqWVsOskMwYShHaSiuvPe57wq5SGBJgI8u2Tk"
     "sJeC/Zaz50",
        "SHA512-CRYPT"},
    {"{SHA512-CRYPT}$6$saltsaltsaltsalt$TC."
     "srYZRdhUNd1hUaX8BXmGPkCpq7TP8IIfBuwlVqWVsOskMwYShHaSiuvPe57wq5SGBJgI8u2Tk"
     "sJeC/Zaz50",
        "SHA512-CRYPT"},
    /* mkpasswd -m sha512crypt -R 5000 -S abcdefgh */
    {"$6$rounds=5000$abcdefgh$BPABm5D7ZFU2YVfMLyE5XRqe91qwdcZ6APg7kB/"
     "YBeADxUUqXXhg3mlHBbjpyHcrE9xl/9BuqqivCjN2qGEi30",
        "SHA512-CRYPT"},
    /* mkpasswd -m sha256crypt -S saltsaltsaltsalt */
    {"$5$saltsaltsaltsalt$wilp5jjt7OOVIXVjrhbFFCArywVCqEOGSTB0fdsTHs.",
        "SHA256-CRYPT"},
    {"{SHA256-CRYPT}$5$saltsaltsaltsalt$"
     "wilp5jjt7OOVIXVjrhbFFCArywVCqEOGSTB0fdsTHs.",
        "SHA256-CRYPT"},
    /* mkpasswd -m bcrypt -R 5 (and the same hash as $2y$) */
    {"$2b$05$YI3DhDdetXFkZCD7.WXdru6TNEDs5fJMftvaDusg0u7FLg7QHH3m.",
        "BLF-CRYPT"},
    {"{BLF-CRYPT}$2y$05$YI3DhDdetXFkZCD7.WXdru6TNEDs5fJMftvaDusg0u7FLg7QHH3m.",
        "BLF-CRYPT"},
    /* mkpasswd -m bcrypt-a -R 4 (raised to the minimum cost 5) */
    {"$2a$05$zQ1yhMDIgKTqonXYH2LELe7n2MZWPcT/slghn4dp7HsTSzr0WveI2",
        "BLF-CRYPT"},
    /* mkpasswd -m yescrypt */
    {"$y$j9T$vmM4VrHvtBw9oZOSB1Vzn0$blMYEsPsD5D1cySYqC0a/"
     "LLg7sPw2gdMoU1T4pVF4H1",
        "YESCRYPT"},
    {"{CRYPT}$y$j9T$vmM4VrHvtBw9oZOSB1Vzn0$blMYEsPsD5D1cySYqC0a/"
     "LLg7sPw2gdMoU1T4pVF4H1",
        "CRYPT"},
    /* echo -n pencil | argon2 saltsaltsalt -id -t 2 -m 12 -p 1 -e */
    {"$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$d97s+59c/"
     "gAr1FV95tAccTHyGby7QevFajax8FRca98",
        "ARGON2ID"},
    {"{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$d97s+59c/"
     "gAr1FV95tAccTHyGby7QevFajax8FRca98",
        "ARGON2ID"},
    /* echo -n pencil | argon2 saltsaltsalt -i -t 2 -m 12 -p 1 -e */
    {"$argon2i$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$"
     "ZmCE50kcgwEMUK4of0hcepjc5FAIo2wZiPUKGzd6i6M",
        "ARGON2I"},
    /* python3: base64(sha512(b"pencil")) */
    {"{SHA512}Gd8Bqrgo+"
     "NUINrp1cJcTrtInM1344YZDkYXAbJF6Kn03cat24wfPo7a4nvGmaC1mgd3xGISHDl3hPnk/"
     "uVXu6w==",
        "SHA512"},
    /* python3: base64(sha512(b"pencil" + b"saltsalt") + b"saltsalt") */
    {"{SSHA512}EM/"
     "40PpOwDFyRBvlEBPAPcAotwYXhUelFtA2c9wqybUh7KPyAKJRMdmih7JvDHLIZX4mudDr3ExM"
     "pxduNEz0VXNhbHRzYWx0",
        "SSHA512"},
    {"{PLAIN}pencil", "PLAIN"},
    {"{clear}pencil", "CLEAR"},
    /* doveadm pw -s PBKDF2 -p pencil */
    {"{PBKDF2}$1$N8yasEFoCvmFp8py$5000$"
     "846b1fa737b27e7db9c720813f05ee092b496a41",
        "PBKDF2"},
    {"{PBKDF2}$1$du2IgA1Kg/"
     "ZLVYSQ$5000$53ba9c9d4e029f02b5fa6326fb2fa97578979fce",
        "PBKDF2"},
    /* python3: '$1$' + salt + '$10000$' + pbkdf2_hmac('sha256', b'pencil', salt, 10000).hex() */
    {"{PBKDF2-SHA256}$1$c2FsdHNhbHRzYWx0$10000$"
     "477e5129170a60a7e158ce2a04def76742c307a2ba2f5d78f28f55e281d71324",
        "PBKDF2-SHA256"},
    /* python3: salt du2IgA1Kg/ZLVYSQ, 5000 rounds */
    {"{PBKDF2-SHA256}$1$du2IgA1Kg/"
     "ZLVYSQ$5000$"
     "9ed340a206f4c2139b486309a527b32f890e0522c3092bdea7364e7ca1f3afb1",
        "PBKDF2-SHA256"},
    /* doveadm pw -s SSHA512 -p pencil */
    {"{SSHA512}0SVlkXhn603iHEmcCyoV63T7awFF/bRIuilxmSBV0cujZP+/"
     "ENbWLDUuntFIqnJP0IRgKyBplVyvpRqgjCCzMoSFRSA=",
        "SSHA512"},
};
/* clang-format on */

static struct secret *
pw(const char *s)
{
	struct secret *p = secret_new(s, strlen(s));

	assert_non_null(p);
	return p;
}

static void
test_known_answers(void **state)
{
	struct secret *good = pw("pencil");
	struct secret *bad = pw("pencil2");
	struct secret *prefix = secret_new("pencil\0x", 8);
	struct secret *empty = pw("");
	const struct pw_scheme *s;
	const char *data;
	size_t i;

	assert_non_null(prefix); /* "pencil" NUL "x" */
	for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		s = pw_split(kats[i].stored, &data);
		if (s == NULL)
			fail_msg("%s: no scheme", kats[i].stored);
		assert_string_equal(s->name, kats[i].scheme);
		if (pw_verify(good, kats[i].stored) != 1)
			fail_msg("%s: right password refused", kats[i].stored);
		if (pw_verify(bad, kats[i].stored) != 0)
			fail_msg("%s: wrong password accepted", kats[i].stored);
		if (pw_verify(prefix, kats[i].stored) != 0)
			fail_msg("%s: NUL-truncated password accepted",
			    kats[i].stored);
		if (pw_verify(empty, kats[i].stored) != 0)
			fail_msg("%s: empty password accepted", kats[i].stored);
	}
	secret_free(good);
	secret_free(bad);
	secret_free(prefix);
	secret_free(empty);
}

static void
test_split(void **state)
{
	static const struct {
		const char *stored;
		const char *scheme; /* NULL: not recognized */
		size_t data_off;
	} cases[] = {
	    {"{ARGON2ID}$argon2id$x", "ARGON2ID", 10},
	    {"{argon2id}$argon2id$x", "ARGON2ID", 10},
	    {"$argon2id$x", "ARGON2ID", 0},
	    {"$argon2i$x", "ARGON2I", 0},
	    {"$6$x", "SHA512-CRYPT", 0},
	    {"$5$x", "SHA256-CRYPT", 0},
	    {"$2b$x", "BLF-CRYPT", 0},
	    {"$2y$x", "BLF-CRYPT", 0},
	    {"$2a$x", "BLF-CRYPT", 0},
	    {"$y$x", "YESCRYPT", 0},
	    {"{PLAIN}", "PLAIN", 7},
	    {"{SHA512-CRYPT}$6$", "SHA512-CRYPT", 14},
	    {"$1$md5", NULL, 0},
	    {"$argon2d$x", NULL, 0},
	    {"plaintext", NULL, 0},
	    {"", NULL, 0},
	    {"{", NULL, 0},
	    {"{}x", NULL, 0},
	    {"{NOPE}x", NULL, 0},
	    {"{PLAIN", NULL, 0},
	    {"{AVERYVERYVERYVERYLONGSCHEMENAME12345}x", NULL, 0},
	};
	const struct pw_scheme *s;
	const char *data;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		data = NULL;
		s = pw_split(cases[i].stored, &data);
		if (cases[i].scheme == NULL) {
			if (s != NULL)
				fail_msg("%s: recognized", cases[i].stored);
			continue;
		}
		if (s == NULL)
			fail_msg("%s: not recognized", cases[i].stored);
		assert_string_equal(s->name, cases[i].scheme);
		assert_ptr_equal(data, cases[i].stored + cases[i].data_off);
	}
	assert_null(pw_split(NULL, &data));
}

static void
test_malformed(void **state)
{
	/* clang-format off */
	static const char *const cases[] = {
		"{NOPE}pencil",
		"pencil",
		"",
		"{SHA512-CRYPT}garbage",
		"{SHA512-CRYPT}$5$saltsaltsaltsalt$wilp5jjt7OOVIXVjrhbFFCArywVCqEOGSTB0fdsTHs.",
		"$6$saltsalt",
		"$6$saltsaltsaltsalt$TC.srYZRdhUNd1hUaX8BXmGPkCp",
		"$2b$05$short",
		"$2b$99$YI3DhDdetXFkZCD7.WXdru6TNEDs5fJMftvaDusg0u7FLg7QHH3m.",
		"$y$j9T$",
		"{ARGON2ID}$argon2id$v=19$broken",
		"{ARGON2ID}$argon2i$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$ZmCE50kcgwEMUK4of0hcepjc5FAIo2wZiPUKGzd6i6M",
		"$argon2id$v=19$m=4096,t=2,p=1$!!!$d97s",
		"{SHA512}notbase64!",
		"{SHA512}cGVuY2ls",
		"{SSHA512}cGVuY2ls",
		"{CRYPT}",
	};
	/* clang-format on */
	struct secret *good = pw("pencil");
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (pw_verify(good, cases[i]) != -1)
			fail_msg("%s: not reported malformed", cases[i]);
	}
	assert_int_equal(pw_verify(good, NULL), -1);
	assert_int_equal(pw_verify(NULL, "{PLAIN}x"), -1);
	secret_free(good);
}

/* generate, then verify, for every scheme that can generate */
static void
test_generate(void **state)
{
	static const struct {
		const char *scheme;
		const char *prefix;
	} cases[] = {
	    {"ARGON2ID", "{ARGON2ID}$argon2id$v=19$"},
	    {"argon2i", "{ARGON2I}$argon2i$v=19$"},
	    {"SHA512-CRYPT", "{SHA512-CRYPT}$6$"},
	    {"SHA256-CRYPT", "{SHA256-CRYPT}$5$"},
	    {"BLF-CRYPT", "{BLF-CRYPT}$2b$"},
	    {"YESCRYPT", "{YESCRYPT}$y$"},
	    {"PBKDF2", "{PBKDF2}$1$"},
	    {"PBKDF2-SHA256", "{PBKDF2-SHA256}$1$"},
	    {"SSHA512", "{SSHA512}"},
	};
	struct secret *good = pw("pencil"), *bad = pw("Pencil");
	char out[512], again[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    pw_hash(cases[i].scheme, good, out, sizeof(out)), 0);
		if (strncmp(out, cases[i].prefix, strlen(cases[i].prefix)) != 0)
			fail_msg("%s: got %s", cases[i].scheme, out);
		assert_int_equal(pw_verify(good, out), 1);
		assert_int_equal(pw_verify(bad, out), 0);
		/* salted: two hashes differ */
		assert_int_equal(
		    pw_hash(cases[i].scheme, good, again, sizeof(again)), 0);
		assert_string_not_equal(out, again);
		/* too small an output buffer */
		assert_int_equal(pw_hash(cases[i].scheme, good, out, 20), -1);
	}
	/* verify-only and unknown schemes */
	assert_int_equal(pw_hash("PLAIN", good, out, sizeof(out)), -1);
	assert_int_equal(pw_hash("CRYPT", good, out, sizeof(out)), -1);
	assert_int_equal(pw_hash("NOPE", good, out, sizeof(out)), -1);
	secret_free(good);
	secret_free(bad);
}

static void
test_registry(void **state)
{
	static const char *const names[] = {
	    "ARGON2ID",
	    "ARGON2I",
	    "SHA512-CRYPT",
	    "SHA256-CRYPT",
	    "BLF-CRYPT",
	    "YESCRYPT",
	    "CRYPT",
	    "SHA512",
	    "SSHA512",
	    "PLAIN",
	    "CLEAR",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(pw_scheme_find(names[i]));
	assert_ptr_equal(pw_scheme_find("argon2id"), &pw_scheme_argon2id);
	assert_null(pw_scheme_find("MD5"));
	assert_null(pw_scheme_find(NULL));
	assert_true(pw_scheme_find("PLAIN")->flags & PW_WEAK);
	assert_true(pw_scheme_find("CLEAR")->flags & PW_WEAK);
	assert_false(pw_scheme_argon2id.flags & PW_WEAK);
	assert_true(pw_scheme_argon2id.flags & PW_CAN_GENERATE);
	assert_non_null(pw_scheme_find(PW_DEFAULT_SCHEME));
}

/* test_pbkdf2_malformed - Dovecot's layout is checked strictly. */
static void
test_pbkdf2_malformed(void **state)
{
	static const char *const bad[] = {
	    "{PBKDF2-SHA256}$2$salt$1000$00",
	    "{PBKDF2-SHA256}$1$salt$1000$00",
	    "{PBKDF2-SHA256}$1$$1000$"
	    "477e5129170a60a7e158ce2a04def76742c307a2ba2f5d78f28f55e281d71324",
	    "{PBKDF2-SHA256}$1$salt$0$"
	    "477e5129170a60a7e158ce2a04def76742c307a2ba2f5d78f28f55e281d71324",
	    "{PBKDF2-SHA256}$1$salt$x$"
	    "477e5129170a60a7e158ce2a04def76742c307a2ba2f5d78f28f55e281d71324",
	    "{PBKDF2-SHA256}$1$salt$1000$"
	    "zz7e5129170a60a7e158ce2a04def76742c307a2ba2f5d78f28f55e281d71324",
	    "{PBKDF2}$1$salt$1000$846b1fa737b27e7db9c720813f05ee092b496a",
	};
	struct secret *p = pw("pencil");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pw_verify(p, bad[i]) != -1)
			fail_msg("accepted %s", bad[i]);
	secret_free(p);
}

/* test_plain_allowed - [auth] allow_plain_scheme = no refuses stored cleartext. */
static void
test_plain_allowed(void **state)
{
	struct secret *p = pw("pencil");

	(void)state;
	assert_int_equal(pw_verify(p, "{PLAIN}pencil"), 1);
	pw_allow_plain(0);
	assert_int_equal(pw_verify(p, "{PLAIN}pencil"), -1);
	assert_int_equal(pw_verify(p, "{CLEAR}pencil"), -1);
	pw_allow_plain(1);
	assert_int_equal(pw_verify(p, "{CLEAR}pencil"), 1);
	secret_free(p);
}

static void
test_dummy(void **state)
{
	struct secret *p = pw("anything");

	/* twice: the second uses the cached hash */
	pw_dummy_verify(p);
	pw_dummy_verify(p);
	pw_dummy_verify(NULL);
	secret_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answers),
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_dummy),
	    cmocka_unit_test(test_pbkdf2_malformed),
	    cmocka_unit_test(test_plain_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
