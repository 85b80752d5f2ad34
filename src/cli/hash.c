/*
 * hash.c - "postern hash [--scheme S]": read a password from the first line
 * of standard input (echo off when it is a terminal) and print its stored
 * form "{SCHEME}data", ready for a passwd-file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/scheme.h"
#include "cli/cli.h"
#include "cli/readline.h"
#include "core/secret.h"

#define PASSWORD_MAX 1024
#define STORED_MAX   512

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern hash [--scheme S]\n"
	    "\n"
	    "Read a password from the first line of stdin and print its hash\n"
	    "as {SCHEME}data.\n"
	    "\n"
	    "  --scheme S   hash scheme (default " PW_DEFAULT_SCHEME ")\n"
	    "  -h, --help   this text\n");
}

/* read_password - from stdin, with echo off when stdin is a terminal. */
static long
read_password(char *buf, size_t bufsize)
{
	struct termios saved, t;
	long n;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	int err;

	if (!tty)
		return cli_read_line(STDIN_FILENO, buf, bufsize);
	t = saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	fputs("Password: ", stderr);
	(void)fflush(stderr);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	n = cli_read_line(STDIN_FILENO, buf, bufsize);
	err = errno;
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	fputs("\n", stderr);
	errno = err;
	return n;
}

int
cli_hash(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"scheme", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *scheme = PW_DEFAULT_SCHEME;
	const struct pw_scheme *ps;
	char pw[PASSWORD_MAX + 1], stored[STORED_MAX];
	struct secret *s;
	long n;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			scheme = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "postern hash: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	ps = pw_scheme_find(scheme);
	if (ps == NULL || !(ps->flags & PW_CAN_GENERATE)) {
		fprintf(stderr,
		    "postern hash: cannot hash new passwords with scheme "
		    "'%s'\n",
		    scheme);
		return CLI_EXIT_USAGE;
	}

	n = read_password(pw, sizeof(pw));
	if (n < 0) {
		fprintf(stderr, "postern hash: cannot read the password: %s\n",
		    errno == EMSGSIZE ? "too long" : strerror(errno));
		return CLI_EXIT_RUNTIME;
	}
	if (n == 0) {
		fprintf(stderr, "postern hash: empty password refused\n");
		return CLI_EXIT_RUNTIME;
	}
	if (memchr(pw, '\0', (size_t)n) != NULL) {
		secret_wipe(pw, sizeof(pw));
		fprintf(stderr, "postern hash: NUL byte in the password\n");
		return CLI_EXIT_RUNTIME;
	}
	s = secret_new(pw, (size_t)n);
	secret_wipe(pw, sizeof(pw));
	if (s == NULL) {
		fprintf(stderr, "postern hash: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	rc = pw_hash(ps->name, s, stored, sizeof(stored));
	secret_free(s);
	if (rc < 0) {
		fprintf(
		    stderr, "postern hash: hashing with %s failed\n", ps->name);
		return CLI_EXIT_RUNTIME;
	}
	printf("%s\n", stored);
	secret_wipe(stored, sizeof(stored));
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
