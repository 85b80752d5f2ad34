/*
 * sendmail.c - "postern sendmail" (also run as "sendmail" through a
 * symlink): the command-line interface that cron, PHP's mail() and
 * scripts expect, with sendmail's exit codes (sysexits.h). Two modes:
 *   client  an account of the accounts file (-a NAME, or its default):
 *           submitted with AUTH like postern send;
 *   local   else, with a local Postern configuration (-C, $POSTERN_CONFIG,
 *           /etc/postern/postern.conf): written into its spool with the
 *           spool's own durability protocol; the queue service sees it
 *           appear in env/ (inotify) and delivers it.
 * Options: -t -i -oi -f ADDR -F NAME -bm -v -C FILE -a NAME; -o*, -N, -R,
 * -V, -B, -X, -od*, -oe* are accepted and ignored.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/accounts.h"
#include "cli/cli.h"
#include "cli/message.h"
#include "cli/send.h"
#include "cli/submit.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/secret.h"
#include "core/str.h"
#include "queue/envelope.h"
#include "queue/spool.h"

#define DEFAULT_CONFIG "/etc/postern/postern.conf"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern sendmail [-t] [-i] [-f ADDR] [-F NAME] [-a "
	    "ACCOUNT]\n"
	    "                        [-C CONFIG] [-v] [RECIPIENT...]\n"
	    "\n"
	    "sendmail-compatible submission of the message on stdin.\n"
	    "  -t          recipients also from To:, Cc:, Bcc: (Bcc: removed)\n"
	    "  -i, -oi     a line with only \".\" does not end the message\n"
	    "  -f ADDR     envelope sender\n"
	    "  -F NAME     full name for a From: that has to be added\n"
	    "  -a ACCOUNT  submit through this account of the accounts file\n"
	    "              (default: its default account, if any)\n"
	    "  -C CONFIG   without an account: the local Postern whose spool\n"
	    "              takes the message (default $POSTERN_CONFIG, else\n"
	    "              " DEFAULT_CONFIG ")\n"
	    "  -v          print the SMTP dialogue (client mode)\n"
	    "  -bm         deliver mail (the default); -o*, -od*, -N, -R, -V,\n"
	    "              -B and -X are accepted and ignored\n"
	    "\n"
	    "exit codes (sysexits.h): 0 accepted; 64 EX_USAGE; 65 EX_DATAERR\n"
	    "(message refused); 67 EX_NOUSER (recipient refused); 68\n"
	    "EX_NOHOST (server name unknown); 69 EX_UNAVAILABLE (TLS failed,\n"
	    "no server configured); 70 EX_SOFTWARE; 74 EX_IOERR; 75\n"
	    "EX_TEMPFAIL (connection failed, 4xx: try again); 77 EX_NOPERM\n"
	    "(authentication failed, spool not writable); 78 EX_CONFIG\n");
}

/* sysexit - sendmail's exit code for a client-mode outcome. */
static int
sysexit(enum submit_status st)
{
	switch (st) {
	case SUBMIT_OK:
		return EX_OK;
	case SUBMIT_RESOLVE:
		return EX_NOHOST;
	case SUBMIT_CONNECT:
		return EX_TEMPFAIL;
	case SUBMIT_TLS:
		return EX_UNAVAILABLE;
	case SUBMIT_AUTH:
		return EX_NOPERM;
	case SUBMIT_TEMP:
		return EX_TEMPFAIL;
	case SUBMIT_REJECTED:
		return EX_DATAERR;
	case SUBMIT_RCPT:
		return EX_NOUSER;
	case SUBMIT_LOCAL:
		break;
	}
	return EX_SOFTWARE;
}

/* login_name - the invoking user's name. */
static void
login_name(char *out, size_t outlen)
{
	struct passwd *pw = getpwuid(getuid());

	str_copy(out,
	    pw != NULL && pw->pw_name != NULL ? pw->pw_name : "nobody", outlen);
}

/* write_all - n bytes of p to fd; 0 or -1. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * spool_submit - the message into the local spool as the spool's owner
 * (root switches its effective ids so the queue service can read the
 * files). Returns a sysexits code.
 */
static int
spool_submit(const struct config *cfg, const char *from,
    const struct msg_rcpts *rcpts, const struct buf *msg, int eightbit)
{
	char id[ENV_ID_MAX], err[512], tmp[4096];
	struct envelope env;
	struct stat sb;
	size_t i;
	int fd = -1, rc = EX_SOFTWARE, switched = 0, smtputf8 = 0;

	if (stat(cfg->spool, &sb) == -1) {
		fprintf(stderr, "sendmail: spool %s: %s (is Postern set up?)\n",
		    cfg->spool, strerror(errno));
		return errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
	}
	if (geteuid() == 0 && sb.st_uid != 0) {
		if (setegid(sb.st_gid) == -1 || seteuid(sb.st_uid) == -1) {
			fprintf(stderr,
			    "sendmail: cannot become the spool "
			    "owner: %s\n",
			    strerror(errno));
			return EX_OSERR;
		}
		switched = 1;
	}
	env_init(&env);
	fd = spool_create(cfg->spool, id, sizeof(id));
	if (fd == -1) {
		if (errno == EACCES || errno == EPERM) {
			fprintf(stderr,
			    "sendmail: no permission to write to the spool %s "
			    "of the local Postern: run as root or the spool's "
			    "owner, or set up a server account "
			    "(~/.config/postern/accounts)\n",
			    cfg->spool);
			rc = EX_NOPERM;
		} else {
			fprintf(stderr,
			    "sendmail: cannot create a spool "
			    "file: %s\n",
			    strerror(errno));
			rc = errno == ENOSPC ? EX_TEMPFAIL : EX_IOERR;
		}
		goto out;
	}
	str_copy(env.id, id, sizeof(env.id));
	env.arrival = (long long)time(NULL);
	str_copy(env.mail_from, from, sizeof(env.mail_from));
	env.login[0] = '\0';
	str_copy(env.client_addr, "local", sizeof(env.client_addr));
	str_copy(env.helo, cfg->hostname, sizeof(env.helo));
	str_copy(env.listener, "sendmail", sizeof(env.listener));
	env.eightbit = eightbit;
	for (i = 0; i < rcpts->n; i++) {
		if (!str_is_printable_ascii(rcpts->v[i], strlen(rcpts->v[i])))
			smtputf8 = 1;
		if (env_add_rcpt(&env, rcpts->v[i], NULL) == NULL) {
			fprintf(stderr, "sendmail: bad recipient <%s>\n",
			    rcpts->v[i]);
			rc = EX_DATAERR;
			goto fail;
		}
	}
	if (!str_is_printable_ascii(from, strlen(from)))
		smtputf8 = 1;
	env.smtputf8 = smtputf8;
	if (write_all(fd, msg->data, msg->len) == -1) {
		fprintf(stderr, "sendmail: writing the spool file: %s\n",
		    strerror(errno));
		rc =
		    errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_IOERR;
		goto fail;
	}
	if (spool_commit(cfg->spool, id, fd, &env, err, sizeof(err)) == -1) {
		fprintf(stderr, "sendmail: %s\n", err);
		rc =
		    errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_IOERR;
		goto fail;
	}
	rc = EX_OK;
	goto out;
fail:
	if (snprintf(tmp, sizeof(tmp), "%s/tmp/%s", cfg->spool, id) <
	    (int)sizeof(tmp))
		(void)unlink(tmp);
out:
	if (fd != -1)
		close(fd);
	env_free(&env);
	if (switched) {
		/* back to root; nothing privileged follows, so a failure
		 * here changes nothing for the message */
		(void)!seteuid(0);
		(void)!setegid(0);
	}
	return rc;
}

int
cli_sendmail(int argc, char **argv)
{
	const char *from = NULL, *fullname = NULL, *account = NULL,
	           *conf = NULL;
	char err[512], host[256], user[128], from_addr[512], from_hdr[700],
	    received[600], date[64];
	struct submit_opts o;
	struct account acct;
	struct msg_rcpts rcpts;
	struct msg_info info;
	struct msg_fix fix;
	struct config *cfg = NULL;
	struct secret *cred = NULL;
	struct buf in, out;
	int ch, extract = 0, ignore_dots = 0, have_acct, none, fd = -1;
	int rc = EX_USAGE;

	memset(&o, 0, sizeof(o));
	memset(&acct, 0, sizeof(acct));
	memset(&rcpts, 0, sizeof(rcpts));
	buf_init(&in, MSG_SIZE_MAX);
	buf_init(&out, MSG_SIZE_MAX + 64 * 1024);
	optind = 1;
	opterr = 1;
	/* "+": stop at the first recipient, as sendmail does */
	while ((ch = getopt(argc, argv, "+a:B:b:C:F:f:hiN:o:R:tV:vX:")) != -1) {
		switch (ch) {
		case 'a':
			account = optarg;
			break;
		case 'b':
			if (strcmp(optarg, "m") != 0) {
				fprintf(stderr,
				    "sendmail: -b%s is not supported (only "
				    "-bm; see postern queue for the queue)\n",
				    optarg);
				goto out;
			}
			break;
		case 'C':
			conf = optarg;
			break;
		case 'F':
			fullname = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'i':
			ignore_dots = 1;
			break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				ignore_dots = 1;
			break;
		case 't':
			extract = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			rc = EX_OK;
			goto out;
		case 'B':
		case 'N':
		case 'R':
		case 'V':
		case 'X':
			break;
		default:
			usage(stderr);
			goto out;
		}
	}
	for (; optind < argc; optind++) {
		if (msg_rcpts_add_list(&rcpts, argv[optind], err, sizeof(err)) <
		    0) {
			fprintf(stderr, "sendmail: %s\n", err);
			goto out;
		}
	}

	/* client mode with an account, else local mode */
	have_acct = send_load_account(
	    NULL, account, account != NULL, &acct, err, sizeof(err));
	if (have_acct < 0) {
		fprintf(stderr, "sendmail: %s\n", err);
		rc = EX_CONFIG;
		goto out;
	}
	send_hostname(host, sizeof(host));
	if (!have_acct) {
		if (conf == NULL)
			conf = getenv("POSTERN_CONFIG");
		if (conf == NULL || conf[0] == '\0')
			conf = DEFAULT_CONFIG;
		if (access(conf, F_OK) != 0 && errno == EACCES) {
			fprintf(stderr,
			    "sendmail: no permission to read the local "
			    "Postern's configuration %s\n",
			    conf);
			rc = EX_NOPERM;
			goto out;
		}
		if (access(conf, F_OK) != 0) {
			fprintf(stderr,
			    "sendmail: no server to send to: no account in "
			    "~/.config/postern/accounts and no local Postern "
			    "(%s)\n",
			    conf);
			rc = EX_UNAVAILABLE;
			goto out;
		}
		cfg = calloc(1, sizeof(*cfg));
		if (cfg == NULL) {
			rc = EX_OSERR;
			goto out;
		}
		if (config_load(conf, cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "sendmail: %s\n", err);
			rc = access(conf, R_OK) != 0 ? EX_NOPERM : EX_CONFIG;
			goto out;
		}
		str_copy(host, cfg->hostname, sizeof(host));
	}

	/* the sender */
	login_name(user, sizeof(user));
	if (from == NULL && have_acct && acct.from[0] != '\0')
		from = acct.from;
	if (from != NULL && from[0] != '\0') {
		if (msg_addr_of(from, from_addr, sizeof(from_addr)) < 0) {
			fprintf(stderr, "sendmail: bad sender '%s'\n", from);
			rc = EX_DATAERR;
			goto out;
		}
	} else if (from != NULL) {
		from_addr[0] = '\0'; /* -f "" : the null sender */
	} else {
		snprintf(from_addr, sizeof(from_addr), "%s@%s", user, host);
	}
	if (fullname != NULL && from_addr[0] != '\0' &&
	    strpbrk(fullname, "\"\\\r\n") == NULL)
		snprintf(from_hdr, sizeof(from_hdr), "\"%s\" <%s>", fullname,
		    from_addr);
	else if (from_addr[0] != '\0')
		snprintf(from_hdr, sizeof(from_hdr), "<%s>", from_addr);
	else
		snprintf(from_hdr, sizeof(from_hdr), "<%s@%s>", user, host);

	/* the message */
	if (send_read_all(STDIN_FILENO, &in, !ignore_dots, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "sendmail: %s\n", err);
		rc = EX_IOERR;
		goto out;
	}
	memset(&fix, 0, sizeof(fix));
	fix.hostname = host;
	fix.from_header = from_hdr;
	if (!have_acct) {
		msg_date(date, sizeof(date));
		snprintf(received, sizeof(received),
		    "by %s (Postern sendmail) (uid %u);\r\n\t%s", host,
		    (unsigned int)getuid(), date);
		fix.received = received;
	}
	if (msg_prepare(in.data != NULL ? in.data : "", in.len, &fix,
	        extract ? &rcpts : NULL, &out, &info, err, sizeof(err)) < 0) {
		fprintf(stderr, "sendmail: %s\n", err);
		rc = EX_DATAERR;
		goto out;
	}
	if (rcpts.n == 0) {
		fprintf(stderr, "sendmail: no recipients%s\n",
		    extract ? " found in the header" : " (use -t?)");
		goto out;
	}

	if (!have_acct) {
		rc = spool_submit(cfg, from_addr, &rcpts, &out, info.eightbit);
		goto out;
	}

	/* client mode */
	if (submit_opts_from_account(&o, &acct, err, sizeof(err)) < 0) {
		fprintf(stderr, "sendmail: %s\n", err);
		rc = EX_CONFIG;
		goto out;
	}
	if (acct.oauth2_token_command[0] != '\0') {
		cred = submit_run_command(
		    acct.oauth2_token_command, err, sizeof(err));
		if (cred == NULL) {
			fprintf(stderr, "sendmail: token: %s\n", err);
			rc = EX_TEMPFAIL;
			goto out;
		}
		if (o.mechs == NULL || o.mechs[0] == '\0')
			o.mechs = "OAUTHBEARER XOAUTH2";
	} else if (o.cert != NULL && (o.user == NULL || o.user[0] == '\0')) {
		if (o.mechs == NULL || o.mechs[0] == '\0')
			o.mechs = "EXTERNAL";
	} else if (o.user != NULL && o.user[0] != '\0') {
		cred = submit_credential(
		    NULL, 0, NULL, &acct, &none, err, sizeof(err));
		if (cred == NULL) {
			fprintf(stderr, "sendmail: %s\n",
			    none ? "the account has no password source" : err);
			rc = none ? EX_CONFIG : EX_TEMPFAIL;
			goto out;
		}
	}
	o.password = cred;
	fd = send_to_fd(&out, err, sizeof(err));
	if (fd == -1) {
		fprintf(stderr, "sendmail: %s\n", err);
		rc = EX_OSERR;
		goto out;
	}
	rc = sysexit(submit_message(
	    &o, from_addr, rcpts.v, rcpts.n, fd, out.len, info.eightbit));
out:
	if (fd != -1)
		close(fd);
	free(cfg);
	secret_free(cred);
	account_clear(&acct);
	msg_rcpts_free(&rcpts);
	buf_free(&in);
	buf_free(&out);
	return rc;
}
