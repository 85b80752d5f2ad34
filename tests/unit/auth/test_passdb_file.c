/*
 * test_passdb_file.c - the passwd-file driver on a real event_base and
 * workpool: verify (ok, wrong password, unknown user, disabled, malformed),
 * lookup, exists, reload (explicit and on change), a full pool queue.
 * Every callback must run later on the loop thread, never inside the call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "auth/passdb.h"
#include "core/log.h"
#include "core/secret.h"
#include "net/workpool.h"

/* "pencil", from mkpasswd and the argon2 CLI (see test_scheme.c) */
/* clang-format off */
#define SHA512_PENCIL "$6$saltsaltsaltsalt$TC.srYZRdhUNd1hUaX8BXmGPkCpq7TP8IIfBuwlVqWVsOskMwYShHaSiuvPe57wq5SGBJgI8u2TksJeC/Zaz50"
#define ARGON2ID_PENCIL "$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$d97s+59c/gAr1FV95tAccTHyGby7QevFajax8FRca98"
/* RFC 7677 §3 keys for "pencil"; CRAM-MD5 context of "pencil" */
#define SCRAM256_PENCIL "4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define CRAM_PENCIL "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* clang-format on */

static const char users[] =
    "# test users\n"
    "alice:{SHA512-CRYPT}" SHA512_PENCIL "\n"
    "Bob:" ARGON2ID_PENCIL ":1000:1000::/home/bob:/bin/false:\n"
    "carol:{PLAIN}pencil::::::nologin\n"
    "dave:{PLAIN}pencil::::::quota=1G disabled=y\n"
    "erin:{NOPE}xyz\n"
    "frank:{PLAIN}pencil::::::disabled=n\n"
    "grace:" ARGON2ID_PENCIL "::::::quota=1G scram-sha-256=" SCRAM256_PENCIL
    " CRAM-MD5={CRAM-MD5}" CRAM_PENCIL " scram-sha-1=4096,broken\n"
    "henry:{SCRAM-SHA-256}" SCRAM256_PENCIL "\n"
    "ivan:{PLAIN}pencil::::::cram-md5={SCRAM-SHA-1}x scram-sha-256=\n"
    "alice:{PLAIN}duplicate\n";

struct fixture {
	char dir[64];
	char path[128];
	struct event_base *base;
	struct workpool *pool;
	struct passdb *db;
	pthread_t loop_thread;
};

struct result {
	struct fixture *f;
	int called;
	int returned; /* the call had returned when cb ran */
	int on_loop;
	enum passdb_status status;
	char user[256];
	char scheme[64];
	char secret[512];
	unsigned int flags;
};

static void
write_users(const char *path, const char *text)
{
	char tmp[256];
	FILE *fp;

	/* rename, as an editor or userfile_save would: a new inode */
	(void)snprintf(tmp, sizeof(tmp), "%s.new", path);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	log_init("test", LOG_LEVEL_WARN);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/postern-pf-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	(void)snprintf(f->path, sizeof(f->path), "%s/users", f->dir);
	write_users(f->path, users);
	f->base = event_base_new();
	if (f->base == NULL)
		return -1;
	f->pool = workpool_new(f->base, 2, 64);
	if (f->pool == NULL)
		return -1;
	f->db = passdb_open(
	    "passwd-file", f->path, f->base, f->pool, err, sizeof(err));
	if (f->db == NULL) {
		print_error("passdb_open: %s\n", err);
		return -1;
	}
	f->loop_thread = pthread_self();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[256];

	passdb_close(f->db);
	workpool_free(f->pool);
	event_base_free(f->base);
	(void)unlink(f->path);
	(void)snprintf(p, sizeof(p), "%s.new", f->path);
	(void)unlink(p);
	(void)rmdir(f->dir);
	free(f);
	return 0;
}

static void
on_result(const struct cred_result *r, void *arg)
{
	struct result *res = arg;

	res->called++;
	res->on_loop = pthread_equal(pthread_self(), res->f->loop_thread);
	res->status = r->status;
	(void)snprintf(
	    res->user, sizeof(res->user), "%s", r->user != NULL ? r->user : "");
	(void)snprintf(res->scheme, sizeof(res->scheme), "%s",
	    r->scheme != NULL ? r->scheme : "");
	if (r->secret != NULL)
		(void)snprintf(res->secret, sizeof(res->secret), "%.*s",
		    (int)r->secret->len, (const char *)r->secret->data);
	res->flags = r->flags;
	(void)event_base_loopbreak(res->f->base);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)event_base_loopbreak(arg);
}

/* wait_for - run the loop until res has its answer (10 s at most). */
static void
wait_for(struct fixture *f, struct result *res)
{
	struct timeval tv = {10, 0};
	struct event *t = evtimer_new(f->base, on_timeout, f->base);

	assert_non_null(t);
	assert_int_equal(evtimer_add(t, &tv), 0);
	while (res->called == 0) {
		assert_int_equal(event_base_dispatch(f->base) < 0, 0);
		if (res->called == 0 && !evtimer_pending(t, NULL))
			fail_msg("no answer within 10 s");
	}
	event_free(t);
	assert_int_equal(res->called, 1);
	assert_true(res->returned);
	assert_true(res->on_loop);
}

static void
do_verify(
    struct fixture *f, const char *user, const char *pw, struct result *res)
{
	struct secret *s = secret_new(pw, strlen(pw));

	assert_non_null(s);
	memset(res, 0, sizeof(*res));
	res->f = f;
	passdb_verify(f->db, user, s, on_result, res);
	secret_free(s); /* the driver keeps its own copy */
	assert_int_equal(res->called, 0);
	res->returned = 1;
	wait_for(f, res);
}

static void
test_verify(void **state)
{
	static const struct {
		const char *user;
		const char *pw;
		enum passdb_status want;
		const char *canon;
	} cases[] = {
	    {"alice", "pencil", PASSDB_OK, "alice"},
	    {"ALICE", "pencil", PASSDB_OK, "alice"},
	    {"alice", "Pencil", PASSDB_MISMATCH, "alice"},
	    {"alice", "", PASSDB_MISMATCH, "alice"},
	    {"bob", "pencil", PASSDB_OK, "Bob"},
	    {"bob", "pencil2", PASSDB_MISMATCH, "Bob"},
	    {"nobody", "pencil", PASSDB_NO_USER, "nobody"},
	    {"carol", "pencil", PASSDB_DISABLED, "carol"},
	    {"carol", "wrong", PASSDB_MISMATCH, "carol"},
	    {"dave", "pencil", PASSDB_DISABLED, "dave"},
	    {"dave", "wrong", PASSDB_MISMATCH, "dave"},
	    {"erin", "xyz", PASSDB_MISMATCH, "erin"},
	    {"frank", "pencil", PASSDB_OK, "frank"},
	    /* a user with only SCRAM keys can still use PLAIN */
	    {"henry", "pencil", PASSDB_OK, "henry"},
	    {"henry", "pencil2", PASSDB_MISMATCH, "henry"},
	    /* extra credentials never replace the main password for PLAIN */
	    {"grace", "pencil", PASSDB_OK, "grace"},
	};
	struct fixture *f = *state;
	struct result res;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		do_verify(f, cases[i].user, cases[i].pw, &res);
		if (res.status != cases[i].want)
			fail_msg("%s/%s: got %d want %d", cases[i].user,
			    cases[i].pw, res.status, cases[i].want);
		assert_string_equal(res.user, cases[i].canon);
	}
}

/* several in flight at once, answered in any order */
static void
test_verify_concurrent(void **state)
{
	struct fixture *f = *state;
	struct result res[8];
	struct secret *good = secret_new("pencil", 6);
	struct timeval tv = {10, 0};
	int i, total;

	assert_non_null(good);
	for (i = 0; i < 8; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].f = f;
		res[i].returned = 1;
		passdb_verify(
		    f->db, i % 2 ? "bob" : "nobody", good, on_result, &res[i]);
	}
	secret_free(good);
	(void)event_base_loopexit(f->base, &tv);
	for (;;) {
		total = 0;
		for (i = 0; i < 8; i++)
			total += res[i].called;
		if (total == 8 || event_base_dispatch(f->base) < 0)
			break;
		if (event_base_got_exit(f->base))
			break;
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(res[i].called, 1);
		assert_int_equal(
		    res[i].status, i % 2 ? PASSDB_OK : PASSDB_NO_USER);
	}
	assert_int_equal(workpool_pending(f->pool), 0);
}

static void
do_lookup(
    struct fixture *f, const char *user, const char *scheme, struct result *res)
{
	memset(res, 0, sizeof(*res));
	res->f = f;
	passdb_lookup(f->db, user, scheme, on_result, res);
	assert_int_equal(res->called, 0);
	res->returned = 1;
	wait_for(f, res);
}

static void
test_lookup(void **state)
{
	struct fixture *f = *state;
	struct result res;

	do_lookup(f, "Alice", "SHA512-CRYPT", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.user, "alice");
	assert_string_equal(res.scheme, "SHA512-CRYPT");
	assert_string_equal(res.secret, SHA512_PENCIL);
	assert_int_equal(res.flags, 0);

	do_lookup(f, "bob", "argon2id", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.secret, ARGON2ID_PENCIL);

	do_lookup(f, "alice", "SCRAM-SHA-256", &res);
	assert_int_equal(res.status, PASSDB_NO_SCHEME);
	assert_string_equal(res.secret, "");

	do_lookup(f, "nobody", "PLAIN", &res);
	assert_int_equal(res.status, PASSDB_NO_USER);

	/* disabled is a flag here: the mechanism fails after the proof */
	do_lookup(f, "carol", "PLAIN", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.secret, "pencil");
	assert_true(res.flags & CRED_DISABLED);

	do_lookup(f, "erin", "NOPE", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.secret, "xyz");
}

/* Credentials kept in the extra fields beside the main password. */
static void
test_lookup_extra(void **state)
{
	struct fixture *f = *state;
	struct result res;

	do_lookup(f, "grace", "SCRAM-SHA-256", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.scheme, "SCRAM-SHA-256");
	assert_string_equal(res.secret, SCRAM256_PENCIL);
	/* key in any case, "{NAME}" prefix stripped */
	do_lookup(f, "GRACE", "cram-md5", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.user, "grace");
	assert_string_equal(res.secret, CRAM_PENCIL);
	/* a malformed record is returned as is: the mechanism rejects it */
	do_lookup(f, "grace", "SCRAM-SHA-1", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.secret, "4096,broken");
	/* the main password still answers for its own scheme */
	do_lookup(f, "grace", "ARGON2ID", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.secret, ARGON2ID_PENCIL);
	do_lookup(f, "grace", "PLAIN", &res);
	assert_int_equal(res.status, PASSDB_NO_SCHEME);
	/* a SCRAM main password */
	do_lookup(f, "henry", "SCRAM-SHA-256", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.secret, SCRAM256_PENCIL);
	do_lookup(f, "henry", "CRAM-MD5", &res);
	assert_int_equal(res.status, PASSDB_NO_SCHEME);
	/* a prefix naming another scheme, an empty value: not credentials */
	do_lookup(f, "ivan", "CRAM-MD5", &res);
	assert_int_equal(res.status, PASSDB_NO_SCHEME);
	do_lookup(f, "ivan", "SCRAM-SHA-256", &res);
	assert_int_equal(res.status, PASSDB_NO_SCHEME);
}

static void
do_exists(struct fixture *f, const char *user, struct result *res)
{
	memset(res, 0, sizeof(*res));
	res->f = f;
	passdb_exists(f->db, user, on_result, res);
	assert_int_equal(res->called, 0);
	res->returned = 1;
	wait_for(f, res);
}

static void
test_exists(void **state)
{
	struct fixture *f = *state;
	struct result res;

	do_exists(f, "FRANK", &res);
	assert_int_equal(res.status, PASSDB_OK);
	assert_string_equal(res.user, "frank");
	do_exists(f, "nobody", &res);
	assert_int_equal(res.status, PASSDB_NO_USER);
	do_exists(f, "", &res);
	assert_int_equal(res.status, PASSDB_NO_USER);
}

static void
test_reload(void **state)
{
	struct fixture *f = *state;
	struct result res;
	char err[256];

	/* explicit reload */
	write_users(f->path, "gina:{PLAIN}pencil\n");
	assert_int_equal(passdb_reload(f->db, err, sizeof(err)), 0);
	do_verify(f, "gina", "pencil", &res);
	assert_int_equal(res.status, PASSDB_OK);
	do_verify(f, "alice", "pencil", &res);
	assert_int_equal(res.status, PASSDB_NO_USER);

	/* a broken file keeps the old users */
	write_users(f->path, "gina:{PLAIN}pencil\nbroken line\n");
	assert_int_equal(passdb_reload(f->db, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: "));
	do_verify(f, "gina", "pencil", &res);
	assert_int_equal(res.status, PASSDB_OK);

	/* a changed file is picked up at the next request (stat once a second) */
	write_users(f->path, "hank:{PLAIN}pencil\n");
	usleep(1100 * 1000);
	do_verify(f, "hank", "pencil", &res);
	assert_int_equal(res.status, PASSDB_OK);
	do_verify(f, "gina", "pencil", &res);
	assert_int_equal(res.status, PASSDB_NO_USER);

	/* ... and a broken change keeps what was loaded */
	write_users(f->path, "ivy\n");
	usleep(1100 * 1000);
	do_verify(f, "hank", "pencil", &res);
	assert_int_equal(res.status, PASSDB_OK);
}

static sem_t release;
static atomic_int blocker_running;

static void
blocker(void *arg)
{
	atomic_store(&blocker_running, 1);
	while (sem_wait(&release) != 0)
		;
}

static void
nothing(void *arg)
{
}

/* a full pool queue is a temporary failure, still answered later */
static void
test_queue_full(void **state)
{
	struct fixture *f = *state;
	struct workpool *small;
	struct passdb *db;
	struct result res;
	struct secret *s = secret_new("pencil", 6);
	char err[256];

	assert_int_equal(sem_init(&release, 0, 0), 0);
	small = workpool_new(f->base, 1, 1);
	assert_non_null(small);
	db = passdb_open(
	    "passwd-file", f->path, f->base, small, err, sizeof(err));
	assert_non_null(db);

	assert_int_equal(workpool_submit(small, blocker, nothing, NULL), 0);
	while (!atomic_load(&blocker_running))
		usleep(1000);
	assert_int_equal(workpool_submit(small, nothing, nothing, NULL), 0);
	assert_int_equal(workpool_submit(small, nothing, nothing, NULL), -1);

	memset(&res, 0, sizeof(res));
	res.f = f;
	passdb_verify(db, "alice", s, on_result, &res);
	assert_int_equal(res.called, 0);
	res.returned = 1;
	wait_for(f, &res);
	assert_int_equal(res.status, PASSDB_TEMPFAIL);

	assert_int_equal(sem_post(&release), 0);
	passdb_close(db);
	workpool_free(small); /* joins, runs the remaining done() */
	assert_int_equal(sem_destroy(&release), 0);
	secret_free(s);
}

static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	char err[256], path[256];

	assert_null(
	    passdb_open("nope", f->path, f->base, f->pool, err, sizeof(err)));
	assert_non_null(strstr(err, "nope"));
	(void)snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_null(passdb_open(
	    "passwd-file", path, f->base, f->pool, err, sizeof(err)));
	assert_null(
	    passdb_open("passwd-file", "", f->base, f->pool, err, sizeof(err)));
	write_users(f->path, "no colon here\n");
	assert_null(passdb_open(
	    "passwd-file", f->path, f->base, f->pool, err, sizeof(err)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_verify_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_extra, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
