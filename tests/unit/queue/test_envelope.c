/*
 * test_envelope.c - envelope files: encode/decode round trip (escapes,
 * empty values, many recipients) and the strict loader's refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/envelope.h"

static void
fill(struct envelope *e)
{
	struct env_rcpt *r;

	env_init(e);
	strcpy(e->id, "0123456789ABCDEF");
	e->arrival = 1700000000;
	strcpy(e->mail_from, "alice@example.test");
	strcpy(e->auth_param, "alice@example.test");
	strcpy(e->login, "alice@example.test");
	strcpy(e->client_addr, "192.0.2.1");
	strcpy(e->helo, "client name with spaces %");
	strcpy(e->listener, "submission");
	strcpy(e->tls, "TLSv1.3 TLS_AES_256_GCM_SHA384");
	e->smtputf8 = 1;
	e->eightbit = 1;
	e->ret = ENV_RET_HDRS;
	strcpy(e->envid, "-");
	r = env_add_rcpt(e, "bob@example.test", "rfc822;bob@example.test");
	assert_non_null(r);
	r->notify = ENV_NOTIFY_FAILURE | ENV_NOTIFY_DELAY;
	r->attempts = 3;
	r->next_attempt = 1700000600;
	strcpy(r->last_error, "451 4.3.0 try later = now");
	strcpy(r->dsn_code, "4.3.0");
	strcpy(r->hop, "mx.example.net[192.0.2.9]:25");
	r = env_add_rcpt(e, "\xce\xb4@\xce\xb4.example", NULL);
	assert_non_null(r);
	r->state = ENV_RCPT_DELIVERED;
	r = env_add_rcpt(e, "carol@example.net", NULL);
	assert_non_null(r);
	r->state = ENV_RCPT_FAILED;
}

static void
test_roundtrip(void **state)
{
	struct envelope a, b;
	char *text, err[256];
	size_t len, i;

	(void)state;
	fill(&a);
	assert_int_equal(env_encode(&a, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(strlen(text), len);
	assert_int_equal(env_decode(text, len, &b, err, sizeof(err)), 0);
	assert_string_equal(a.id, b.id);
	assert_true(a.arrival == b.arrival);
	assert_string_equal(a.mail_from, b.mail_from);
	assert_string_equal(a.auth_param, b.auth_param);
	assert_string_equal(a.login, b.login);
	assert_string_equal(a.client_addr, b.client_addr);
	assert_string_equal(a.helo, b.helo);
	assert_string_equal(a.listener, b.listener);
	assert_string_equal(a.tls, b.tls);
	assert_string_equal(a.envid, b.envid);
	assert_int_equal(b.smtputf8, 1);
	assert_int_equal(b.eightbit, 1);
	assert_int_equal(b.is_bounce, 0);
	assert_int_equal(b.ret, ENV_RET_HDRS);
	assert_int_equal(a.nrcpts, b.nrcpts);
	for (i = 0; i < a.nrcpts; i++) {
		assert_string_equal(a.rcpts[i].addr, b.rcpts[i].addr);
		assert_string_equal(a.rcpts[i].orcpt, b.rcpts[i].orcpt);
		assert_string_equal(
		    a.rcpts[i].last_error, b.rcpts[i].last_error);
		assert_string_equal(a.rcpts[i].dsn_code, b.rcpts[i].dsn_code);
		assert_string_equal(a.rcpts[i].hop, b.rcpts[i].hop);
		assert_int_equal(a.rcpts[i].state, b.rcpts[i].state);
		assert_int_equal(a.rcpts[i].attempts, b.rcpts[i].attempts);
		assert_int_equal(a.rcpts[i].notify, b.rcpts[i].notify);
		assert_true(a.rcpts[i].next_attempt == b.rcpts[i].next_attempt);
	}
	assert_int_equal(env_pending(&b), 1);
	/* the text is one line per field and starts with the magic */
	assert_memory_equal(text, "postern-envelope 1\n", 19);
	assert_non_null(strstr(text, "\nfrom alice@example.test\n"));
	assert_non_null(strstr(text, "\nenvid %2D\n"));
	free(text);
	env_free(&a);
	env_free(&b);
}

static void
test_null_sender(void **state)
{
	struct envelope a, b;
	char *text, err[256];
	size_t len;

	(void)state;
	env_init(&a);
	strcpy(a.id, "A1");
	a.is_bounce = 1;
	assert_non_null(env_add_rcpt(&a, "x@y", NULL));
	assert_int_equal(env_encode(&a, &text, &len, err, sizeof(err)), 0);
	assert_non_null(strstr(text, "\nfrom -\n"));
	assert_int_equal(env_decode(text, len, &b, err, sizeof(err)), 0);
	assert_string_equal(b.mail_from, "");
	assert_int_equal(b.is_bounce, 1);
	free(text);
	env_free(&a);
	env_free(&b);
}

static void
test_encode_refuses(void **state)
{
	struct envelope a;
	char *text, err[256];
	size_t len;

	(void)state;
	env_init(&a);
	strcpy(a.id, "../x");
	assert_non_null(env_add_rcpt(&a, "x@y", NULL));
	assert_int_equal(env_encode(&a, &text, &len, err, sizeof(err)), -1);
	strcpy(a.id, "OK");
	strcpy(a.helo, "a\r\nrcpt addr=evil");
	assert_int_equal(env_encode(&a, &text, &len, err, sizeof(err)), -1);
	env_free(&a);
	assert_null(env_add_rcpt(&a, "a\nb@c", NULL));
	assert_null(env_add_rcpt(&a, "", NULL));
	env_free(&a);
}

#define HEAD "postern-envelope 1\nid ABC\narrival 1\nfrom a@b\n"
#define RCPT "rcpt addr=x@y\n"

static void
test_decode_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "postern-envelope 2\nid ABC\narrival 1\nfrom a@b\n" RCPT "end\n",
	    "postern-envelope\n",
	    "junk 1\n",
	    HEAD RCPT,               /* no end */
	    HEAD RCPT "end",         /* no final LF */
	    HEAD RCPT "end\nid X\n", /* after end */
	    HEAD "end\n",            /* no recipient */
	    "postern-envelope 1\nid ABC\nfrom a@b\n" RCPT
	    "end\n",                             /* no arrival */
	    HEAD "id DEF\n" RCPT "end\n",        /* repeated */
	    HEAD "color blue\n" RCPT "end\n",    /* unknown key */
	    HEAD "helo a%0Ab\n" RCPT "end\n",    /* control via escape */
	    HEAD "helo a%4\n" RCPT "end\n",      /* short escape */
	    HEAD "helo a%zz\n" RCPT "end\n",     /* bad hex */
	    HEAD "helo \xce\xb4\n" RCPT "end\n", /* raw 8-bit */
	    HEAD "helo \n" RCPT "end\n",         /* empty value */
	    HEAD "held 2\n" RCPT "end\n",
	    HEAD "held -1\n" RCPT "end\n",
	    HEAD "ret everything\n" RCPT "end\n",
	    "postern-envelope 1\nid ../a\narrival 1\nfrom a@b\n" RCPT "end\n",
	    "postern-envelope 1\nid ABC\narrival 99999999999999999999\nfrom "
	    "a@b\n" RCPT "end\n",
	    HEAD "rcpt\nend\n",
	    HEAD "rcpt \nend\n",
	    HEAD "rcpt state=pending\nend\n", /* no addr */
	    HEAD "rcpt addr=-\nend\n",        /* empty addr */
	    HEAD "rcpt addr=x@y addr=z@w\nend\n",
	    HEAD "rcpt addr=x@y  state=pending\nend\n",
	    HEAD "rcpt addr=x@y state=lost\nend\n",
	    HEAD "rcpt addr=x@y attempts=x\nend\n",
	    HEAD "rcpt addr=x@y colour=red\nend\n",
	    HEAD "rcpt addr=x@y next\nend\n",
	    HEAD "rcpt addr=x@y \nend\n",
	    HEAD "rcpt addr=x@y notify=16\nend\n",
	};
	struct envelope e;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (env_decode(bad[i], strlen(bad[i]), &e, err, sizeof(err)) !=
		    -1)
			fail_msg("case %zu accepted: %s", i, bad[i]);
		assert_true(err[0] != '\0');
		assert_int_equal(e.nrcpts, 0);
		assert_null(e.rcpts);
	}
	/* an embedded NUL */
	{
		static const char nul[] = HEAD "helo a\0b\n" RCPT "end\n";

		assert_int_equal(
		    env_decode(nul, sizeof(nul) - 1, &e, err, sizeof(err)), -1);
	}
	/* and the minimal good one */
	{
		static const char good[] = HEAD RCPT "end\n";

		assert_int_equal(
		    env_decode(good, sizeof(good) - 1, &e, err, sizeof(err)),
		    0);
		assert_int_equal(e.nrcpts, 1);
		assert_int_equal(e.rcpts[0].state, ENV_RCPT_PENDING);
		env_free(&e);
	}
}

static void
test_valid_id(void **state)
{
	(void)state;
	assert_true(env_valid_id("0123456789ABCDEF"));
	assert_true(env_valid_id("0123456789ABCDEFQ"));
	assert_false(env_valid_id(""));
	assert_false(env_valid_id("."));
	assert_false(env_valid_id("a.env"));
	assert_false(env_valid_id("a/b"));
	assert_false(env_valid_id("0123456789012345678901234567890123"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_null_sender),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_valid_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
