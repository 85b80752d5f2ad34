/*
 * test_queue_logic.c - the pure parts of the queue service: the retry
 * schedule (backoff, cap, expiry, delay warning), route selection per
 * recipient domain, the scheduler's grouping and per-destination limit,
 * and the structure of a DSN (RFC 3464 multipart/report).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "queue/bounce.h"
#include "queue/retry.h"
#include "queue/route.h"
#include "queue/scheduler.h"

static void
test_retry_schedule(void **state)
{
	struct config c;
	struct retry_policy p;
	static const struct {
		unsigned int attempts;
		long long want; /* seconds after now */
	} cases[] = {
	    {1, 300},
	    {2, 600},
	    {3, 1200},
	    {4, 2400},
	    {5, 3600},
	    {6, 3600},
	    {50, 3600},
	};
	size_t i;

	(void)state;
	config_defaults(&c);
	retry_policy_from_config(&c, &p);
	assert_true(p.min_s == 300 && p.max_s == 3600);
	assert_true(p.lifetime_s == 5 * 86400 && p.warn_s == 4 * 3600);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_true(retry_next(&p, cases[i].attempts, 1000, 1000) ==
		    1000 + cases[i].want);
	/* never past the expiry: the last try is at the expiry */
	assert_true(retry_next(&p, 9, 0, 5 * 86400 - 10) == 5 * 86400);
	assert_false(retry_expired(&p, 0, 5 * 86400 - 1));
	assert_true(retry_expired(&p, 0, 5 * 86400));
	assert_false(retry_warn_due(&p, 0, 4 * 3600 - 1, 0));
	assert_true(retry_warn_due(&p, 0, 4 * 3600, 0));
	assert_false(retry_warn_due(&p, 0, 4 * 3600, 1));
	c.queue_delay_warning_ms = 0;
	retry_policy_from_config(&c, &p);
	assert_false(retry_warn_due(&p, 0, 86400, 0));
}

static void
set_local(struct config *c)
{
	config_defaults(c);
	strcpy(c->local_domains[0], "example.org");
	c->nlocal_domains = 1;
	strcpy(c->maildir, "/var/mail/%d/%n");
}

static void
test_route(void **state)
{
	struct config c;
	struct dlv_route r;
	char key[300];

	(void)state;
	set_local(&c);
	assert_int_equal(
	    queue_route(&c, "example.org", &r, key, sizeof(key)), 0);
	assert_int_equal(r.method, DLV_MAILDIR);
	assert_string_equal(r.maildir_tmpl, "/var/mail/%d/%n");
	assert_string_equal(key, "maildir");

	assert_int_equal(
	    queue_route(&c, "Remote.NET", &r, key, sizeof(key)), 0);
	assert_int_equal(r.method, DLV_MX);
	assert_int_equal(r.tls, DLV_TLS_OPPORTUNISTIC);
	assert_int_equal(r.port, 25);
	assert_string_equal(key, "mx:remote.net");

	strcpy(c.local_lmtp, "unix:/run/dovecot/lmtp");
	strcpy(c.relay, "smtp://smart.example.net:587");
	strcpy(c.relay_user, "me");
	strcpy(c.relay_password, "pw");
	c.relay_auth_param = 1;
	assert_int_equal(
	    queue_route(&c, "example.org", &r, key, sizeof(key)), 0);
	assert_int_equal(r.method, DLV_LMTP);
	assert_string_equal(r.unix_path, "/run/dovecot/lmtp");
	assert_string_equal(key, "lmtp:unix:/run/dovecot/lmtp");
	assert_int_equal(queue_route(&c, "a.net", &r, key, sizeof(key)), 0);
	assert_int_equal(r.method, DLV_SMTP);
	assert_string_equal(r.host, "smart.example.net");
	assert_int_equal(r.port, 587);
	assert_int_equal(r.tls, DLV_TLS_REQUIRED);
	assert_string_equal(r.auth_user, "me");
	assert_int_equal(r.pass_auth_param, 1);
	assert_string_equal(key, "smtp:smart.example.net:587");

	strcpy(c.local_lmtp, "127.0.0.1:24");
	strcpy(c.relay, "smtps://[192.0.2.1]");
	assert_int_equal(
	    queue_route(&c, "example.org", &r, key, sizeof(key)), 0);
	assert_string_equal(r.host, "127.0.0.1");
	assert_int_equal(r.port, 24);
	assert_int_equal(queue_route(&c, "b.net", &r, key, sizeof(key)), 0);
	assert_int_equal(r.tls, DLV_TLS_IMPLICIT);
	assert_int_equal(r.port, 465);
	assert_string_equal(r.host, "[192.0.2.1]");
}

static void
test_scheduler_groups(void **state)
{
	struct config c;
	struct sched s;
	struct envelope e;
	struct qmsg *m;
	struct sched_group g[SCHED_MAX_GROUPS];
	size_t n;

	(void)state;
	set_local(&c);
	sched_init(&s, 10, 1);
	env_init(&e);
	strcpy(e.id, "M1");
	assert_non_null(env_add_rcpt(&e, "a@example.org", NULL));
	assert_non_null(env_add_rcpt(&e, "b@remote.net", NULL));
	assert_non_null(env_add_rcpt(&e, "c@example.org", NULL));
	assert_non_null(env_add_rcpt(&e, "d@REMOTE.net", NULL));
	assert_non_null(env_add_rcpt(&e, "e@other.net", NULL));
	m = sched_add(&s, &e);
	assert_non_null(m);
	assert_null(sched_add(&s, &m->env)); /* the id is known */
	assert_ptr_equal(sched_find(&s, "M1"), m);
	m->env.rcpts[4].next_attempt = 500; /* not due yet */
	assert_true(sched_due(m) == 0);
	n = sched_plan(&s, &c, m, 100, g, SCHED_MAX_GROUPS);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].key, "maildir");
	assert_int_equal(g[0].n, 2);
	assert_string_equal(g[1].key, "mx:remote.net");
	assert_int_equal(g[1].n, 2);
	assert_string_equal(g[1].domain, "remote.net");
	/* per destination 1: a busy destination is left out */
	sched_dest_acquire(&s, "maildir");
	n = sched_plan(&s, &c, m, 100, g, SCHED_MAX_GROUPS);
	assert_int_equal(n, 1);
	assert_string_equal(g[0].key, "mx:remote.net");
	sched_dest_release(&s, "maildir");
	assert_int_equal(sched_dest_inflight(&s, "maildir"), 0);
	/* held or busy: nothing */
	m->env.held = 1;
	assert_int_equal(sched_plan(&s, &c, m, 100, g, SCHED_MAX_GROUPS), 0);
	assert_true(sched_due(m) == LLONG_MAX);
	m->env.held = 0;
	m->env.rcpts[0].state = ENV_RCPT_DELIVERED;
	m->env.rcpts[2].state = ENV_RCPT_FAILED;
	m->env.rcpts[1].next_attempt = 200;
	m->env.rcpts[3].next_attempt = 200;
	assert_true(sched_due(m) == 200);
	sched_remove(&s, m);
	assert_null(sched_find(&s, "M1"));
	sched_free(&s);
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (hay = strstr(hay, needle); hay != NULL;
	     hay = strstr(hay + 1, needle))
		n++;
	return n;
}

static void
test_bounce_structure(void **state)
{
	static const char original[] =
	    "Subject: hello\r\nMessage-ID: <x@y>\r\n\r\nsecret body\r\n";
	char path[] = "/tmp/postern-bounce-XXXXXX", err[256];
	struct envelope e;
	struct env_rcpt *r;
	unsigned char sel[3] = {1, 0, 1};
	struct buf out;
	const char *t;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, original, sizeof(original) - 1),
	    (ssize_t)sizeof(original) - 1);
	env_init(&e);
	strcpy(e.id, "ABC123");
	strcpy(e.mail_from, "alice@example.org");
	e.arrival = 1700000000;
	r = env_add_rcpt(&e, "nobody@remote.net", "rfc822;nobody@remote.net");
	strcpy(r->last_error, "550 5.1.1 no such user");
	strcpy(r->dsn_code, "5.1.1");
	strcpy(r->hop, "mx.remote.net[192.0.2.1]:25");
	r->state = ENV_RCPT_FAILED;
	r = env_add_rcpt(&e, "ok@remote.net", NULL);
	r->state = ENV_RCPT_DELIVERED;
	r = env_add_rcpt(&e, "late@remote.net", NULL);
	strcpy(r->last_error, "delivery time expired; last error: 451 later");
	strcpy(r->dsn_code, "4.4.7"); /* a 4.x.x code in a failure: 5.0.0 */
	r->state = ENV_RCPT_FAILED;

	buf_init(&out, 1 << 20);
	assert_int_equal(
	    bounce_compose(&e, sel, BOUNCE_FAILED, fd, "mail.example.org",
	        1700000600, 0, &out, err, sizeof(err)),
	    0);
	t = out.data;
	assert_non_null(strstr(t,
	    "From: Mail Delivery System "
	    "<MAILER-DAEMON@mail.example.org>\r\n"));
	assert_non_null(strstr(t, "To: <alice@example.org>\r\n"));
	assert_non_null(strstr(t, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(t,
	    "Content-Type: multipart/report; "
	    "report-type=delivery-status;"));
	assert_int_equal(count(t, "\r\n--ABC123/"), 4); /* 3 parts + close */
	assert_non_null(strstr(t, "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(t, "Reporting-MTA: dns; mail.example.org\r\n"));
	assert_non_null(strstr(t,
	    "Final-Recipient: rfc822; "
	    "nobody@remote.net\r\n"));
	assert_non_null(strstr(t,
	    "Original-Recipient: "
	    "rfc822;nobody@remote.net\r\n"));
	assert_non_null(strstr(t, "Status: 5.1.1\r\n"));
	assert_non_null(strstr(t, "Remote-MTA: dns; mx.remote.net\r\n"));
	assert_non_null(strstr(t,
	    "Diagnostic-Code: smtp; 550 5.1.1 no such "
	    "user\r\n"));
	assert_non_null(strstr(t,
	    "Final-Recipient: rfc822; "
	    "late@remote.net\r\nAction: failed\r\n"
	    "Status: 5.0.0\r\n"));
	assert_null(strstr(t, "ok@remote.net"));
	assert_int_equal(count(t, "Action: failed\r\n"), 2);
	assert_non_null(strstr(t, "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(t, "Subject: hello\r\n"));
	assert_null(strstr(t, "secret body")); /* headers only by default */
	assert_non_null(strstr(t, "--\r\n"));
	buf_free(&out);

	/* RET=FULL attaches the message; a delay warning says "delayed" */
	e.ret = ENV_RET_FULL;
	buf_init(&out, 1 << 20);
	assert_int_equal(
	    bounce_compose(&e, sel, BOUNCE_DELAYED, fd, "mail.example.org",
	        1700000600, 1700432000, &out, err, sizeof(err)),
	    0);
	t = out.data;
	assert_non_null(strstr(t, "Action: delayed\r\n"));
	assert_non_null(strstr(t, "Will-Retry-Until: "));
	assert_non_null(strstr(t, "Status: 4.4.7\r\n"));
	assert_non_null(strstr(t, "Content-Type: message/rfc822\r\n"));
	assert_non_null(strstr(t, "secret body"));
	buf_free(&out);

	/* never to <> */
	e.mail_from[0] = '\0';
	buf_init(&out, 1 << 20);
	assert_int_equal(bounce_compose(&e, sel, BOUNCE_FAILED, fd, "h", 0, 0,
	                     &out, err, sizeof(err)),
	    -1);
	buf_free(&out);

	/* NOTIFY */
	r = &e.rcpts[0];
	assert_true(bounce_wanted(r, BOUNCE_FAILED));
	assert_true(bounce_wanted(r, BOUNCE_DELAYED));
	r->notify = ENV_NOTIFY_NEVER;
	assert_false(bounce_wanted(r, BOUNCE_FAILED));
	r->notify = ENV_NOTIFY_SUCCESS | ENV_NOTIFY_FAILURE;
	assert_true(bounce_wanted(r, BOUNCE_FAILED));
	assert_false(bounce_wanted(r, BOUNCE_DELAYED));
	env_free(&e);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_schedule),
	    cmocka_unit_test(test_route),
	    cmocka_unit_test(test_scheduler_groups),
	    cmocka_unit_test(test_bounce_structure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
