/*
 * cli.h - the subcommands of the postern binary. Each takes argc/argv with
 * argv[0] = the subcommand name and returns an exit code.
 */
#ifndef POSTERN_CLI_CLI_H
#define POSTERN_CLI_CLI_H

#define CLI_EXIT_OK      0
#define CLI_EXIT_RUNTIME 1 /* the command failed while running */
#define CLI_EXIT_USAGE   2 /* bad arguments or bad configuration */

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int cli_serve(int argc, char **argv);
int cli_init(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_guard(int argc, char **argv);
int cli_hash(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_sendmail(int argc, char **argv);
int cli_version(int argc, char **argv);

#endif
