/*
 * test_passdb_sqlite.c - the sqlite driver and what passdb_stack.c puts
 * around it, on a real event_base and workpool with a temp database:
 * verify (ok, wrong, unknown, disabled, app password with its profile),
 * lookup (SCRAM keys), exists (aliases), the auth cache and its flush when
 * the file changes, a credential refused outside its network, the upgrade
 * to SCRAM + default hash after PLAIN over TLS, the backend timeout (a
 * locked database answers TEMPFAIL in time), and a chain of two passdbs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "auth/cache.h"
#include "auth/passdb.h"
#include "auth/passdb_sqlite.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "net/workpool.h"

/* clang-format off */
#define SHA512_PENCIL "{SHA512-CRYPT}$6$saltsaltsaltsalt$TC.srYZRdhUNd1hUaX8BXmGPkCpq7TP8IIfBuwlVqWVsOskMwYShHaSiuvPe57wq5SGBJgI8u2TksJeC/Zaz50"
#define ARGON2ID_PENCIL "{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$d97s+59c/gAr1FV95tAccTHyGby7QevFajax8FRca98"
#define SSHA512_PENCIL "{SSHA512}0SVlkXhn603iHEmcCyoV63T7awFF/bRIuilxmSBV0cujZP+/ENbWLDUuntFIqnJP0IRgKyBplVyvpRqgjCCzMoSFRSA="
#define SCRAM_KEYS "4096,uRLuOMgPHX9xUk44nSWFhw==,t7DPnVHHsvcHZgCUuRjAHwlQkiHXq6tjycxUlhFTfsI=,jlG6+a2QkRiqV4/D9Cz00UCfDKO8GIi3TY97Y2Ln3lc="
/* clang-format on */

struct fixture {
	char dir[64];
	char path[128];
	char path2[128];
	struct event_base *base;
	struct workpool *pool;
	struct config *cfg;
};

struct result {
	int called;
	enum passdb_status status;
	unsigned int flags;
	char user[256];
	char credential[64];
	char networks[128];
	char secret[512];
	char sender1[256];
};

static void
answer(const struct cred_result *r, void *arg)
{
	struct result *res = arg;

	res->called++;
	res->status = r->status;
	res->flags = r->flags;
	snprintf(res->user, sizeof(res->user), "%s", r->user ? r->user : "");
	snprintf(res->credential, sizeof(res->credential), "%s",
	    r->credential ? r->credential : "");
	snprintf(res->networks, sizeof(res->networks), "%s",
	    r->networks ? r->networks : "");
	snprintf(res->secret, sizeof(res->secret), "%s",
	    r->secret ? (const char *)r->secret->data : "");
	snprintf(res->sender1, sizeof(res->sender1), "%s",
	    r->senders && r->senders[0] && r->senders[1] ? r->senders[1] : "");
}

static void
wait_for(struct fixture *f, struct result *res)
{
	time_t end = time(NULL) + 30;

	while (!res->called && time(NULL) < end)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(res->called, 1);
}

static void
settle(struct fixture *f, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static void
make_db(const char *path)
{
	char err[256];
	struct sqlite3 *h = sqlite_users_open(path, 1, err, sizeof(err));

	if (h == NULL)
		fail_msg("open: %s", err);
	assert_int_equal(sqlite_users_add(h, "alice@example.org", SHA512_PENCIL,
	                     NULL, err, sizeof(err)),
	    0);
	assert_int_equal(sqlite_users_add(h, "Bob@example.org", ARGON2ID_PENCIL,
	                     SCRAM_KEYS, err, sizeof(err)),
	    0);
	assert_int_equal(sqlite_users_add(h, "dave@example.org",
	                     ARGON2ID_PENCIL, NULL, err, sizeof(err)),
	    0);
	assert_int_equal(
	    sqlite_users_add(h, "bob@example.org", "x", NULL, err, sizeof(err)),
	    -2);
	assert_int_equal(sqlite_users_set_flag(h, "dave@example.org",
	                     "disabled", 1, err, sizeof(err)),
	    0);
	assert_int_equal(sqlite_users_alias(h, "bob@example.org",
	                     "robert@example.org", 1, err, sizeof(err)),
	    0);
	assert_int_equal(
	    sqlite_apppass_add(h, "bob@example.org", "printer",
	        SSHA512_PENCIL "x", NULL, NULL, 0, NULL, err, sizeof(err)),
	    0);
	sqlite_users_close(h);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	log_init("test", LOG_LEVEL_WARN);
	snprintf(f->dir, sizeof(f->dir), "/tmp/postern-sq-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/users.db", f->dir);
	snprintf(f->path2, sizeof(f->path2), "%s/more.db", f->dir);
	make_db(f->path);
	f->base = event_base_new();
	f->pool = workpool_new(f->base, 2, 64);
	f->cfg = calloc(1, sizeof(*f->cfg));
	if (f->base == NULL || f->pool == NULL || f->cfg == NULL)
		return -1;
	config_defaults(f->cfg);
	f->cfg->npassdbs = 1;
	strcpy(f->cfg->passdbs[0].driver, "sqlite");
	strcpy(f->cfg->passdbs[0].arg, f->path);
	strcpy(f->cfg->passdb_driver, "sqlite");
	strcpy(f->cfg->passdb_path, f->path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[256];

	workpool_free(f->pool);
	event_base_free(f->base);
	unlink(f->path);
	unlink(f->path2);
	snprintf(p, sizeof(p), "%s-journal", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f->cfg);
	free(f);
	return 0;
}

static struct passdb *
open_db(struct fixture *f)
{
	char err[512];
	struct passdb *db =
	    passdb_open_config(f->cfg, f->base, f->pool, err, sizeof(err));

	if (db == NULL)
		fail_msg("passdb_open_config: %s", err);
	return db;
}

static void
verify(struct fixture *f, struct passdb *db, const char *user, const char *pass,
    const char *client, int tls, struct result *res)
{
	struct secret *p = secret_new(pass, strlen(pass));
	struct passdb_request req = {
	    .user = user,
	    .password = p,
	    .client_addr = client,
	    .mech = "PLAIN",
	    .tls = tls,
	};

	memset(res, 0, sizeof(*res));
	passdb_verify_req(db, &req, answer, res);
	assert_int_equal(res->called, 0); /* never inside the call */
	secret_free(p);
	wait_for(f, res);
}

static void
test_verify(void **state)
{
	struct fixture *f = *state;
	struct passdb *db;
	struct result r;

	f->cfg->auth_cache_size = 0; /* the driver itself */
	db = open_db(f);
	verify(f, db, "ALICE@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_OK);
	assert_string_equal(r.user, "alice@example.org");
	assert_true(r.flags & CRED_NO_SCRAM);
	assert_true(r.flags & CRED_WRITABLE);
	verify(f, db, "alice@example.org", "crayon", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_MISMATCH);
	verify(f, db, "nobody@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_NO_USER);
	verify(f, db, "dave@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_DISABLED);
	verify(f, db, "bob@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_OK);
	assert_false(r.flags & CRED_NO_SCRAM);
	assert_string_equal(r.sender1, "robert@example.org");
	passdb_close(db);
}

static void
test_app_passwords(void **state)
{
	struct fixture *f = *state;
	struct sqlite3 *h;
	struct passdb *db;
	struct result r;
	char err[256];

	h = sqlite_users_open(f->path, 0, err, sizeof(err));
	assert_non_null(h);
	assert_int_equal(
	    sqlite_apppass_add(h, "alice@example.org", "phone", SSHA512_PENCIL,
	        "192.0.2.0/24", "phone@example.org", 20, "TLSv1", err,
	        sizeof(err)),
	    0);
	assert_int_equal(
	    sqlite_apppass_add(h, "alice@example.org", "phone", SSHA512_PENCIL,
	        NULL, NULL, 0, NULL, err, sizeof(err)),
	    -3);
	assert_int_equal(sqlite_users_set_password(h, "alice@example.org",
	                     "{SHA512-CRYPT}$6$x$y", NULL, err, sizeof(err)),
	    0);
	sqlite_users_close(h);

	db = open_db(f);
	verify(f, db, "alice@example.org", "pencil", "192.0.2.9", 1, &r);
	assert_int_equal(r.status, PASSDB_OK);
	assert_true(r.flags & CRED_APP_PASSWORD);
	assert_string_equal(r.credential, "phone");
	assert_string_equal(r.networks, "192.0.2.0/24");
	/* outside its network: refused, also when answered from the cache */
	verify(f, db, "alice@example.org", "pencil", "198.51.100.1", 1, &r);
	assert_int_equal(r.status, PASSDB_MISMATCH);
	assert_true(r.flags & CRED_CACHED);
	verify(f, db, "alice@example.org", "pencil", "192.0.2.10", 1, &r);
	assert_int_equal(r.status, PASSDB_OK);
	assert_true(r.flags & CRED_CACHED);
	settle(f, 200); /* the last-use update */

	/* revoked: the file changes, the cache is flushed, it stops working */
	h = sqlite_users_open(f->path, 0, err, sizeof(err));
	assert_int_equal(sqlite_apppass_revoke(
	                     h, "alice@example.org", "phone", err, sizeof(err)),
	    0);
	assert_int_equal(sqlite_apppass_revoke(
	                     h, "alice@example.org", "phone", err, sizeof(err)),
	    -2);
	sqlite_users_close(h);
	verify(f, db, "alice@example.org", "pencil", "192.0.2.9", 1, &r);
	assert_int_equal(r.status, PASSDB_MISMATCH);
	assert_false(r.flags & CRED_CACHED);
	passdb_close(db);
}

static void
test_lookup_exists(void **state)
{
	struct fixture *f = *state;
	struct passdb *db = open_db(f);
	struct result r;

	memset(&r, 0, sizeof(r));
	passdb_lookup(db, "BOB@example.org", "SCRAM-SHA-256", answer, &r);
	wait_for(f, &r);
	assert_int_equal(r.status, PASSDB_OK);
	assert_string_equal(r.secret, SCRAM_KEYS);
	assert_string_equal(r.user, "Bob@example.org");
	memset(&r, 0, sizeof(r));
	passdb_lookup(db, "alice@example.org", "SCRAM-SHA-256", answer, &r);
	wait_for(f, &r);
	assert_int_equal(r.status, PASSDB_NO_SCHEME);
	memset(&r, 0, sizeof(r));
	passdb_lookup(db, "nobody@example.org", "SCRAM-SHA-256", answer, &r);
	wait_for(f, &r);
	assert_int_equal(r.status, PASSDB_NO_USER);
	memset(&r, 0, sizeof(r));
	passdb_exists(db, "Robert@example.org", answer, &r);
	wait_for(f, &r);
	assert_int_equal(r.status, PASSDB_OK);
	assert_string_equal(r.user, "Bob@example.org");
	memset(&r, 0, sizeof(r));
	passdb_exists(db, "nobody@example.org", answer, &r);
	wait_for(f, &r);
	assert_int_equal(r.status, PASSDB_NO_USER);
	passdb_close(db);
}

/* test_upgrade - PLAIN over TLS with a SHA512-CRYPT user: SCRAM keys and ARGON2ID stored. */
static void
test_upgrade(void **state)
{
	struct fixture *f = *state;
	struct passdb *db = open_db(f);
	struct result r;
	struct sqlite3 *h;
	sqlite3_stmt *st;
	char err[256];
	int i;

	/* without TLS: nothing changes */
	verify(f, db, "alice@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_OK);
	settle(f, 300);
	if (db->cache != NULL)
		auth_cache_flush(db->cache);
	verify(f, db, "alice@example.org", "pencil", "192.0.2.1", 1, &r);
	assert_int_equal(r.status, PASSDB_OK);
	/* argon2id + SCRAM under ASan on a loaded machine: up to 30 s */
	for (i = 0; i < 300 && db->nupgrades == 0; i++)
		settle(f, 100);
	assert_int_equal(db->nupgrades, 1);
	h = sqlite_users_open(f->path, 0, err, sizeof(err));
	assert_int_equal(sqlite3_prepare_v2(h,
	                     "SELECT password, scram_sha256 FROM users WHERE "
	                     "login = 'alice@example.org'",
	                     -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_memory_equal(
	    sqlite3_column_text(st, 0), "{ARGON2ID}$argon2id$", 20);
	assert_non_null(sqlite3_column_text(st, 1));
	assert_memory_equal(sqlite3_column_text(st, 1), "4096,", 5);
	sqlite3_finalize(st);
	sqlite_users_close(h);
	/* the new hash verifies the same password; no second upgrade */
	if (db->cache != NULL)
		auth_cache_flush(db->cache);
	verify(f, db, "alice@example.org", "pencil", "192.0.2.1", 1, &r);
	assert_int_equal(r.status, PASSDB_OK);
	assert_false(r.flags & CRED_NO_SCRAM);
	settle(f, 300);
	assert_int_equal(db->nupgrades, 1);
	passdb_close(db);
}

/* test_timeout - a locked database: TEMPFAIL after backend_timeout, then recovery. */
static void
test_timeout(void **state)
{
	struct fixture *f = *state;
	struct passdb *db;
	struct result r;
	sqlite3 *lock;
	struct timespec t0, t1;
	double ms;

	f->cfg->auth_backend_timeout_ms = 300;
	f->cfg->auth_cache_size = 0;
	db = open_db(f);
	assert_int_equal(sqlite3_open(f->path, &lock), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	verify(f, db, "alice@example.org", "pencil", "192.0.2.1", 0, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_int_equal(r.status, PASSDB_TEMPFAIL);
	assert_true(ms >= 250 && ms < 10000);
	assert_int_equal(db->ntimeouts, 1);
	assert_int_equal(
	    sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	settle(f, 500); /* the late answer is dropped */
	verify(f, db, "alice@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_OK);
	passdb_close(db);
}

/* test_chain - "sqlite:a sqlite:b": the first that knows the user answers. */
static void
test_chain(void **state)
{
	struct fixture *f = *state;
	struct sqlite3 *h;
	struct passdb *db;
	struct result r;
	char err[256];

	h = sqlite_users_open(f->path2, 1, err, sizeof(err));
	assert_non_null(h);
	assert_int_equal(sqlite_users_add(h, "erin@example.org", SHA512_PENCIL,
	                     NULL, err, sizeof(err)),
	    0);
	assert_int_equal(
	    sqlite_users_add(h, "alice@example.org", "{SHA512-CRYPT}$6$x$other",
	        NULL, err, sizeof(err)),
	    0);
	sqlite_users_close(h);
	f->cfg->npassdbs = 2;
	strcpy(f->cfg->passdbs[1].driver, "sqlite");
	strcpy(f->cfg->passdbs[1].arg, f->path2);
	db = open_db(f);
	assert_string_equal(db->driver->name, "chain");
	verify(f, db, "erin@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_OK);
	/* alice is in the first: its answer counts, not the second's */
	verify(f, db, "alice@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_OK);
	verify(f, db, "nobody@example.org", "pencil", "192.0.2.1", 0, &r);
	assert_int_equal(r.status, PASSDB_NO_USER);
	memset(&r, 0, sizeof(r));
	passdb_exists(db, "erin@example.org", answer, &r);
	wait_for(f, &r);
	assert_int_equal(r.status, PASSDB_OK);
	passdb_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_app_passwords, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_lookup_exists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
