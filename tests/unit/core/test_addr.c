/*
 * test_addr.c - addr.h: RFC 5321 §4.1.2 paths, limits, UTF-8, special forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"

#define U ADDR_F_UTF8
#define N ADDR_F_ALLOW_NULL
#define P ADDR_F_NO_DOMAIN

struct path_case {
	const char *in;
	unsigned int flags;
	int rc;
	const char *local;
	const char *domain;
	size_t consumed;
};

static const struct path_case path_cases[] = {
    /* plain */
    {"<user@example.com>", 0, 0, "user", "example.com", 18},
    {"<user@example.com> SIZE=100", 0, 0, "user", "example.com", 18},
    {"<a.b+c@x>", 0, 0, "a.b+c", "x", 9},
    {"<!#$%&'*+-/=?^_`{|}~@x.y>", 0, 0, "!#$%&'*+-/=?^_`{|}~", "x.y", 25},
    {"<u@xn--bcher-kva.example>", 0, 0, "u", "xn--bcher-kva.example", 25},
    {"<u@a-b.c0>", 0, 0, "u", "a-b.c0", 10},
    {"<u@1.2.3.4>", 0, 0, "u", "1.2.3.4", 11},
    /* quoted local parts */
    {"<\"john doe\"@x>", 0, 0, "\"john doe\"", "x", 14},
    {"<\"a\\\"b\"@x>", 0, 0, "\"a\\\"b\"", "x", 10},
    {"<\"a>b\"@x>", 0, 0, "\"a>b\"", "x", 9},
    {"<\"a@b\"@x>", 0, 0, "\"a@b\"", "x", 9},
    {"<\"\"@x>", 0, -1, NULL, NULL, 0}, /* empty quoted */
    {"<\"a\tb\"@x>", 0, -1, NULL, NULL, 0},
    {"<\"a\\\tb\"@x>", 0, -1, NULL, NULL, 0}, /* quoted-pair of TAB */
    {"<\"a\\", 0, -1, NULL, NULL, 0},
    {"<\"abc@x>", 0, -1, NULL, NULL, 0}, /* unterminated */
    /* address literals */
    {"<u@[192.0.2.1]>", 0, 0, "u", "[192.0.2.1]", 15},
    {"<u@[255.255.255.255]>", 0, 0, "u", "[255.255.255.255]", 21},
    {"<u@[256.0.0.1]>", 0, -1, NULL, NULL, 0},
    {"<u@[1.2.3]>", 0, -1, NULL, NULL, 0},
    {"<u@[1.2.3.4.5]>", 0, -1, NULL, NULL, 0},
    {"<u@[1.2.3.1234]>", 0, -1, NULL, NULL, 0},
    {"<u@[]>", 0, -1, NULL, NULL, 0},
    {"<u@[IPv6:2001:db8::1]>", 0, 0, "u", "[IPv6:2001:db8::1]", 22},
    {"<u@[IPv6:::ffff:192.0.2.1]>", 0, 0, "u", "[IPv6:::ffff:192.0.2.1]", 27},
    {"<u@[IPv6:2001:db8:::1]>", 0, -1, NULL, NULL, 0},
    {"<u@[IPv6:fe80::1%eth0]>", 0, -1, NULL, NULL, 0},
    {"<u@[2001:db8::1]>", 0, -1, NULL, NULL, 0},
    {"<u@[x-tag:foo]>", 0, -1, NULL, NULL, 0}, /* general literal */
    {"<u@[1.2.3.4>", 0, -1, NULL, NULL, 0},
    /* source routes: accepted and dropped */
    {"<@a,@b:u@d>", 0, 0, "u", "d", 11},
    {"<@relay.example:u@d>", 0, 0, "u", "d", 20},
    {"<@a:>", 0, -1, NULL, NULL, 0},
    {"<@a,u@d>", 0, -1, NULL, NULL, 0},
    {"<@:u@d>", 0, -1, NULL, NULL, 0},
    {"<@a,:u@d>", 0, -1, NULL, NULL, 0},
    /* null path and Postmaster */
    {"<>", 0, -1, NULL, NULL, 0},
    {"<>", N, 0, "", "", 2},
    {"<> BODY=8BITMIME", N, 0, "", "", 2},
    {"<Postmaster>", 0, -1, NULL, NULL, 0},
    {"<Postmaster>", P, 0, "Postmaster", "", 12},
    {"<pOSTMASTER>", P, 0, "Postmaster", "", 12},
    {"<postmaster@x>", P, 0, "postmaster", "x", 14},
    {"<Postmasters>", P, -1, NULL, NULL, 0},
    {"<Postmaster>", N, -1, NULL, NULL, 0},
    {"<@a:Postmaster>", P, -1, NULL, NULL, 0},
    {"<user>", P, -1, NULL, NULL, 0},
    /* syntax errors */
    {"", 0, -1, NULL, NULL, 0},
    {"<", 0, -1, NULL, NULL, 0},
    {"user@x", 0, -1, NULL, NULL, 0},
    {" <user@x>", 0, -1, NULL, NULL, 0},
    {"<user@x", 0, -1, NULL, NULL, 0},
    {"<user@x >", 0, -1, NULL, NULL, 0},
    {"< user@x>", 0, -1, NULL, NULL, 0},
    {"<user>", 0, -1, NULL, NULL, 0},
    {"<@x>", 0, -1, NULL, NULL, 0},
    {"<user@>", 0, -1, NULL, NULL, 0},
    {"<user@@x>", 0, -1, NULL, NULL, 0},
    {"<a@b@x>", 0, -1, NULL, NULL, 0},
    {"<.a@x>", 0, -1, NULL, NULL, 0},
    {"<a.@x>", 0, -1, NULL, NULL, 0},
    {"<a..b@x>", 0, -1, NULL, NULL, 0},
    {"<a b@x>", 0, -1, NULL, NULL, 0},
    {"<a\"b@x>", 0, -1, NULL, NULL, 0},
    {"<a\\b@x>", 0, -1, NULL, NULL, 0},
    {"<a\r\n@x>", 0, -1, NULL, NULL, 0},
    {"<a@x\r\n>", 0, -1, NULL, NULL, 0},
    {"<a@x.>", 0, -1, NULL, NULL, 0}, /* trailing dot */
    {"<a@.x>", 0, -1, NULL, NULL, 0},
    {"<a@x..y>", 0, -1, NULL, NULL, 0},
    {"<a@-x.y>", 0, -1, NULL, NULL, 0},
    {"<a@x-.y>", 0, -1, NULL, NULL, 0},
    {"<a@x.y->", 0, -1, NULL, NULL, 0},
    {"<a@x_y>", 0, -1, NULL, NULL, 0},
    {"<a@x;y>", 0, -1, NULL, NULL, 0},
    {"<`id`@x>", 0, 0, "`id`", "x", 8}, /* atext; never reaches a shell */
    /* UTF-8 (RFC 6531) */
    {"<j\xc3\xb6rg@x>", 0, -1, NULL, NULL, 0},
    {"<j\xc3\xb6rg@x>", U, 0, "j\xc3\xb6rg", "x", 9},
    {"<u@b\xc3\xbc"
     "cher.example>",
        0, -1, NULL, NULL, 0},
    {"<u@b\xc3\xbc"
     "cher.example>",
        U, 0, "u",
        "b\xc3\xbc"
        "cher.example",
        19},
    {"<\"\xc3\xa9 x\"@x>", U, 0, "\"\xc3\xa9 x\"", "x", 10},
    {"<\"\xc3\xa9 x\"@x>", 0, -1, NULL, NULL, 0},
    {"<j\xc3@x>", U, -1, NULL, NULL, 0},         /* truncated */
    {"<j\xc0\xaf@x>", U, -1, NULL, NULL, 0},     /* overlong */
    {"<j\xed\xa0\x80@x>", U, -1, NULL, NULL, 0}, /* surrogate */
    {"<j\xc2\x85@x>", U, -1, NULL, NULL, 0},     /* C1 NEL */
    {"<u@x\xc2\x9b>", U, -1, NULL, NULL, 0},     /* C1 CSI */
    {"<u@\xc3\xa9->", U, -1, NULL, NULL, 0},
};

static void
test_paths(void **state)
{
	struct mailaddr a;
	size_t i, consumed;
	int rc;

	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];

		memset(&a, 'Z', sizeof(a));
		consumed = 9999;
		rc = addr_parse_path(
		    c->in, strlen(c->in), c->flags, &a, &consumed);
		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d, want %d", i, c->in,
			    rc, c->rc);
		if (rc != 0) {
			/* out and consumed untouched on failure */
			assert_int_equal(a.local[0], 'Z');
			assert_int_equal(consumed, 9999);
			continue;
		}
		if (strcmp(a.local, c->local) != 0 ||
		    strcmp(a.domain, c->domain) != 0 || consumed != c->consumed)
			fail_msg("case %zu \"%s\": got \"%s\" \"%s\" %zu", i,
			    c->in, a.local, a.domain, consumed);
	}
}

/* pad - "<" + L x 'a' + "@" + domain of D octets in 63-octet labels + ">" */
static void
make_path(char *out, size_t outsize, size_t llen, size_t dlen)
{
	size_t i, o;

	assert_true(llen + dlen + 4 < outsize);
	o = 0;
	out[o++] = '<';
	for (i = 0; i < llen; i++)
		out[o++] = 'a';
	out[o++] = '@';
	for (i = 0; i < dlen; i++)
		out[o++] = (i % 64 == 63) ? '.' : 'b';
	out[o++] = '>';
	out[o] = '\0';
}

static void
test_limits(void **state)
{
	static const struct {
		size_t llen, dlen;
		unsigned int flags;
		int rc;
	} cases[] = {
	    {64, 10, 0, 0},
	    {65, 10, 0, -1}, /* local part > 64 */
	    {10, 63, 0, 0},  /* one 63-octet label */
	    {1, 252, 0, 0},  /* path of exactly 256 */
	    {2, 252, 0, -1}, /* path of 257 */
	    {64, 189, 0, 0}, /* 256 */
	    {64, 190, 0, -1},
	};
	char buf[600];
	struct mailaddr a;
	size_t i, consumed;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_path(buf, sizeof(buf), cases[i].llen, cases[i].dlen);
		if (addr_parse_path(buf, strlen(buf), cases[i].flags, &a,
		        &consumed) != cases[i].rc)
			fail_msg("limits case %zu", i);
	}
	/* a 64-octet label */
	strcpy(buf, "<u@");
	memset(buf + 3, 'c', 64);
	strcpy(buf + 67, ".x>");
	assert_int_equal(
	    addr_parse_path(buf, strlen(buf), 0, &a, &consumed), -1);
	strcpy(buf + 66, ".x>"); /* now 63 */
	assert_int_equal(
	    addr_parse_path(buf, strlen(buf), 0, &a, &consumed), 0);
	/* a bare mailbox is held to the path limit: at most 254 octets */
	make_path(buf, sizeof(buf), 64, 189);
	assert_int_equal(addr_parse_mailbox(buf + 1, 254, 0, &a), 0);
	make_path(buf, sizeof(buf), 64, 190);
	assert_int_equal(addr_parse_mailbox(buf + 1, 255, 0, &a), -1);
	/* embedded NULs: never accepted, wherever they sit (fuzz finding) */
	{
		static const char lit[] =
		    "<u@[IPv6:2001:db8::ffff:192\0.0.2.1]>";
		static const char loc[] = "<u\0v@x>";
		static const char quo[] = "<\"u\0v\"@x>";
		static const char dom[] = "<u@x\0y>";

		assert_int_equal(
		    addr_parse_path(lit, sizeof(lit) - 1, 0, &a, &consumed),
		    -1);
		assert_int_equal(
		    addr_parse_path(loc, sizeof(loc) - 1, 0, &a, &consumed),
		    -1);
		assert_int_equal(
		    addr_parse_path(quo, sizeof(quo) - 1, 0, &a, &consumed),
		    -1);
		assert_int_equal(
		    addr_parse_path(dom, sizeof(dom) - 1, 0, &a, &consumed),
		    -1);
	}
	/* len bounds the parse: '>' outside len is not seen */
	assert_int_equal(addr_parse_path("<u@x>", 4, 0, &a, &consumed), -1);
	assert_int_equal(addr_parse_path("<>", 1, N, &a, &consumed), -1);
}

static void
test_mailbox(void **state)
{
	static const struct {
		const char *in;
		unsigned int flags;
		int rc;
		const char *local, *domain;
	} cases[] = {
	    {"user@example.com", 0, 0, "user", "example.com"},
	    {"\"a b\"@[127.0.0.1]", 0, 0, "\"a b\"", "[127.0.0.1]"},
	    {"user@example.com ", 0, -1, NULL, NULL},
	    {"<user@example.com>", 0, -1, NULL, NULL},
	    {"Postmaster", P, -1, NULL, NULL},
	    {"", N, -1, NULL, NULL},
	    {"user", 0, -1, NULL, NULL},
	    {"@a:user@x", 0, -1, NULL, NULL},
	    {"j\xc3\xb6rg@x", U, 0, "j\xc3\xb6rg", "x"},
	    {"j\xc3\xb6rg@x", 0, -1, NULL, NULL},
	};
	struct mailaddr a;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (addr_parse_mailbox(cases[i].in, strlen(cases[i].in),
		        cases[i].flags, &a) != cases[i].rc)
			fail_msg("mailbox case %zu \"%s\"", i, cases[i].in);
		if (cases[i].rc == 0) {
			assert_string_equal(a.local, cases[i].local);
			assert_string_equal(a.domain, cases[i].domain);
		}
	}
	/* embedded NUL ends nothing: the length is authoritative */
	assert_int_equal(addr_parse_mailbox("u@x\0y", 5, 0, &a), -1);
}

static void
test_domain(void **state)
{
	static const struct {
		const char *in;
		unsigned int flags;
		int want;
	} cases[] = {
	    {"example.com", 0, 1},
	    {"localhost", 0, 1},
	    {"[10.0.0.1]", 0, 1},
	    {"[IPv6:::1]", 0, 1},
	    {"[ipv6:::1]", 0, 1},
	    {"example.com.", 0, 0},
	    {"", 0, 0},
	    {".", 0, 0},
	    {"a..b", 0, 0},
	    {"exa mple", 0, 0},
	    {"b\xc3\xbc"
	     "cher.de",
	        0, 0},
	    {"b\xc3\xbc"
	     "cher.de",
	        U, 1},
	    {"[10.0.0.1]x", 0, 0},
	};
	char longd[300];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (addr_valid_domain(cases[i].in, cases[i].flags) !=
		    cases[i].want)
			fail_msg("domain case %zu \"%s\"", i, cases[i].in);
	}
	/* 255 octets ok, 256 not */
	for (i = 0; i < 255; i++)
		longd[i] = (i % 50 == 49) ? '.' : 'd';
	longd[255] = '\0';
	assert_int_equal(addr_valid_domain(longd, 0), 1);
	longd[255] = 'd';
	longd[256] = '\0';
	assert_int_equal(addr_valid_domain(longd, 0), 0);
}

static void
test_format(void **state)
{
	static const struct {
		const char *in;
		unsigned int flags;
		const char *want;
	} cases[] = {
	    {"<user@example.com>", 0, "user@example.com"},
	    {"<@a,@b:u@d>", 0, "u@d"},
	    {"<\"a b\"@[1.2.3.4]>", 0, "\"a b\"@[1.2.3.4]"},
	    {"<>", N, ""},
	    {"<postmaster>", P, "Postmaster"},
	};
	struct mailaddr a, b;
	char out[300], again[310];
	size_t i, consumed;
	long n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    addr_parse_path(cases[i].in, strlen(cases[i].in),
		        cases[i].flags, &a, &consumed),
		    0);
		n = addr_format(&a, out, sizeof(out));
		assert_int_equal(n, (long)strlen(cases[i].want));
		assert_string_equal(out, cases[i].want);
		/* round trip through the path form */
		snprintf(again, sizeof(again), "<%s>", out);
		assert_int_equal(addr_parse_path(again, strlen(again),
		                     cases[i].flags, &b, &consumed),
		    0);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_int_equal(addr_is_null(&a), out[0] == '\0');
	}
	/* output too small */
	assert_int_equal(addr_parse_path("<u@x>", 5, 0, &a, &consumed), 0);
	assert_int_equal(addr_format(&a, out, 4), 3);
	assert_int_equal(addr_format(&a, out, 3), -1);
	assert_int_equal(addr_format(&a, out, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_mailbox),
	    cmocka_unit_test(test_domain),
	    cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
