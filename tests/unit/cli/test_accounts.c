/*
 * test_accounts.c - cli/accounts.h: the accounts file parser (strict,
 * file:line errors, default account, password files must be private).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/accounts.h"
#include "core/secret.h"

static char path[64];

static void
write_file(const char *text, mode_t mode)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/postern-accounts-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_load(void **state)
{
	struct account a;
	char err[512];

	(void)state;
	write_file("# comment\ndefault = work\n\n[account home]\n"
	           "server = home.test\n\n[account work]\n"
	           "server = mail.work.test:465\ntls = implicit\n"
	           "user = ann@work.test\n"
	           "password_command = \"pass show mail # work\"\n",
	    0644);
	assert_int_equal(accounts_load(path, NULL, &a, err, sizeof(err)), 1);
	assert_string_equal(a.name, "work");
	assert_string_equal(a.server, "mail.work.test:465");
	assert_string_equal(a.tls, "implicit");
	assert_string_equal(a.password_command, "pass show mail # work");
	assert_int_equal(a.line, 7);
	account_clear(&a);
	assert_int_equal(accounts_load(path, "home", &a, err, sizeof(err)), 1);
	assert_string_equal(a.server, "home.test");
	account_clear(&a);
	assert_int_equal(accounts_load(path, "none", &a, err, sizeof(err)), 0);
	unlink(path);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* after "path:" */
	} cases[] = {
	    {"[account a]\nserver = x\ncolour = blue\n", ":3: unknown key"},
	    {"[account a]\nserver = x\nserver = y\n", ":3: server given twice"},
	    {"[account a]\nserver = x\n[account a]\nserver = y\n",
	        ":3: account a is defined twice"},
	    {"[account a]\ntls = maybe\nserver = x\n", ":1: account a: tls"},
	    {"[account a]\nuser = u\n", ":1: account a has no server"},
	    {"server = x\n", ":1: only \"default = NAME\""},
	    {"[server]\n", ":1: expected [account NAME]"},
	    {"[account a b]\nserver = x\n", ":1: bad account name"},
	    {"[account a]\nserver x\n", ":2: expected key = value"},
	};
	struct account a;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(cases[i].text, 0600);
		assert_int_equal(
		    accounts_load(path, "a", &a, err, sizeof(err)), -1);
		assert_non_null(strstr(err, path));
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			    cases[i].want);
		unlink(path);
	}
}

static void
test_password_file_mode(void **state)
{
	struct account a;
	char err[512];

	(void)state;
	write_file("[account a]\nserver = x\npassword = s3cret-Pw\n", 0640);
	assert_int_equal(accounts_load(path, "a", &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "others can read it"));
	assert_null(strstr(err, "s3cret-Pw"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(accounts_load(path, "a", &a, err, sizeof(err)), 1);
	assert_non_null(a.password);
	assert_int_equal(a.password->len, 9);
	assert_memory_equal(a.password->data, "s3cret-Pw", 9);
	account_clear(&a);
	assert_null(a.password);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_password_file_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
