/*
 * test_smtp_client.c - the SMTP/LMTP client (src/deliver/smtp_client.c)
 * without a network: the DATA writer (dot-stuffing, CRLF normalisation,
 * any chunking), EHLO capability parsing, mechanism choice, and whole
 * transactions against a scripted server thread on a UNIX socket
 * (pipelined and not, SMTP and LMTP per-recipient replies, malformed
 * replies, a server that stops answering).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "deliver/smtp_client.h"

/* ------------------------------------------------------------------ */
/* DATA writer */

/* encode - in through the writer in chunks of size step; returns malloc'd. */
static char *
encode(const char *in, size_t n, size_t step)
{
	char *out = malloc(2 * n + 16);
	struct smtpc_dot d;
	size_t o = 0, i, k;

	assert_non_null(out);
	smtpc_dot_init(&d);
	for (i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		o += smtpc_dot_feed(&d, in + i, k, out + o);
		assert_true(o <= 2 * (i + k) + 2);
	}
	o += smtpc_dot_end(&d, out + o);
	out[o] = '\0';
	return out;
}

struct dot_case {
	const char *in;
	const char *want;
};

static void
test_dot(void **state)
{
	static const struct dot_case cases[] = {
	    {"", ".\r\n"},
	    {"a\r\n", "a\r\n.\r\n"},
	    {"a", "a\r\n.\r\n"},
	    {"a\n", "a\r\n.\r\n"},
	    {"a\nb\n", "a\r\nb\r\n.\r\n"},
	    {"a\rb", "a\r\nb\r\n.\r\n"},
	    {"a\r", "a\r\n.\r\n"},
	    {"a\r\r\n", "a\r\n\r\n.\r\n"},
	    {".\r\n", "..\r\n.\r\n"},
	    {".", "..\r\n.\r\n"},
	    {"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
	    {"a\n.\n", "a\r\n..\r\n.\r\n"},
	    {"a\r.b", "a\r\n..b\r\n.\r\n"},
	    {"..x\r\n", "...x\r\n.\r\n"},
	    {"a.b\r\n.", "a.b\r\n..\r\n.\r\n"},
	    {"\r\n\r\n", "\r\n\r\n.\r\n"},
	    {"\n\n.", "\r\n\r\n..\r\n.\r\n"},
	    {"x\r\n \r\n.", "x\r\n \r\n..\r\n.\r\n"},
	};
	size_t i, step;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (step = 1; step <= 4; step++) {
			char *got =
			    encode(cases[i].in, strlen(cases[i].in), step);

			if (strcmp(got, cases[i].want) != 0)
				fail_msg("case %zu step %zu: got \"%s\"", i,
				    step, got);
			free(got);
		}
	}
}

/* Worst case output stays within 2 * n + 2 (the documented bound). */
static void
test_dot_bound(void **state)
{
	static const char *const ins[] = {
	    "\r.\r.\r.", "\n\n\n\n", "....", "\r\r\r\r", "\r.\r."};
	size_t i, step;

	(void)state;
	for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		for (step = 1; step <= 6; step++)
			free(encode(ins[i], strlen(ins[i]), step));
	}
}

/* ------------------------------------------------------------------ */
/* EHLO and AUTH choice */

static void
parse(const char *text, struct smtpc_caps *caps)
{
	struct reply_parser *p = malloc(sizeof(*p));
	struct smtp_reply *r = malloc(sizeof(*r));
	size_t used;

	reply_parse_init(p);
	assert_int_equal(
	    reply_parse(p, text, strlen(text), &used, r), REPLY_DONE);
	smtpc_parse_ehlo(r, caps);
	free(p);
	free(r);
}

static void
test_ehlo(void **state)
{
	struct smtpc_caps caps;

	(void)state;
	parse("250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
	      "250-8bitmime\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n"
	      "250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n"
	      "250-AUTH plain LOGIN SCRAM-SHA-256 bad/mech PLAIN\r\n"
	      "250 AUTH=CRAM-MD5\r\n",
	    &caps);
	assert_true(caps.esmtp);
	assert_true(caps.pipelining);
	assert_true(caps.size);
	assert_int_equal(caps.size_max, 35882577);
	assert_true(caps.eightbitmime);
	assert_true(caps.smtputf8);
	assert_true(caps.starttls);
	assert_true(caps.enhanced);
	assert_true(caps.dsn);
	assert_true(caps.auth);
	assert_string_equal(
	    caps.auth_mechs, " PLAIN LOGIN SCRAM-SHA-256 CRAM-MD5 ");

	/* the greeting line is not a keyword; junk SIZE is no limit */
	parse("250-STARTTLS\r\n250-SIZE junk\r\n250-PIPELININGX\r\n250 X\r\n",
	    &caps);
	assert_false(caps.starttls);
	assert_true(caps.size);
	assert_int_equal(caps.size_max, 0);
	assert_false(caps.pipelining);
	assert_false(caps.auth);
	assert_string_equal(caps.auth_mechs, "");
}

static void
test_pick_mech(void **state)
{
	const char *m;

	(void)state;
	/* PLAIN and LOGIN need TLS */
	assert_null(smtpc_pick_mech(" PLAIN LOGIN ", "", 0));
	m = smtpc_pick_mech(" LOGIN PLAIN ", "", 1);
	assert_non_null(m);
	assert_string_equal(m, "PLAIN");
	m = smtpc_pick_mech(" LOGIN PLAIN ", "login", 1);
	assert_non_null(m);
	assert_string_equal(m, "LOGIN");
	assert_null(smtpc_pick_mech(" CRAM-MD5 ", "", 1));
	assert_null(smtpc_pick_mech(" PLAIN ", "LOGIN", 1));
	/* -PLUS needs channel binding the client API cannot pass yet */
	m = smtpc_pick_mech(" SCRAM-SHA-256-PLUS PLAIN ", "", 1);
	assert_non_null(m);
	assert_string_not_equal(m, "SCRAM-SHA-256-PLUS");
}

/* ------------------------------------------------------------------ */
/* a scripted server */

struct server {
	int lfd;
	int lmtp;
	int pipelining;
	const char *greeting; /* raw, with CRLF */
	int hang_after_data;  /* never answer "." */
	char body[8192];      /* what came between DATA and "." */
	size_t bodylen;
	char cmds[4096];      /* command lines received, '\n'-separated */
	int nreads_with_many; /* reads that held more than one command */
	pthread_t thread;
	char path[108];
};

static int
write_str(int fd, const char *s)
{
	size_t n = strlen(s), done = 0;
	ssize_t w;

	while (done < n) {
		w = write(fd, s + done, n - done);
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static size_t
count_nl(const char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	char buf[16384], out[4096];
	size_t len = 0, accepted = 0, rejected_temp = 0, i;
	char rcpts[16][64];
	int fd, in_data = 0;
	ssize_t r;

	fd = accept(s->lfd, NULL, NULL);
	if (fd == -1)
		return NULL;
	(void)write_str(fd, s->greeting);
	for (;;) {
		char *nl;

		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (!in_data && count_nl(buf, len) > 1)
			s->nreads_with_many++;
		while (len > 0) {
			if (in_data) {
				char *end = strstr(buf, "\r\n.\r\n");
				size_t blen;

				if (strncmp(buf, ".\r\n", 3) == 0) {
					end = buf; /* empty message */
					blen = 0;
				} else if (end == NULL) {
					break;
				} else {
					blen = (size_t)(end + 2 - buf);
				}
				if (blen + s->bodylen < sizeof(s->body)) {
					memcpy(s->body + s->bodylen, buf, blen);
					s->bodylen += blen;
				}
				memmove(buf, buf + blen + 3, len - (blen + 3));
				len -= blen + 3;
				buf[len] = '\0';
				in_data = 0;
				if (s->hang_after_data) {
					sleep(3);
					goto done;
				}
				if (!s->lmtp) {
					(void)write_str(
					    fd, "250 2.0.0 queued as X\r\n");
					continue;
				}
				for (i = 0; i < accepted; i++) {
					if (strncmp(rcpts[i], "full", 4) == 0)
						snprintf(out, sizeof(out),
						    "452 4.2.2 <%s> over "
						    "quota\r\n",
						    rcpts[i]);
					else
						snprintf(out, sizeof(out),
						    "250 2.0.0 <%s> saved\r\n",
						    rcpts[i]);
					(void)write_str(fd, out);
				}
				continue;
			}
			nl = memchr(buf, '\n', len);
			if (nl == NULL)
				break;
			*nl = '\0';
			if (strlen(s->cmds) + strlen(buf) + 2 <
			    sizeof(s->cmds)) {
				strcat(s->cmds, buf);
				strcat(s->cmds, "\n");
			}
			if (strncmp(buf, "EHLO", 4) == 0 ||
			    strncmp(buf, "LHLO", 4) == 0) {
				(void)write_str(fd,
				    s->pipelining
				        ? "250-test\r\n250-PIPELINING\r\n"
				          "250-SIZE 100000\r\n250-8BITMIME\r\n"
				          "250 ENHANCEDSTATUSCODES\r\n"
				        : "250-test\r\n250-SIZE\r\n"
				          "250 ENHANCEDSTATUSCODES\r\n");
			} else if (strncmp(buf, "MAIL", 4) == 0) {
				accepted = 0;
				(void)write_str(fd,
				    strstr(buf, "<nobody@")
				        ? "553 5.1.8 sender refused\r\n"
				        : "250 2.1.0 ok\r\n");
			} else if (strncmp(buf, "RCPT TO:<", 9) == 0) {
				char *a = buf + 9, *e = strchr(a, '>');

				if (e != NULL)
					*e = '\0';
				if (strncmp(a, "bad", 3) == 0) {
					(void)write_str(
					    fd, "550 5.1.1 no such user\r\n");
				} else if (strncmp(a, "later", 5) == 0) {
					rejected_temp++;
					(void)write_str(
					    fd, "450 4.2.1 try later\r\n");
				} else {
					if (accepted < 16)
						snprintf(rcpts[accepted++], 64,
						    "%.60s", a);
					(void)write_str(fd, "250 2.1.5 ok\r\n");
				}
			} else if (strncmp(buf, "DATA", 4) == 0) {
				if (accepted == 0) {
					(void)write_str(fd,
					    "554 5.5.1 no valid "
					    "recipients\r\n");
				} else {
					(void)write_str(fd, "354 go\r\n");
					in_data = 1;
				}
			} else if (strncmp(buf, "QUIT", 4) == 0) {
				(void)write_str(fd, "221 2.0.0 bye\r\n");
				goto done;
			} else {
				(void)write_str(fd, "500 5.5.2 what\r\n");
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			buf[len] = '\0';
		}
	}
done:
	(void)rejected_temp;
	close(fd);
	return NULL;
}

static struct server *
server_start(int lmtp, int pipelining, const char *greeting)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_un sun;

	assert_non_null(s);
	s->lmtp = lmtp;
	s->pipelining = pipelining;
	s->greeting = greeting != NULL ? greeting : "220 test ESMTP\r\n";
	snprintf(s->path, sizeof(s->path), "/tmp/test-smtpc-%ld-%p.sock",
	    (long)getpid(), (void *)s);
	(void)unlink(s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(s->lfd, 1), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	return s;
}

/* server_join - wait for the server thread (it ends after QUIT). */
static void
server_join(struct server *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
}

static void
server_stop(struct server *s)
{
	server_join(s);
	close(s->lfd);
	unlink(s->path);
	free(s);
}

/* msg_fd - a temporary file holding text. */
static int
msg_fd(const char *text)
{
	char path[] = "/tmp/test-smtpc-msg-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static struct smtpc *
client(int lmtp, unsigned int timeout_ms)
{
	struct smtpc_opts o;

	memset(&o, 0, sizeof(o));
	o.proto = lmtp ? SMTPC_LMTP : SMTPC_SMTP;
	o.helo_name = "client.test";
	o.connect_timeout_ms = 2000;
	o.command_timeout_ms = timeout_ms;
	o.data_timeout_ms = timeout_ms;
	return smtpc_new(&o);
}

static int
session(struct smtpc *c, struct server *s)
{
	struct smtpc_session_opts so;

	memset(&so, 0, sizeof(so));
	so.tls = SMTPC_TLS_NONE;
	if (smtpc_connect_unix(c, s->path) != 0)
		return -1;
	return smtpc_session(c, &so);
}

static void
run_transaction(int lmtp, int pipelining)
{
	struct server *s = server_start(lmtp, pipelining, NULL);
	struct smtpc *c = client(lmtp, 5000);
	struct smtpc_envelope env;
	struct smtpc_rcpt r[4];
	int fd = msg_fd("Subject: t\n\n.leading dot\nend");

	assert_int_equal(session(c, s), 250);
	assert_int_equal(smtpc_caps(c)->pipelining, pipelining);
	memset(&env, 0, sizeof(env));
	env.mail_from = "a@test";
	env.size = 30;
	env.eightbit = 1;
	env.auth_param = "a@test"; /* no AUTH advertised: not sent */
	memset(r, 0, sizeof(r));
	r[0].addr = "one@test";
	r[1].addr = "bad@test";
	r[2].addr = "full@test";
	r[3].addr = "later@test";
	assert_int_equal(smtpc_transaction(c, &env, fd, r, 4), 0);
	smtpc_quit(c);
	smtpc_free(c);
	server_stop(s);

	assert_int_equal(r[1].code, 550);
	assert_string_equal(r[1].enh, "5.1.1");
	assert_string_equal(r[1].text, "550 5.1.1 no such user");
	assert_int_equal(r[3].code, 450);
	if (lmtp) {
		assert_int_equal(r[0].code, 250);
		assert_string_equal(r[0].text, "250 2.0.0 <one@test> saved");
		assert_int_equal(r[2].code, 452);
		assert_string_equal(r[2].enh, "4.2.2");
	} else {
		assert_int_equal(r[0].code, 250);
		assert_string_equal(r[0].text, "250 2.0.0 queued as X");
		assert_int_equal(r[2].code, 250);
	}
	close(fd);
}

static void
test_smtp_lockstep(void **state)
{
	(void)state;
	run_transaction(0, 0);
}

static void
test_smtp_pipelined(void **state)
{
	(void)state;
	run_transaction(0, 1);
}

static void
test_lmtp(void **state)
{
	(void)state;
	run_transaction(1, 1);
	run_transaction(1, 0);
}

/* What reached the server: parameters as offered, body dot-stuffed. */
static void
test_wire(void **state)
{
	struct server *s = server_start(0, 1, NULL);
	struct smtpc *c = client(0, 5000);
	struct smtpc_envelope env;
	struct smtpc_rcpt r[1];
	int fd = msg_fd("a\n.b\r\n..\rc");

	(void)state;
	assert_int_equal(session(c, s), 250);
	memset(&env, 0, sizeof(env));
	env.mail_from = "";
	env.size = 11;
	env.eightbit = 1;
	memset(r, 0, sizeof(r));
	r[0].addr = "x@test";
	r[0].orcpt = "rfc822;x@test"; /* no DSN offered: not sent */
	assert_int_equal(smtpc_transaction(c, &env, fd, r, 1), 0);
	smtpc_quit(c);
	server_join(s);
	assert_string_equal(s->cmds,
	    "EHLO client.test\r\n"
	    "MAIL FROM:<> SIZE=11 BODY=8BITMIME\r\n"
	    "RCPT TO:<x@test>\r\n"
	    "DATA\r\n"
	    "QUIT\r\n");
	s->body[s->bodylen] = '\0';
	assert_string_equal(s->body, "a\r\n..b\r\n...\r\nc\r\n");
	assert_true(s->nreads_with_many > 0); /* pipelined */
	close(s->lfd);
	unlink(s->path);
	free(s);
	close(fd);
	smtpc_free(c);
}

/* MAIL refused: every recipient carries the refusal; no DATA. */
static void
test_mail_refused(void **state)
{
	int pip;

	(void)state;
	for (pip = 0; pip <= 1; pip++) {
		struct server *s = server_start(0, pip, NULL);
		struct smtpc *c = client(0, 5000);
		struct smtpc_envelope env;
		struct smtpc_rcpt r[2];
		int fd = msg_fd("x\n");

		assert_int_equal(session(c, s), 250);
		memset(&env, 0, sizeof(env));
		env.mail_from = "nobody@test";
		memset(r, 0, sizeof(r));
		r[0].addr = "one@test";
		r[1].addr = "two@test";
		assert_int_equal(smtpc_transaction(c, &env, fd, r, 2), 0);
		assert_int_equal(r[0].code, 553);
		assert_int_equal(r[1].code, 553);
		assert_string_equal(r[1].enh, "5.1.8");
		smtpc_quit(c);
		smtpc_free(c);
		server_stop(s);
		close(fd);
	}
}

/* Untrusted replies: malformed greeting, code changing mid-reply. */
static void
test_bad_replies(void **state)
{
	static const char *const greetings[] = {
	    "220-a\r\n250 b\r\n", "2x0 hello\r\n",
	    "220 ok\r\n", /* control: works */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(greetings) / sizeof(greetings[0]); i++) {
		struct server *s = server_start(0, 0, greetings[i]);
		struct smtpc *c = client(0, 5000);
		int rc = session(c, s);

		if (i < 2) {
			assert_int_equal(rc, -1);
			assert_true(smtpc_reply(c)->local);
			assert_int_equal(smtpc_reply(c)->code / 100, 4);
		} else {
			assert_int_equal(rc, 250);
			smtpc_quit(c);
		}
		smtpc_free(c);
		server_stop(s);
	}
}

/* The server never answers ".": a timeout, every recipient deferred. */
static void
test_timeout(void **state)
{
	struct server *s = server_start(0, 1, NULL);
	struct smtpc *c = client(0, 500);
	struct smtpc_envelope env;
	struct smtpc_rcpt r[1];
	int fd = msg_fd("x\n");

	(void)state;
	s->hang_after_data = 1;
	assert_int_equal(session(c, s), 250);
	memset(&env, 0, sizeof(env));
	env.mail_from = "a@test";
	memset(r, 0, sizeof(r));
	r[0].addr = "one@test";
	assert_int_equal(smtpc_transaction(c, &env, fd, r, 1), -1);
	assert_int_equal(r[0].code, 421);
	assert_true(r[0].local);
	assert_non_null(strstr(r[0].text, "timeout"));
	smtpc_free(c);
	server_stop(s);
	close(fd);
}

/* A plaintext-only session never sends AUTH PLAIN. */
static void
test_no_plain_without_tls(void **state)
{
	struct server *s = server_start(0, 0, "220 ok\r\n");
	struct smtpc *c = client(0, 5000);
	struct smtpc_session_opts so;

	(void)state;
	memset(&so, 0, sizeof(so));
	so.tls = SMTPC_TLS_NONE;
	so.auth_user = "u";
	assert_int_equal(smtpc_connect_unix(c, s->path), 0);
	/* the scripted server does not offer AUTH: a local refusal */
	assert_int_equal(smtpc_session(c, &so), 454);
	assert_true(smtpc_reply(c)->local);
	assert_string_equal(smtpc_auth_mech(c), "");
	smtpc_quit(c);
	smtpc_free(c);
	server_stop(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dot),
	    cmocka_unit_test(test_dot_bound),
	    cmocka_unit_test(test_ehlo),
	    cmocka_unit_test(test_pick_mech),
	    cmocka_unit_test(test_smtp_lockstep),
	    cmocka_unit_test(test_smtp_pipelined),
	    cmocka_unit_test(test_lmtp),
	    cmocka_unit_test(test_wire),
	    cmocka_unit_test(test_mail_refused),
	    cmocka_unit_test(test_bad_replies),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_no_plain_without_tls),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
