/*
 * submit.c - the client end of message submission for postern send and
 * postern sendmail: the phases of a session driven one by one through the
 * blocking client (deliver/smtp_client.c) so that a failure can be told
 * apart (connection, TLS, AUTH, recipients), the protocol trace with AUTH
 * payloads masked, and the credential sources. The password lives in a
 * struct secret from the moment it is read and is never printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/accounts.h"
#include "cli/readline.h"
#include "cli/submit.h"
#include "core/secret.h"
#include "core/str.h"
#include "deliver/smtp_client.h"

#define SECRET_LINE_MAX 8192 /* OAuth 2.0 tokens can be long */

const char *
submit_status_name(enum submit_status s)
{
	switch (s) {
	case SUBMIT_OK:
		return "sent";
	case SUBMIT_RESOLVE:
		return "cannot resolve the server";
	case SUBMIT_CONNECT:
		return "connection failed";
	case SUBMIT_TLS:
		return "TLS failed";
	case SUBMIT_AUTH:
		return "authentication failed";
	case SUBMIT_TEMP:
		return "temporary failure";
	case SUBMIT_REJECTED:
		return "message refused";
	case SUBMIT_RCPT:
		return "recipient refused";
	case SUBMIT_LOCAL:
		break;
	}
	return "local error";
}

/* ------------------------------------------------------------------ */
/* credentials */

/* read_secret_line - the first line of f without CR/LF, as a secret. */
static struct secret *
read_secret_line(FILE *f, char *err, size_t errlen)
{
	char *line = malloc(SECRET_LINE_MAX);
	struct secret *s = NULL;
	size_t n;

	if (line == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (fgets(line, SECRET_LINE_MAX, f) == NULL) {
		snprintf(err, errlen, "nothing to read");
		goto out;
	}
	n = strlen(line);
	if (n == SECRET_LINE_MAX - 1 && line[n - 1] != '\n') {
		snprintf(err, errlen, "line too long");
		goto out;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n == 0) {
		snprintf(err, errlen, "empty");
		goto out;
	}
	s = secret_new(line, n);
	if (s == NULL)
		snprintf(err, errlen, "out of memory");
out:
	secret_wipe(line, SECRET_LINE_MAX);
	free(line);
	return s;
}

struct secret *
submit_read_fd_line(int fd, char *err, size_t errlen)
{
	struct secret *s;
	char buf[SECRET_LINE_MAX];
	long n = cli_read_line(fd, buf, sizeof(buf));

	if (n < 0) {
		snprintf(err, errlen, "%s",
		    errno == EMSGSIZE ? "line too long" : strerror(errno));
		return NULL;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty");
		return NULL;
	}
	s = secret_new(buf, (size_t)n);
	secret_wipe(buf, sizeof(buf));
	if (s == NULL)
		snprintf(err, errlen, "out of memory");
	return s;
}

struct secret *
submit_read_file(const char *path, char *err, size_t errlen)
{
	char why[128];
	struct secret *s;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	s = read_secret_line(f, why, sizeof(why));
	fclose(f);
	if (s == NULL)
		snprintf(err, errlen, "%s: %s", path, why);
	return s;
}

struct secret *
submit_run_command(const char *cmd, char *err, size_t errlen)
{
	char why[128];
	struct secret *s;
	FILE *f;
	int status;

	fflush(NULL);
	f = popen(cmd, "re");
	if (f == NULL) {
		snprintf(err, errlen, "cannot run the password command: %s",
		    strerror(errno));
		return NULL;
	}
	s = read_secret_line(f, why, sizeof(why));
	/* let the command finish writing, then reap it */
	while (fgetc(f) != EOF)
		;
	status = pclose(f);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		secret_free(s);
		if (status != -1 && WIFEXITED(status))
			snprintf(err, errlen,
			    "the password command failed (exit %d)",
			    WEXITSTATUS(status));
		else
			snprintf(err, errlen, "the password command failed");
		return NULL;
	}
	if (s == NULL)
		snprintf(err, errlen, "the password command printed %s",
		    strcmp(why, "empty") == 0 ||
		            strcmp(why, "nothing to read") == 0
		        ? "nothing"
		        : why);
	return s;
}

struct secret *
submit_credential(const char *password_file, int password_stdin,
    const char *password_command, const struct account *a, int *none_r,
    char *err, size_t errlen)
{
	const char *env = getenv("POSTERN_PASSWORD");
	char why[256];
	struct secret *s;

	*none_r = 0;
	if (password_file != NULL)
		return submit_read_file(password_file, err, errlen);
	if (password_stdin) {
		s = submit_read_fd_line(STDIN_FILENO, why, sizeof(why));
		if (s == NULL)
			snprintf(err, errlen, "password from stdin: %s", why);
		return s;
	}
	if (password_command != NULL)
		return submit_run_command(password_command, err, errlen);
	if (env != NULL && env[0] != '\0') {
		s = secret_new(env, strlen(env));
		if (s == NULL)
			snprintf(err, errlen, "out of memory");
		return s;
	}
	if (a != NULL && a->password_file[0] != '\0')
		return submit_read_file(a->password_file, err, errlen);
	if (a != NULL && a->password_command[0] != '\0')
		return submit_run_command(a->password_command, err, errlen);
	if (a != NULL && a->password != NULL) {
		s = secret_new(a->password->data, a->password->len);
		if (s == NULL)
			snprintf(err, errlen, "out of memory");
		return s;
	}
	*none_r = 1;
	return NULL;
}

int
submit_opts_from_account(
    struct submit_opts *o, const struct account *a, char *err, size_t errlen)
{
#define FILL(field, value)                                                     \
	do {                                                                   \
		if ((o->field == NULL || o->field[0] == '\0') &&               \
		    (value)[0] != '\0')                                        \
			o->field = (value);                                    \
	} while (0)
	FILL(server, a->server);
	FILL(tls_name, a->tls_name);
	FILL(cafile, a->cafile);
	FILL(cert, a->cert);
	FILL(key, a->key);
	FILL(user, a->user);
	FILL(authzid, a->authzid);
	FILL(mechs, a->auth);
	FILL(helo, a->helo);
#undef FILL
	if (o->tls == SUBMIT_TLS_DEFAULT && a->tls[0] != '\0') {
		if (strcmp(a->tls, "starttls") == 0)
			o->tls = SUBMIT_TLS_STARTTLS;
		else if (strcmp(a->tls, "implicit") == 0)
			o->tls = SUBMIT_TLS_IMPLICIT;
		else if (strcmp(a->tls, "none") == 0)
			o->tls = SUBMIT_TLS_NONE;
		else {
			snprintf(err, errlen, "%s:%d: bad tls value", a->file,
			    a->line);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the session */

/* trace - smtpc's hook: the dialogue on stderr, as C:/S: lines. */
static void
trace(void *arg, char dir, const char *line, size_t len)
{
	size_t i;

	(void)arg;
	fprintf(stderr, "%c: ", dir);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		fputc(ch >= 0x20 && ch != 0x7f ? ch : '?', stderr);
	}
	fputc('\n', stderr);
}

/* split_server - "host", "host:port", "[v6]", "[v6]:port". 0 or -1. */
static int
split_server(const char *s, char *host, size_t hostlen, unsigned short *port)
{
	const char *colon;
	unsigned long long v;
	size_t hl;

	*port = 0;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL)
			return -1;
		hl = (size_t)(rb - s) + 1;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
		hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon != NULL) {
		if (str_to_uint(colon + 1, 65535, &v) < 0 || v == 0)
			return -1;
		*port = (unsigned short)v;
	}
	return 0;
}

/* say - report a failure with the reply that explains it. */
static void
say(const char *what, const struct smtp_reply *r)
{
	char text[600];

	fprintf(stderr, "postern: %s: %s\n", what,
	    reply_format(r, text, sizeof(text)));
}

/* conn_trouble - a reply of our own about the connection (4.4.x). */
static int
conn_trouble(const struct smtp_reply *r)
{
	return r->local && strncmp(r->enh, "4.4.", 4) == 0;
}

enum submit_status
submit_message(const struct submit_opts *o, const char *mail_from,
    char *const *rcpts, size_t n, int msg_fd, unsigned long long size,
    int eightbit)
{
	struct smtpc_session_opts so;
	struct smtpc_auth_opts ao;
	struct smtpc_envelope env;
	struct smtpc_opts co;
	struct smtpc_rcpt *rr = NULL;
	const struct smtp_reply *r;
	enum submit_status st = SUBMIT_LOCAL;
	struct smtpc *c = NULL;
	char host[300];
	unsigned short port;
	int implicit, starttls, code, smtputf8 = 0;
	size_t i, ok = 0, perm = 0, temp = 0;

	if (split_server(o->server, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "postern: bad server '%s' (host[:port])\n",
		    o->server);
		return SUBMIT_LOCAL;
	}
	implicit = o->tls == SUBMIT_TLS_IMPLICIT ||
	    (o->tls == SUBMIT_TLS_DEFAULT && port == 465);
	starttls = !implicit && o->tls != SUBMIT_TLS_NONE;
	if (port == 0)
		port = implicit ? 465 : 587;

	memset(&co, 0, sizeof(co));
	co.proto = SMTPC_SMTP;
	co.helo_name = o->helo;
	co.connect_timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : 30000;
	co.command_timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : 60000;
	co.data_timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : 600000;
	if (o->verbose) {
		co.trace = trace;
		co.trace_arg = NULL;
	}
	memset(&so, 0, sizeof(so));
	so.tls = implicit ? SMTPC_TLS_IMPLICIT
	    : starttls    ? SMTPC_TLS_REQUIRED
	                  : SMTPC_TLS_NONE;
	so.ca_file = o->cafile;
	so.tls_name = o->tls_name;
	so.cert_file = o->cert;
	so.key_file = o->key;
	so.no_verify = o->insecure;

	c = smtpc_new(&co);
	rr = calloc(n > 0 ? n : 1, sizeof(*rr));
	if (c == NULL || rr == NULL) {
		fprintf(stderr, "postern: out of memory\n");
		goto out;
	}
	r = smtpc_reply(c);

	/* connect */
	if (smtpc_connect_host(c, host, port) == -1) {
		st = strcmp(r->enh, "4.4.3") == 0 ? SUBMIT_RESOLVE
		                                  : SUBMIT_CONNECT;
		say(submit_status_name(st), r);
		goto out;
	}
	if (o->verbose)
		fprintf(stderr, "* connected to %s\n", smtpc_hop(c));
	if (implicit && smtpc_tls_handshake(c, &so) == -1) {
		st = conn_trouble(r) ? SUBMIT_CONNECT : SUBMIT_TLS;
		say(submit_status_name(st), r);
		goto out;
	}
	code = smtpc_greeting(c);
	if (code != 220) {
		st = SUBMIT_CONNECT;
		say(code < 0 ? "connection failed" : "the server refused us",
		    r);
		goto out;
	}
	code = smtpc_ehlo(c);
	if (code / 100 != 2) {
		st = SUBMIT_CONNECT;
		say(code < 0 ? "connection failed" : "EHLO refused", r);
		goto out;
	}
	if (starttls) {
		if (!smtpc_caps(c)->starttls) {
			st = SUBMIT_TLS;
			fprintf(stderr,
			    "postern: TLS failed: %s does not offer STARTTLS "
			    "(--tls none sends in clear text)\n",
			    smtpc_hop(c));
			goto out;
		}
		code = smtpc_starttls(c, &so);
		if (code != 220) {
			st = code < 0 && conn_trouble(r) ? SUBMIT_CONNECT
			                                 : SUBMIT_TLS;
			say(code < 0 ? submit_status_name(st)
			             : "TLS failed: STARTTLS refused",
			    r);
			goto out;
		}
		code = smtpc_ehlo(c);
		if (code / 100 != 2) {
			st = SUBMIT_CONNECT;
			say(code < 0 ? "connection failed" : "EHLO refused", r);
			goto out;
		}
	}
	if (o->verbose && smtpc_tls_active(c))
		fprintf(stderr, "* TLS: %s\n", smtpc_tls_info(c));

	/* authenticate: with a user, a token, or a certificate for EXTERNAL */
	if ((o->user != NULL && o->user[0] != '\0') || o->password != NULL ||
	    (o->mechs != NULL && str_ieq(o->mechs, "EXTERNAL"))) {
		memset(&ao, 0, sizeof(ao));
		ao.user = o->user != NULL ? o->user : "";
		ao.authzid = o->authzid;
		ao.password = o->password;
		ao.mechs = o->mechs != NULL ? o->mechs : "";
		ao.allow_plaintext = o->force_plaintext;
		code = smtpc_authenticate(c, &ao);
		if (code != 235) {
			st = code < 0 && conn_trouble(r) ? SUBMIT_CONNECT
			                                 : SUBMIT_AUTH;
			say(submit_status_name(st), r);
			goto out;
		}
		if (o->verbose)
			fprintf(stderr, "* authenticated with %s\n",
			    smtpc_auth_mech(c));
	}

	/* the transaction */
	for (i = 0; i < n; i++) {
		rr[i].addr = rcpts[i];
		if (!str_is_printable_ascii(rcpts[i], strlen(rcpts[i])))
			smtputf8 = 1;
	}
	if (!str_is_printable_ascii(mail_from, strlen(mail_from)))
		smtputf8 = 1;
	memset(&env, 0, sizeof(env));
	env.mail_from = mail_from;
	env.size = size;
	env.eightbit = eightbit;
	env.smtputf8 = smtputf8;
	if (smtpc_transaction(c, &env, msg_fd, rr, n) == -1) {
		st = SUBMIT_CONNECT;
		say("connection lost during the transaction", r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (rr[i].code / 100 == 2) {
			ok++;
			continue;
		}
		if (rr[i].code / 100 == 5)
			perm++;
		else
			temp++;
		fprintf(stderr, "postern: <%s>: %s\n", rr[i].addr, rr[i].text);
	}
	if (ok == n) {
		st = SUBMIT_OK;
		if (o->verbose)
			fprintf(stderr, "* sent to %zu recipient%s\n", n,
			    n == 1 ? "" : "s");
	} else if (perm > 0) {
		/* addressing trouble (5.1.x) or the message itself refused */
		st = SUBMIT_REJECTED;
		for (i = 0; i < n; i++)
			if (rr[i].code / 100 == 5 &&
			    strncmp(rr[i].enh, "5.1.", 4) == 0)
				st = SUBMIT_RCPT;
		if (ok > 0)
			fprintf(stderr,
			    "postern: sent to %zu of %zu recipients\n", ok, n);
	} else {
		st = SUBMIT_TEMP;
	}
	smtpc_quit(c);
out:
	smtpc_free(c);
	free(rr);
	return st;
}
