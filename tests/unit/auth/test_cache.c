/*
 * test_cache.c - the auth cache (src/auth/cache.c): hits and misses, the
 * separate TTLs of successes and failures, what is (not) cached, LRU
 * eviction, flush, key properties (login case, password), copied fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/cache.h"
#include "auth/passdb.h"
#include "core/secret.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

static struct secret *
pw(const char *s)
{
	struct secret *p = secret_new(s, strlen(s));

	assert_non_null(p);
	return p;
}

static void
put(struct auth_cache *c, const char *user, const char *pass,
    enum passdb_status st)
{
	unsigned char k[AUTH_CACHE_KEY_LEN];
	struct cred_result r;
	struct secret *p = pw(pass);

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.user = user;
	auth_cache_key(c, user, p, k);
	assert_int_equal(auth_cache_put(c, k, &r), 0);
	secret_free(p);
}

/* get - 1 and the cached status, or 0. */
static int
get(struct auth_cache *c, const char *user, const char *pass,
    enum passdb_status *st)
{
	unsigned char k[AUTH_CACHE_KEY_LEN];
	struct cred_result r;
	struct secret *p = pw(pass);
	int hit;

	auth_cache_key(c, user, p, k);
	hit = auth_cache_get(c, k, &r);
	if (hit) {
		*st = r.status;
		assert_true(r.flags & CRED_CACHED);
	}
	secret_free(p);
	return hit;
}

static void
test_hit_miss_ttl(void **state)
{
	struct auth_cache *c = auth_cache_new(100, 3600000, 60000);
	struct auth_cache_stats s;
	enum passdb_status st;

	(void)state;
	auth_cache_set_clock(c, fake_clock);
	fake_now = 1000;
	assert_false(get(c, "alice", "pencil", &st));
	put(c, "alice", "pencil", PASSDB_OK);
	put(c, "alice", "wrong", PASSDB_MISMATCH);
	put(c, "nobody", "x", PASSDB_NO_USER);
	assert_true(get(c, "alice", "pencil", &st));
	assert_int_equal(st, PASSDB_OK);
	assert_true(get(c, "ALICE", "pencil", &st));  /* logins: any case */
	assert_false(get(c, "alice", "Pencil", &st)); /* passwords: exact */
	assert_true(get(c, "alice", "wrong", &st));
	assert_int_equal(st, PASSDB_MISMATCH);
	/* the negative TTL ends first */
	fake_now += 60000;
	assert_false(get(c, "alice", "wrong", &st));
	assert_false(get(c, "nobody", "x", &st));
	assert_true(get(c, "alice", "pencil", &st));
	fake_now += 3600000;
	assert_false(get(c, "alice", "pencil", &st));
	auth_cache_stats(c, &s);
	assert_int_equal(s.hits, 4);
	assert_int_equal(s.misses, 5);
	assert_int_equal(s.entries, 0);
	auth_cache_free(c);
}

static void
test_not_cached(void **state)
{
	struct auth_cache *c = auth_cache_new(100, 1000, 0);
	enum passdb_status st;

	(void)state;
	put(c, "a", "p", PASSDB_TEMPFAIL);
	put(c, "b", "p", PASSDB_NO_SCHEME);
	put(c, "c", "p", PASSDB_MISMATCH); /* negative TTL 0: off */
	assert_false(get(c, "a", "p", &st));
	assert_false(get(c, "b", "p", &st));
	assert_false(get(c, "c", "p", &st));
	auth_cache_free(c);
}

static void
test_lru_flush(void **state)
{
	struct auth_cache *c = auth_cache_new(2, 100000, 100000);
	struct auth_cache_stats s;
	enum passdb_status st;

	(void)state;
	put(c, "a", "p", PASSDB_OK);
	put(c, "b", "p", PASSDB_OK);
	assert_true(get(c, "a", "p", &st)); /* a is now the most recent */
	put(c, "c", "p", PASSDB_OK);        /* evicts b */
	assert_true(get(c, "a", "p", &st));
	assert_false(get(c, "b", "p", &st));
	assert_true(get(c, "c", "p", &st));
	put(c, "c", "p", PASSDB_MISMATCH); /* replaces */
	assert_true(get(c, "c", "p", &st));
	assert_int_equal(st, PASSDB_MISMATCH);
	auth_cache_set_limits(c, 1, 100000, 100000);
	auth_cache_stats(c, &s);
	assert_int_equal(s.entries, 1);
	auth_cache_flush(c);
	assert_false(get(c, "c", "p", &st));
	auth_cache_stats(c, &s);
	assert_int_equal(s.entries, 0);
	assert_true(s.evictions >= 2);
	auth_cache_free(c);
}

static void
test_fields_copied(void **state)
{
	struct auth_cache *c = auth_cache_new(10, 100000, 100000);
	unsigned char k[AUTH_CACHE_KEY_LEN], k2[AUTH_CACHE_KEY_LEN];
	const char *senders[] = {"alice@example.org", "al@example.org", NULL};
	char user[] = "alice@example.org", label[] = "phone";
	struct cred_result r, out;
	struct secret *p = pw("pencil");

	(void)state;
	memset(&r, 0, sizeof(r));
	r.status = PASSDB_OK;
	r.user = user;
	r.flags = CRED_APP_PASSWORD | CRED_MUST_CHANGE;
	r.credential = label;
	r.networks = "192.0.2.0/24";
	r.fixed_sender = "printer@example.org";
	r.rate_cap = 30;
	r.tls_floor = 0x0301;
	r.senders = senders;
	auth_cache_key(c, user, p, k);
	assert_int_equal(auth_cache_put(c, k, &r), 0);
	memset(user, 'x', strlen(user)); /* the cache holds copies */
	memset(label, 'x', strlen(label));
	assert_true(auth_cache_get(c, k, &out));
	assert_string_equal(out.user, "alice@example.org");
	assert_string_equal(out.credential, "phone");
	assert_string_equal(out.networks, "192.0.2.0/24");
	assert_string_equal(out.fixed_sender, "printer@example.org");
	assert_int_equal(out.rate_cap, 30);
	assert_int_equal(out.tls_floor, 0x0301);
	assert_int_equal(
	    out.flags, CRED_APP_PASSWORD | CRED_MUST_CHANGE | CRED_CACHED);
	assert_string_equal(out.senders[1], "al@example.org");
	assert_null(out.senders[2]);
	/* the key depends on the per-process secret, not only the input */
	{
		struct auth_cache *c2 = auth_cache_new(10, 1, 1);

		auth_cache_key(c2, "alice@example.org", p, k2);
		assert_memory_not_equal(k, k2, sizeof(k));
		auth_cache_free(c2);
	}
	secret_free(p);
	auth_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hit_miss_ttl),
	    cmocka_unit_test(test_not_cached),
	    cmocka_unit_test(test_lru_flush),
	    cmocka_unit_test(test_fields_copied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
