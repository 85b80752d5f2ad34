/*
 * guard.c - "postern guard list|unban": look at and lift the guard's bans
 * and containments in its SQLite state (<spool>/guard.db or [guard] state).
 * It works whether the server runs or not: unban removes the rows and
 * leaves a request the running auth service applies within a second
 * (workers, Redis peers and the database all follow), or at its next start.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/guard_store.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/str.h"
#include "policy/relay.h"

#define LIST_MAX 4096

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern guard list  -c CONF\n"
	    "       postern guard unban -c CONF ADDRESS|PREFIX|LOGIN\n"
	    "\n"
	    "The brute-force guard and the containment of logins over their\n"
	    "hard sending cap.\n"
	    "  list     bans (address or IPv6 /64, end, reason), failure\n"
	    "           counters and contained logins\n"
	    "  unban    lift the ban on an address (its /64 for IPv6) and\n"
	    "           forget its failures; for a login, end its containment\n"
	    "           (its held mail stays held: postern queue "
	    "release|delete)\n"
	    "\n"
	    "  -c, --config CONF    the configuration file\n"
	    "  -h, --help           this text\n");
}

static const char *
when(long long t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", t);
	return out;
}

static int
cmd_list(struct guard_store *st)
{
	struct guard_ban *b = calloc(LIST_MAX, sizeof(*b));
	struct guard_counter *cs = calloc(LIST_MAX, sizeof(*cs));
	struct guard_contained *cc = calloc(LIST_MAX, sizeof(*cc));
	long n, i, shown = 0;
	long long now = (long long)time(NULL);
	char t[32];
	int rc = CLI_EXIT_RUNTIME;

	if (b == NULL || cs == NULL || cc == NULL)
		goto out;
	n = guard_store_bans(st, b, LIST_MAX);
	if (n < 0)
		goto out;
	printf("bans:\n");
	for (i = 0; i < n; i++) {
		if (b[i].until <= now)
			continue;
		printf("  %-40s until %s  (%s)\n", b[i].key,
		    when(b[i].until, t, sizeof(t)), b[i].reason);
		shown++;
	}
	if (shown == 0)
		printf("  (none)\n");
	n = guard_store_counters(st, cs, LIST_MAX);
	if (n < 0)
		goto out;
	printf("failures (distinct wrong passwords):\n");
	for (i = 0; i < n; i++)
		printf("  %-7s %-40s %u  last %s\n",
		    cs[i].kind == GUARD_ADDR ? "address" : "account", cs[i].key,
		    cs[i].failures, when(cs[i].last, t, sizeof(t)));
	if (n == 0)
		printf("  (none)\n");
	n = guard_store_contained(st, cc, LIST_MAX);
	if (n < 0)
		goto out;
	printf("contained logins (mail held):\n");
	for (i = 0; i < n; i++)
		printf("  %-40s since %s  (%s)\n", cc[i].login,
		    when(cc[i].since, t, sizeof(t)), cc[i].reason);
	if (n == 0)
		printf("  (none)\n");
	rc = CLI_EXIT_OK;
out:
	if (rc != CLI_EXIT_OK)
		fprintf(stderr, "postern guard: cannot read the state\n");
	free(b);
	free(cs);
	free(cc);
	return rc;
}

static int
cmd_unban(struct guard_store *st, const char *arg)
{
	char key[RELAY_KEY_MAX];
	struct cidr c;
	int is_addr = 0;

	if (relay_addr_key(arg, key, sizeof(key)) == 0) {
		is_addr = 1;
	} else if (strchr(arg, '/') != NULL && cidr_parse(arg, &c) == 0 &&
	    str_copy(key, arg, sizeof(key)) < sizeof(key)) {
		is_addr = 1;
	}
	if (is_addr) {
		if (guard_store_del_ban(st, key) == -1 ||
		    guard_store_del_counter(st, GUARD_ADDR, key) == -1 ||
		    guard_store_add_request(st, "unban", key) == -1)
			goto fail;
		printf("unbanned %s\n", key);
		return CLI_EXIT_OK;
	}
	if (guard_store_del_contained(st, arg) == -1 ||
	    guard_store_del_counter(st, GUARD_ACCOUNT, arg) == -1 ||
	    guard_store_add_request(st, "unban", arg) == -1)
		goto fail;
	printf("released login %s (its held mail stays held)\n", arg);
	return CLI_EXIT_OK;
fail:
	fprintf(stderr, "postern guard: cannot write the state\n");
	return CLI_EXIT_RUNTIME;
}

int
cli_guard(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf = NULL, *verb, *arg = NULL;
	struct config *c;
	struct guard_store *st;
	char err[4096], path[4096];
	int ch, rc, unban;

	if (argc >= 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2 ||
	    (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "unban") != 0)) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	verb = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
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
		arg = argv[optind++];
	unban = strcmp(verb, "unban") == 0;
	if (conf == NULL || optind != argc || unban != (arg != NULL) ||
	    (arg != NULL &&
	        (arg[0] == '\0' || strlen(arg) >= GUARD_LOGIN_MAX))) {
		fprintf(stderr, "postern guard: %s\n",
		    conf == NULL ? "-c CONF is required"
		                 : "wrong arguments for this action");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	c = malloc(sizeof(*c));
	if (c == NULL)
		return CLI_EXIT_RUNTIME;
	if (config_load(conf, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return CLI_EXIT_USAGE;
	}
	if (guard_store_path(c->guard_state, c->spool, path, sizeof(path)) ==
	    -1) {
		fprintf(stderr, "postern guard: state path too long\n");
		free(c);
		return CLI_EXIT_USAGE;
	}
	explicit_bzero(c->relay_password, sizeof(c->relay_password));
	free(c);
	st = guard_store_open(path, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "postern guard: %s\n", err);
		return CLI_EXIT_RUNTIME;
	}
	/* verb is "list" or "unban", and arg is set exactly for "unban" */
	rc = unban ? cmd_unban(st, arg) : cmd_list(st);
	guard_store_close(st);
	return rc;
}
