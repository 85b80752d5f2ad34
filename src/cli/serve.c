/*
 * serve.c - `postern serve -c CONF`: load and check the configuration, then
 * hand over to the master (master/master.c). Foreground, logs to stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "master/master.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern serve -c CONF\n\n"
	    "Run the server in the foreground, logging to stderr.\n"
	    "  -c, --config CONF   configuration file (postern.conf)\n"
	    "Signals: SIGTERM/SIGINT stop cleanly (in-flight messages "
	    "finish or get 421),\n"
	    "SIGHUP reloads the configuration, certificates and users.\n");
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	struct config *cfg;
	char err[8192];
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		fprintf(stderr, "postern: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	if (config_load(path, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		free(cfg);
		return CLI_EXIT_USAGE;
	}
	if (cfg->nlisteners == 0) {
		fprintf(stderr,
		    "%s: no [listener NAME] section: nothing to "
		    "serve\n",
		    path);
		free(cfg);
		return CLI_EXIT_USAGE;
	}
	log_init("master", (enum log_level)cfg->log_level);
	return master_run(cfg) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
