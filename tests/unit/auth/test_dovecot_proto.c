/*
 * test_dovecot_proto.c - Dovecot's auth protocol: line parsing and request
 * building (src/auth/dovecot_proto.c), then the "dovecot" passdb on a real
 * event loop against a scripted fake auth server on UNIX sockets in a temp
 * directory: answers, temporary failures, a server that hangs or goes
 * away, and reconnection. tests/integration/test_dovecot_auth.py runs the
 * same driver against a real Dovecot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "auth/dovecot_proto.h"
#include "auth/passdb.h"
#include "core/base64.h"
#include "core/config.h"
#include "core/secret.h"
#include "net/workpool.h"

/* ---------- parsing ---------- */

static int
parse(const char *text, struct dovecot_reply *r, char *buf, size_t bufsize)
{
	size_t n = strlen(text);

	assert_true(n < bufsize);
	memcpy(buf, text, n + 1);
	return dovecot_parse_line(buf, n, r);
}

static void
test_parse_handshake(void **state)
{
	struct dovecot_reply r;
	char buf[256];

	(void)state;
	assert_int_equal(parse("VERSION\t1\t2", &r, buf, sizeof(buf)), 0);
	assert_int_equal(r.cmd, DOVECOT_CMD_VERSION);
	assert_int_equal(r.major, 1);
	assert_int_equal(r.minor, 2);
	assert_int_equal(
	    parse("MECH\tPLAIN\tplaintext", &r, buf, sizeof(buf)), 0);
	assert_int_equal(r.cmd, DOVECOT_CMD_MECH);
	assert_string_equal(r.mech, "PLAIN");
	assert_int_equal(parse("DONE", &r, buf, sizeof(buf)), 0);
	assert_int_equal(r.cmd, DOVECOT_CMD_DONE);
	assert_int_equal(parse("SPID\t123", &r, buf, sizeof(buf)), 0);
	assert_int_equal(r.cmd, DOVECOT_CMD_SPID);
	/* unknown commands are ignored, not errors (protocol rule) */
	assert_int_equal(parse("FUTURE\tx\ty", &r, buf, sizeof(buf)), 0);
	assert_int_equal(r.cmd, DOVECOT_CMD_UNKNOWN);
	assert_int_equal(parse("VERSION\t1", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("VERSION\tx\t2", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("MECH", &r, buf, sizeof(buf)), -1);
}

static void
test_parse_replies(void **state)
{
	struct dovecot_reply r;
	char buf[256];

	(void)state;
	assert_int_equal(parse("OK\t7\tuser=Carol@Example.Test\tsenders=a@x,"
	                       "b@y",
	                     &r, buf, sizeof(buf)),
	    0);
	assert_int_equal(r.cmd, DOVECOT_CMD_OK);
	assert_int_equal(r.id, 7);
	assert_string_equal(r.user, "Carol@Example.Test");
	assert_string_equal(r.senders, "a@x,b@y");
	assert_false(r.nologin);

	assert_int_equal(parse("OK\t8\tuser=d\tnologin\treason=go away", &r,
	                     buf, sizeof(buf)),
	    0);
	assert_true(r.nologin);
	assert_string_equal(r.reason, "go away");
	assert_int_equal(
	    parse("OK\t9\tproxy\thost=10.0.0.1", &r, buf, sizeof(buf)), 0);
	assert_true(r.nologin);

	assert_int_equal(parse("FAIL\t3\tuser=x", &r, buf, sizeof(buf)), 0);
	assert_int_equal(r.cmd, DOVECOT_CMD_FAIL);
	assert_false(r.temp);
	assert_int_equal(parse("FAIL\t3\ttemp", &r, buf, sizeof(buf)), 0);
	assert_true(r.temp);
	assert_int_equal(
	    parse("FAIL\t3\tcode=temp_fail", &r, buf, sizeof(buf)), 0);
	assert_true(r.temp);
	assert_int_equal(
	    parse("FAIL\t3\tcode=user_disabled", &r, buf, sizeof(buf)), 0);
	assert_true(r.disabled);

	/* auth-userdb */
	assert_int_equal(parse("USER\t4\tcarol@example.test\tuid=1000", &r, buf,
	                     sizeof(buf)),
	    0);
	assert_int_equal(r.cmd, DOVECOT_CMD_USER);
	assert_int_equal(r.id, 4);
	assert_string_equal(r.user, "carol@example.test");
	assert_int_equal(parse("NOTFOUND\t5", &r, buf, sizeof(buf)), 0);
	assert_int_equal(r.cmd, DOVECOT_CMD_NOTFOUND);
	assert_int_equal(
	    parse("FAIL\t6\tdatabase down", &r, buf, sizeof(buf)), 0);
	assert_string_equal(r.reason, "database down");

	/* malformed */
	assert_int_equal(parse("OK", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("OK\t", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("OK\t-1", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("OK\t4294967296", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("OK\t1x", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("USER\t4", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("USER\t4\t", &r, buf, sizeof(buf)), -1);
}

static void
test_parse_escapes_and_limits(void **state)
{
	struct dovecot_reply r;
	char buf[DOVECOT_LINE_MAX + 2], *big;
	size_t i;

	(void)state;
	assert_int_equal(
	    parse("OK\t1\tuser=a\001tb\0011c", &r, buf, sizeof(buf)), 0);
	assert_string_equal(r.user, "a\tb\001c");
	/* a decoded NUL, a dangling escape */
	assert_int_equal(parse("OK\t1\tuser=a\0010", &r, buf, sizeof(buf)), -1);
	assert_int_equal(parse("OK\t1\tuser=a\001", &r, buf, sizeof(buf)), -1);
	/* a raw NUL inside the line */
	memcpy(buf, "OK\t1\0x", 6);
	assert_int_equal(dovecot_parse_line(buf, 6, &r), -1);
	/* too many fields */
	big = malloc(DOVECOT_LINE_MAX + 1);
	assert_non_null(big);
	memcpy(big, "OK\t1", 4);
	for (i = 4; i < 4 + 2 * DOVECOT_FIELDS_MAX; i += 2)
		memcpy(big + i, "\tx", 2);
	assert_int_equal(dovecot_parse_line(big, i, &r), -1);
	/* too long */
	memset(big, 'x', DOVECOT_LINE_MAX + 1);
	assert_int_equal(dovecot_parse_line(big, DOVECOT_LINE_MAX + 1, &r), -1);
	free(big);
}

static void
test_build(void **state)
{
	char pwbuf[] = "pa\tss", nulbuf[] = "a\0b";
	struct secret pw = {(unsigned char *)pwbuf, 5}, *line;
	char out[256], dec[256];
	const char *resp;
	long n;
	const char *senders[4];

	(void)state;
	line = dovecot_auth_line(42, "smtp", "carol@example.test", &pw);
	assert_non_null(line);
	assert_true(line->len > 0 && line->data[line->len - 1] == '\n');
	assert_memory_equal(line->data,
	    "AUTH\t42\tPLAIN\tservice=smtp\tnologin\tsecured\tno-penalty\t"
	    "resp=",
	    59);
	resp = strstr((const char *)line->data, "resp=") + 5;
	n = base64_decode(
	    resp, strlen(resp) - 1, (unsigned char *)dec, sizeof(dec));
	assert_int_equal(n, 1 + 18 + 1 + 5);
	assert_memory_equal(dec, "\0carol@example.test\0pa\tss", (size_t)n);
	secret_free(line);
	/* a NUL in the password or a bad service: refused */
	pw.data = (unsigned char *)nulbuf;
	pw.len = 3;
	assert_null(dovecot_auth_line(1, "smtp", "u", &pw));
	pw.len = 1;
	assert_null(dovecot_auth_line(1, "sm\ttp", "u", &pw));
	assert_null(dovecot_auth_line(1, "smtp", "", &pw));

	assert_int_equal(dovecot_user_line(3, "smtp", "a\tb", out, sizeof(out)),
	    strlen("USER\t3\ta\001tb\tservice=smtp\n"));
	assert_string_equal(out, "USER\t3\ta\001tb\tservice=smtp\n");
	assert_int_equal(
	    dovecot_user_line(3, "smtp", "abc", out, 10), (size_t)-1);

	assert_int_equal(dovecot_escape("a\001\t\r\nb", out, sizeof(out)), 10);
	assert_string_equal(out, "a\0011\001t\001r\001lb");

	(void)strcpy(out, "a@x, b@y c@z,,d@w");
	assert_int_equal(dovecot_split_senders(out, senders, 4), 3);
	assert_string_equal(senders[0], "a@x");
	assert_string_equal(senders[2], "c@z");
	assert_null(senders[3]);
}

/* ---------- the driver against a fake auth server ---------- */

struct fake {
	char dir[64];
	char client_path[128];
	char userdb_path[128];
	int lfd_client;
	int lfd_userdb;
	pthread_t thread;
	int stop;
	int nconnects; /* auth-client connections accepted */
};

/* fake_answer - the reply our fake Dovecot gives to one request line. */
static int
fake_answer(char *line, char *out, size_t outlen)
{
	unsigned int id;
	char user[128], *resp;
	unsigned char dec[256];
	long n;

	if (sscanf(line, "USER\t%u\t%127[^\t]", &id, user) == 2) {
		if (strcmp(user, "carol@example.test") == 0)
			return snprintf(
			    out, outlen, "USER\t%u\t%s\tuid=1\n", id, user);
		return snprintf(out, outlen, "NOTFOUND\t%u\n", id);
	}
	if (sscanf(line, "AUTH\t%u\t", &id) != 1)
		return 0;
	resp = strstr(line, "\tresp=");
	if (resp == NULL)
		return snprintf(out, outlen, "FAIL\t%u\n", id);
	resp += 6;
	n = base64_decode(resp, strlen(resp), dec, sizeof(dec) - 1);
	if (n < 2)
		return snprintf(out, outlen, "FAIL\t%u\n", id);
	dec[n] = '\0';
	(void)snprintf(user, sizeof(user), "%.127s", (const char *)dec + 1);
	if (strcmp(user, "hang") == 0)
		return 0;
	if (strcmp(user, "close") == 0)
		return -1;
	if (strcmp(user, "temp") == 0)
		return snprintf(out, outlen, "FAIL\t%u\tuser=temp\ttemp\n", id);
	if (strcmp(user, "nologin") == 0)
		return snprintf(
		    out, outlen, "OK\t%u\tuser=nologin\tnologin\n", id);
	if (strcmp(user, "carol") == 0 &&
	    strcmp((const char *)dec + 1 + strlen(user) + 1, "right") == 0)
		return snprintf(out, outlen,
		    "OK\t%u\tuser=carol@example.test\tsenders=carol@example."
		    "test,c@example.test\n",
		    id);
	return snprintf(out, outlen, "FAIL\t%u\tuser=%s\n", id, user);
}

/* fake_serve - one connection, blocking, until EOF or "close". */
static void
fake_serve(int fd, int master)
{
	static const char hs_client[] =
	    "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\n"
	    "COOKIE\t00\nDONE\n";
	static const char hs_master[] = "VERSION\t1\t1\nSPID\t1\n";
	char buf[8192], out[512], *nl;
	size_t have = 0;
	ssize_t n;
	int k;

	if (write(fd, master ? hs_master : hs_client,
	        master ? sizeof(hs_master) - 1 : sizeof(hs_client) - 1) < 0)
		return;
	for (;;) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			k = fake_answer(buf, out, sizeof(out));
			if (k < 0)
				return;
			if (k > 0 && write(fd, out, (size_t)k) < 0)
				return;
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
	}
}

static void *
fake_thread(void *arg)
{
	struct fake *f = arg;
	int fd;
	fd_set rs;
	struct timeval tv;

	while (!__atomic_load_n(&f->stop, __ATOMIC_SEQ_CST)) {
		FD_ZERO(&rs);
		FD_SET(f->lfd_client, &rs);
		FD_SET(f->lfd_userdb, &rs);
		tv.tv_sec = 0;
		tv.tv_usec = 50000;
		if (select((f->lfd_client > f->lfd_userdb ? f->lfd_client
		                                          : f->lfd_userdb) +
		            1,
		        &rs, NULL, NULL, &tv) <= 0)
			continue;
		if (FD_ISSET(f->lfd_client, &rs)) {
			fd = accept(f->lfd_client, NULL, NULL);
			if (fd >= 0) {
				__atomic_add_fetch(
				    &f->nconnects, 1, __ATOMIC_SEQ_CST);
				fake_serve(fd, 0);
				(void)close(fd);
			}
		}
		if (FD_ISSET(f->lfd_userdb, &rs)) {
			fd = accept(f->lfd_userdb, NULL, NULL);
			if (fd >= 0) {
				fake_serve(fd, 1);
				(void)close(fd);
			}
		}
	}
	return NULL;
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 16) < 0)
		return -1;
	return fd;
}

struct fixture {
	struct fake fake;
	struct event_base *base;
	struct workpool *pool;
	struct config cfg;
	struct passdb db;
	int answered;
	struct cred_result last;
	char last_user[128];
	char last_senders[256];
	int in_call; /* set while a passdb call runs: the answer must not come then */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	(void)snprintf(f->fake.dir, sizeof(f->fake.dir), "/tmp/pdv-XXXXXX");
	if (mkdtemp(f->fake.dir) == NULL)
		return -1;
	(void)snprintf(f->fake.client_path, sizeof(f->fake.client_path),
	    "%s/auth-client", f->fake.dir);
	(void)snprintf(f->fake.userdb_path, sizeof(f->fake.userdb_path),
	    "%s/auth-userdb", f->fake.dir);
	f->fake.lfd_client = listen_unix(f->fake.client_path);
	f->fake.lfd_userdb = listen_unix(f->fake.userdb_path);
	if (f->fake.lfd_client < 0 || f->fake.lfd_userdb < 0)
		return -1;
	if (pthread_create(&f->fake.thread, NULL, fake_thread, &f->fake) != 0)
		return -1;
	f->base = event_base_new();
	f->pool = workpool_new(f->base, 1, 16);
	if (f->base == NULL || f->pool == NULL)
		return -1;
	config_defaults(&f->cfg);
	f->cfg.dovecot_timeout_ms = 400;
	(void)snprintf(f->cfg.dovecot_userdb_socket,
	    sizeof(f->cfg.dovecot_userdb_socket), "%s", f->fake.userdb_path);
	f->db.driver = &passdb_driver_dovecot;
	f->db.base = f->base;
	f->db.pool = f->pool;
	f->db.cfg = &f->cfg;
	if (f->db.driver->open(&f->db, f->fake.client_path, err, sizeof(err)) <
	    0)
		return -1;
	f->db.cfg = NULL;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	f->db.driver->close(&f->db);
	workpool_free(f->pool);
	event_base_free(f->base);
	__atomic_store_n(&f->fake.stop, 1, __ATOMIC_SEQ_CST);
	(void)pthread_join(f->fake.thread, NULL);
	(void)close(f->fake.lfd_client);
	(void)close(f->fake.lfd_userdb);
	(void)unlink(f->fake.client_path);
	(void)unlink(f->fake.userdb_path);
	(void)rmdir(f->fake.dir);
	free(f);
	return 0;
}

static void
answer(const struct cred_result *r, void *arg)
{
	struct fixture *f = arg;
	size_t i;

	assert_false(f->in_call);
	f->answered++;
	f->last = *r;
	(void)snprintf(f->last_user, sizeof(f->last_user), "%s",
	    r->user != NULL ? r->user : "");
	f->last_senders[0] = '\0';
	for (i = 0; r->senders != NULL && r->senders[i] != NULL; i++) {
		(void)strncat(f->last_senders, r->senders[i],
		    sizeof(f->last_senders) - strlen(f->last_senders) - 2);
		(void)strcat(f->last_senders, " ");
	}
	f->last.user = NULL;
	f->last.senders = NULL;
}

static void
wait_answers(struct fixture *f, int n)
{
	struct timeval tv = {0, 20000};
	int rounds;

	for (rounds = 0; f->answered < n && rounds < 500; rounds++) {
		(void)event_base_loopexit(f->base, &tv);
		(void)event_base_dispatch(f->base);
	}
	assert_int_equal(f->answered, n);
}

static enum passdb_status
verify(struct fixture *f, const char *user, const char *pw)
{
	char buf[128];
	struct secret s = {(unsigned char *)buf, strlen(pw)};
	int before = f->answered;

	(void)snprintf(buf, sizeof(buf), "%s", pw);

	f->in_call = 1;
	f->db.driver->verify(&f->db, user, &s, answer, f);
	f->in_call = 0;
	wait_answers(f, before + 1);
	return f->last.status;
}

static void
test_driver_answers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(verify(f, "carol", "right"), PASSDB_OK);
	assert_string_equal(f->last_user, "carol@example.test");
	assert_string_equal(
	    f->last_senders, "carol@example.test c@example.test ");
	assert_int_equal(verify(f, "carol", "wrong"), PASSDB_MISMATCH);
	assert_int_equal(verify(f, "nobody", "x"), PASSDB_MISMATCH);
	assert_int_equal(verify(f, "temp", "x"), PASSDB_TEMPFAIL);
	assert_int_equal(verify(f, "nologin", "x"), PASSDB_DISABLED);
	/* all on one connection */
	assert_int_equal(
	    __atomic_load_n(&f->fake.nconnects, __ATOMIC_SEQ_CST), 1);
}

static void
test_driver_server_gone(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(verify(f, "carol", "right"), PASSDB_OK);
	/* the server drops the connection mid-request */
	assert_int_equal(verify(f, "close", "x"), PASSDB_TEMPFAIL);
	/* the next request reconnects */
	assert_int_equal(verify(f, "carol", "right"), PASSDB_OK);
	assert_int_equal(
	    __atomic_load_n(&f->fake.nconnects, __ATOMIC_SEQ_CST), 2);
}

static void
test_driver_timeout(void **state)
{
	struct fixture *f = *state;

	/* no answer within the timeout; the silent connection is dropped */
	assert_int_equal(verify(f, "hang", "x"), PASSDB_TEMPFAIL);
	assert_int_equal(verify(f, "carol", "right"), PASSDB_OK);
}

static void
test_driver_no_socket(void **state)
{
	struct fixture *f = *state;
	char path[160];

	(void)snprintf(path, sizeof(path), "%s.moved", f->fake.client_path);
	assert_int_equal(rename(f->fake.client_path, path), 0);
	assert_int_equal(verify(f, "carol", "right"), PASSDB_TEMPFAIL);
	assert_int_equal(rename(path, f->fake.client_path), 0);
	assert_int_equal(verify(f, "carol", "right"), PASSDB_OK);
}

static void
exists(struct fixture *f, const char *user)
{
	int before = f->answered;

	f->in_call = 1;
	f->db.driver->exists(&f->db, user, answer, f);
	f->in_call = 0;
	wait_answers(f, before + 1);
}

static void
test_driver_exists(void **state)
{
	struct fixture *f = *state;

	exists(f, "carol@example.test");
	assert_int_equal(f->last.status, PASSDB_OK);
	assert_string_equal(f->last_user, "carol@example.test");
	exists(f, "nobody@example.test");
	assert_int_equal(f->last.status, PASSDB_NO_USER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_handshake),
	    cmocka_unit_test(test_parse_replies),
	    cmocka_unit_test(test_parse_escapes_and_limits),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test_setup_teardown(
	        test_driver_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_driver_server_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_driver_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_driver_no_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_driver_exists, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
