/*
 * test_maildir.c - maildir path expansion (and its refusals), creation, and
 * all-or-nothing delivery into a temporary directory.
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

#include "core/addr.h"
#include "deliver/maildir.h"
#include "testutil.h"

struct path_case {
	const char *tmpl;
	const char *local;
	const char *domain;
	const char *want; /* NULL: refused */
};

static void
test_path(void **state)
{
	static const struct path_case cases[] = {
	    {"/var/mail/%d/%n", "a", "Example.ORG", "/var/mail/example.org/a"},
	    {"/m/%u", "a", "Example.org", "/m/a@example.org"},
	    {"/m/%%/%n", "a", "b.org", "/m/%/a"},
	    {"/m/%n", "John.Doe", "b.org", "/m/John.Doe"},
	    {"/m/%n", "\"john doe\"", "b.org", "/m/john doe"},
	    {"/m/%d/%n", "a", "[192.0.2.1]", "/m/[192.0.2.1]/a"},
	    {"/m/fixed", "", "", "/m/fixed"},
	    {"/m/%n", "\xce\xb4", "b.org", "/m/\xce\xb4"},

	    {"/m/%n", "..", "b.org", NULL},
	    {"/m/%n", ".", "b.org", NULL},
	    {"/m/%n", ".hidden", "b.org", NULL},
	    {"/m/%n", "", "b.org", NULL},
	    {"/m/%n", "a/b", "b.org", NULL},
	    {"/m/%n", "\"../x\"", "b.org", NULL},
	    {"/m/%n", "\"a/b\"", "b.org", NULL},
	    {"/m/%n", "\".x\"", "b.org", NULL},
	    {"/m/%n", "\"\"", "b.org", NULL},
	    {"/m/%n", "a\x01", "b.org", NULL},
	    {"/m/%n", "a\x7f", "b.org", NULL},
	    {"/m/%d/%n", "Postmaster", "", NULL},
	    {"/m/%d", "a", "..", NULL},
	    {"/m/%d", "a", ".b.org", NULL},
	    {"/m/%u", "..", "b.org", NULL},
	    {"/m/%u", "a", "", NULL},
	    {"/m/%x", "a", "b.org", NULL},
	    {"/m/%", "a", "b.org", NULL},
	};
	struct mailaddr a;
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct path_case *t = &cases[i];
		int rc;

		print_message("path case %zu: %s %s\n", i, t->tmpl, t->local);
		memset(&a, 0, sizeof(a));
		snprintf(a.local, sizeof(a.local), "%s", t->local);
		snprintf(a.domain, sizeof(a.domain), "%s", t->domain);
		rc = maildir_path(t->tmpl, &a, out, sizeof(out));
		if (t->want == NULL) {
			assert_int_equal(rc, -1);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, t->want);
		}
	}

	/* output too small */
	memset(&a, 0, sizeof(a));
	snprintf(a.local, sizeof(a.local), "abcdef");
	snprintf(a.domain, sizeof(a.domain), "b.org");
	assert_int_equal(maildir_path("/m/%n", &a, out, 9), -1);
	assert_int_equal(maildir_path("/m/%n", &a, out, 10), 0);
	assert_string_equal(out, "/m/abcdef");
}

static char tmproot[512];

static int
setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmproot, sizeof(tmproot), "%s/test_maildir.XXXXXX",
	    base != NULL ? base : "/tmp");
	return mkdtemp(tmproot) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return test_rm_tree(tmproot);
}

/* count_files - entries in dir besides . and ..; name gets the last one. */
static int
count_files(const char *dir, char *name, size_t namelen)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	d = opendir(dir);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		if (name != NULL)
			snprintf(name, namelen, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static void
assert_mode_0700(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void
test_create(void **state)
{
	char dir[PATH_MAX], sub[PATH_MAX + 8];
	mode_t old;

	(void)state;
	old = umask(022);
	snprintf(dir, sizeof(dir), "%s/c/a/b/Maildir", tmproot);
	assert_int_equal(maildir_create(dir), 0);
	assert_int_equal(maildir_create(dir), 0); /* idempotent */
	assert_mode_0700(dir);
	snprintf(sub, sizeof(sub), "%s/c/a", tmproot);
	assert_mode_0700(sub);
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	assert_mode_0700(sub);
	snprintf(sub, sizeof(sub), "%s/new", dir);
	assert_mode_0700(sub);
	snprintf(sub, sizeof(sub), "%s/cur", dir);
	assert_mode_0700(sub);

	/* a file in the way */
	snprintf(sub, sizeof(sub), "%s/c/file", tmproot);
	close(open(sub, O_WRONLY | O_CREAT, 0600));
	snprintf(dir, sizeof(dir), "%s/c/file/Maildir", tmproot);
	assert_int_equal(maildir_create(dir), -1);
	umask(old);
}

/* message_fd - a temp file holding len bytes of a pattern. */
static int
message_fd(size_t len, char **data_r)
{
	char path[PATH_MAX];
	char *data;
	size_t i;
	int fd;

	data = malloc(len + 1);
	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (char)('a' + i % 26);
	snprintf(path, sizeof(path), "%s/msg.XXXXXX", tmproot);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	*data_r = data;
	return fd; /* offset at the end: the delivery must use pread */
}

static void
assert_file(const char *path, const char *data, size_t len)
{
	struct stat st;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, (off_t)len);
	assert_int_equal(st.st_mode & 0777, 0600);
	buf = malloc(len + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, len), (ssize_t)len);
	assert_memory_equal(buf, data, len);
	free(buf);
	close(fd);
}

static void
test_deliver(void **state)
{
	char d1[PATH_MAX], d2[PATH_MAX], p[PATH_MAX + 300], name[256];
	char pid[32], err[256];
	const char *dirs[2];
	char *data;
	int fd;
	size_t len = 200000; /* several copy buffers */

	(void)state;
	snprintf(d1, sizeof(d1), "%s/d/one", tmproot);
	snprintf(d2, sizeof(d2), "%s/d/two/deep/Maildir", tmproot);
	assert_int_equal(maildir_create(d1), 0);
	dirs[0] = d1;
	dirs[1] = d2; /* missing: created on the way */
	fd = message_fd(len, &data);
	assert_int_equal(
	    maildir_deliver(fd, dirs, 2, "mx/1:2", err, sizeof(err)), 0);

	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/tmp", dirs[i]);
		assert_int_equal(count_files(p, NULL, 0), 0);
		snprintf(p, sizeof(p), "%s/new", dirs[i]);
		assert_int_equal(count_files(p, name, sizeof(name)), 1);
		/* <sec>.M<usec>P<pid>Q<n>R<hex>.<host> */
		assert_true(name[0] >= '1' && name[0] <= '9');
		assert_non_null(strstr(name, ".M"));
		snprintf(pid, sizeof(pid), "P%ldQ", (long)getpid());
		assert_non_null(strstr(name, pid));
		assert_non_null(strstr(name, "R"));
		assert_non_null(strstr(name, ".mx\\0571\\0722"));
		assert_null(strchr(name, '/'));
		assert_null(strchr(name, ':'));
		snprintf(p, sizeof(p), "%s/new/%s", dirs[i], name);
		assert_file(p, data, len);
	}

	/* the same maildir twice gets two distinct files */
	dirs[1] = d1;
	assert_int_equal(
	    maildir_deliver(fd, dirs, 2, "mx", err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/new", d1);
	assert_int_equal(count_files(p, NULL, 0), 3);

	/* empty message; no maildirs at all */
	close(fd);
	free(data);
	fd = message_fd(0, &data);
	dirs[0] = d2;
	assert_int_equal(maildir_deliver(fd, dirs, 1, "", err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/new", d2);
	assert_int_equal(count_files(p, NULL, 0), 2);
	assert_int_equal(
	    maildir_deliver(fd, dirs, 0, "mx", err, sizeof(err)), 0);
	close(fd);
	free(data);
}

static void
test_all_or_nothing(void **state)
{
	char d1[PATH_MAX], d2[PATH_MAX], d3[PATH_MAX], f[PATH_MAX];
	char p[PATH_MAX + 8], err[512];
	const char *dirs[3];
	char *data;
	int fd;

	(void)state;
	snprintf(d1, sizeof(d1), "%s/r/one", tmproot);
	snprintf(d2, sizeof(d2), "%s/r/two", tmproot);
	snprintf(f, sizeof(f), "%s/r/file", tmproot);
	snprintf(d3, sizeof(d3), "%s/r/file/sub", tmproot); /* under a file */
	assert_int_equal(maildir_create(d1), 0);
	assert_int_equal(maildir_create(d2), 0);
	close(open(f, O_WRONLY | O_CREAT, 0600));
	dirs[0] = d1;
	dirs[1] = d2;
	dirs[2] = d3;
	fd = message_fd(1000, &data);
	err[0] = '\0';
	assert_int_equal(
	    maildir_deliver(fd, dirs, 3, "mx", err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	assert_non_null(strstr(err, d3));
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/new", dirs[i]);
		assert_int_equal(count_files(p, NULL, 0), 0);
		snprintf(p, sizeof(p), "%s/tmp", dirs[i]);
		assert_int_equal(count_files(p, NULL, 0), 0);
	}

	/* unreadable message (bad fd): nothing left anywhere */
	assert_int_equal(
	    maildir_deliver(-1, dirs, 2, "mx", err, sizeof(err)), -1);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/new", dirs[i]);
		assert_int_equal(count_files(p, NULL, 0), 0);
		snprintf(p, sizeof(p), "%s/tmp", dirs[i]);
		assert_int_equal(count_files(p, NULL, 0), 0);
	}
	close(fd);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_create),
	    cmocka_unit_test(test_deliver),
	    cmocka_unit_test(test_all_or_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
