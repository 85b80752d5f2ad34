/*
 * test_userfile.c - the passwd-file reader and atomic writer, on temp files.
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
#include <dirent.h>

#include <cmocka.h>

#include "auth/userfile.h"

struct tmpdir {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	(void)snprintf(t->dir, sizeof(t->dir), "/tmp/postern-uf-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	(void)snprintf(t->path, sizeof(t->path), "%s/users", t->dir);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tmpdir *t = *state;
	struct dirent *de;
	char p[512];
	DIR *d;

	d = opendir(t->dir);
	if (d != NULL) {
		for (de = readdir(d); de != NULL; de = readdir(d)) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			(void)snprintf(
			    p, sizeof(p), "%s/%s", t->dir, de->d_name);
			(void)unlink(p);
		}
		(void)closedir(d);
	}
	(void)rmdir(t->dir);
	free(t);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

static char *
read_file(const char *path)
{
	static char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	(void)fclose(fp);
	return buf;
}

static const char sample[] =
    "# Postern users\n"
    "\n"
    "alice:{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=1$c2FsdA$aGFzaA\n"
    "bob@example.org:{PLAIN}pw:1000:1000::/home/bob::nologin\n"
    "   # indented comment\n"
    "carol:$6$salt$hash:\n"
    "dave:\r\n";

static void
test_load(void **state)
{
	struct tmpdir *t = *state;
	struct userfile uf;
	struct userfile_line *l;
	char err[256];

	write_file(t->path, sample);
	assert_int_equal(userfile_load(t->path, &uf, err, sizeof(err)), 0);
	assert_int_equal(uf.n, 7);
	assert_string_equal(uf.lines[0].raw, "# Postern users");
	assert_string_equal(uf.lines[1].raw, "");
	assert_null(uf.lines[2].raw);
	assert_string_equal(uf.lines[2].user, "alice");
	assert_string_equal(uf.lines[2].password,
	    "{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=1$c2FsdA$aGFzaA");
	assert_string_equal(uf.lines[2].rest, "");
	assert_int_equal(uf.lines[2].lineno, 3);
	assert_string_equal(uf.lines[3].rest, "1000:1000::/home/bob::nologin");
	assert_string_equal(uf.lines[4].raw, "   # indented comment");
	assert_string_equal(uf.lines[5].password, "$6$salt$hash");
	assert_string_equal(uf.lines[5].rest, "");
	assert_string_equal(uf.lines[6].user, "dave");
	assert_string_equal(uf.lines[6].password, "");

	l = userfile_find(&uf, "ALICE");
	assert_non_null(l);
	assert_string_equal(l->user, "alice");
	assert_non_null(userfile_find(&uf, "Bob@Example.ORG"));
	assert_null(userfile_find(&uf, "eve"));
	assert_null(userfile_find(&uf, "# Postern users"));
	userfile_free(&uf);
	assert_int_equal(uf.n, 0);
	assert_null(uf.lines);
}

static void
test_missing_is_empty(void **state)
{
	struct tmpdir *t = *state;
	struct userfile uf;
	char err[256];

	assert_int_equal(userfile_load(t->path, &uf, err, sizeof(err)), 0);
	assert_int_equal(uf.n, 0);
	userfile_free(&uf);
}

static void
test_load_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* suffix of the message after path */
	} cases[] = {
	    {"alice\n", ":1: missing ':' after the user name"},
	    {"# ok\nbad user:x\n", ":2: invalid user name"},
	    {":x\n", ":1: invalid user name"},
	    {"a\tb:x\n", ":1: invalid user name"},
	};
	struct tmpdir *t = *state;
	struct userfile uf;
	char err[256], want[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(t->path, cases[i].text);
		assert_int_equal(
		    userfile_load(t->path, &uf, err, sizeof(err)), -1);
		(void)snprintf(
		    want, sizeof(want), "%s%s", t->path, cases[i].want);
		assert_string_equal(err, want);
		assert_int_equal(uf.n, 0);
	}

	/* a NUL byte inside a line */
	{
		FILE *fp = fopen(t->path, "w");

		assert_non_null(fp);
		assert_int_equal(fwrite("a:b\0c\n", 1, 6, fp), 6);
		assert_int_equal(fclose(fp), 0);
	}
	assert_int_equal(userfile_load(t->path, &uf, err, sizeof(err)), -1);

	/* a directory is not a file */
	assert_int_equal(userfile_load(t->dir, &uf, err, sizeof(err)), -1);
}

static void
test_valid_name(void **state)
{
	static const struct {
		const char *name;
		int want;
	} cases[] = {
	    {"alice", 1},
	    {"alice@example.org", 1},
	    {"j\xc3\xb6rg", 1},
	    {"", 0},
	    {"a:b", 0},
	    {"a b", 0},
	    {"a\tb", 0},
	    {"a\nb", 0},
	    {"a\x7f", 0},
	};
	char longname[300];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
		    userfile_valid_name(cases[i].name), cases[i].want);
	memset(longname, 'a', 255);
	longname[255] = '\0';
	assert_int_equal(userfile_valid_name(longname), 1);
	longname[255] = 'a';
	longname[256] = '\0';
	assert_int_equal(userfile_valid_name(longname), 0);
	assert_int_equal(userfile_valid_name(NULL), 0);
}

/* set, del and save keep comments, order and other fields. */
static void
test_edit_and_save(void **state)
{
	struct tmpdir *t = *state;
	struct userfile uf;
	struct stat sb;
	char err[256];

	write_file(t->path, sample);
	assert_int_equal(chmod(t->path, 0644), 0);
	assert_int_equal(userfile_load(t->path, &uf, err, sizeof(err)), 0);

	assert_int_equal(userfile_set(&uf, "BOB@example.org", "{PLAIN}new"), 0);
	assert_int_equal(userfile_set(&uf, "erin", "{PLAIN}e"), 0);
	assert_int_equal(userfile_del(&uf, "carol"), 0);
	assert_int_equal(userfile_del(&uf, "carol"), -1);
	assert_int_equal(userfile_set(&uf, "bad name", "x"), -1);
	assert_int_equal(userfile_set(&uf, "frank", "a:b"), -1);
	assert_int_equal(userfile_set(&uf, "frank", "a\nb"), -1);
	assert_int_equal(userfile_set(&uf, "frank", NULL), -1);

	assert_int_equal(userfile_save(t->path, &uf, err, sizeof(err)), 0);
	userfile_free(&uf);

	assert_string_equal(read_file(t->path),
	    "# Postern users\n"
	    "\n"
	    "alice:{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=1$c2FsdA$aGFzaA\n"
	    "bob@example.org:{PLAIN}new:1000:1000::/home/bob::nologin\n"
	    "   # indented comment\n"
	    "dave:\n"
	    "erin:{PLAIN}e\n");
	assert_int_equal(stat(t->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* what was saved loads again */
	assert_int_equal(userfile_load(t->path, &uf, err, sizeof(err)), 0);
	assert_int_equal(uf.n, 7);
	assert_string_equal(userfile_find(&uf, "erin")->password, "{PLAIN}e");
	userfile_free(&uf);
}

/* save into a fresh file, and into a directory that does not exist */
static void
test_save_new_and_fail(void **state)
{
	struct tmpdir *t = *state;
	struct userfile uf;
	char err[256], bad[256];
	DIR *d;
	struct dirent *de;
	int n = 0;

	memset(&uf, 0, sizeof(uf));
	assert_int_equal(userfile_set(&uf, "alice", "{PLAIN}a"), 0);
	assert_int_equal(userfile_save(t->path, &uf, err, sizeof(err)), 0);
	assert_string_equal(read_file(t->path), "alice:{PLAIN}a\n");

	(void)snprintf(bad, sizeof(bad), "%s/nodir/users", t->dir);
	assert_int_equal(userfile_save(bad, &uf, err, sizeof(err)), -1);
	userfile_free(&uf);

	/* no temp files left behind */
	d = opendir(t->dir);
	assert_non_null(d);
	for (de = readdir(d); de != NULL; de = readdir(d)) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
	}
	(void)closedir(d);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_missing_is_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
	    cmocka_unit_test(test_valid_name),
	    cmocka_unit_test_setup_teardown(
	        test_edit_and_save, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_save_new_and_fail, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
