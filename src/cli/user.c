/*
 * user.c - "postern user add|passwd|del|list": the passwd-file named by
 * [auth] passdb, edited atomically through auth/userfile. Passwords come
 * from the terminal (echo off, asked twice) or, with --password-stdin, from
 * the first line of standard input; they are wiped as soon as hashed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/scheme.h"
#include "auth/scheme_scram.h"
#include "auth/userfile.h"
#include "cli/cli.h"
#include "cli/readline.h"
#include "cli/user_db.h"
#include "core/config.h"
#include "core/secret.h"

#define PASSWORD_MAX 1024 /* octets, without the line end */

enum user_action {
	USER_ADD,
	USER_PASSWD,
	USER_DEL,
	USER_LIST,
	USER_SHOW,
	USER_DISABLE,
	USER_ENABLE,
};

/* --generate and --force (user_db.c applies them) */
static int opt_generate, opt_force;

/* The terminal whose echo is off, restored on a fatal signal. */
static volatile sig_atomic_t tty_saved_fd = -1;
static struct termios tty_saved;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern user add    -c CONF NAME [--password-stdin] "
	    "[--scheme S]\n"
	    "       postern user passwd -c CONF NAME [--password-stdin] "
	    "[--scheme S]\n"
	    "       postern user del    -c CONF NAME\n"
	    "       postern user list   -c CONF\n"
	    "       postern user show|disable|enable -c CONF NAME\n"
	    "       postern user app add|list|revoke ... (see postern user app "
	    "--help)\n"
	    "\n"
	    "Manage the users of the passwd-file named by [auth] passdb in "
	    "CONF.\n"
	    "Logins are addresses (user@example.org).\n"
	    "\n"
	    "  -c, --config CONF    the configuration file\n"
	    "  --password-stdin     read the password from the first line of "
	    "stdin\n"
	    "                       (default: ask twice on the terminal)\n"
	    "  --generate           make a strong random password and print it "
	    "once\n"
	    "  --force              accept a password the policy refuses "
	    "(libpwquality)\n"
	    "  --scheme S           hash scheme (default: [auth] "
	    "default_scheme)\n"
	    "  -h, --help           this text\n");
}

static void
tty_restore_on_signal(int sig)
{
	if (tty_saved_fd >= 0)
		(void)tcsetattr(tty_saved_fd, TCSAFLUSH, &tty_saved);
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

/* tty_prompt - show prompt on fd and read a line with echo off. */
static long
tty_prompt(int fd, const char *prompt, char *buf, size_t bufsize)
{
	struct termios t;
	struct sigaction sa, old_int, old_term, old_hup;
	long n;
	int saved;

	if (tcgetattr(fd, &tty_saved) != 0)
		return -1;
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_lflag |= ICANON;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_restore_on_signal;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &old_int);
	(void)sigaction(SIGTERM, &sa, &old_term);
	(void)sigaction(SIGHUP, &sa, &old_hup);
	tty_saved_fd = fd;

	if (write(fd, prompt, strlen(prompt)) < 0 ||
	    tcsetattr(fd, TCSAFLUSH, &t) != 0) {
		n = -1;
		saved = errno;
	} else {
		n = cli_read_line(fd, buf, bufsize);
		saved = errno;
		(void)tcsetattr(fd, TCSAFLUSH, &tty_saved);
		if (write(fd, "\n", 1) < 0) {
			/* only cosmetic: the user pressed Enter unechoed */
		}
	}
	tty_saved_fd = -1;
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	(void)sigaction(SIGHUP, &old_hup, NULL);
	errno = saved;
	return n;
}

/*
 * read_password - the new password as a secret, or NULL (message printed).
 * From stdin's first line, or asked twice on /dev/tty.
 */
static struct secret *
read_password(int from_stdin)
{
	char a[PASSWORD_MAX + 1], b[PASSWORD_MAX + 1];
	struct secret *s = NULL;
	long n, m;
	int fd;

	if (from_stdin) {
		n = cli_read_line(STDIN_FILENO, a, sizeof(a));
		if (n < 0) {
			fprintf(stderr,
			    "postern user: cannot read the password: %s\n",
			    errno == EMSGSIZE ? "too long" : strerror(errno));
			return NULL;
		}
	} else {
		fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr,
			    "postern user: no terminal to ask for the password "
			    "(use --password-stdin)\n");
			return NULL;
		}
		n = tty_prompt(fd, "New password: ", a, sizeof(a));
		m = n < 0 ? -1 : tty_prompt(fd, "Again: ", b, sizeof(b));
		(void)close(fd);
		if (n < 0 || m < 0) {
			fprintf(stderr,
			    "postern user: cannot read the password: %s\n",
			    errno == EMSGSIZE ? "too long" : strerror(errno));
			secret_wipe(a, sizeof(a));
			secret_wipe(b, sizeof(b));
			return NULL;
		}
		if (n != m || !ct_memeq(a, b, (size_t)n)) {
			fprintf(stderr, "postern user: the passwords differ\n");
			secret_wipe(a, sizeof(a));
			secret_wipe(b, sizeof(b));
			return NULL;
		}
		secret_wipe(b, sizeof(b));
	}
	if (n == 0)
		fprintf(stderr, "postern user: empty password refused\n");
	else if (memchr(a, '\0', (size_t)n) != NULL)
		fprintf(stderr, "postern user: NUL byte in the password\n");
	else {
		s = secret_new(a, (size_t)n);
		if (s == NULL)
			fprintf(stderr, "postern user: out of memory\n");
	}
	secret_wipe(a, sizeof(a));
	return s;
}

/*
 * set_password - read a password and store it for name: the scheme's hash
 * and the keys the configured mechanisms need (SCRAM-SHA-256 always); 0 or -1.
 */
static int
set_password(int from_stdin, const char *scheme, struct userfile *uf,
    const char *name, const struct config *c)
{
	struct secret *pw = cli_new_password(
	    from_stdin, opt_generate, opt_force, name, c, read_password);
	char err[256];
	int rc;

	if (pw == NULL)
		return -1;
	rc = pw_set_user_credentials(uf, name, scheme, pw, c->mechanisms,
	    c->scram_iterations, err, sizeof(err));
	secret_free(pw);
	if (rc < 0)
		fprintf(stderr, "postern user: %s\n", err);
	return rc;
}

static int
parse_action(const char *s, enum user_action *out)
{
	static const struct {
		const char *name;
		enum user_action action;
	} actions[] = {
	    {"add", USER_ADD},
	    {"passwd", USER_PASSWD},
	    {"del", USER_DEL},
	    {"list", USER_LIST},
	    {"show", USER_SHOW},
	    {"disable", USER_DISABLE},
	    {"enable", USER_ENABLE},
	};
	size_t i;

	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(s, actions[i].name) == 0) {
			*out = actions[i].action;
			return 0;
		}
	return -1;
}

/* run - the action on a loaded configuration; an exit code. */
static int
run(enum user_action action, const struct config *c, const char *name,
    const char *scheme, int from_stdin)
{
	struct userfile uf;
	char err[1024];
	size_t i;
	int rc = CLI_EXIT_RUNTIME;

	memset(&uf, 0, sizeof(uf));
	if (userfile_load(c->passdb_path, &uf, err, sizeof(err)) < 0) {
		fprintf(stderr, "postern user: %s\n", err);
		return CLI_EXIT_RUNTIME;
	}
	switch (action) {
	case USER_LIST:
		for (i = 0; i < uf.n; i++)
			if (uf.lines[i].raw == NULL && uf.lines[i].user != NULL)
				printf("%s\n", uf.lines[i].user);
		rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
		goto out;
	case USER_ADD:
		if (userfile_find(&uf, name) != NULL) {
			fprintf(
			    stderr, "postern user: %s already exists\n", name);
			goto out;
		}
		break;
	case USER_PASSWD:
	case USER_DEL:
	case USER_SHOW:
	case USER_DISABLE:
	case USER_ENABLE:
		if (userfile_find(&uf, name) == NULL) {
			fprintf(stderr, "postern user: no user %s in %s\n",
			    name, c->passdb_path);
			goto out;
		}
		if (action == USER_SHOW) {
			cli_userfile_show(userfile_find(&uf, name));
			rc = CLI_EXIT_OK;
			goto out;
		}
		if ((action == USER_DISABLE || action == USER_ENABLE) &&
		    cli_userfile_set_disabled(
		        userfile_find(&uf, name), action == USER_DISABLE) < 0)
			goto out;
		break;
	}

	if (action == USER_DEL) {
		if (userfile_del(&uf, name) < 0) {
			fprintf(
			    stderr, "postern user: cannot delete %s\n", name);
			goto out;
		}
	} else if (action == USER_ADD || action == USER_PASSWD) {
		if (set_password(from_stdin, scheme, &uf, name, c) < 0)
			goto out;
	}
	if (userfile_save(c->passdb_path, &uf, err, sizeof(err)) < 0) {
		fprintf(stderr, "postern user: %s\n", err);
		goto out;
	}
	printf("%s %s\n",
	    action == USER_ADD           ? "added"
	        : action == USER_PASSWD  ? "changed the password of"
	        : action == USER_DISABLE ? "disabled"
	        : action == USER_ENABLE  ? "enabled"
	                                 : "deleted",
	    name);
	rc = CLI_EXIT_OK;
out:
	userfile_free(&uf);
	return rc;
}

int
cli_user(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"password-stdin", no_argument, NULL, 'p'},
	    {"scheme", required_argument, NULL, 's'},
	    {"generate", no_argument, NULL, 'g'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf = NULL, *scheme = NULL, *name = NULL, *action_name;
	const struct pw_scheme *ps;
	enum user_action action;
	struct config *c;
	char err[4096];
	int ch, from_stdin = 0, rc;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "app") == 0)
		return cli_user_app(argc - 1, argv + 1, read_password);
	if (argc < 2 || parse_action(argv[1], &action) < 0) {
		if (argc >= 2)
			fprintf(stderr, "postern user: unknown action '%s'\n",
			    argv[1]);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	action_name = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'p':
			from_stdin = 1;
			break;
		case 's':
			scheme = optarg;
			break;
		case 'g':
			opt_generate = 1;
			break;
		case 'f':
			opt_force = 1;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		name = argv[optind++];
	if (conf == NULL || optind != argc ||
	    (action == USER_LIST) != (name == NULL) ||
	    (action != USER_ADD && action != USER_PASSWD &&
	        (from_stdin || scheme != NULL || opt_generate || opt_force)) ||
	    (from_stdin && opt_generate)) {
		fprintf(stderr, "postern user: %s\n",
		    conf == NULL ? "-c CONF is required"
		                 : "wrong arguments for this action");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (name != NULL && !userfile_valid_name(name)) {
		fprintf(stderr,
		    "postern user: '%s' is not a valid login (1..255 octets, "
		    "no ':', space or control characters)\n",
		    name);
		return CLI_EXIT_USAGE;
	}
	if (name != NULL && action == USER_ADD && strchr(name, '@') == NULL)
		fprintf(stderr,
		    "postern user: warning: '%s' is not an address; logins are "
		    "usually user@domain\n",
		    name);

	c = malloc(sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "postern user: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	if (config_load(conf, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return CLI_EXIT_USAGE;
	}
	if (cli_user_uses_sqlite(c)) {
		if (scheme == NULL)
			scheme = c->default_scheme;
		ps = pw_scheme_find(scheme);
		rc = cli_user_sqlite(action_name, c, name,
		    ps != NULL ? ps->name : scheme, from_stdin, opt_generate,
		    opt_force, read_password);
		free(c);
		return rc;
	}
	if (strcmp(c->passdb_driver, "passwd-file") != 0) {
		fprintf(stderr,
		    "postern user: passdb %s is not a passwd-file; manage it "
		    "with its own tools\n",
		    c->passdb_driver);
		free(c);
		return CLI_EXIT_USAGE;
	}
	if (scheme == NULL)
		scheme = c->default_scheme;
	ps = pw_scheme_find(scheme);
	if (action != USER_LIST && action != USER_DEL &&
	    (ps == NULL || !(ps->flags & PW_CAN_GENERATE))) {
		fprintf(stderr,
		    "postern user: cannot hash new passwords with scheme "
		    "'%s'\n",
		    scheme);
		free(c);
		return CLI_EXIT_USAGE;
	}
	if (ps != NULL)
		scheme = ps->name;
	rc = run(action, c, name, scheme, from_stdin);
	free(c);
	return rc;
}
