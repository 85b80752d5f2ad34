/*
 * test_credsess.c - credential profiles of live sessions (src/auth/credsess.c):
 * keyed by connection and session, replaced, dropped per connection, bounded
 * (a stale entry makes room, a fresh one does not), and the TLS floor rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "auth/credsess.h"

static struct credsess_profile
prof(const char *label, const char *sender, unsigned int cap)
{
	struct credsess_profile p;

	memset(&p, 0, sizeof(p));
	strcpy(p.credential, label);
	strcpy(p.fixed_sender, sender);
	p.rate_cap = cap;
	return p;
}

static void
test_keys(void **state)
{
	struct credsess *t = credsess_new(16, 60);
	struct credsess_profile a = prof("phone", "a@example.org", 5);
	struct credsess_profile b = prof("printer", "", 2);
	int c1, c2;
	const struct credsess_profile *g;

	(void)state;
	assert_non_null(t);
	assert_int_equal(credsess_put(t, &c1, "000000000001", &a, 100), 0);
	assert_int_equal(credsess_put(t, &c2, "000000000001", &b, 100), 0);
	g = credsess_get(t, &c1, "000000000001", 101);
	assert_non_null(g);
	assert_string_equal(g->credential, "phone");
	assert_string_equal(g->fixed_sender, "a@example.org");
	assert_int_equal(g->rate_cap, 5);
	g = credsess_get(t, &c2, "000000000001", 101);
	assert_non_null(g);
	assert_string_equal(g->credential, "printer");
	assert_null(credsess_get(t, &c1, "000000000002", 101));
	/* a second login in the same session replaces the profile */
	assert_int_equal(credsess_put(t, &c1, "000000000001", &b, 102), 0);
	assert_int_equal(credsess_count(t), 2);
	assert_string_equal(
	    credsess_get(t, &c1, "000000000001", 103)->credential, "printer");
	credsess_del(t, &c1, "000000000001");
	assert_null(credsess_get(t, &c1, "000000000001", 104));
	credsess_del(t, &c1, "000000000001"); /* twice: harmless */
	assert_int_equal(credsess_count(t), 1);
	/* too long a session id is refused, not truncated into another */
	assert_int_equal(
	    credsess_put(t, &c1, "0123456789abcdef01234", &a, 1), -1);
	credsess_free(t);
}

static void
test_drop_conn(void **state)
{
	struct credsess *t = credsess_new(1000, 60);
	struct credsess_profile a = prof("phone", "", 1);
	int c1, c2;
	char id[20];
	int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "%012d", i);
		assert_int_equal(
		    credsess_put(t, i % 2 ? &c1 : &c2, id, &a, 10), 0);
	}
	assert_int_equal(credsess_count(t), 300);
	assert_int_equal(credsess_drop_conn(t, &c1), 150);
	assert_int_equal(credsess_count(t), 150);
	assert_null(credsess_get(t, &c1, "000000000001", 11));
	assert_non_null(credsess_get(t, &c2, "000000000000", 11));
	credsess_free(t);
}

static void
test_bound(void **state)
{
	struct credsess *t = credsess_new(3, 60);
	struct credsess_profile a = prof("phone", "", 1);
	int c;

	(void)state;
	assert_int_equal(credsess_put(t, &c, "1", &a, 100), 0);
	assert_int_equal(credsess_put(t, &c, "2", &a, 110), 0);
	assert_int_equal(credsess_put(t, &c, "3", &a, 120), 0);
	/* full, nothing idle for 60 s: refused, nothing lost */
	assert_int_equal(credsess_put(t, &c, "4", &a, 150), -1);
	assert_int_equal(credsess_count(t), 3);
	/* "1" was used again: "2" is now the oldest */
	assert_non_null(credsess_get(t, &c, "1", 150));
	assert_int_equal(credsess_put(t, &c, "4", &a, 171), 0);
	assert_null(credsess_get(t, &c, "2", 171));
	assert_non_null(credsess_get(t, &c, "1", 171));
	assert_int_equal(credsess_count(t), 3);
	/* replacing an existing entry needs no room */
	assert_int_equal(credsess_put(t, &c, "4", &a, 172), 0);
	credsess_free(t);
}

static void
test_tls_floor(void **state)
{
	(void)state;
	assert_int_equal(credsess_tls_version("TLSv1.3"), TLS1_3_VERSION);
	assert_int_equal(credsess_tls_version("TLSv1"), TLS1_VERSION);
	assert_int_equal(credsess_tls_version("tlsv1.1"), TLS1_1_VERSION);
	assert_int_equal(credsess_tls_version("SSLv3"), 0);
	assert_int_equal(credsess_tls_version(""), 0);
	/* at or above the floor: anyone */
	assert_true(credsess_tls_allowed("TLSv1.2", TLS1_2_VERSION, 0));
	assert_true(credsess_tls_allowed("TLSv1.3", TLS1_2_VERSION, 0));
	assert_false(credsess_tls_allowed("TLSv1.2", TLS1_3_VERSION, 0));
	/* below it: only with a grant reaching down to the version */
	assert_false(credsess_tls_allowed("TLSv1.1", TLS1_2_VERSION, 0));
	assert_true(
	    credsess_tls_allowed("TLSv1.1", TLS1_2_VERSION, TLS1_1_VERSION));
	assert_true(
	    credsess_tls_allowed("TLSv1.1", TLS1_2_VERSION, TLS1_VERSION));
	assert_false(
	    credsess_tls_allowed("TLSv1", TLS1_2_VERSION, TLS1_1_VERSION));
	/* unknown names never pass */
	assert_false(credsess_tls_allowed("SSLv3", TLS1_2_VERSION, 0x0300));
	assert_false(credsess_tls_allowed("unknown", TLS1_2_VERSION, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_drop_conn),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_tls_floor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
