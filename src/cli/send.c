/*
 * send.c - "postern send": submit one message to any submission server
 * as an authenticating client (RFC 6409, RFC 4954), the job of msmtp and
 * swaks. The message comes from stdin, a file, or is built from --from,
 * --to, --subject, --body. The exit code tells which phase failed (see
 * usage()). Passwords and tokens are read into secrets, never printed,
 * and never accepted as plain command-line arguments except a token that
 * the user chose to pass with --oauth2-token.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/accounts.h"
#include "cli/cli.h"
#include "cli/message.h"
#include "cli/send.h"
#include "cli/submit.h"
#include "core/buf.h"
#include "core/secret.h"
#include "core/str.h"

/* Exit codes of postern send (documented in usage() and README.md). */
#define SEND_EXIT_OK       0
#define SEND_EXIT_LOCAL    1 /* cannot read the message, a command failed */
#define SEND_EXIT_USAGE    2 /* bad arguments, accounts file, no server */
#define SEND_EXIT_CONNECT  3 /* resolve, connect, greeting, lost, timeout */
#define SEND_EXIT_TLS      4 /* handshake, certificate, no STARTTLS */
#define SEND_EXIT_AUTH     5 /* refused, no usable mechanism, SCRAM proof */
#define SEND_EXIT_REJECTED 6 /* the message or a recipient refused (5xx) */
#define SEND_EXIT_TEMPFAIL 7 /* the server said try again later (4xx) */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern send [options] [RECIPIENT...]\n"
	    "\n"
	    "Submit a message to a submission server as an authenticating\n"
	    "client. The message is read from stdin (or --message FILE), or\n"
	    "built from --from/--to/--subject/--body. Without recipients,\n"
	    "they are taken from the To:, Cc: and Bcc: fields (Bcc: is\n"
	    "removed before sending).\n"
	    "\n"
	    "server:\n"
	    "  -s, --server HOST[:PORT]  submission server (port 587; 465\n"
	    "                            with --tls implicit)\n"
	    "  -a, --account NAME        use an account of the accounts file\n"
	    "      --accounts FILE       accounts file (default\n"
	    "                            ~/.config/postern/accounts)\n"
	    "      --tls MODE            starttls | implicit | none (default:\n"
	    "                            implicit on port 465, else starttls)\n"
	    "      --cafile FILE         trust these CAs (default: the "
	    "system's)\n"
	    "      --tls-name NAME       certificate name to check (default: "
	    "host)\n"
	    "      --insecure            do not verify the server certificate\n"
	    "      --cert FILE --key FILE  client certificate (AUTH EXTERNAL)\n"
	    "      --helo NAME           EHLO name (default: this host's "
	    "name)\n"
	    "      --timeout SECONDS     per command (default 60)\n"
	    "\n"
	    "authentication:\n"
	    "  -u, --user NAME           log in as NAME\n"
	    "      --authzid NAME        act for NAME (authorization "
	    "identity)\n"
	    "      --auth MECH[,MECH]    mechanisms to use (default: the\n"
	    "                            strongest offered: "
	    "SCRAM-SHA-256-PLUS,\n"
	    "                            SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, "
	    "LOGIN)\n"
	    "      --allow-plaintext     permit PLAIN/LOGIN without TLS\n"
	    "      --password-file FILE  first line of FILE\n"
	    "      --password-stdin      first line of stdin\n"
	    "      --password-command C  first line printed by C (/bin/sh -c)\n"
	    "                            (else $POSTERN_PASSWORD, else the "
	    "account)\n"
	    "      --oauth2-token TOKEN  OAuth 2.0 bearer token (OAUTHBEARER,\n"
	    "                            XOAUTH2); visible to other users in "
	    "ps:\n"
	    "                            prefer --oauth2-token-command or\n"
	    "                            $POSTERN_OAUTH2_TOKEN\n"
	    "      --oauth2-token-command C  token printed by C\n"
	    "\n"
	    "message:\n"
	    "  -f, --from ADDR           sender (envelope, and From: when "
	    "built)\n"
	    "  -t, --to ADDR             recipient (repeatable, or a list)\n"
	    "      --subject TEXT        build a message with this subject\n"
	    "      --body TEXT           ... and this body\n"
	    "  -m, --message FILE        the message (default: stdin)\n"
	    "\n"
	    "  -v, --verbose             print the SMTP dialogue on stderr\n"
	    "                            (AUTH data shown as <masked>)\n"
	    "  -h, --help                this text\n"
	    "\n"
	    "exit codes:\n"
	    "  0  sent to every recipient\n"
	    "  1  local error (message unreadable, password command failed)\n"
	    "  2  usage or configuration error\n"
	    "  3  connection failed (name, connect, greeting, timeout)\n"
	    "  4  TLS failed (handshake, certificate, no STARTTLS)\n"
	    "  5  authentication failed (refused, no usable mechanism, the\n"
	    "     server's SCRAM signature or channel binding did not verify)\n"
	    "  6  the message or a recipient was refused (5xx)\n"
	    "  7  temporary failure (4xx): try again later\n");
}

int
send_exit_code(enum submit_status st)
{
	switch (st) {
	case SUBMIT_OK:
		return SEND_EXIT_OK;
	case SUBMIT_RESOLVE:
	case SUBMIT_CONNECT:
		return SEND_EXIT_CONNECT;
	case SUBMIT_TLS:
		return SEND_EXIT_TLS;
	case SUBMIT_AUTH:
		return SEND_EXIT_AUTH;
	case SUBMIT_TEMP:
		return SEND_EXIT_TEMPFAIL;
	case SUBMIT_REJECTED:
	case SUBMIT_RCPT:
		return SEND_EXIT_REJECTED;
	case SUBMIT_LOCAL:
		break;
	}
	return SEND_EXIT_LOCAL;
}

int
send_read_all(int fd, struct buf *b, int stop_at_dot, char *err, size_t errlen)
{
	char chunk[16384];
	ssize_t r;

	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read the message: %s",
			    strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		if (buf_append(b, chunk, (size_t)r) < 0) {
			snprintf(err, errlen, "the message is too big");
			return -1;
		}
	}
	if (stop_at_dot) {
		/* sendmail without -i: a line with only "." ends the input */
		size_t i = 0;

		while (i < b->len) {
			const char *lf = memchr(b->data + i, '\n', b->len - i);
			size_t e = lf != NULL ? (size_t)(lf - b->data) : b->len;
			size_t l = e - i;

			if ((l == 1 && b->data[i] == '.') ||
			    (l == 2 && b->data[i] == '.' &&
			        b->data[i + 1] == '\r')) {
				b->len = i;
				b->data[i] = '\0';
				break;
			}
			i = e + 1;
		}
	}
	return 0;
}

int
send_to_fd(const struct buf *b, char *err, size_t errlen)
{
	size_t off = 0;
	ssize_t w;
	int fd = memfd_create("postern-message", MFD_CLOEXEC);

	if (fd == -1) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	while (off < b->len) {
		w = write(fd, b->data + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "cannot buffer the message: %s",
			    strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return fd;
}

void
send_hostname(char *out, size_t outlen)
{
	if (gethostname(out, outlen) != 0 || out[0] == '\0')
		str_copy(out, "localhost", outlen);
	out[outlen - 1] = '\0';
}

enum {
	OPT_ACCOUNTS = 256,
	OPT_TLS,
	OPT_CAFILE,
	OPT_TLS_NAME,
	OPT_INSECURE,
	OPT_CERT,
	OPT_KEY,
	OPT_HELO,
	OPT_TIMEOUT,
	OPT_AUTHZID,
	OPT_AUTH,
	OPT_ALLOW_PLAIN,
	OPT_PW_FILE,
	OPT_PW_STDIN,
	OPT_PW_CMD,
	OPT_TOKEN,
	OPT_TOKEN_CMD,
	OPT_SUBJECT,
	OPT_BODY,
};

static const struct option longopts[] = {
    {"server", required_argument, NULL, 's'},
    {"account", required_argument, NULL, 'a'},
    {"accounts", required_argument, NULL, OPT_ACCOUNTS},
    {"tls", required_argument, NULL, OPT_TLS},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"tls-name", required_argument, NULL, OPT_TLS_NAME},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"helo", required_argument, NULL, OPT_HELO},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"user", required_argument, NULL, 'u'},
    {"authzid", required_argument, NULL, OPT_AUTHZID},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"allow-plaintext", no_argument, NULL, OPT_ALLOW_PLAIN},
    {"password-file", required_argument, NULL, OPT_PW_FILE},
    {"password-stdin", no_argument, NULL, OPT_PW_STDIN},
    {"password-command", required_argument, NULL, OPT_PW_CMD},
    {"oauth2-token", required_argument, NULL, OPT_TOKEN},
    {"oauth2-token-command", required_argument, NULL, OPT_TOKEN_CMD},
    {"from", required_argument, NULL, 'f'},
    {"to", required_argument, NULL, 't'},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"body", required_argument, NULL, OPT_BODY},
    {"message", required_argument, NULL, 'm'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* mech_list - "A,B" or "A B" as "A B" for the client (upper case kept). */
static void
mech_list(const char *in, char *out, size_t outlen)
{
	size_t i;

	str_copy(out, in, outlen);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] == ',')
			out[i] = ' ';
}

int
send_load_account(const char *file, const char *name, int required,
    struct account *a, char *err, size_t errlen)
{
	char path[4096];
	int rc;

	if (file != NULL)
		str_copy(path, file, sizeof(path));
	else if (!accounts_default_path(path, sizeof(path))) {
		if (!required)
			return 0;
		snprintf(err, errlen,
		    "no accounts file (~/.config/postern/accounts)");
		return -1;
	}
	if (!required && access(path, F_OK) != 0)
		return 0;
	rc = accounts_load(path, name, a, err, errlen);
	if (rc == 0 && required)
		return -1;
	return rc;
}

int
cli_send(int argc, char **argv)
{
	const char *account = NULL, *accounts = NULL, *pw_file = NULL,
	           *pw_cmd = NULL, *token_cmd = NULL, *from = NULL,
	           *subject = NULL, *body = NULL, *message = NULL;
	char err[512], host[256], mechs[256], from_addr[512];
	struct submit_opts o;
	struct account acct;
	struct msg_rcpts rcpts;
	struct msg_info info;
	struct msg_fix fix;
	struct buf in, out;
	struct secret *cred = NULL;
	enum submit_status st;
	unsigned long long v;
	int ch, pw_stdin = 0, none, fd = -1, rc = SEND_EXIT_USAGE;
	int have_acct = 0;

	memset(&o, 0, sizeof(o));
	memset(&acct, 0, sizeof(acct));
	memset(&rcpts, 0, sizeof(rcpts));
	buf_init(&in, MSG_SIZE_MAX);
	buf_init(&out, MSG_SIZE_MAX + 64 * 1024);
	mechs[0] = '\0';
	optind = 1;
	while ((ch = getopt_long(
	            argc, argv, "s:a:u:f:t:m:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.server = optarg;
			break;
		case 'a':
			account = optarg;
			break;
		case OPT_ACCOUNTS:
			accounts = optarg;
			break;
		case OPT_TLS:
			if (strcmp(optarg, "starttls") == 0)
				o.tls = SUBMIT_TLS_STARTTLS;
			else if (strcmp(optarg, "implicit") == 0)
				o.tls = SUBMIT_TLS_IMPLICIT;
			else if (strcmp(optarg, "none") == 0)
				o.tls = SUBMIT_TLS_NONE;
			else {
				fprintf(stderr,
				    "postern send: --tls is "
				    "starttls, implicit or none\n");
				goto out;
			}
			break;
		case OPT_CAFILE:
			o.cafile = optarg;
			break;
		case OPT_TLS_NAME:
			o.tls_name = optarg;
			break;
		case OPT_INSECURE:
			o.insecure = 1;
			break;
		case OPT_CERT:
			o.cert = optarg;
			break;
		case OPT_KEY:
			o.key = optarg;
			break;
		case OPT_HELO:
			o.helo = optarg;
			break;
		case OPT_TIMEOUT:
			if (str_to_uint(optarg, 3600, &v) < 0 || v == 0) {
				fprintf(
				    stderr, "postern send: bad --timeout\n");
				goto out;
			}
			o.timeout_ms = (unsigned int)v * 1000;
			break;
		case 'u':
			o.user = optarg;
			break;
		case OPT_AUTHZID:
			o.authzid = optarg;
			break;
		case OPT_AUTH:
			mech_list(optarg, mechs, sizeof(mechs));
			o.mechs = mechs;
			break;
		case OPT_ALLOW_PLAIN:
			o.force_plaintext = 1;
			break;
		case OPT_PW_FILE:
			pw_file = optarg;
			break;
		case OPT_PW_STDIN:
			pw_stdin = 1;
			break;
		case OPT_PW_CMD:
			pw_cmd = optarg;
			break;
		case OPT_TOKEN:
			secret_free(cred);
			cred = secret_new(optarg, strlen(optarg));
			secret_wipe(optarg, strlen(optarg)); /* from ps, too */
			if (cred == NULL)
				goto out;
			break;
		case OPT_TOKEN_CMD:
			token_cmd = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			if (msg_rcpts_add_list(
			        &rcpts, optarg, err, sizeof(err)) < 0) {
				fprintf(
				    stderr, "postern send: --to: %s\n", err);
				goto out;
			}
			break;
		case OPT_SUBJECT:
			subject = optarg;
			break;
		case OPT_BODY:
			body = optarg;
			break;
		case 'm':
			message = optarg;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			rc = SEND_EXIT_OK;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	for (; optind < argc; optind++) {
		if (msg_rcpts_add_list(&rcpts, argv[optind], err, sizeof(err)) <
		    0) {
			fprintf(stderr, "postern send: %s\n", err);
			goto out;
		}
	}

	/* the account: named, or the default one when no --server is given */
	if (account != NULL || o.server == NULL) {
		int r = send_load_account(accounts, account, account != NULL,
		    &acct, err, sizeof(err));

		if (r < 0) {
			fprintf(stderr, "postern send: %s\n", err);
			goto out;
		}
		have_acct = r == 1;
		if (have_acct &&
		    submit_opts_from_account(&o, &acct, err, sizeof(err)) < 0) {
			fprintf(stderr, "postern send: %s\n", err);
			goto out;
		}
	}
	if (o.server == NULL) {
		fprintf(stderr,
		    "postern send: no server: give --server "
		    "HOST[:PORT] or an account (-a NAME)\n");
		goto out;
	}
	if (pw_stdin && message == NULL && subject == NULL && body == NULL) {
		fprintf(stderr,
		    "postern send: --password-stdin needs the "
		    "message from --message FILE or --body\n");
		goto out;
	}

	/* the message */
	send_hostname(host, sizeof(host));
	memset(&fix, 0, sizeof(fix));
	fix.hostname = host;
	if (from == NULL && have_acct && acct.from[0] != '\0')
		from = acct.from;
	if (subject != NULL || body != NULL) {
		if (from == NULL) {
			fprintf(stderr,
			    "postern send: --from is needed to "
			    "build a message\n");
			goto out;
		}
		if (rcpts.n == 0) {
			fprintf(stderr, "postern send: no recipient (--to)\n");
			goto out;
		}
		if (msg_build(&in, from, &rcpts, subject,
		        body != NULL ? body : "", host, err, sizeof(err)) < 0) {
			fprintf(stderr, "postern send: %s\n", err);
			goto out;
		}
	} else {
		int mfd = STDIN_FILENO;

		if (message != NULL && strcmp(message, "-") != 0) {
			mfd = open(message, O_RDONLY | O_CLOEXEC);
			if (mfd == -1) {
				fprintf(stderr, "postern send: %s: %s\n",
				    message, strerror(errno));
				rc = SEND_EXIT_LOCAL;
				goto out;
			}
		}
		if (send_read_all(mfd, &in, 0, err, sizeof(err)) < 0) {
			fprintf(stderr, "postern send: %s\n", err);
			if (mfd != STDIN_FILENO)
				close(mfd);
			rc = SEND_EXIT_LOCAL;
			goto out;
		}
		if (mfd != STDIN_FILENO)
			close(mfd);
	}
	fix.from_header = from != NULL ? from : "";
	if (msg_prepare(in.data != NULL ? in.data : "", in.len, &fix,
	        rcpts.n == 0 ? &rcpts : NULL, &out, &info, err,
	        sizeof(err)) < 0) {
		fprintf(stderr, "postern send: %s\n", err);
		goto out;
	}
	if (rcpts.n == 0) {
		fprintf(stderr,
		    "postern send: no recipients (give them as "
		    "arguments, --to, or in To:/Cc:/Bcc:)\n");
		goto out;
	}
	/* the envelope sender */
	from_addr[0] = '\0';
	if (from != NULL) {
		if (msg_addr_of(from, from_addr, sizeof(from_addr)) < 0) {
			fprintf(
			    stderr, "postern send: bad sender '%s'\n", from);
			goto out;
		}
	} else if (info.from_addr[0] != '\0') {
		str_copy(from_addr, info.from_addr, sizeof(from_addr));
	} else if (o.user != NULL && strchr(o.user, '@') != NULL) {
		str_copy(from_addr, o.user, sizeof(from_addr));
	} else {
		fprintf(stderr,
		    "postern send: no sender: give --from or a "
		    "From: field\n");
		goto out;
	}
	/*
	 * credentials: a token, a password, or a client certificate; after
	 * the message, so a password command cannot eat it from stdin
	 */
	if (cred == NULL && token_cmd == NULL && have_acct &&
	    acct.oauth2_token_command[0] != '\0')
		token_cmd = acct.oauth2_token_command;
	if (cred == NULL && token_cmd == NULL) {
		const char *t = getenv("POSTERN_OAUTH2_TOKEN");

		if (t != NULL && t[0] != '\0') {
			cred = secret_new(t, strlen(t));
			if (cred == NULL)
				goto out;
		}
	}
	if (cred == NULL && token_cmd != NULL) {
		cred = submit_run_command(token_cmd, err, sizeof(err));
		if (cred == NULL) {
			fprintf(stderr, "postern send: token: %s\n", err);
			rc = SEND_EXIT_LOCAL;
			goto out;
		}
	}
	if (cred != NULL) {
		/* a token: OAUTHBEARER or XOAUTH2 */
		if (o.mechs == NULL || o.mechs[0] == '\0')
			o.mechs = "OAUTHBEARER XOAUTH2";
	} else if (o.cert != NULL && (o.user == NULL || o.user[0] == '\0') &&
	    (o.mechs == NULL || o.mechs[0] == '\0')) {
		o.mechs = "EXTERNAL";
	} else if (o.mechs != NULL && str_ieq(o.mechs, "EXTERNAL")) {
		/* the certificate is the credential */
	} else if (o.user != NULL && o.user[0] != '\0') {
		cred = submit_credential(pw_file, pw_stdin, pw_cmd,
		    have_acct ? &acct : NULL, &none, err, sizeof(err));
		if (cred == NULL && none) {
			fprintf(stderr,
			    "postern send: no password for %s: use "
			    "--password-file, --password-stdin, "
			    "--password-command or POSTERN_PASSWORD\n",
			    o.user);
			goto out;
		}
		if (cred == NULL) {
			fprintf(stderr, "postern send: password: %s\n", err);
			rc = SEND_EXIT_LOCAL;
			goto out;
		}
	}
	o.password = cred;

	fd = send_to_fd(&out, err, sizeof(err));
	if (fd == -1) {
		fprintf(stderr, "postern send: %s\n", err);
		rc = SEND_EXIT_LOCAL;
		goto out;
	}
	st = submit_message(
	    &o, from_addr, rcpts.v, rcpts.n, fd, out.len, info.eightbit);
	rc = send_exit_code(st);
out:
	if (fd != -1)
		close(fd);
	secret_free(cred);
	account_clear(&acct);
	msg_rcpts_free(&rcpts);
	buf_free(&in);
	buf_free(&out);
	return rc;
}
