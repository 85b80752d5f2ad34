/*
 * version.c - "postern version": our version and the libraries' run-time
 * versions (what is loaded, which may differ from what we were built with).
 */
#include <getopt.h>
#include <stdio.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include "cli/cli.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern version\n"
	    "\n"
	    "Print the version of postern and of the libraries it runs "
	    "with.\n");
}

int
cli_version(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (optind != argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	printf("postern " POSTERN_VERSION "\n");
	printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("  libevent %s\n", event_get_version());
	printf("  libsodium %s\n", sodium_version_string());
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
