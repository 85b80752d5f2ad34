/*
 * test_session.c - the SMTP session state machine driven without sockets:
 * a mock ops table records replies and requests, and the test answers the
 * asynchronous ones by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "sasl/mech.h"
#include "smtp/session.h"

struct mock {
	char out[65536];
	size_t outlen;
	int closed;
	int starttls;
	int auth_started;
	int auth_steps;
	int auth_cancels;
	char auth_mech[32];
	unsigned char auth_data[1024];
	size_t auth_len;
	int auth_has_ir;
	uint64_t xid;
	int lookups;
	char lookup_addr[300];
	int commits;
	char body_path[64];
	struct smtp_tx *tx;
};

static struct mock M;
static struct config cfg;
static struct config_listener lst;
static struct smtp_session S;
static const struct smtp_mech_offer mechs[] = {
    {"PLAIN", SASL_F_PLAINTEXT | SASL_F_CLIENT_FIRST},
    {"LOGIN", SASL_F_PLAINTEXT | SASL_F_CLIENT_FIRST},
};

static void
m_write(void *arg, const char *p, size_t n)
{
	(void)arg;
	assert_true(M.outlen + n < sizeof(M.out));
	memcpy(M.out + M.outlen, p, n);
	M.outlen += n;
	M.out[M.outlen] = '\0';
}

static void
m_close(void *arg)
{
	(void)arg;
	M.closed = 1;
}

static void
m_starttls(void *arg)
{
	(void)arg;
	M.starttls = 1;
}

static void
m_auth_start(void *arg, uint64_t xid, const char *mech, const unsigned char *ir,
    size_t irlen, int has_ir)
{
	(void)arg;
	M.auth_started++;
	M.xid = xid;
	snprintf(M.auth_mech, sizeof(M.auth_mech), "%s", mech);
	M.auth_has_ir = has_ir;
	M.auth_len = irlen;
	if (irlen > 0)
		memcpy(M.auth_data, ir, irlen);
}

static void
m_auth_step(void *arg, uint64_t xid, const unsigned char *p, size_t n)
{
	(void)arg;
	M.auth_steps++;
	M.xid = xid;
	M.auth_len = n;
	memcpy(M.auth_data, p, n);
}

static void
m_auth_cancel(void *arg, uint64_t xid)
{
	(void)arg;
	(void)xid;
	M.auth_cancels++;
}

static void
m_rcpt_lookup(void *arg, uint64_t xid, const char *address)
{
	(void)arg;
	M.lookups++;
	M.xid = xid;
	snprintf(M.lookup_addr, sizeof(M.lookup_addr), "%s", address);
}

static int
m_body_open(void *arg, char *id, size_t idlen)
{
	int fd;

	(void)arg;
	snprintf(M.body_path, sizeof(M.body_path), "/tmp/postern-test-XXXXXX");
	fd = mkstemp(M.body_path);
	snprintf(id, idlen, "TESTID");
	return fd;
}

static void
m_commit(void *arg, struct smtp_tx *tx)
{
	(void)arg;
	M.commits++;
	M.tx = tx;
}

static void
m_delay(void *arg, unsigned int ms)
{
	(void)arg;
	(void)ms;
}

static int space = 1;

static int
m_space_ok(void *arg, unsigned long long need)
{
	(void)arg;
	(void)need;
	return space;
}

static const struct smtp_session_ops ops = {
    .write = m_write,
    .close = m_close,
    .starttls = m_starttls,
    .auth_start = m_auth_start,
    .auth_step = m_auth_step,
    .auth_cancel = m_auth_cancel,
    .rcpt_lookup = m_rcpt_lookup,
    .body_open = m_body_open,
    .commit = m_commit,
    .space_ok = m_space_ok,
    .delay = m_delay,
};

static int live; /* S holds a session to free */

static int
teardown(void **st)
{
	(void)st;
	if (live)
		smtp_session_free(&S);
	live = 0;
	return 0;
}

static void
start(enum listener_tls tls, enum listener_auth auth, int tls_now)
{
	teardown(NULL);
	live = 1;
	memset(&M, 0, sizeof(M));
	config_defaults(&cfg);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "mx.example.test");
	snprintf(
	    cfg.local_domains[0], sizeof(cfg.local_domains[0]), "example.test");
	cfg.nlocal_domains = 1;
	snprintf(cfg.maildir, sizeof(cfg.maildir), "/var/mail/%%d/%%n");
	cfg.max_errors = 10;
	cfg.max_recipients = 3;
	memset(&lst, 0, sizeof(lst));
	snprintf(lst.name, sizeof(lst.name), "test");
	lst.tls = tls;
	lst.auth = auth;
	smtp_session_init(
	    &S, 0x1234, &cfg, &lst, &ops, NULL, "192.0.2.1", "4242", tls_now);
	smtp_session_set_mechs(&S, mechs, 2);
	if (tls_now)
		smtp_session_tls_done(
		    &S, 1, "TLSv1.3", "TLS_AES_128_GCM_SHA256", 128);
	else
		smtp_session_start(&S);
}

static void
client_says(const char *s)
{
	size_t n = strlen(s);

	M.outlen = 0;
	M.out[0] = '\0';
	assert_int_equal(smtp_session_feed(&S, s, n), n);
}

/* last reply line's first 9 chars, e.g. "250 2.1.0" */
static void
expect(const char *prefix)
{
	const char *last = M.out, *p;

	for (p = M.out; *p != '\0'; p++)
		if (p[0] == '\n' && p[1] != '\0')
			last = p + 1;
	if (strncmp(last, prefix, strlen(prefix)) != 0)
		fail_msg("expected \"%s\", got \"%s\"", prefix, M.out);
}

static void
login(void)
{
	int before = M.auth_started;

	client_says("EHLO client.example\r\n");
	client_says("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
	assert_int_equal(M.auth_started, before + 1);
	assert_true(smtp_session_auth_done(
	    &S, M.xid, PROTO_V_OK, NULL, 0, "alice@example.test"));
	expect("235 2.7.0");
}

static void
test_greeting_and_ehlo(void **st)
{
	(void)st;
	start(LISTENER_TLS_STARTTLS, LISTENER_AUTH_REQUIRED, 0);
	assert_string_equal(M.out, "220 mx.example.test ESMTP Postern\r\n");
	client_says("EHLO client.example\r\n");
	assert_non_null(strstr(M.out, "250-STARTTLS\r\n"));
	assert_non_null(strstr(M.out, "250-PIPELINING\r\n"));
	assert_non_null(strstr(M.out, "250-ENHANCEDSTATUSCODES\r\n"));
	assert_null(strstr(M.out, "AUTH")); /* plaintext mechs hidden */
	expect("250 SMTPUTF8");
	client_says("HELO client.example\r\n");
	assert_string_equal(M.out, "250 mx.example.test\r\n");
}

static void
test_auth_rules(void **st)
{
	(void)st;
	start(LISTENER_TLS_STARTTLS, LISTENER_AUTH_REQUIRED, 0);
	client_says("AUTH PLAIN\r\n");
	expect("503 5.5.1"); /* before EHLO */
	client_says("EHLO c\r\n");
	client_says("AUTH PLAIN AHRlc3QAMTIzNA==\r\n");
	expect("538 5.7.11"); /* before TLS */
	client_says("MAIL FROM:<a@example.test>\r\n");
	expect("530 5.7.0");

	start(LISTENER_TLS_STARTTLS, LISTENER_AUTH_REQUIRED, 1);
	client_says("EHLO c\r\n");
	assert_non_null(strstr(M.out, "250-AUTH PLAIN LOGIN\r\n"));
	assert_null(strstr(M.out, "STARTTLS"));
	client_says("AUTH CRAM-MD5\r\n");
	expect("504 5.5.4");
	client_says("AUTH PLAIN !!!!\r\n");
	expect("501 5.5.2");
	client_says("AUTH PLAIN\r\n");
	assert_int_equal(M.outlen, 0); /* the auth service speaks next */
	assert_int_equal(M.auth_has_ir, 0);
	assert_true(smtp_session_auth_done(
	    &S, M.xid, PROTO_V_CONTINUE, (const unsigned char *)"", 0, ""));
	assert_string_equal(M.out, "334 \r\n");
	client_says("*\r\n");
	expect("501 5.7.0");
	assert_int_equal(M.auth_cancels, 1);
	client_says("AUTH PLAIN =\r\n");
	assert_int_equal(M.auth_has_ir, 1);
	assert_int_equal(M.auth_len, 0);
	assert_true(
	    smtp_session_auth_done(&S, M.xid, PROTO_V_FAIL, NULL, 0, ""));
	expect("535 5.7.8");
	client_says("AUTH LOGIN\r\n");
	assert_true(
	    smtp_session_auth_done(&S, M.xid, PROTO_V_TEMPFAIL, NULL, 0, ""));
	expect("454 4.7.0");
	login();
	client_says("AUTH PLAIN AHRlc3QAMTIzNA==\r\n");
	expect("503 5.5.1"); /* already authenticated */
}

static void
test_auth_in_transaction(void **st)
{
	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_OPTIONAL, 1);
	client_says("EHLO c\r\n");
	client_says("MAIL FROM:<x@remote.example>\r\n");
	expect("250 2.1.0");
	client_says("AUTH PLAIN AHRlc3QAMTIzNA==\r\n");
	expect("503 5.5.1");
}

static void
test_stale_answer_ignored(void **st)
{
	uint64_t old;

	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_REQUIRED, 1);
	client_says("EHLO c\r\n");
	client_says("AUTH PLAIN\r\n");
	old = M.xid;
	assert_true(smtp_session_auth_done(
	    &S, old, PROTO_V_CONTINUE, (const unsigned char *)"", 0, ""));
	client_says("*\r\n");
	/* The auth service answers the cancelled exchange late: dropped. */
	assert_false(
	    smtp_session_auth_done(&S, old, PROTO_V_OK, NULL, 0, "mallory"));
	assert_int_equal(S.authenticated, 0);
}

static void
test_pipelined_waits(void **st)
{
	const char *p = "MAIL FROM:<alice@example.test>\r\n"
	                "RCPT TO:<bob@example.test>\r\n"
	                "RCPT TO:<carol@example.test>\r\n"
	                "DATA\r\n";
	size_t used;

	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_REQUIRED, 1);
	login();
	M.outlen = 0;
	used = smtp_session_feed(&S, p, strlen(p));
	/* Stops after the first RCPT: the lookup is outstanding. */
	assert_int_equal(used,
	    strlen("MAIL FROM:<alice@example.test>\r\n"
	           "RCPT TO:<bob@example.test>\r\n"));
	assert_string_equal(M.lookup_addr, "bob@example.test");
	assert_true(smtp_session_rcpt_done(
	    &S, M.xid, PROTO_RCPT_FOUND, "bob@example.test"));
	used += smtp_session_feed(&S, p + used, strlen(p) - used);
	assert_string_equal(M.lookup_addr, "carol@example.test");
	assert_true(
	    smtp_session_rcpt_done(&S, M.xid, PROTO_RCPT_NOT_FOUND, ""));
	used += smtp_session_feed(&S, p + used, strlen(p) - used);
	assert_int_equal(used, strlen(p));
	assert_non_null(strstr(M.out, "250 2.1.0"));
	assert_non_null(strstr(M.out, "250 2.1.5"));
	assert_non_null(strstr(M.out, "550 5.1.1"));
	expect("354 ");
	client_says("Subject: t\r\n\r\n..stuffed\r\n.\r\n");
	assert_int_equal(M.commits, 1);
	assert_int_equal(M.tx->nrcpts, 1);
	assert_string_equal(M.tx->rcpts[0].mailbox, "bob@example.test");
	assert_true(smtp_session_commit_done(&S, SMTP_COMMIT_OK, NULL));
	expect("250 2.0.0 Ok: queued as TESTID");
	unlink(M.body_path);
}

static void
test_relay_and_limits(void **st)
{
	int i;

	(void)st;
	start(LISTENER_TLS_STARTTLS, LISTENER_AUTH_OFF, 0);
	client_says("EHLO c\r\n");
	assert_null(strstr(M.out, "AUTH"));
	client_says("AUTH PLAIN AHRlc3QAMTIzNA==\r\n");
	expect("503 5.5.1");
	client_says("MAIL FROM:<x@remote.example>\r\n");
	client_says("RCPT TO:<y@elsewhere.example>\r\n");
	expect("554 5.7.1");
	client_says("RCPT TO:<Postmaster>\r\n");
	assert_string_equal(M.lookup_addr, "Postmaster@example.test");
	assert_true(
	    smtp_session_rcpt_done(&S, M.xid, PROTO_RCPT_NOT_FOUND, ""));
	expect("250 2.1.5"); /* postmaster always exists */
	for (i = 0; i < 2; i++) {
		client_says("RCPT TO:<u@example.test>\r\n");
		smtp_session_rcpt_done(&S, M.xid, PROTO_RCPT_FOUND,
		    i == 0 ? "u1@example.test" : "u2@example.test");
	}
	client_says("RCPT TO:<u@example.test>\r\n");
	expect("452 4.5.3");
	client_says("MAIL FROM:<x@remote.example>\r\n");
	expect("503 5.5.1"); /* nested */
	client_says("RSET\r\n");
	expect("250 2.0.0");
	client_says("DATA\r\n");
	expect("503 5.5.1");
}

static void
test_long_lines(void **st)
{
	char big[700];
	char huge[13000];

	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_REQUIRED, 1);
	client_says("EHLO c\r\n");
	memset(big, 'A', sizeof(big));
	memcpy(big, "NOOP ", 5);
	big[sizeof(big) - 2] = '\r';
	big[sizeof(big) - 1] = '\n';
	M.outlen = 0;
	assert_int_equal(smtp_session_feed(&S, big, sizeof(big)), sizeof(big));
	expect("500 5.5.6");
	memset(huge, 'A', sizeof(huge));
	memcpy(huge, "AUTH PLAIN ", 11);
	huge[sizeof(huge) - 2] = '\r';
	huge[sizeof(huge) - 1] = '\n';
	M.outlen = 0;
	assert_int_equal(
	    smtp_session_feed(&S, huge, sizeof(huge)), sizeof(huge));
	expect("500 5.5.6");
	client_says("NOOP\r\n");
	expect("250 2.0.0");
}

static void
test_too_many_errors(void **st)
{
	int i;

	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_REQUIRED, 1);
	for (i = 0; i < 10; i++)
		client_says("BOGUS\r\n");
	expect("421 4.7.0");
	assert_int_equal(M.closed, 1);
	assert_int_equal(smtp_session_feed(&S, "NOOP\r\n", 6), 0);
}

static void
test_starttls_resets(void **st)
{
	size_t used;
	const char *p = "STARTTLS\r\nMAIL FROM:<evil@example.test>\r\n";

	(void)st;
	start(LISTENER_TLS_STARTTLS, LISTENER_AUTH_OPTIONAL, 0);
	client_says("EHLO c\r\n");
	M.outlen = 0;
	used = smtp_session_feed(&S, p, strlen(p));
	/* The session stops reading at STARTTLS: the rest is the worker's to drop. */
	assert_int_equal(used, strlen("STARTTLS\r\n"));
	assert_int_equal(M.starttls, 1);
	expect("220 2.0.0");
	smtp_session_tls_done(&S, 1, "TLSv1.3", "TLS_AES_128_GCM_SHA256", 128);
	assert_int_equal(S.state, SMTP_STATE_CONNECTED);
	client_says("MAIL FROM:<a@example.test>\r\n");
	expect("503 5.5.1"); /* EHLO again first */
	client_says("EHLO c\r\n");
	client_says("STARTTLS\r\n");
	expect("503 5.5.1");
}

static void
test_bare_lf_in_data(void **st)
{
	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_REQUIRED, 1);
	login();
	client_says("MAIL FROM:<alice@example.test>\r\n");
	client_says("RCPT TO:<bob@example.test>\r\n");
	smtp_session_rcpt_done(&S, M.xid, PROTO_RCPT_FOUND, "bob@example.test");
	client_says("DATA\r\n");
	client_says("Subject: x\r\n\r\nhi\n.\nMAIL FROM:<x@y>\r\n.\r\n");
	expect("554 5.6.0");
	assert_int_equal(M.commits, 0);
	unlink(M.body_path);
}

static void
test_spool_full(void **st)
{
	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_REQUIRED, 1);
	login();
	space = 0;
	client_says("MAIL FROM:<alice@example.test> SIZE=1000\r\n");
	expect("452 4.3.1");
	space = 1;
	client_says("MAIL FROM:<alice@example.test>\r\n");
	client_says("RCPT TO:<someone@remote.example>\r\n");
	expect("250 2.1.5"); /* authenticated: relayed by the queue */
	client_says("DATA\r\n");
	client_says("hello\r\n.\r\n");
	assert_int_equal(M.commits, 1);
	assert_true(smtp_session_commit_done(&S, SMTP_COMMIT_NO_SPACE, "full"));
	expect("452 4.3.1");
	unlink(M.body_path);
}

static void
test_shutdown(void **st)
{
	(void)st;
	start(LISTENER_TLS_IMPLICIT, LISTENER_AUTH_REQUIRED, 1);
	client_says("EHLO c\r\n");
	M.outlen = 0;
	smtp_session_shutdown(&S);
	expect("421 4.3.2");
	assert_int_equal(M.closed, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_greeting_and_ehlo, teardown),
	    cmocka_unit_test_teardown(test_auth_rules, teardown),
	    cmocka_unit_test_teardown(test_auth_in_transaction, teardown),
	    cmocka_unit_test_teardown(test_stale_answer_ignored, teardown),
	    cmocka_unit_test_teardown(test_pipelined_waits, teardown),
	    cmocka_unit_test_teardown(test_relay_and_limits, teardown),
	    cmocka_unit_test_teardown(test_long_lines, teardown),
	    cmocka_unit_test_teardown(test_too_many_errors, teardown),
	    cmocka_unit_test_teardown(test_starttls_resets, teardown),
	    cmocka_unit_test_teardown(test_bare_lf_in_data, teardown),
	    cmocka_unit_test_teardown(test_spool_full, teardown),
	    cmocka_unit_test_teardown(test_shutdown, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
