/*
 * main.c - subcommand dispatch table, nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_command commands[] = {
    {"serve", "run the server in the foreground", cli_serve},
    {"init", "create a complete instance in a directory", cli_init},
    {"user", "users: add passwd del list show disable enable app", cli_user},
    {"queue", "the mail queue: list, show, flush, delete, hold, release",
        cli_queue},
    {"check", "validate a configuration file", cli_check},
    {"guard", "brute-force bans and held logins: list, unban", cli_guard},
    {"hash", "print the hash of a password read on stdin", cli_hash},
    {"bench", "load an SMTP server and report throughput and latency",
        cli_bench},
    {"send", "submit a message to a server as an authenticating client",
        cli_send},
    {"sendmail", "sendmail-compatible submission (also run as sendmail)",
        cli_sendmail},
    {"version", "print the version", cli_version},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: postern COMMAND [options]   (postern COMMAND "
	    "--help)\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(
		    f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int
main(int argc, char **argv)
{
	const char *base = argv[0] != NULL ? strrchr(argv[0], '/') : NULL;
	size_t i;

	/* installed as "sendmail" (a symlink): the sendmail interface */
	base = base != NULL ? base + 1 : argv[0];
	if (base != NULL && strcmp(base, "sendmail") == 0)
		return cli_sendmail(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cli_version(argc - 1, argv + 1);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "postern: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
