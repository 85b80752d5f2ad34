/*
 * test_headers.c - smtp/headers.h: the RFC 5322 address-list parser
 * (display names, comments, quoted strings, encoded words, groups, hostile
 * inputs) and the streaming header-section scanner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/headers.h"

static void
test_address_lists(void **state)
{
	static const struct {
		const char *in;
		long n;
		const char *a0, *a1;
	} cases[] = {
	    {"alice@example.org", 1, "alice@example.org", NULL},
	    {" <alice@example.org> ", 1, "alice@example.org", NULL},
	    {"Alice <alice@example.org>", 1, "alice@example.org", NULL},
	    {"\"Smith, Alice\" <alice@example.org>", 1, "alice@example.org",
	        NULL},
	    {"\"alice@example.org\" <evil@attacker.example>", 1,
	        "evil@attacker.example", NULL},
	    {"Alice (boss@example.org) <alice@example.org>", 1,
	        "alice@example.org", NULL},
	    {"alice@example.org (Alice (nested) Smith)", 1, "alice@example.org",
	        NULL},
	    {"=?utf-8?q?Al=C3=AFce?= <alice@example.org>", 1,
	        "alice@example.org", NULL},
	    {"=?utf-8?B?Ym9zc0BleGFtcGxlLm9yZw==?= <alice@example.org>", 1,
	        "alice@example.org", NULL},
	    {"John Q. Public <jqp@example.org>", 1, "jqp@example.org", NULL},
	    {"a@example.org, Bob <b@example.org>", 2, "a@example.org",
	        "b@example.org"},
	    {"a@example.org,, b@example.org", 2, "a@example.org",
	        "b@example.org"},
	    {"\"al ice\"@example.org", 1, "\"al ice\"@example.org", NULL},
	    {"\"alice\"@example.org", 1, "alice@example.org", NULL},
	    {"alice@[192.0.2.1]", 1, "alice@[192.0.2.1]", NULL},
	    {"Team: a@example.org, b@example.org;", 2, "a@example.org",
	        "b@example.org"},
	    {"undisclosed-recipients:;", 0, NULL, NULL},
	    {"J\xc3\xb6rg <joerg@example.org>", 1, "joerg@example.org", NULL},
	    {"Alice <alice@example.org>\r\n (folded)", 1, "alice@example.org",
	        NULL},
	};
	static const char *const bad[] = {
	    "",
	    "   ",
	    "alice",
	    "<alice@example.org",
	    "alice@example.org>",
	    "Alice <alice@example.org> <bob@example.org>",
	    "alice@example.org bob@example.org",
	    "alice@example.org <bob@example.org>",
	    "=?utf-8?q?alice@example.org?= <evil@example.org>",
	    "\"unterminated <alice@example.org>",
	    "(unterminated comment alice@example.org",
	    "<@route.example:alice@example.org>", /* source route */
	    "alice..dots@example.org",
	    ".alice@example.org",
	    "alice@example..org",
	    "Team: a@example.org",
	    "alice@",
	    "@example.org",
	    "<>",
	    "((((((((((((((((((a))))))))))))))))) a@example.org",
	};
	struct hdr_addr out[4];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long n = hdr_parse_addresses(
		    cases[i].in, strlen(cases[i].in), out, 4);

		if (n != cases[i].n)
			fail_msg("case %zu '%s': got %ld want %ld", i,
			    cases[i].in, n, cases[i].n);
		if (n > 0)
			assert_string_equal(out[0].addr, cases[i].a0);
		if (n > 1)
			assert_string_equal(out[1].addr, cases[i].a1);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long n = hdr_parse_addresses(bad[i], strlen(bad[i]), out, 4);

		if (n > 0 ||
		    (n == 0 && bad[i][0] != '\0' &&
		        strspn(bad[i], " ") != strlen(bad[i])))
			fail_msg("bad %zu '%s' accepted (%ld)", i, bad[i], n);
	}
	/* more addresses than room */
	assert_int_equal(
	    hdr_parse_addresses("a@x.org, b@x.org, c@x.org", 25, out, 2), -1);
}

/* scan - feed msg in chunks of step; returns the bytes that were body. */
static size_t
scan(struct hdr_scan *h, const char *msg, size_t step)
{
	size_t off = 0, len = strlen(msg), body = 0;

	hdr_scan_init(h);
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		size_t took = hdr_scan_feed(h, msg + off, n);

		body += n - took;
		off += n;
	}
	hdr_scan_end(h);
	return body + (h->head.len - h->scanned);
}

static void
test_scanner(void **state)
{
	static const char msg[] = "Received: from x\r\n\tby y\r\n"
	                          "From: Alice\r\n <alice@example.org>\r\n"
	                          "Sender: sec@example.org\r\n"
	                          "Subject: hi\r\n"
	                          "\r\n"
	                          "From: not-a-header@example.org\r\n"
	                          "body\r\n";
	struct hdr_scan h;
	size_t step;

	for (step = 1; step <= sizeof(msg); step++) {
		size_t body = scan(&h, msg, step);

		assert_int_equal(h.state, HDR_S_DONE);
		assert_int_equal(body,
		    strlen("From: not-a-header@example.org\r\n"
		           "body\r\n"));
		assert_int_equal(h.have, HDR_HAVE_FROM | HDR_HAVE_SENDER);
		assert_int_equal(h.naddrs, 2);
		assert_string_equal(h.addrs[0].addr, "alice@example.org");
		assert_int_equal(h.addrs[0].sender, 0);
		assert_string_equal(h.addrs[1].addr, "sec@example.org");
		assert_int_equal(h.addrs[1].sender, 1);
		assert_false(h.bad);
		assert_false(h.need_blank);
		hdr_scan_free(&h);
	}
}

static void
test_scanner_edges(void **state)
{
	struct hdr_scan h;
	char big[HDR_SECTION_MAX + 200];
	size_t i;

	/* Date and Message-ID are seen, in any case */
	scan(&h, "date: x\r\nMESSAGE-ID: <a@b>\r\n\r\n", 7);
	assert_int_equal(h.have, HDR_HAVE_DATE | HDR_HAVE_MSGID);
	hdr_scan_free(&h);
	/* no header at all: the first line is body, a blank line is owed */
	assert_int_equal(scan(&h, "just text\r\n", 3), strlen("just text\r\n"));
	assert_int_equal(h.scanned, 0);
	assert_true(h.need_blank);
	hdr_scan_free(&h);
	/* a message that is all header */
	scan(&h, "From: a@example.org\r\nSubject: s\r\n", 5);
	assert_int_equal(h.state, HDR_S_DONE);
	assert_int_equal(h.naddrs, 1);
	hdr_scan_free(&h);
	/* an unparsable From: is reported, not guessed */
	scan(&h, "From: Alice <alice@example.org\r\n\r\n", 64);
	assert_true(h.bad);
	assert_string_equal(h.bad_field, "From");
	hdr_scan_free(&h);
	scan(&h, "From:\r\n\r\n", 64);
	assert_true(h.bad);
	hdr_scan_free(&h);
	/* two From: fields: both checked */
	scan(&h, "From: a@example.org\r\nFrom: b@example.org\r\n\r\n", 64);
	assert_int_equal(h.naddrs, 2);
	hdr_scan_free(&h);
	/* more addresses than HDR_MAX_ADDRS */
	{
		char many[2048] = "From: ";

		for (i = 0; i < HDR_MAX_ADDRS + 2; i++) {
			char one[32];

			snprintf(one, sizeof(one), "u%zu@example.org, ", i);
			strcat(many, one);
		}
		strcat(many, "z@example.org\r\n\r\n");
		scan(&h, many, 100);
		assert_true(h.bad);
		hdr_scan_free(&h);
	}
	/* a header section over the bound overflows and stops there */
	memcpy(big, "X-Big: ", 7);
	for (i = 7; i < sizeof(big) - 1; i++)
		big[i] = (i % 70 == 0) ? '\n' : 'a';
	for (i = 7; i < sizeof(big) - 1; i++)
		if (big[i] == '\n') {
			big[i - 1] = '\r';
			big[i + 1] = ' ';
		}
	big[sizeof(big) - 1] = '\0';
	scan(&h, big, 4096);
	assert_int_equal(h.state, HDR_S_OVERFLOW);
	assert_int_equal(h.head.len, HDR_SECTION_MAX);
	hdr_scan_free(&h);
	/* a continuation line first is not a header */
	scan(&h, " folded\r\nFrom: a@example.org\r\n\r\n", 64);
	assert_true(h.need_blank);
	assert_int_equal(h.naddrs, 0);
	hdr_scan_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_address_lists),
	    cmocka_unit_test(test_scanner),
	    cmocka_unit_test(test_scanner_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
