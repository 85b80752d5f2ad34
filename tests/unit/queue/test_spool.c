/*
 * test_spool.c - the spool's commit protocol with fault injection: a commit
 * stopped after each step, then crash recovery, must leave either nothing
 * (not acknowledged) or the complete message; concurrent commits sharing
 * directory fsyncs; rewrite, removal, listing, id collisions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/envelope.h"
#include "queue/spool.h"
#include "testutil.h"

static char root[128];

static int
setup(void **state)
{
	char err[256];

	(void)state;
	strcpy(root, "/tmp/postern-spool-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	return spool_init(root, err, sizeof(err));
}

static int
teardown(void **state)
{
	(void)state;
	spool_test_crash_after(0);
	test_rm_tree(root);
	return 0;
}

static int
count(const char *sub)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", root, sub);
	d = opendir(p);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
exists(const char *sub, const char *id)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s/%s", root, sub, id);
	return access(p, F_OK) == 0;
}

/* new_msg - tmp/<id> with a body, like the worker's DATA; returns the fd. */
static int
new_msg(const char *id, struct envelope *e)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/tmp/%s", root, id);
	fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "Subject: x\r\n\r\nhi\r\n", 18), 18);
	env_init(e);
	strcpy(e->id, id);
	e->arrival = 1;
	strcpy(e->mail_from, "a@b");
	assert_non_null(env_add_rcpt(e, "c@d", NULL));
	return fd;
}

static void
test_commit(void **state)
{
	struct envelope e, back;
	char err[256];
	int fd;

	(void)state;
	fd = new_msg("AAA1", &e);
	if (spool_commit(root, "AAA1", fd, &e, err, sizeof(err)) != 0)
		fail_msg("commit: %s", err);
	close(fd);
	assert_true(exists("msg", "AAA1"));
	assert_true(exists("env", "AAA1"));
	assert_false(exists("tmp", "AAA1"));
	assert_false(exists("tmp", "AAA1.env"));
	assert_int_equal(
	    spool_env_load(root, "AAA1", &back, err, sizeof(err)), 0);
	assert_string_equal(back.mail_from, "a@b");
	/* rewrite */
	back.rcpts[0].attempts = 7;
	assert_int_equal(spool_env_write(root, &back, err, sizeof(err)), 0);
	env_free(&back);
	assert_int_equal(
	    spool_env_load(root, "AAA1", &back, err, sizeof(err)), 0);
	assert_int_equal(back.rcpts[0].attempts, 7);
	assert_int_equal(count("tmp"), 0);
	fd = spool_msg_open(root, "AAA1");
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(spool_msg_open(root, "../x"), -1);
	/* the same id again must not replace the queued message */
	env_free(&e);
	fd = new_msg("AAA1", &e);
	assert_int_equal(
	    spool_commit(root, "AAA1", fd, &e, err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	close(fd);
	assert_true(exists("env", "AAA1"));
	assert_false(exists("tmp", "AAA1.env"));
	/* remove */
	assert_int_equal(spool_remove(root, "AAA1"), 0);
	assert_false(exists("msg", "AAA1"));
	assert_false(exists("env", "AAA1"));
	env_free(&back);
	env_free(&e);
}

/* Stopped after step n, then recovered as at server start. */
static void
test_crash_steps(void **state)
{
	int step;

	(void)state;
	for (step = 1; step <= 5; step++) {
		struct envelope e;
		struct spool_recovery rec;
		char id[16], err[256];
		int fd;

		snprintf(id, sizeof(id), "CRASH%d", step);
		fd = new_msg(id, &e);
		spool_test_crash_after(step);
		assert_int_equal(
		    spool_commit(root, id, fd, &e, err, sizeof(err)), -1);
		spool_test_crash_after(0);
		close(fd);
		env_free(&e);
		assert_int_equal(spool_recover(root, 1, 0, &rec), 0);
		assert_int_equal(count("tmp"), 0);
		if (step < 5) {
			/* never acknowledged: nothing of it may stay */
			assert_false(exists("msg", id));
			assert_false(exists("env", id));
			assert_int_equal(rec.orphans_removed, step >= 3);
		} else {
			/* the envelope is in env/: committed, keep it whole */
			assert_true(exists("msg", id));
			assert_true(exists("env", id));
			assert_int_equal(rec.orphans_removed, 0);
			assert_int_equal(spool_remove(root, id), 0);
		}
		assert_int_equal(rec.damaged, 0);
	}
}

static void
test_recover_young_and_damaged(void **state)
{
	struct envelope e;
	struct spool_recovery rec;
	char err[256], p[PATH_MAX];
	int fd;

	(void)state;
	/* a commit in flight (msg/ without env/, just now) survives min_age */
	fd = new_msg("YOUNG", &e);
	spool_test_crash_after(3);
	assert_int_equal(
	    spool_commit(root, "YOUNG", fd, &e, err, sizeof(err)), -1);
	spool_test_crash_after(0);
	close(fd);
	env_free(&e);
	assert_int_equal(spool_recover(root, 0, 3600, &rec), 0);
	assert_true(exists("msg", "YOUNG"));
	assert_true(exists("tmp", "YOUNG.env"));
	/* env/ without msg/ goes to corrupt/ */
	snprintf(p, sizeof(p), "%s/env/LOST", root);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(spool_recover(root, 1, 0, &rec), 0);
	assert_int_equal(rec.damaged, 1);
	assert_int_equal(rec.orphans_removed, 1);
	assert_true(exists("corrupt", "LOST"));
	assert_false(exists("env", "LOST"));
	assert_false(exists("msg", "YOUNG"));
}

#define THREADS    8
#define PER_THREAD 40

static void *
committer(void *arg)
{
	int t = (int)(intptr_t)arg, i;

	for (i = 0; i < PER_THREAD; i++) {
		struct envelope e;
		char id[32], err[256], p[PATH_MAX];
		int fd;

		snprintf(id, sizeof(id), "T%dN%d", t, i);
		snprintf(p, sizeof(p), "%s/tmp/%s", root, id);
		fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || write(fd, "x\r\n", 3) != 3)
			return (void *)1;
		env_init(&e);
		strcpy(e.id, id);
		if (env_add_rcpt(&e, "c@d", NULL) == NULL ||
		    spool_commit(root, id, fd, &e, err, sizeof(err)) != 0)
			return (void *)1;
		close(fd);
		env_free(&e);
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	pthread_t th[THREADS];
	char(*ids)[ENV_ID_MAX];
	size_t n;
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, committer,
		                     (void *)(intptr_t)i),
		    0);
	for (i = 0; i < THREADS; i++) {
		void *rv;

		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	assert_int_equal(count("msg"), THREADS * PER_THREAD);
	assert_int_equal(count("env"), THREADS * PER_THREAD);
	assert_int_equal(count("tmp"), 0);
	assert_int_equal(spool_list(root, &ids, &n), 0);
	assert_int_equal(n, THREADS * PER_THREAD);
	free(ids);
}

static void
test_create_and_space(void **state)
{
	char id[ENV_ID_MAX];
	int fd;

	(void)state;
	fd = spool_create(root, id, sizeof(id));
	assert_true(fd >= 0);
	assert_true(env_valid_id(id));
	assert_true(exists("tmp", id));
	close(fd);
	assert_int_equal(spool_space_ok(root, 1, 0), 1);
	assert_int_equal(spool_space_ok(root, 1ULL << 62, 0), 0);
	assert_int_equal(spool_space_ok(root, 1, ~0ULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_steps, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_recover_young_and_damaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_create_and_space, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
