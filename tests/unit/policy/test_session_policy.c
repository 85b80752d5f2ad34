/*
 * test_session_policy.c - the session's policy waits (issue 7) without
 * sockets: MAIL FROM and after-DATA checks go out as requests and answers
 * come back by xid; a stale or mismatched answer is never acted on; hold
 * and notify reach the transaction; the recipient budget limits RCPT;
 * trusted networks relay; Date/Message-ID fix-ups and privacy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "sasl/mech.h"
#include "smtp/headers.h"
#include "smtp/session.h"

struct mock {
	char out[65536];
	size_t outlen;
	uint64_t xid;
	int mail_checks, data_checks, commits, lookups;
	char from_hdr[HDR_MAX_ADDRS][300];
	size_t nhdr;
	char body_path[64];
	struct smtp_tx *tx;
};

static struct mock M;
static struct config cfg;
static struct config_listener lst;
static struct smtp_session S;
static int live;

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
m_nop(void *arg)
{
	(void)arg;
}

static void
m_auth_start(void *arg, uint64_t xid, const char *mech, const unsigned char *ir,
    size_t irlen, int has_ir)
{
	(void)arg;
	(void)mech;
	(void)ir;
	(void)irlen;
	(void)has_ir;
	M.xid = xid;
}

static void
m_auth_step(void *arg, uint64_t xid, const unsigned char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	M.xid = xid;
}

static void
m_auth_cancel(void *arg, uint64_t xid)
{
	(void)arg;
	(void)xid;
}

static void
m_rcpt_lookup(void *arg, uint64_t xid, const char *address)
{
	(void)arg;
	(void)address;
	M.lookups++;
	M.xid = xid;
}

static int
m_body_open(void *arg, char *id, size_t idlen)
{
	(void)arg;
	snprintf(M.body_path, sizeof(M.body_path), "/tmp/postern-pol-XXXXXX");
	snprintf(id, idlen, "TESTID");
	return mkstemp(M.body_path);
}

static void
m_commit(void *arg, struct smtp_tx *tx)
{
	(void)arg;
	M.commits++;
	M.tx = tx;
}

static int
m_space_ok(void *arg, unsigned long long need)
{
	(void)arg;
	(void)need;
	return 1;
}

static void
m_delay(void *arg, unsigned int ms)
{
	(void)arg;
	(void)ms;
}

static void
m_mail_check(void *arg, uint64_t xid, const struct smtp_tx *tx)
{
	(void)arg;
	(void)tx;
	M.mail_checks++;
	M.xid = xid;
}

static void
m_data_check(void *arg, uint64_t xid, const struct smtp_tx *tx)
{
	size_t i;

	(void)arg;
	M.data_checks++;
	M.xid = xid;
	M.nhdr = tx->hdr->naddrs;
	for (i = 0; i < tx->hdr->naddrs; i++)
		snprintf(M.from_hdr[i], sizeof(M.from_hdr[i]), "%s",
		    tx->hdr->addrs[i].addr);
}

static const struct smtp_session_ops ops = {
    .write = m_write,
    .close = m_nop,
    .starttls = m_nop,
    .auth_start = m_auth_start,
    .auth_step = m_auth_step,
    .auth_cancel = m_auth_cancel,
    .rcpt_lookup = m_rcpt_lookup,
    .body_open = m_body_open,
    .commit = m_commit,
    .space_ok = m_space_ok,
    .delay = m_delay,
    .mail_check = m_mail_check,
    .data_check = m_data_check,
};

static const struct smtp_mech_offer mechs[] = {
    {"PLAIN", SASL_F_PLAINTEXT | SASL_F_CLIENT_FIRST},
};

static int
teardown(void **st)
{
	(void)st;
	if (live)
		smtp_session_free(&S);
	live = 0;
	if (M.body_path[0] != '\0')
		unlink(M.body_path);
	return 0;
}

static void
say(const char *s)
{
	size_t n = strlen(s);

	M.outlen = 0;
	M.out[0] = '\0';
	assert_int_equal(smtp_session_feed(&S, s, n), n);
}

static void
expect(const char *prefix)
{
	const char *last = M.out, *p;

	for (p = M.out; *p != '\0'; p++)
		if (p[0] == '\n' && p[1] != '\0')
			last = p + 1;
	if (strncmp(last, prefix, strlen(prefix)) != 0)
		fail_msg("want '%s', got '%s'", prefix, M.out);
}

/* start - an authenticated session (or not) on an auth = optional listener. */
static void
start(int authenticated, const char *client)
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
	memset(&lst, 0, sizeof(lst));
	snprintf(lst.name, sizeof(lst.name), "test");
	lst.tls = LISTENER_TLS_IMPLICIT;
	lst.auth = LISTENER_AUTH_OPTIONAL;
	smtp_session_init(&S, 0x4242, &cfg, &lst, &ops, NULL, client, "1", 1);
	smtp_session_set_mechs(&S, mechs, 1);
	smtp_session_tls_done(&S, 1, "TLSv1.3", "TLS_AES_128_GCM_SHA256", 128);
	say("EHLO client.test\r\n");
	if (!authenticated)
		return;
	say("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==\r\n");
	assert_int_equal(smtp_session_auth_done(&S, M.xid, PROTO_V_OK, NULL, 0,
	                     "alice@example.test"),
	    1);
	expect("235 2.7.0");
}

static void
test_mail_refused_and_stale_answers(void **st)
{
	uint64_t xid;

	(void)st;
	start(1, "192.0.2.1");
	say("MAIL FROM:<bob@example.test>\r\n");
	assert_int_equal(M.mail_checks, 1);
	assert_int_equal(M.outlen, 0); /* waits: no reply yet */
	xid = M.xid;
	/* answers for another xid, or of the wrong kind, are dropped */
	assert_int_equal(
	    smtp_session_mail_done(&S, xid + 1, PROTO_P_OK, UINT32_MAX, ""), 0);
	assert_int_equal(smtp_session_data_done(&S, xid, PROTO_P_OK, 0, ""), 0);
	assert_int_equal(
	    smtp_session_rcpt_done(&S, xid, PROTO_RCPT_FOUND, "x@example.test"),
	    0);
	assert_int_equal(M.outlen, 0);
	assert_int_equal(smtp_session_mail_done(&S, xid, PROTO_P_REFUSE,
	                     UINT32_MAX, "Sender address <bob> not owned\r\nX"),
	    1);
	expect("553 5.7.1 Sender address <bob> not owned");
	assert_null(strstr(M.out, "\r\nX")); /* no injected reply line */
	assert_null(S.tx);
	/* a late duplicate answer changes nothing */
	M.outlen = 0;
	assert_int_equal(
	    smtp_session_mail_done(&S, xid, PROTO_P_OK, UINT32_MAX, ""), 0);
	assert_int_equal(M.outlen, 0);
}

static void
test_limits_and_budget(void **st)
{
	(void)st;
	start(1, "192.0.2.1");
	say("MAIL FROM:<alice@example.test>\r\n");
	assert_int_equal(smtp_session_mail_done(
	                     &S, M.xid, PROTO_P_LIMIT, 0, "Too many messages"),
	    1);
	expect("452 4.7.1 Too many messages");
	say("MAIL FROM:<alice@example.test>\r\n");
	assert_int_equal(
	    smtp_session_mail_done(&S, M.xid, PROTO_P_OK, 1, ""), 1);
	expect("250 2.1.0");
	say("RCPT TO:<someone@elsewhere.example>\r\n");
	expect("250 2.1.5");
	say("RCPT TO:<other@elsewhere.example>\r\n");
	expect("452 4.7.1");
	say("RSET\r\n");
	say("MAIL FROM:<alice@example.test>\r\n");
	assert_int_equal(
	    smtp_session_mail_done(&S, M.xid, PROTO_P_TEMPFAIL, 0, ""), 1);
	expect("451 4.7.1");
}

/* body - the spool file's content. */
static void
body(char *out, size_t outlen)
{
	FILE *f = fopen(M.body_path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void
test_data_check_hold_and_fixups(void **st)
{
	char text[8192];

	(void)st;
	start(1, "192.0.2.1");
	say("MAIL FROM:<alice@example.test>\r\n");
	smtp_session_mail_done(&S, M.xid, PROTO_P_HOLD, UINT32_MAX, "");
	expect("250 2.1.0"); /* a contained login is not told */
	say("RCPT TO:<someone@elsewhere.example>\r\n");
	say("DATA\r\n");
	expect("354");
	say("From: Alice <alice@example.test>, bob@example.test\r\n"
	    "Subject: s\r\n\r\nhello\r\n.\r\n");
	assert_int_equal(M.data_checks, 1);
	assert_int_equal(M.commits, 0); /* not before the answer */
	assert_int_equal(M.nhdr, 2);
	assert_string_equal(M.from_hdr[0], "alice@example.test");
	assert_string_equal(M.from_hdr[1], "bob@example.test");
	assert_int_equal(
	    smtp_session_mail_done(&S, M.xid, PROTO_P_OK, UINT32_MAX, ""), 0);
	assert_int_equal(
	    smtp_session_data_done(&S, M.xid, PROTO_P_HOLD, 1, ""), 0);
	assert_int_equal(M.commits, 1);
	assert_true(M.tx->held);
	assert_true(M.tx->notify);
	body(text, sizeof(text));
	assert_non_null(
	    strstr(text, "Received: from client.test ([192.0.2.1])"));
	assert_non_null(strstr(text, "\r\nDate: "));
	assert_non_null(strstr(text, "\r\nMessage-ID: <TESTID."));
	assert_non_null(strstr(text, "@mx.example.test>\r\nFrom: Alice"));
	assert_non_null(strstr(text, "\r\n\r\nhello\r\n"));
	assert_int_equal(smtp_session_commit_done(&S, SMTP_COMMIT_OK, NULL), 1);
	expect("250 2.0.0");
}

static void
test_data_refused_and_privacy(void **st)
{
	char text[8192];

	(void)st;
	start(1, "192.0.2.99");
	cfg.privacy = 1;
	say("MAIL FROM:<alice@example.test>\r\n");
	smtp_session_mail_done(&S, M.xid, PROTO_P_OK, UINT32_MAX, "");
	say("RCPT TO:<someone@elsewhere.example>\r\n");
	say("DATA\r\n");
	say("Date: x\r\nMessage-ID: <a@b>\r\nFrom: <bob@example.test>\r\n\r\n"
	    "spoof\r\n.\r\n");
	body(text, sizeof(text));
	assert_null(strstr(text, "192.0.2.99"));
	assert_null(strstr(text, "client.test"));
	assert_non_null(strstr(text, "Received: from unknown (authenticated)"));
	assert_null(strstr(text, "Message-ID: <TESTID")); /* had one */
	assert_int_equal(smtp_session_data_done(&S, M.xid, PROTO_P_REFUSE, 0,
	                     "From: address <bob@example.test> not owned"),
	    1);
	expect("550 5.7.1 From: address");
	assert_int_equal(M.commits, 0);
	assert_null(S.tx);
}

static void
test_unauthenticated_no_checks_trusted_relay(void **st)
{
	(void)st;
	start(0, "203.0.113.5");
	say("MAIL FROM:<x@outside.example>\r\n");
	expect("250 2.1.0");
	assert_int_equal(M.mail_checks, 0);
	say("RCPT TO:<victim@elsewhere.example>\r\n");
	expect("554 5.7.1");
	snprintf(cfg.trusted_networks, sizeof(cfg.trusted_networks),
	    "203.0.113.0/24");
	say("RCPT TO:<victim@elsewhere.example>\r\n");
	expect("250 2.1.5");
	say("DATA\r\n");
	say("no header at all\r\n.\r\n");
	assert_int_equal(M.data_checks, 0);
	assert_int_equal(M.commits, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(
	        test_mail_refused_and_stale_answers, teardown),
	    cmocka_unit_test_teardown(test_limits_and_budget, teardown),
	    cmocka_unit_test_teardown(
	        test_data_check_hold_and_fixups, teardown),
	    cmocka_unit_test_teardown(test_data_refused_and_privacy, teardown),
	    cmocka_unit_test_teardown(
	        test_unauthenticated_no_checks_trusted_relay, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
