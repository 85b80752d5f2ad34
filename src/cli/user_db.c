/*
 * user_db.c - the parts of "postern user" beyond the passwd-file: the SQLite
 * user database (add, passwd, del, list, show, disable, enable), app
 * passwords and device credentials ("postern user app add|list|revoke"),
 * generated passwords and the libpwquality policy (--force overrides it
 * with a warning). Passwords are never printed except a generated one,
 * once, on standard output.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pwquality.h>

#include "auth/apppass.h"
#include "auth/passdb_sqlite.h"
#include "auth/scheme.h"
#include "auth/scheme_scram.h"
#include "auth/userfile.h"
#include "cli/cli.h"
#include "cli/user_db.h"
#include "core/config.h"
#include "core/secret.h"
#include "core/str.h"

#define STORED_MAX 512
#define GEN_LEN    32

/* policy_ok - libpwquality on pw; 1 acceptable, 0 refused (message printed). */
static int
policy_ok(const struct secret *pw, const char *login, const struct config *c,
    int force)
{
	pwquality_settings_t *s;
	void *aux = NULL;
	char msg[256];
	int score, ok = 1;

	s = pwquality_default_settings();
	if (s == NULL)
		return 1;
	(void)pwquality_read_config(s, NULL, NULL);
	(void)pwquality_set_int_value(
	    s, PWQ_SETTING_MIN_LENGTH, (int)c->password_min_length);
	score = pwquality_check(s, (const char *)pw->data, NULL, login, &aux);
	if (score == PWQ_ERROR_CRACKLIB_CHECK && aux != NULL &&
	    strstr((const char *)aux, "error loading dictionary") != NULL) {
		/* no cracklib-runtime: the length rule still applied */
		fprintf(stderr,
		    "postern user: warning: no cracklib dictionary; words are "
		    "not refused (install cracklib-runtime)\n");
		score = 50;
		aux = NULL;
	}
	if (score < 0) {
		fprintf(stderr, "postern user: %s: %s\n",
		    force ? "warning: weak password accepted (--force)"
		          : "password refused",
		    pwquality_strerror(msg, sizeof(msg), score, aux));
		ok = force;
	} else if ((unsigned int)score < c->password_min_quality) {
		fprintf(stderr,
		    "postern user: %s: quality %d is below "
		    "password_min_quality %u\n",
		    force ? "warning: weak password accepted (--force)"
		          : "password refused",
		    score, c->password_min_quality);
		ok = force;
	}
	pwquality_free_settings(s);
	return ok;
}

struct secret *
cli_new_password(int from_stdin, int generate, int force, const char *login,
    const struct config *c, struct secret *(*reader)(int from_stdin))
{
	char gen[GEN_LEN];
	struct secret *pw;

	if (generate) {
		apppass_generate(gen, sizeof(gen));
		pw = secret_new(gen, strlen(gen));
		if (pw != NULL)
			printf("%s\n", gen); /* shown once, never stored */
		secret_wipe(gen, sizeof(gen));
		if (pw == NULL)
			fprintf(stderr, "postern user: out of memory\n");
		return pw;
	}
	pw = reader(from_stdin);
	if (pw != NULL && !policy_ok(pw, login, c, force)) {
		secret_free(pw);
		return NULL;
	}
	return pw;
}

/* scram_keys - the SCRAM-SHA-256 record without "{...}" into out; 0 or -1. */
static int
scram_keys(
    const struct secret *pw, const struct config *c, char *out, size_t outlen)
{
	char rec[STORED_MAX];
	const char *data = NULL;
	int rc = -1;

	pw_scram_set_iterations(c->scram_iterations);
	if (pw_hash("SCRAM-SHA-256", pw, rec, sizeof(rec)) == 0 &&
	    pw_split(rec, &data) != NULL && data != NULL &&
	    str_copy(out, data, outlen) < outlen)
		rc = 0;
	secret_wipe(rec, sizeof(rec));
	return rc;
}

/* sqlite_path - the SQLite passdb of c (the first of a chain), or NULL. */
static const char *
sqlite_path(const struct config *c)
{
	size_t i;

	for (i = 0; i < c->npassdbs; i++)
		if (strcmp(c->passdbs[i].driver, "sqlite") == 0)
			return c->passdbs[i].arg;
	if (strcmp(c->passdb_driver, "sqlite") == 0)
		return c->passdb_path;
	return NULL;
}

int
cli_user_uses_sqlite(const struct config *c)
{
	return sqlite_path(c) != NULL &&
	    (c->npassdbs == 0 || strcmp(c->passdb_driver, "passwd-file") != 0);
}

static int
report(int rc, const char *name, const char *what, const char *err)
{
	if (rc == -2) {
		fprintf(stderr, "postern user: no user %s\n", name);
		return CLI_EXIT_RUNTIME;
	}
	if (rc < 0) {
		fprintf(stderr, "postern user: cannot %s %s: %s\n", what, name,
		    err);
		return CLI_EXIT_RUNTIME;
	}
	return CLI_EXIT_OK;
}

int
cli_user_sqlite(const char *action, const struct config *c, const char *name,
    const char *scheme, int from_stdin, int generate, int force,
    struct secret *(*reader)(int from_stdin))
{
	const char *path = sqlite_path(c);
	struct sqlite3 *h;
	struct secret *pw = NULL;
	char err[512], stored[STORED_MAX], scram[STORED_MAX];
	int rc = CLI_EXIT_RUNTIME, r;

	err[0] = '\0';
	h = sqlite_users_open(
	    path, strcmp(action, "add") == 0, err, sizeof(err));
	if (h == NULL) {
		fprintf(stderr, "postern user: %s\n", err);
		return CLI_EXIT_RUNTIME;
	}
	if (strcmp(action, "list") == 0) {
		rc = report(
		    sqlite_users_list(h, err, sizeof(err)), "", "list", err);
		goto out;
	}
	if (strcmp(action, "show") == 0) {
		rc = report(sqlite_users_show(h, name, err, sizeof(err)), name,
		    "show", err);
		goto out;
	}
	if (strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0) {
		r = sqlite_users_set_flag(h, name, "disabled",
		    strcmp(action, "disable") == 0, err, sizeof(err));
		rc = report(r, name, action, err);
		if (rc == CLI_EXIT_OK)
			printf("%sd %s\n", action, name);
		goto out;
	}
	if (strcmp(action, "del") == 0) {
		rc = report(sqlite_users_del(h, name, err, sizeof(err)), name,
		    "delete", err);
		if (rc == CLI_EXIT_OK)
			printf("deleted %s\n", name);
		goto out;
	}
	r = sqlite_users_exists(h, name);
	if (r < 0 || (r == 1) != (strcmp(action, "passwd") == 0)) {
		fprintf(stderr, "postern user: %s\n",
		    r < 0        ? "cannot read the database"
		        : r == 1 ? "the user exists already"
		                 : "no such user");
		goto out;
	}
	pw = cli_new_password(from_stdin, generate, force, name, c, reader);
	if (pw == NULL)
		goto out;
	if (pw_hash(scheme, pw, stored, sizeof(stored)) < 0 ||
	    scram_keys(pw, c, scram, sizeof(scram)) < 0) {
		fprintf(
		    stderr, "postern user: hashing with %s failed\n", scheme);
		goto out;
	}
	if (strcmp(action, "add") == 0)
		r = sqlite_users_add(h, name, stored, scram, err, sizeof(err));
	else
		r = sqlite_users_set_password(
		    h, name, stored, scram, err, sizeof(err));
	rc = report(r, name, action, err);
	if (rc == CLI_EXIT_OK)
		printf("%s %s\n",
		    strcmp(action, "add") == 0 ? "added"
		                               : "changed the password of",
		    name);
out:
	secret_free(pw);
	secret_wipe(stored, sizeof(stored));
	secret_wipe(scram, sizeof(scram));
	sqlite_users_close(h);
	return rc;
}

/* ---------- passwd-file: show, disable, enable ---------- */

/* extra_fields - the 6th ':' field of rest (after uid:gid:gecos:home:shell). */
static const char *
extra_fields(const char *rest)
{
	int i;

	for (i = 0; i < 5 && rest != NULL; i++) {
		rest = strchr(rest, ':');
		if (rest != NULL)
			rest++;
	}
	return rest;
}

static int
field_is_disabled(const char *tok, size_t len)
{
	return (len >= 7 && strncmp(tok, "nologin", 7) == 0 &&
	           (len == 7 || tok[7] == '=')) ||
	    (len >= 8 && strncmp(tok, "disabled", 8) == 0 &&
	        (len == 8 || tok[8] == '='));
}

int
cli_userfile_set_disabled(struct userfile_line *l, int disabled)
{
	const char *rest = l->rest != NULL ? l->rest : "";
	const char *extra = extra_fields(rest), *p;
	char *n;
	size_t cap, o = 0, prefix;
	int colons = 0;

	cap = strlen(rest) + 32;
	n = calloc(1, cap);
	if (n == NULL)
		return -1;
	/* keep uid:gid:gecos:home:shell, adding empty ones as needed */
	prefix = extra != NULL ? (size_t)(extra - rest) : strlen(rest);
	memcpy(n, rest, prefix);
	o = prefix;
	for (p = rest; p < rest + prefix; p++)
		colons += *p == ':';
	while (colons < 5) {
		n[o++] = ':';
		colons++;
	}
	/* the extra fields without any disabled/nologin, then ours */
	for (p = extra != NULL ? extra : ""; *p != '\0';) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len > 0 && !field_is_disabled(p, len)) {
			if (n[o - 1] != ':')
				n[o++] = ' ';
			memcpy(n + o, p, len);
			o += len;
		}
		p += len;
	}
	if (disabled) {
		if (n[o - 1] != ':')
			n[o++] = ' ';
		memcpy(n + o, "disabled=y", 10);
		o += 10;
	}
	n[o] = '\0';
	free(l->rest);
	l->rest = n;
	return 0;
}

void
cli_userfile_show(const struct userfile_line *l)
{
	const struct pw_scheme *s = pw_split(l->password, NULL);
	const char *extra = extra_fields(l->rest != NULL ? l->rest : "");
	const char *p;
	int disabled = 0;

	for (p = extra != NULL ? extra : ""; *p != '\0';) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len > 0 && field_is_disabled(p, len) &&
		    !(len > 2 && (p[len - 1] == 'n' || p[len - 1] == '0') &&
		        p[len - 2] == '='))
			disabled = 1;
		p += len;
	}
	printf("login: %s\n", l->user);
	printf("scheme: %s\n", s != NULL ? s->name : "unknown");
	printf("scram-sha-256: %s\n",
	    extra != NULL && strstr(extra, "scram-sha-256=") != NULL ? "yes"
	                                                             : "no");
	printf("disabled: %s\n", disabled ? "yes" : "no");
	/* sender policy (policy/sender.h): aliases and send-as grants */
	for (p = extra != NULL ? extra : ""; *p != '\0';) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len > 7 && strncasecmp(p, "sender=", 7) == 0)
			printf("sender: %.*s\n", (int)(len - 7), p + 7);
		else if (len > 7 && strncasecmp(p, "sendas=", 7) == 0)
			printf("send-as: %.*s\n", (int)(len - 7), p + 7);
		p += len;
	}
}

/* ---------- postern user app add|list|revoke ---------- */

static void
app_usage(FILE *f)
{
	fprintf(f,
	    "usage: postern user app add    -c CONF NAME LABEL [--networks "
	    "CIDRS]\n"
	    "                               [--sender ADDR] [--rate-cap N] "
	    "[--tls-floor V]\n"
	    "                               [--password-stdin]\n"
	    "       postern user app list   -c CONF NAME\n"
	    "       postern user app revoke -c CONF NAME LABEL\n"
	    "\n"
	    "App passwords and device credentials of a user of the SQLite "
	    "passdb: each\n"
	    "works besides the main password and is revoked on its own. "
	    "'add' prints a\n"
	    "generated password once (or takes one from stdin).\n"
	    "\n"
	    "  --networks CIDRS   client networks allowed, e.g. "
	    "\"192.0.2.0/24 2001:db8::/32\"\n"
	    "  --sender ADDR      the only sender address this credential may "
	    "use\n"
	    "  --rate-cap N       messages per hour\n"
	    "  --tls-floor V      relaxed TLS minimum for a legacy device "
	    "(TLSv1, TLSv1.1);\n"
	    "                     granted explicitly by the operator\n");
}

int
cli_user_app(int argc, char **argv, struct secret *(*reader)(int from_stdin))
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"networks", required_argument, NULL, 'n'},
	    {"sender", required_argument, NULL, 's'},
	    {"rate-cap", required_argument, NULL, 'r'},
	    {"tls-floor", required_argument, NULL, 't'},
	    {"password-stdin", no_argument, NULL, 'p'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf = NULL, *networks = NULL, *sender = NULL,
	           *floor = NULL, *action, *name, *label = NULL;
	unsigned long long cap = 0;
	struct config *c = NULL;
	struct sqlite3 *h = NULL;
	struct secret *pw = NULL;
	char err[4096], stored[STORED_MAX], gen[GEN_LEN];
	int ch, from_stdin = 0, force = 0, rc = CLI_EXIT_USAGE, r;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		app_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	action = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'n':
			networks = optarg;
			break;
		case 's':
			sender = optarg;
			break;
		case 'r':
			if (str_to_uint(optarg, 1000000, &cap) < 0) {
				fprintf(stderr,
				    "postern user app: bad "
				    "--rate-cap\n");
				return CLI_EXIT_USAGE;
			}
			break;
		case 't':
			floor = optarg;
			break;
		case 'p':
			from_stdin = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			app_usage(stdout);
			return CLI_EXIT_OK;
		default:
			app_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		app_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	name = argv[optind++];
	if (optind < argc)
		label = argv[optind++];
	if (conf == NULL || optind != argc ||
	    (strcmp(action, "list") == 0) != (label == NULL) ||
	    (strcmp(action, "add") != 0 && strcmp(action, "list") != 0 &&
	        strcmp(action, "revoke") != 0)) {
		fprintf(stderr, "postern user app: %s\n",
		    conf == NULL ? "-c CONF is required" : "wrong arguments");
		app_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (label != NULL &&
	    (label[0] == '\0' || strlen(label) > 64 ||
	        !str_is_printable_ascii(label, strlen(label)))) {
		fprintf(stderr, "postern user app: bad label\n");
		return CLI_EXIT_USAGE;
	}
	if (floor != NULL && sqlite_tls_floor(floor) < 0) {
		fprintf(stderr,
		    "postern user app: --tls-floor is TLSv1, "
		    "TLSv1.1 or TLSv1.2\n");
		return CLI_EXIT_USAGE;
	}
	if (networks != NULL && !apppass_networks_valid(networks)) {
		fprintf(stderr, "postern user app: bad --networks\n");
		return CLI_EXIT_USAGE;
	}
	c = malloc(sizeof(*c));
	if (c == NULL)
		return CLI_EXIT_RUNTIME;
	if (config_load(conf, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	rc = CLI_EXIT_RUNTIME;
	if (sqlite_path(c) == NULL) {
		fprintf(stderr,
		    "postern user app: app passwords need the "
		    "sqlite passdb\n");
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	h = sqlite_users_open(sqlite_path(c), 0, err, sizeof(err));
	if (h == NULL) {
		fprintf(stderr, "postern user app: %s\n", err);
		goto out;
	}
	if (strcmp(action, "list") == 0) {
		rc = report(sqlite_apppass_list(h, name, err, sizeof(err)),
		    name, "list the credentials of", err);
		goto out;
	}
	if (strcmp(action, "revoke") == 0) {
		r = sqlite_apppass_revoke(h, name, label, err, sizeof(err));
		if (r == -2) {
			fprintf(stderr,
			    "postern user app: %s has no live credential "
			    "'%s'\n",
			    name, label);
			goto out;
		}
		rc = report(r, name, "revoke a credential of", err);
		if (rc == CLI_EXIT_OK)
			printf("revoked %s of %s\n", label, name);
		goto out;
	}
	if (from_stdin) {
		pw = cli_new_password(1, 0, force, name, c, reader);
		if (pw == NULL)
			goto out;
		/* chosen by a person: the slow default scheme */
		r = pw_hash(c->default_scheme, pw, stored, sizeof(stored));
	} else {
		/* 100 random bits: a fast salted hash is enough, and keeps
		 * a login that tries several credentials cheap */
		apppass_generate(gen, sizeof(gen));
		pw = secret_new(gen, strlen(gen));
		r = pw == NULL ? -1
		               : pw_hash("SSHA512", pw, stored, sizeof(stored));
	}
	if (r < 0) {
		fprintf(stderr, "postern user app: hashing failed\n");
		goto out;
	}
	r = sqlite_apppass_add(h, name, label, stored, networks, sender,
	    (unsigned int)cap, floor, err, sizeof(err));
	if (r == -3) {
		fprintf(stderr,
		    "postern user app: %s already has a live credential "
		    "'%s'\n",
		    name, label);
		goto out;
	}
	rc = report(r, name, "add a credential to", err);
	if (rc == CLI_EXIT_OK && !from_stdin)
		printf("%s\n", gen); /* shown once */
out:
	secret_wipe(gen, sizeof(gen));
	secret_wipe(stored, sizeof(stored));
	secret_free(pw);
	if (h != NULL)
		sqlite_users_close(h);
	free(c);
	return rc;
}
