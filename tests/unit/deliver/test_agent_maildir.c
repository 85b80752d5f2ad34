/*
 * test_agent_maildir.c - dlv_run() with a maildir route: one copy per
 * distinct folder, refused addresses bounce alone (5.1.3), a folder that
 * cannot be made defers its recipients (4.3.0), status mapping helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/agent.h"
#include "deliver/agent_int.h"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-agent-maildir-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* count_new - files in dir/new; -1 if it does not exist. */
static int
count_new(const char *sub)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s/new", tmpdir, sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static int
message(const char *text)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/msg", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void
test_deliver(void **state)
{
	static struct dlv_route rt;
	struct dlv_rcpt r[4];
	struct dlv_job job;
	int fd = message("Subject: hi\n\nbody\n");

	(void)state;
	memset(&rt, 0, sizeof(rt));
	rt.method = DLV_MAILDIR;
	snprintf(
	    rt.maildir_tmpl, sizeof(rt.maildir_tmpl), "%s/%%d/%%n", tmpdir);
	memset(r, 0, sizeof(r));
	r[0].addr = "alice@Example.test";
	r[1].addr = "../evil@example.test";
	r[2].addr = "bob@example.test";
	r[3].addr = "alice@example.test"; /* same folder as r[0] */
	memset(&job, 0, sizeof(job));
	job.id = "T1";
	job.msg_fd = fd;
	job.msg_size = 18;
	job.mail_from = "";
	job.helo_name = "mail.test";
	job.route = &rt;
	job.rcpts = r;
	job.nrcpts = 4;

	assert_int_equal(dlv_run(&job), 0);
	assert_int_equal(r[0].status, DLV_OK);
	assert_string_equal(r[0].dsn_code, "2.0.0");
	assert_int_equal(r[1].status, DLV_PERM);
	assert_string_equal(r[1].dsn_code, "5.1.3");
	assert_int_equal(r[2].status, DLV_OK);
	assert_int_equal(r[3].status, DLV_OK);
	assert_int_equal(count_new("example.test/alice"), 1);
	assert_int_equal(count_new("example.test/bob"), 1);
	assert_string_equal(job.hop, "maildir");
	assert_string_equal(job.tls_info, "none");
	close(fd);
}

/* A folder that cannot be created: its recipients are deferred. */
static void
test_unwritable(void **state)
{
	static struct dlv_route rt;
	char blocker[PATH_MAX];
	struct dlv_rcpt r[2];
	struct dlv_job job;
	int fd = message("x\n"), bfd;

	(void)state;
	/* a file where a directory must go */
	snprintf(blocker, sizeof(blocker), "%s/blocked", tmpdir);
	bfd = open(blocker, O_WRONLY | O_CREAT, 0600);
	assert_true(bfd >= 0);
	close(bfd);
	memset(&rt, 0, sizeof(rt));
	rt.method = DLV_MAILDIR;
	snprintf(
	    rt.maildir_tmpl, sizeof(rt.maildir_tmpl), "%s/blocked/%%n", tmpdir);
	memset(r, 0, sizeof(r));
	r[0].addr = "carol@example.test";
	r[1].addr = "not an address";
	memset(&job, 0, sizeof(job));
	job.msg_fd = fd;
	job.helo_name = "mail.test";
	job.route = &rt;
	job.rcpts = r;
	job.nrcpts = 2;
	assert_int_equal(dlv_run(&job), 0);
	assert_int_equal(r[0].status, DLV_TEMP);
	assert_string_equal(r[0].dsn_code, "4.3.0");
	assert_int_equal(strncmp(r[0].reply, "451 4.3.0 ", 10), 0);
	assert_int_equal(r[1].status, DLV_PERM);
	close(fd);
}

static void
test_helpers(void **state)
{
	struct dlv_rcpt r;

	(void)state;
	assert_int_equal(dlv_status_of(250), DLV_OK);
	assert_int_equal(dlv_status_of(251), DLV_OK);
	assert_int_equal(dlv_status_of(421), DLV_TEMP);
	assert_int_equal(dlv_status_of(354), DLV_TEMP);
	assert_int_equal(dlv_status_of(0), DLV_TEMP);
	assert_int_equal(dlv_status_of(554), DLV_PERM);
	memset(&r, 0, sizeof(r));
	dlv_rcpt_set(&r, DLV_PERM, "bogus", "550 %s",
	    "a\x01\xff"
	    "b");
	assert_string_equal(r.dsn_code, "5.0.0");
	assert_string_equal(r.reply, "550 a??b");
	dlv_rcpt_set(&r, DLV_TEMP, NULL, "%s", "x");
	assert_string_equal(r.dsn_code, "4.0.0");
}

/* No route: every recipient deferred, -1. */
static void
test_no_route(void **state)
{
	struct dlv_rcpt r[1];
	struct dlv_job job;

	(void)state;
	memset(r, 0, sizeof(r));
	r[0].addr = "a@b";
	memset(&job, 0, sizeof(job));
	job.rcpts = r;
	job.nrcpts = 1;
	assert_int_equal(dlv_run(&job), -1);
	assert_int_equal(r[0].status, DLV_TEMP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deliver),
	    cmocka_unit_test(test_unwritable),
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_no_route),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
