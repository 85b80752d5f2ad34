/*
 * test_parse.c - SMTP line splitting, verbs, and MAIL/RCPT arguments with
 * ESMTP parameters (SIZE, BODY, SMTPUTF8, AUTH=). Table-driven got/want.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "smtp/parse.h"

/* ---- smtp_line_next ---- */

struct line_case {
	const char *in;
	size_t inlen; /* 0: strlen(in) */
	size_t limit;
	enum smtp_line_status st;
	size_t linelen;
	size_t consume;
};

static char long_buf[2048];

static void
test_line_next(void **state)
{
	static const struct line_case cases[] = {
	    {"EHLO x\r\nQUIT\r\n", 0, 512, SMTP_LINE_OK, 6, 8},
	    {"EHLO x\nQUIT\r\n", 0, 512, SMTP_LINE_OK, 6, 7},
	    {"\r\n", 0, 512, SMTP_LINE_OK, 0, 2},
	    {"\n", 0, 512, SMTP_LINE_OK, 0, 1},
	    {"EHLO", 0, 512, SMTP_LINE_NEED_MORE, 0, 0},
	    {"EHLO x\r", 0, 512, SMTP_LINE_NEED_MORE, 0, 0},
	    {"", 0, 512, SMTP_LINE_NEED_MORE, 0, 0},
	    {"a\rb\r\n", 0, 512, SMTP_LINE_OK, 3, 5},
	    {"12345678\r\n", 0, 10, SMTP_LINE_OK, 8, 10},
	    {"123456789\r\n", 0, 10, SMTP_LINE_TOO_LONG, 0, 11},
	    {"123456789\n", 0, 10, SMTP_LINE_OK, 9, 10},
	    {"123456789", 0, 10, SMTP_LINE_NEED_MORE, 0, 0},
	    {"1234567890", 0, 10, SMTP_LINE_TOO_LONG, 0, 10},
	    {"123456789012\r\nQUIT\r\n", 0, 10, SMTP_LINE_TOO_LONG, 0, 14},
	};
	size_t i, ll, cons;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct line_case *t = &cases[i];
		size_t n = t->inlen ? t->inlen : strlen(t->in);

		print_message("line case %zu\n", i);
		assert_int_equal(
		    smtp_line_next(t->in, n, t->limit, &ll, &cons), t->st);
		if (t->st == SMTP_LINE_OK)
			assert_int_equal(ll, t->linelen);
		if (t->st != SMTP_LINE_NEED_MORE)
			assert_int_equal(cons, t->consume);
	}

	/* RFC limits: 510 octets + CRLF fits in 512, 511 + CRLF does not */
	memset(long_buf, 'a', sizeof(long_buf));
	long_buf[510] = '\r';
	long_buf[511] = '\n';
	assert_int_equal(
	    smtp_line_next(long_buf, 512, SMTP_CMD_LINE_MAX, &ll, &cons),
	    SMTP_LINE_OK);
	assert_int_equal(ll, 510);
	memset(long_buf, 'a', sizeof(long_buf));
	long_buf[511] = '\r';
	long_buf[512] = '\n';
	assert_int_equal(
	    smtp_line_next(long_buf, 513, SMTP_CMD_LINE_MAX, &ll, &cons),
	    SMTP_LINE_TOO_LONG);
	assert_int_equal(cons, 513);
	memset(long_buf, 'a', sizeof(long_buf));
	assert_int_equal(
	    smtp_line_next(long_buf, 512, SMTP_CMD_LINE_MAX, &ll, &cons),
	    SMTP_LINE_TOO_LONG);
	assert_int_equal(
	    smtp_line_next(long_buf, 511, SMTP_CMD_LINE_MAX, &ll, &cons),
	    SMTP_LINE_NEED_MORE);
}

/* ---- smtp_parse_command ---- */

struct cmd_case {
	const char *in;
	size_t inlen; /* 0: strlen(in) */
	int rc;
	enum smtp_cmd cmd;
	const char *args;
	const char *verb;
};

static void
test_command(void **state)
{
	static const struct cmd_case cases[] = {
	    {"EHLO example.org", 0, 0, SMTP_CMD_EHLO, "example.org", "EHLO"},
	    {"ehlo x", 0, 0, SMTP_CMD_EHLO, "x", "ehlo"},
	    {"HeLo x", 0, 0, SMTP_CMD_HELO, "x", "HeLo"},
	    {"MAIL FROM:<a@b>", 0, 0, SMTP_CMD_MAIL, "FROM:<a@b>", "MAIL"},
	    {"RCPT TO:<a@b>", 0, 0, SMTP_CMD_RCPT, "TO:<a@b>", "RCPT"},
	    {"DATA", 0, 0, SMTP_CMD_DATA, "", "DATA"},
	    {"data", 0, 0, SMTP_CMD_DATA, "", "data"},
	    {"DATA ", 0, 0, SMTP_CMD_DATA, "", "DATA"},
	    {"DATAX", 0, 0, SMTP_CMD_UNKNOWN, "", "DATAX"},
	    {"DAT", 0, 0, SMTP_CMD_UNKNOWN, "", "DAT"},
	    {"BDAT 100 LAST", 0, 0, SMTP_CMD_BDAT, "100 LAST", "BDAT"},
	    {"RSET", 0, 0, SMTP_CMD_RSET, "", "RSET"},
	    {"NOOP hello", 0, 0, SMTP_CMD_NOOP, "hello", "NOOP"},
	    {"QUIT", 0, 0, SMTP_CMD_QUIT, "", "QUIT"},
	    {"QUITE", 0, 0, SMTP_CMD_UNKNOWN, "", "QUITE"},
	    {"VRFY x", 0, 0, SMTP_CMD_VRFY, "x", "VRFY"},
	    {"EXPN x", 0, 0, SMTP_CMD_EXPN, "x", "EXPN"},
	    {"HELP", 0, 0, SMTP_CMD_HELP, "", "HELP"},
	    {"STARTTLS", 0, 0, SMTP_CMD_STARTTLS, "", "STARTTLS"},
	    {"starttls", 0, 0, SMTP_CMD_STARTTLS, "", "starttls"},
	    {"AUTH PLAIN AHRlc3QAMTIzNA==", 0, 0, SMTP_CMD_AUTH,
	        "PLAIN AHRlc3QAMTIzNA==", "AUTH"},
	    {"XCLIENT ADDR=1", 0, 0, SMTP_CMD_UNKNOWN, "ADDR=1", "XCLIENT"},
	    {"EHLO a\tb", 0, 0, SMTP_CMD_EHLO, "a\tb", "EHLO"},
	    {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0, 0, SMTP_CMD_UNKNOWN, "",
	        "ABCDEFGHIJKLMNO"},

	    /* HTTP verbs followed by SP */
	    {"GET / HTTP/1.1", 0, 0, SMTP_CMD_HTTP, "/ HTTP/1.1", "GET"},
	    {"POST /x HTTP/1.0", 0, 0, SMTP_CMD_HTTP, "/x HTTP/1.0", "POST"},
	    {"HEAD / HTTP/1.1", 0, 0, SMTP_CMD_HTTP, "/ HTTP/1.1", "HEAD"},
	    {"PUT /", 0, 0, SMTP_CMD_HTTP, "/", "PUT"},
	    {"CONNECT mx:25 HTTP/1.1", 0, 0, SMTP_CMD_HTTP, "mx:25 HTTP/1.1",
	        "CONNECT"},
	    {"OPTIONS * HTTP/1.1", 0, 0, SMTP_CMD_HTTP, "* HTTP/1.1",
	        "OPTIONS"},
	    {"GET", 0, 0, SMTP_CMD_UNKNOWN, "", "GET"},
	    {"GETS /", 0, 0, SMTP_CMD_UNKNOWN, "/", "GETS"},

	    /* not a command */
	    {"", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {" EHLO x", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"MA1L FROM:<a@b>", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"EHLO\tx", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"EHLO a\0b", 8, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"\0", 1, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"EHLO a\rb", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"EHLO a\nb", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"EHLO \x1b[31m", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"EHLO \x7f", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"\xc3\x89HLO x", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	    {"X-FOO", 0, -1, SMTP_CMD_UNKNOWN, NULL, NULL},
	};
	struct smtp_command c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cmd_case *t = &cases[i];
		size_t n = t->inlen ? t->inlen : strlen(t->in);

		print_message("command case %zu\n", i);
		assert_int_equal(smtp_parse_command(t->in, n, &c), t->rc);
		if (t->rc != 0)
			continue;
		assert_int_equal(c.cmd, t->cmd);
		assert_int_equal(c.argslen, strlen(t->args));
		assert_memory_equal(c.args, t->args, c.argslen);
		assert_string_equal(c.verb, t->verb);
	}
}

/* ---- smtp_parse_mail ---- */

struct mail_case {
	const char *in;
	unsigned long long max_size;
	enum smtp_arg_error want;
	/* checked when want == SMTP_ARG_OK */
	const char *local;
	const char *domain;
	int has_size;
	unsigned long long size;
	enum smtp_body body;
	int smtputf8;
	const char *auth; /* NULL: no AUTH= */
};

#define MAIL_ERR(in, max, err)                                                 \
	{                                                                      \
		in, max, err, NULL, NULL, 0, 0, SMTP_BODY_7BIT, 0, NULL        \
	}

static void
test_mail(void **state)
{
	static const struct mail_case cases[] = {
	    {"FROM:<a@example.org>", 1000, SMTP_ARG_OK, "a", "example.org", 0,
	        0, SMTP_BODY_7BIT, 0, NULL},
	    {"from:<a@example.org>", 1000, SMTP_ARG_OK, "a", "example.org", 0,
	        0, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM: <a@example.org>", 1000, SMTP_ARG_OK, "a", "example.org", 0,
	        0, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<>", 1000, SMTP_ARG_OK, "", "", 0, 0, SMTP_BODY_7BIT, 0,
	        NULL},
	    {"FROM:<> SIZE=10", 1000, SMTP_ARG_OK, "", "", 1, 10,
	        SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org> SIZE=100", 1000, SMTP_ARG_OK, "a",
	        "example.org", 1, 100, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org> size=1000", 1000, SMTP_ARG_OK, "a",
	        "example.org", 1, 1000, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org> SIZE=0", 1000, SMTP_ARG_OK, "a",
	        "example.org", 1, 0, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org> SIZE=99999999", 0, SMTP_ARG_OK, "a",
	        "example.org", 1, 99999999, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org> SIZE=100 ", 1000, SMTP_ARG_OK, "a",
	        "example.org", 1, 100, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org>  SIZE=100", 1000, SMTP_ARG_OK, "a",
	        "example.org", 1, 100, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org> BODY=8BITMIME", 1000, SMTP_ARG_OK, "a",
	        "example.org", 0, 0, SMTP_BODY_8BITMIME, 0, NULL},
	    {"FROM:<a@example.org> body=binarymime", 1000, SMTP_ARG_OK, "a",
	        "example.org", 0, 0, SMTP_BODY_BINARYMIME, 0, NULL},
	    {"FROM:<a@example.org> BODY=7bit", 1000, SMTP_ARG_OK, "a",
	        "example.org", 0, 0, SMTP_BODY_7BIT, 0, NULL},
	    {"FROM:<a@example.org> SMTPUTF8", 1000, SMTP_ARG_OK, "a",
	        "example.org", 0, 0, SMTP_BODY_7BIT, 1, NULL},
	    {"FROM:<\xce\xb4@example.org> SMTPUTF8", 1000, SMTP_ARG_OK,
	        "\xce\xb4", "example.org", 0, 0, SMTP_BODY_7BIT, 1, NULL},
	    {"FROM:<a@example.org> AUTH=<>", 1000, SMTP_ARG_OK, "a",
	        "example.org", 0, 0, SMTP_BODY_7BIT, 0, "<>"},
	    {"FROM:<a@example.org> AUTH=us+2Ber@example.org", 1000, SMTP_ARG_OK,
	        "a", "example.org", 0, 0, SMTP_BODY_7BIT, 0,
	        "us+er@example.org"},
	    {"FROM:<a@example.org> SIZE=5 BODY=8BITMIME SMTPUTF8 "
	     "AUTH=a@example.org",
	        1000, SMTP_ARG_OK, "a", "example.org", 1, 5, SMTP_BODY_8BITMIME,
	        1, "a@example.org"},

	    /* syntax */
	    MAIL_ERR("FROM:a@example.org", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:  <a@example.org>", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM <a@example.org>", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("TO:<a@example.org>", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:<a@example.org>SIZE=1", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:<a@example.org> =1", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:<a@example.org> -X", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:<a@example.org> SIZE=", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:<a@example.org> A=b=c", 1000, SMTP_ARG_SYNTAX),
	    MAIL_ERR("FROM:<a@example.org> SI_ZE=1", 1000, SMTP_ARG_SYNTAX),

	    /* addresses */
	    MAIL_ERR("FROM:<a b@example.org>", 1000, SMTP_ARG_BAD_ADDRESS),
	    MAIL_ERR("FROM:<a@example.org", 1000, SMTP_ARG_BAD_ADDRESS),
	    MAIL_ERR("FROM:<@example.org>", 1000, SMTP_ARG_BAD_ADDRESS),
	    MAIL_ERR("FROM:<\xce\xb4@example.org>", 1000, SMTP_ARG_BAD_ADDRESS),
	    MAIL_ERR("FROM:<\xce\xb4@example.org> SIZE=1", 1000,
	        SMTP_ARG_BAD_ADDRESS),
	    MAIL_ERR("FROM:<Postmaster>", 1000, SMTP_ARG_BAD_ADDRESS),

	    /* parameters */
	    MAIL_ERR(
	        "FROM:<a@example.org> FOO=bar", 1000, SMTP_ARG_UNKNOWN_PARAM),
	    MAIL_ERR(
	        "FROM:<a@example.org> RET=HDRS", 1000, SMTP_ARG_UNKNOWN_PARAM),
	    MAIL_ERR(
	        "FROM:<a@example.org> X-FOO", 1000, SMTP_ARG_UNKNOWN_PARAM),
	    MAIL_ERR("FROM:<a@example.org> SIZE=abc", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> SIZE=-1", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> SIZE", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR(
	        "FROM:<a@example.org> SIZE=1 SIZE=2", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR(
	        "FROM:<a@example.org> SIZE=1 size=1", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> SIZE=99999999999999999999999", 0,
	        SMTP_ARG_BAD_PARAM),
	    MAIL_ERR(
	        "FROM:<a@example.org> BODY=9BIT", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> BODY", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> BODY=7BIT BODY=8BITMIME", 1000,
	        SMTP_ARG_BAD_PARAM),
	    MAIL_ERR(
	        "FROM:<a@example.org> SMTPUTF8=yes", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> SMTPUTF8 SMTPUTF8", 1000,
	        SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> AUTH", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> AUTH=foo", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> AUTH=+ZZ", 1000, SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> AUTH=a+0A@example.org", 1000,
	        SMTP_ARG_BAD_PARAM),
	    MAIL_ERR("FROM:<a@example.org> AUTH=<> AUTH=<>", 1000,
	        SMTP_ARG_BAD_PARAM),

	    /* size limit */
	    MAIL_ERR("FROM:<a@example.org> SIZE=1001", 1000, SMTP_ARG_TOO_BIG),
	    MAIL_ERR("FROM:<a@example.org> SIZE=99999999999999999999999", 1000,
	        SMTP_ARG_TOO_BIG),
	    MAIL_ERR("FROM:<a@example.org> SIZE=1001 FOO=1", 1000,
	        SMTP_ARG_UNKNOWN_PARAM),
	};
	struct smtp_mail_args m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mail_case *t = &cases[i];

		print_message("mail case %zu: %s\n", i, t->in);
		assert_int_equal(
		    smtp_parse_mail(t->in, strlen(t->in), t->max_size, &m),
		    t->want);
		if (t->want != SMTP_ARG_OK)
			continue;
		assert_string_equal(m.from.local, t->local);
		assert_string_equal(m.from.domain, t->domain);
		assert_int_equal(m.has_size, t->has_size);
		assert_int_equal(m.size, t->size);
		assert_int_equal(m.body, t->body);
		assert_int_equal(m.smtputf8, t->smtputf8);
		assert_int_equal(m.has_auth, t->auth != NULL);
		if (t->auth != NULL)
			assert_string_equal(m.auth, t->auth);
	}
}

/* ---- smtp_parse_rcpt ---- */

struct rcpt_case {
	const char *in;
	int utf8;
	enum smtp_arg_error want;
	const char *local;
	const char *domain;
};

#define RCPT_ERR(in, utf8, err)                                                \
	{                                                                      \
		in, utf8, err, NULL, NULL                                      \
	}

static void
test_rcpt(void **state)
{
	static const struct rcpt_case cases[] = {
	    {"TO:<a@example.org>", 0, SMTP_ARG_OK, "a", "example.org"},
	    {"to:<a@example.org>", 0, SMTP_ARG_OK, "a", "example.org"},
	    {"TO: <a@example.org>", 0, SMTP_ARG_OK, "a", "example.org"},
	    {"TO:<a@example.org> ", 0, SMTP_ARG_OK, "a", "example.org"},
	    {"TO:<Postmaster>", 0, SMTP_ARG_OK, "Postmaster", ""},
	    {"TO:<postmaster>", 0, SMTP_ARG_OK, "Postmaster", ""},
	    {"TO:<\xce\xb4@example.org>", 1, SMTP_ARG_OK, "\xce\xb4",
	        "example.org"},

	    RCPT_ERR("TO:<\xce\xb4@example.org>", 0, SMTP_ARG_BAD_ADDRESS),
	    RCPT_ERR("TO:<>", 0, SMTP_ARG_BAD_ADDRESS),
	    RCPT_ERR("TO:<a b@example.org>", 0, SMTP_ARG_BAD_ADDRESS),
	    RCPT_ERR("TO:<someone>", 0, SMTP_ARG_BAD_ADDRESS),
	    RCPT_ERR(
	        "TO:<a@example.org> NOTIFY=NEVER", 0, SMTP_ARG_UNKNOWN_PARAM),
	    RCPT_ERR("TO:<a@example.org> ORCPT=rfc822;a@example.org", 0,
	        SMTP_ARG_UNKNOWN_PARAM),
	    RCPT_ERR("TO:<a@example.org> =x", 0, SMTP_ARG_SYNTAX),
	    RCPT_ERR("TO:<a@example.org>x", 0, SMTP_ARG_SYNTAX),
	    RCPT_ERR("TO:a@example.org", 0, SMTP_ARG_SYNTAX),
	    RCPT_ERR("TO:  <a@example.org>", 0, SMTP_ARG_SYNTAX),
	    RCPT_ERR("FROM:<a@example.org>", 0, SMTP_ARG_SYNTAX),
	    RCPT_ERR("", 0, SMTP_ARG_SYNTAX),
	};
	struct smtp_rcpt_args r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcpt_case *t = &cases[i];

		print_message("rcpt case %zu: %s\n", i, t->in);
		assert_int_equal(
		    smtp_parse_rcpt(t->in, strlen(t->in), t->utf8, &r),
		    t->want);
		if (t->want != SMTP_ARG_OK)
			continue;
		assert_string_equal(r.to.local, t->local);
		assert_string_equal(r.to.domain, t->domain);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_next),
	    cmocka_unit_test(test_command),
	    cmocka_unit_test(test_mail),
	    cmocka_unit_test(test_rcpt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
