/*
 * test_message.c - cli/message.h: sendmail -t recipient extraction, Bcc:
 * removal, added fields, built messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/message.h"

/* prepare - msg_prepare with extraction; the output in out. */
static int
prepare(
    const char *in, struct msg_rcpts *r, struct buf *out, struct msg_info *info)
{
	struct msg_fix fix = {"<me@example.test>", "host.example.test", NULL};
	char err[256];

	buf_init(out, 1 << 20);
	return msg_prepare(
	    in, strlen(in), &fix, r, out, info, err, sizeof(err));
}

static void
test_extract(void **state)
{
	static const struct {
		const char *msg;
		const char *want; /* recipients joined by ' ' */
	} cases[] = {
	    {"To: a@x.test\n\nbody\n", "a@x.test"},
	    {"To: Ann <a@x.test>, \"B, b\" <b@x.test>\nCc: c@x.test\n"
	     "Bcc: d@x.test\nSubject: s\n\nbody\n",
	        "a@x.test b@x.test c@x.test d@x.test"},
	    {"To: team: a@x.test, b@x.test;\n\n", "a@x.test b@x.test"},
	    {"To: a@x.test,\n b@x.test\nCC: A@X.test\n\n", "a@x.test b@x.test"},
	    {"Subject: none\n\n", ""},
	    {"To:\n\nempty To:\n", ""},
	    {"From a@x Mon Jan 1\nTo: a@x.test\n\n", "a@x.test"},
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct msg_rcpts r = {0};
		struct msg_info info;
		struct buf out;
		char got[512] = "";

		assert_int_equal(prepare(cases[i].msg, &r, &out, &info), 0);
		for (k = 0; k < r.n; k++) {
			if (k > 0)
				strcat(got, " ");
			strcat(got, r.v[k]);
		}
		assert_string_equal(got, cases[i].want);
		msg_rcpts_free(&r);
		buf_free(&out);
	}
}

static void
test_bcc_removed_and_fields_added(void **state)
{
	const char *in = "To: a@x.test\r\nBcc: secret@x.test,\r\n"
	                 " other@x.test\r\nSubject: s\r\n\r\nBcc: in body\r\n";
	struct msg_rcpts r = {0};
	struct msg_info info;
	struct buf out;

	(void)state;
	assert_int_equal(prepare(in, &r, &out, &info), 0);
	assert_int_equal(r.n, 3);
	assert_null(strstr(out.data, "secret@x.test"));
	assert_null(strstr(out.data, "other@x.test"));
	assert_non_null(strstr(out.data, "\r\n\r\nBcc: in body\r\n"));
	assert_non_null(strstr(out.data, "From: <me@example.test>\r\n"));
	assert_non_null(strstr(out.data, "Date: "));
	assert_non_null(strstr(out.data, "@host.example.test>\r\n"));
	assert_int_equal(info.added_from, 1);
	msg_rcpts_free(&r);
	buf_free(&out);
}

static void
test_kept_fields(void **state)
{
	const char *in =
	    "From: Ann <ann@x.test>\nDate: Mon, 1 Jan 2024 00:00:00 "
	    "+0000\nMessage-ID: <1@x>\nTo: b@x.test\n\nh\xc3\xa9\n";
	struct msg_info info;
	struct buf out;

	(void)state;
	assert_int_equal(prepare(in, NULL, &out, &info), 0);
	assert_string_equal(out.data, in); /* nothing to add or remove */
	assert_string_equal(info.from_addr, "ann@x.test");
	assert_int_equal(info.eightbit, 1);
	assert_int_equal(info.added_from, 0);
	buf_free(&out);
}

static void
test_bad_list(void **state)
{
	struct msg_rcpts r = {0};
	char err[256];

	(void)state;
	assert_int_equal(
	    msg_rcpts_add_list(&r, "a@x.test, <broken", err, sizeof(err)), -1);
	assert_int_equal(
	    msg_rcpts_add_list(&r, "a@x.test b@x.test", err, sizeof(err)), -1);
	msg_rcpts_free(&r);
}

static void
test_build(void **state)
{
	struct msg_rcpts to = {0};
	struct buf out;
	char err[256];

	(void)state;
	assert_int_equal(msg_rcpts_add(&to, "b@x.test"), 0);
	buf_init(&out, 1 << 20);
	assert_int_equal(msg_build(&out, "Ann <a@x.test>", &to,
	                     "gr\xc3\xbc\xc3\x9f"
	                     "e",
	                     "line 1\nline 2", "h.test", err, sizeof(err)),
	    0);
	assert_non_null(
	    strstr(out.data, "From: Ann <a@x.test>\r\nTo: b@x.test\r\n"));
	assert_non_null(
	    strstr(out.data, "Subject: =?UTF-8?B?Z3LDvMOfZQ==?=\r\n"));
	assert_non_null(strstr(out.data, "charset=us-ascii\r\n"));
	assert_non_null(strstr(out.data, "\r\n\r\nline 1\r\nline 2\r\n"));
	buf_reset(&out);
	assert_int_equal(msg_build(&out, "a@x.test\r\nBcc: x@y", &to, "s", "",
	                     "h.test", err, sizeof(err)),
	    -1);
	buf_free(&out);
	msg_rcpts_free(&to);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_extract),
	    cmocka_unit_test(test_bcc_removed_and_fields_added),
	    cmocka_unit_test(test_kept_fields),
	    cmocka_unit_test(test_bad_list),
	    cmocka_unit_test(test_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
