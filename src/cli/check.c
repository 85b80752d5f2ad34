/*
 * check.c - "postern check -c CONF": load and validate a configuration, and
 * on success explain the effective result (listeners, mechanisms, passdb,
 * local domains). Beyond config_load it checks what needs other modules:
 * the default password scheme and that the certificate and key belong
 * together. Every problem goes to stderr; exit 2 if there is one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>

#include "auth/jwks.h"
#include "auth/scheme.h"
#include "cli/cli.h"
#include "core/config.h"

#define CERT_WARN_DAYS 30

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern check -c CONF\n"
	    "\n"
	    "Validate CONF and print the effective configuration.\n"
	    "Problems are printed as \"file:line: message\"; exit status 2.\n"
	    "\n"
	    "  -c, --config CONF  the configuration file\n"
	    "  -h, --help         this text\n");
}

static const char *
tls_name(enum listener_tls t)
{
	switch (t) {
	case LISTENER_TLS_NONE:
		return "none";
	case LISTENER_TLS_STARTTLS:
		return "starttls";
	case LISTENER_TLS_IMPLICIT:
		return "implicit";
	}
	return "?";
}

static const char *
auth_name(enum listener_auth a)
{
	switch (a) {
	case LISTENER_AUTH_OFF:
		return "off";
	case LISTENER_AUTH_OPTIONAL:
		return "optional";
	case LISTENER_AUTH_REQUIRED:
		return "required";
	}
	return "?";
}

static const char *
log_level_name(int lvl)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};

	return lvl >= 0 && lvl < 4 ? names[lvl] : "?";
}

/* has_mech - 1 if the space-separated list holds name. */
static int
has_mech(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* check_tls_files - the certificate parses, is current, and matches the key; problems counted. */
static int
check_tls_files(const char *conf, const struct config *c)
{
	FILE *f;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int problems = 0, days = 0, secs = 0;

	if (c->tls_certificate[0] == '\0')
		return 0;
	f = fopen(c->tls_certificate, "re");
	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		(void)fclose(f);
	}
	if (x == NULL) {
		fprintf(stderr,
		    "%s: [tls] certificate '%s': not a PEM certificate\n", conf,
		    c->tls_certificate);
		problems++;
	}
	f = fopen(c->tls_key, "re");
	if (f != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		(void)fclose(f);
	}
	if (k == NULL) {
		fprintf(stderr,
		    "%s: [tls] key '%s': not an unencrypted PEM private key\n",
		    conf, c->tls_key);
		problems++;
	}
	if (x != NULL && k != NULL && X509_check_private_key(x, k) != 1) {
		fprintf(stderr,
		    "%s: [tls] key '%s' does not belong to certificate '%s'\n",
		    conf, c->tls_key, c->tls_certificate);
		problems++;
	}
	if (x != NULL &&
	    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1) {
		if (days < 0 || (days == 0 && secs <= 0)) {
			fprintf(stderr,
			    "%s: [tls] certificate '%s' has expired\n", conf,
			    c->tls_certificate);
			problems++;
		} else if (days < CERT_WARN_DAYS) {
			fprintf(stderr,
			    "%s: warning: [tls] certificate '%s' expires in %d "
			    "days\n",
			    conf, c->tls_certificate, days);
		}
	}
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	return problems;
}

static void
print_listener(const struct config *c, const struct config_listener *l)
{
	const char *mechs =
	    l->mechanisms[0] != '\0' ? l->mechanisms : c->mechanisms;
	size_t i;

	printf("listener %s (line %d):", l->name, l->line);
	for (i = 0; i < l->naddrs; i++)
		printf("%s%s", i == 0 ? " " : ", ", l->addrs[i].text);
	printf("\n  tls=%s auth=%s", tls_name(l->tls), auth_name(l->auth));
	if (l->auth == LISTENER_AUTH_OFF) {
		printf(" (no AUTH; mail for local domains only)\n");
		return;
	}
	printf(" mechanisms=%s%s\n", mechs,
	    l->mechanisms[0] != '\0' ? " (listener override)" : "");
	if ((has_mech(mechs, "PLAIN") || has_mech(mechs, "LOGIN")) &&
	    l->tls != LISTENER_TLS_IMPLICIT) {
		if (l->plaintext_without_tls)
			printf("  note: plaintext_auth = yes: PLAIN/LOGIN are "
			       "offered without TLS\n");
		else if (l->tls == LISTENER_TLS_STARTTLS)
			printf("  note: PLAIN/LOGIN are offered only after "
			       "STARTTLS\n");
		else
			printf("  note: tls = none: PLAIN/LOGIN are never "
			       "offered here (plaintext_auth = no)\n");
	}
	if (l->legacy_tls)
		printf("  note: legacy_tls = yes: TLS 1.0/1.1 handshakes are "
		       "accepted; only credentials granted a TLS floor may "
		       "log in over them\n");
	if (l->tls == LISTENER_TLS_NONE &&
	    (has_mech(mechs, "SCRAM-SHA-1-PLUS") ||
	        has_mech(mechs, "SCRAM-SHA-256-PLUS")))
		printf("  note: tls = none: the -PLUS mechanisms need TLS "
		       "channel binding and are not offered here\n");
}

static void
print_summary(const struct config *c)
{
	size_t i;

	printf("%s: OK\n\n", c->path);
	printf("server: hostname=%s spool=%s user=%s log_level=%s\n",
	    c->hostname, c->spool, c->run_user[0] != '\0' ? c->run_user : "-",
	    log_level_name(c->log_level));
	if (c->workers == 0)
		printf("  workers=auto");
	else
		printf("  workers=%u", c->workers);
	printf(" max_connections=%u per_ip=%u max_message_size=%llu "
	       "max_recipients=%u max_errors=%u\n",
	    c->max_connections, c->max_connections_per_ip, c->max_message_size,
	    c->max_recipients, c->max_errors);
	printf("  timeouts: command=%ums data=%ums shutdown=%ums\n",
	    c->command_timeout_ms, c->data_timeout_ms, c->shutdown_timeout_ms);
	if (c->tls_certificate[0] != '\0')
		printf("tls: certificate=%s key=%s min_version=%s%s%s\n",
		    c->tls_certificate, c->tls_key,
		    c->tls_min_version == TLS1_3_VERSION ? "TLSv1.3"
		                                         : "TLSv1.2",
		    c->tls_ciphers[0] != '\0' ? " ciphers=" : "",
		    c->tls_ciphers);
	else
		printf("tls: none configured\n");
	printf("auth: mechanisms=%s\n  passdb=%s:%s default_scheme=%s "
	       "allow_authzid=%s failure_delay=%ums threads=",
	    c->mechanisms, c->passdb_driver, c->passdb_path, c->default_scheme,
	    c->allow_authzid ? "yes" : "no", c->failure_delay_ms);
	if (c->auth_threads == 0)
		printf("auto\n");
	else
		printf("%u\n", c->auth_threads);
	printf("delivery: local_domains=");
	for (i = 0; i < c->nlocal_domains; i++)
		printf("%s%s", i == 0 ? "" : ",", c->local_domains[i]);
	printf("%s\n  maildir=%s\n", c->nlocal_domains == 0 ? "(none)" : "",
	    c->maildir);
	for (i = 0; i < c->nlisteners; i++)
		print_listener(c, &c->listeners[i]);
}

int
cli_check(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf = NULL;
	const struct pw_scheme *ps;
	struct config *c;
	char err[16384];
	int ch, problems = 0;

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
	if (conf == NULL || optind != argc) {
		fprintf(stderr, "postern check: %s\n",
		    conf == NULL ? "-c CONF is required"
		                 : "too many arguments");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}

	c = malloc(sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "postern check: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	if (config_load(conf, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return CLI_EXIT_USAGE;
	}
	ps = pw_scheme_find(c->default_scheme);
	if (ps == NULL || !(ps->flags & PW_CAN_GENERATE)) {
		fprintf(stderr,
		    "%s: [auth] default_scheme '%s' cannot hash new "
		    "passwords\n",
		    conf, c->default_scheme);
		problems++;
	}
	problems += check_tls_files(conf, c);
	if (c->oauth_jwks[0] != '\0') {
		char why[512];
		struct jwks *ks = jwks_load(c->oauth_jwks, why, sizeof(why));

		if (ks == NULL) {
			fprintf(stderr, "%s: [oauth] jwks: %s\n", conf, why);
			problems++;
		}
		jwks_free(ks);
	}
	if (problems > 0) {
		free(c);
		return CLI_EXIT_USAGE;
	}
	print_summary(c);
	free(c);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
