/*
 * test_config.c - postern.conf parsing: good files, defaults, relative path
 * resolution, the value parsers, and one case per error kind with its exact
 * "file:line:" prefix. Files live in a private temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/tls1.h>

#include "core/config.h"
#include "core/log.h"

static char tmpdir[PATH_MAX];

static void
write_file(const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* load - write text to NAME in tmpdir and config_load it; returns its rc. */
static int
load(const char *name, const char *text, struct config *c, char *err,
    size_t errlen, char *path_r, size_t pathlen)
{
	char path[PATH_MAX + 64];

	write_file(name, text);
	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (path_r != NULL)
		(void)snprintf(path_r, pathlen, "%s", path);
	return config_load(path, c, err, errlen);
}

static int
setup(void **state)
{
	char tmpl[] = "/tmp/test_config.XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, tmpdir));
	write_file("cert.pem", "not really a certificate\n");
	write_file("key.pem", "not really a key\n");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const char minimal[] = "[tls]\n"
                              "certificate = cert.pem\n"
                              "key = key.pem\n"
                              "[listener submission]\n"
                              "address = 127.0.0.1:5870\n";

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_true(c.hostname[0] != '\0');
	assert_string_equal(c.spool, "spool");
	assert_string_equal(c.run_user, "");
	assert_int_equal(c.log_level, LOG_LEVEL_INFO);
	assert_int_equal(c.workers, 0);
	assert_int_equal(c.max_connections, 1000);
	assert_int_equal(c.max_connections_per_ip, 20);
	assert_true(c.max_message_size == 35ULL * 1024 * 1024);
	assert_int_equal(c.max_recipients, 100);
	assert_int_equal(c.max_errors, 10);
	assert_int_equal(c.command_timeout_ms, 300000);
	assert_int_equal(c.data_timeout_ms, 180000);
	assert_int_equal(c.shutdown_timeout_ms, 30000);
	assert_int_equal(c.tls_min_version, TLS1_2_VERSION);
	assert_string_equal(
	    c.mechanisms, "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN");
	assert_string_equal(c.passdb_driver, "passwd-file");
	assert_string_equal(c.passdb_path, "users");
	assert_int_equal(c.allow_authzid, 0);
	assert_int_equal(c.failure_delay_ms, 1000);
	assert_int_equal(c.auth_threads, 0);
	assert_string_equal(c.default_scheme, "ARGON2ID");
	assert_string_equal(c.maildir, "mail/%d/%n");
	assert_int_equal(c.nlisteners, 0);
	assert_int_equal(c.nlocal_domains, 0);
}

static void
test_minimal_resolves_relative_paths(void **state)
{
	struct config c;
	char err[2048], want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(
	    load("min.conf", minimal, &c, err, sizeof(err), NULL, 0), 0);
	assert_string_equal(err, "");
	(void)snprintf(want, sizeof(want), "%s/min.conf", tmpdir);
	assert_string_equal(c.path, want);
	assert_string_equal(c.dir, tmpdir);
	(void)snprintf(want, sizeof(want), "%s/spool", tmpdir);
	assert_string_equal(c.spool, want);
	(void)snprintf(want, sizeof(want), "%s/cert.pem", tmpdir);
	assert_string_equal(c.tls_certificate, want);
	(void)snprintf(want, sizeof(want), "%s/key.pem", tmpdir);
	assert_string_equal(c.tls_key, want);
	(void)snprintf(want, sizeof(want), "%s/users", tmpdir);
	assert_string_equal(c.passdb_path, want);
	(void)snprintf(want, sizeof(want), "%s/mail/%%d/%%n", tmpdir);
	assert_string_equal(c.maildir, want);
	assert_int_equal(c.nlisteners, 1);
	assert_string_equal(c.listeners[0].name, "submission");
	assert_int_equal(c.listeners[0].line, 4);
	assert_int_equal(c.listeners[0].tls, LISTENER_TLS_STARTTLS);
	assert_int_equal(c.listeners[0].auth, LISTENER_AUTH_REQUIRED);
	assert_int_equal(c.listeners[0].plaintext_without_tls, 0);
	assert_string_equal(c.listeners[0].mechanisms, "");
}

static void
test_relative_to_config_dir_not_cwd(void **state)
{
	struct config c;
	char err[2048], path[PATH_MAX + 64], want[PATH_MAX + 64], old[PATH_MAX];

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/sub", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file("sub/c.pem", "x\n");
	write_file("sub/k.pem", "x\n");
	write_file("sub/rel.conf",
	    "[server]\nspool = ../q\n"
	    "[tls]\ncertificate = c.pem\nkey = /dev/null\n"
	    "[auth]\npassdb = passwd-file:etc/users\n"
	    "[delivery]\nmaildir = /srv/mail/%d/%n\n"
	    "[listener a]\naddress = 127.0.0.1:25\n");
	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(config_load("sub/rel.conf", &c, err, sizeof(err)), 0);
	assert_int_equal(chdir(old), 0);
	(void)snprintf(want, sizeof(want), "%s/sub/../q", tmpdir);
	assert_string_equal(c.spool, want);
	(void)snprintf(want, sizeof(want), "%s/sub/c.pem", tmpdir);
	assert_string_equal(c.tls_certificate, want);
	assert_string_equal(c.tls_key, "/dev/null");
	(void)snprintf(want, sizeof(want), "%s/sub/etc/users", tmpdir);
	assert_string_equal(c.passdb_path, want);
	assert_string_equal(c.maildir, "/srv/mail/%d/%n");
}

static void
test_full(void **state)
{
	static const char text[] =
	    "; a comment\n"
	    "# another\n"
	    "[server]\n"
	    "hostname = Mail.Example.org   ; trailing comment\n"
	    "spool = /var/spool/postern\n"
	    "user = postern\n"
	    "log_level = debug\n"
	    "workers = auto\n"
	    "max_connections = 500\n"
	    "max_connections_per_ip = 5\n"
	    "max_message_size = 10M\n"
	    "max_recipients = 50\n"
	    "max_errors = 3\n"
	    "command_timeout = 2m\n"
	    "data_timeout = 90s\n"
	    "shutdown_timeout = 0\n"
	    "\n"
	    "  [tls]  \n"
	    "certificate=cert.pem\n"
	    "key =key.pem\n"
	    "min_version = tlsv1.3\n"
	    "ciphers = ECDHE+AESGCM:!aNULL\n"
	    "[auth]\n"
	    "mechanisms = scram-sha-256, PLAIN LOGIN\n"
	    "passdb = passwd-file:/etc/postern/users\n"
	    "allow_authzid = on\n"
	    "failure_delay = 250ms\n"
	    "threads = 4\n"
	    "default_scheme = sha512-crypt\n"
	    "[delivery]\n"
	    "local_domains = Example.ORG, example.net. example.org\n"
	    "maildir = /var/mail/%d/%n\n"
	    "[listener submission]\n"
	    "address = 0.0.0.0:587, [::]:587\n"
	    "tls = starttls\n"
	    "auth = required\n"
	    "[listener submissions]\n"
	    "address = *:465\n"
	    "tls = implicit\n"
	    "[listener mx]\n"
	    "address = [::1]:25\n"
	    "tls = none\n"
	    "auth = off\n"
	    "[listener local]\n"
	    "address = 127.0.0.1:2525\n"
	    "tls = none\n"
	    "auth = optional\n"
	    "plaintext_auth = yes\n"
	    "mechanisms = PLAIN\n";
	struct config c;
	char err[2048];

	(void)state;
	assert_int_equal(
	    load("full.conf", text, &c, err, sizeof(err), NULL, 0), 0);
	assert_string_equal(c.hostname, "Mail.Example.org");
	assert_string_equal(c.spool, "/var/spool/postern");
	assert_string_equal(c.run_user, "postern");
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c.workers, 0);
	assert_int_equal(c.max_connections, 500);
	assert_int_equal(c.max_connections_per_ip, 5);
	assert_true(c.max_message_size == 10ULL * 1024 * 1024);
	assert_int_equal(c.max_recipients, 50);
	assert_int_equal(c.max_errors, 3);
	assert_int_equal(c.command_timeout_ms, 120000);
	assert_int_equal(c.data_timeout_ms, 90000);
	assert_int_equal(c.shutdown_timeout_ms, 0);
	assert_int_equal(c.tls_min_version, TLS1_3_VERSION);
	assert_string_equal(c.tls_ciphers, "ECDHE+AESGCM:!aNULL");
	assert_string_equal(c.mechanisms, "SCRAM-SHA-256 PLAIN LOGIN");
	assert_string_equal(c.passdb_driver, "passwd-file");
	assert_string_equal(c.passdb_path, "/etc/postern/users");
	assert_int_equal(c.allow_authzid, 1);
	assert_int_equal(c.failure_delay_ms, 250);
	assert_int_equal(c.auth_threads, 4);
	assert_string_equal(c.default_scheme, "SHA512-CRYPT");
	assert_int_equal(c.nlocal_domains, 2);
	assert_string_equal(c.local_domains[0], "example.org");
	assert_string_equal(c.local_domains[1], "example.net");
	assert_string_equal(c.maildir, "/var/mail/%d/%n");
	assert_true(config_is_local_domain(&c, "EXAMPLE.org"));
	assert_true(config_is_local_domain(&c, "example.net."));
	assert_false(config_is_local_domain(&c, "example.com"));
	assert_false(config_is_local_domain(&c, "sub.example.org"));

	assert_int_equal(c.nlisteners, 4);
	assert_string_equal(c.listeners[0].name, "submission");
	assert_int_equal(c.listeners[0].naddrs, 2);
	assert_string_equal(c.listeners[0].addrs[0].text, "0.0.0.0:587");
	assert_string_equal(c.listeners[0].addrs[1].text, "[::]:587");
	assert_int_equal(c.listeners[0].addrs[1].ss.ss_family, AF_INET6);
	assert_string_equal(c.listeners[1].addrs[0].text, "0.0.0.0:465");
	assert_int_equal(c.listeners[1].tls, LISTENER_TLS_IMPLICIT);
	assert_int_equal(c.listeners[1].auth, LISTENER_AUTH_REQUIRED);
	assert_int_equal(c.listeners[2].tls, LISTENER_TLS_NONE);
	assert_int_equal(c.listeners[2].auth, LISTENER_AUTH_OFF);
	assert_int_equal(c.listeners[3].auth, LISTENER_AUTH_OPTIONAL);
	assert_int_equal(c.listeners[3].plaintext_without_tls, 1);
	assert_string_equal(c.listeners[3].mechanisms, "PLAIN");
	assert_int_equal(c.listeners[3].line, 44);
}

static void
test_design_example_local_key(void **state)
{
	struct config c;
	char err[2048];

	(void)state;
	assert_int_equal(load("local.conf",
	                     "[delivery]\nlocal = maildir:/var/mail/%d/%n\n"
	                     "[listener x]\naddress = 127.0.0.1:25\n"
	                     "tls = none\n",
	                     &c, err, sizeof(err), NULL, 0),
	    0);
	assert_string_equal(c.maildir, "/var/mail/%d/%n");
}

static void
test_booleans(void **state)
{
	static const char *const yes[] = {"yes", "TRUE", "on", "1"};
	static const char *const no[] = {"No", "false", "off", "0"};
	char text[256], err[1024];
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		(void)snprintf(text, sizeof(text),
		    "[auth]\nallow_authzid = %s\n[listener x]\n"
		    "address = 127.0.0.1:25\ntls = none\n",
		    yes[i]);
		assert_int_equal(
		    load("b.conf", text, &c, err, sizeof(err), NULL, 0), 0);
		assert_int_equal(c.allow_authzid, 1);
		(void)snprintf(text, sizeof(text),
		    "[auth]\nallow_authzid = %s\n[listener x]\n"
		    "address = 127.0.0.1:25\ntls = none\n",
		    no[i]);
		assert_int_equal(
		    load("b.conf", text, &c, err, sizeof(err), NULL, 0), 0);
		assert_int_equal(c.allow_authzid, 0);
	}
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		int rc;
		unsigned int ms;
	} cases[] = {
	    {"300", 0, 300000},
	    {"300s", 0, 300000},
	    {"5m", 0, 300000},
	    {"2h", 0, 7200000},
	    {"1d", 0, 86400000},
	    {"250ms", 0, 250},
	    {"0", 0, 0},
	    {"49d", 0, 49U * 86400000U},
	    {"50d", -1, 0},
	    {"4294967296ms", -1, 0},
	    {"", -1, 0},
	    {"s", -1, 0},
	    {"5 m", -1, 0},
	    {"-1", -1, 0},
	    {"1w", -1, 0},
	    {"1.5s", -1, 0},
	};
	unsigned int ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = 12345;
		assert_int_equal(
		    config_parse_duration(cases[i].in, &ms), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(ms, cases[i].ms);
	}
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *in;
		int rc;
		unsigned long long v;
	} cases[] = {
	    {"1048576", 0, 1048576ULL},
	    {"64k", 0, 65536ULL},
	    {"64K", 0, 65536ULL},
	    {"35M", 0, 35ULL << 20},
	    {"1G", 0, 1ULL << 30},
	    {"2t", 0, 2ULL << 40},
	    {"0", 0, 0},
	    {"18446744073709551615", 0, 18446744073709551615ULL},
	    {"18446744073709551616", -1, 0},
	    {"17179869184G", -1, 0},
	    {"", -1, 0},
	    {"M", -1, 0},
	    {"10 M", -1, 0},
	    {"10MB", -1, 0},
	    {"-5", -1, 0},
	};
	unsigned long long v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 7;
		assert_int_equal(
		    config_parse_size(cases[i].in, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_true(v == cases[i].v);
	}
}

static void
test_parse_hostport(void **state)
{
	static const struct {
		const char *in;
		const char *text; /* NULL: rejected */
		int family;
		unsigned short port;
	} cases[] = {
	    {"127.0.0.1:25", "127.0.0.1:25", AF_INET, 25},
	    {"0.0.0.0:587", "0.0.0.0:587", AF_INET, 587},
	    {"*:587", "0.0.0.0:587", AF_INET, 587},
	    {"[::1]:587", "[::1]:587", AF_INET6, 587},
	    {"[::]:465", "[::]:465", AF_INET6, 465},
	    {"[2001:DB8::1]:65535", "[2001:db8::1]:65535", AF_INET6, 65535},
	    {"127.0.0.1:0", NULL, 0, 0},
	    {"127.0.0.1:65536", NULL, 0, 0},
	    {"127.0.0.1", NULL, 0, 0},
	    {"127.0.0.1:", NULL, 0, 0},
	    {":25", NULL, 0, 0},
	    {"::1:25", NULL, 0, 0},
	    {"[::1]25", NULL, 0, 0},
	    {"[127.0.0.1]:25", NULL, 0, 0},
	    {"localhost:25", NULL, 0, 0},
	    {"256.0.0.1:25", NULL, 0, 0},
	    {"127.0.0.1:25x", NULL, 0, 0},
	    {"127.0.0.1:+25", NULL, 0, 0},
	};
	struct config_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = config_parse_hostport(cases[i].in, &a);

		if (cases[i].text == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(a.text, cases[i].text);
		assert_int_equal(a.ss.ss_family, cases[i].family);
		if (cases[i].family == AF_INET) {
			const struct sockaddr_in *sin =
			    (const struct sockaddr_in *)&a.ss;

			assert_int_equal(a.len, sizeof(*sin));
			assert_int_equal(ntohs(sin->sin_port), cases[i].port);
		} else {
			const struct sockaddr_in6 *sin6 =
			    (const struct sockaddr_in6 *)&a.ss;

			assert_int_equal(a.len, sizeof(*sin6));
			assert_int_equal(ntohs(sin6->sin6_port), cases[i].port);
		}
	}
}

/*
 * Each bad file gives exactly one error: "PATH:LINE: " then want (a prefix
 * of the message). LINE 0 means "PATH: " with no line.
 */
static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *want;
	} cases[] = {
	    {"[server]\nhostname = a\nbogus = 1\n", 3,
	        "unknown key 'bogus' in [server]"},
	    {"[servr]\n", 1, "unknown section [servr]"},
	    {"[server\n", 1, "malformed section header"},
	    {"[server] x\n", 1, "malformed section header"},
	    {"[server extra]\n", 1, "section [server] takes no name"},
	    {"\n\nhostname = x\n", 3, "key 'hostname' outside of any"},
	    {"[server]\njust words\n", 2, "expected 'key = value'"},
	    {"[server]\n= 5\n", 2, "missing key before '='"},
	    {"[server]\nworkers = 2\nworkers = 3\n", 3,
	        "workers set twice (first at line 2)"},
	    {"[server]\n[auth]\n[server]\n", 3,
	        "section [server] repeated (first at line 1)"},
	    {"[server]\nworkers = many\n", 2,
	        "workers: 'many' is not a number in 1..1024 or 'auto'"},
	    {"[server]\nworkers = 0\n", 2, "workers: '0' is not a number"},
	    {"[server]\nmax_connections = 99999999999999999999\n", 2,
	        "max_connections: "},
	    {"[server]\nmax_recipients = -1\n", 2, "max_recipients: "},
	    {"[server]\nmax_message_size = 10Q\n", 2,
	        "max_message_size: '10Q' is not a size"},
	    {"[server]\nmax_message_size = 0\n", 2, "max_message_size: "},
	    {"[server]\ncommand_timeout = 5 minutes\n", 2,
	        "command_timeout: '5 minutes' is not a duration"},
	    {"[server]\ndata_timeout = 0\n", 2,
	        "data_timeout: must be longer than 0"},
	    {"[server]\nlog_level = verbose\n", 2,
	        "log_level: 'verbose' is not a log level"},
	    {"[server]\nhostname = bad_host!\n", 2,
	        "hostname: 'bad_host!' is not a valid host name"},
	    {"[server]\nuser = a b\n", 2, "user: 'a b' is not a user name"},
	    {"[server]\nspool =\n", 2, "spool: empty path"},
	    {"[tls]\nmin_version = SSLv3\n", 2,
	        "min_version: 'SSLv3' is not a TLS version"},
	    {"[tls]\ncertificate = missing.pem\nkey = key.pem\n", 2,
	        "cannot read certificate '"},
	    {"[tls]\ncertificate = cert.pem\nkey = nokey.pem\n", 3,
	        "cannot read key '"},
	    {"[tls]\ncertificate = cert.pem\n", 2,
	        "certificate given without a key"},
	    {"[tls]\nkey = key.pem\n", 2, "key given without a certificate"},
	    {"[auth]\nmechanisms = PLAIN FOO\n", 2,
	        "mechanisms: unknown SASL mechanism 'FOO'"},
	    {"[auth]\nmechanisms = PLAIN plain\n", 2,
	        "mechanisms: mechanism 'PLAIN' listed twice"},
	    {"[auth]\nmechanisms = , ,\n", 2,
	        "mechanisms: no mechanism listed"},
	    {"[auth]\npassdb = /etc/users\n", 2,
	        "passdb: '/etc/users' is not DRIVER:ARGUMENT"},
	    {"[auth]\npassdb = sql:x\n", 2,
	        "passdb: unknown passdb driver 'sql'"},
	    {"[auth]\npassdb = passwd-file:\n", 2, "passdb: empty path"},
	    {"[auth]\nallow_authzid = maybe\n", 2,
	        "allow_authzid: 'maybe' is not a boolean"},
	    {"[auth]\nfailure_delay = 1x\n", 2, "failure_delay: "},
	    {"[auth]\nthreads = 0\n", 2, "threads: "},
	    {"[auth]\ndefault_scheme = a b\n", 2,
	        "default_scheme: 'a b' is not a scheme name"},
	    {"[delivery]\nlocal_domains = example.org, -bad.org\n", 2,
	        "local_domains: '-bad.org' is not a valid domain"},
	    {"[delivery]\nlocal_domains = a..b\n", 2, "local_domains: "},
	    {"[delivery]\nmaildir = mail/%x\n", 2,
	        "maildir: unknown escape '%x'"},
	    {"[delivery]\nlocal = mbox:/var/mail\n", 2,
	        "local: 'mbox:/var/mail': expected maildir:TEMPLATE"},
	    {"[delivery]\nrelay_colour = mx\n", 2,
	        "unknown key 'relay_colour' in [delivery]"},
	    {"[listener]\n", 1, "[listener] needs a name"},
	    {"[listener a/b]\n", 1, "bad listener name 'a/b'"},
	    {"[listener a]\naddress = 127.0.0.1:25\ntls = none\n"
	     "[listener a]\n",
	        4, "duplicate listener 'a' (first at line 1)"},
	    {"[listener a]\ntls = none\n", 1, "listener 'a' has no address"},
	    {"[listener a]\naddress = localhost:25\ntls = none\n", 2,
	        "address: 'localhost:25' is not ADDRESS:PORT"},
	    {"[listener a]\naddress = 127.0.0.1:25,\n\ttls = none\n"
	     "[listener b]\naddress = 127.0.0.1:25\ntls = none\n",
	        4,
	        "listener 'b': address 127.0.0.1:25 already used by listener "
	        "'a'"},
	    {"[listener a]\naddress = 127.0.0.1:25\ntls = maybe\n", 3,
	        "tls: 'maybe' is not one of none, starttls, implicit"},
	    {"[listener a]\naddress = 127.0.0.1:25\ntls = none\n"
	     "auth = sometimes\n",
	        4, "auth: 'sometimes' is not one of required, optional"},
	    {"[listener a]\naddress = 127.0.0.1:25\ntls = none\n"
	     "plaintext_auth = perhaps\n",
	        4, "plaintext_auth: 'perhaps' is not a boolean"},
	    {"[listener a]\naddress = 127.0.0.1:25\ntls = none\n"
	     "mechanisms = GSSAPI\n",
	        4, "mechanisms: unknown SASL mechanism 'GSSAPI'"},
	    {"[listener a]\naddress = 127.0.0.1:25\ntls = none\n"
	     "port = 25\n",
	        4, "unknown key 'port' in [listener]"},
	    {"[listener a]\naddress = 127.0.0.1:25\n\ntls = implicit\n", 4,
	        "listener 'a': tls = implicit needs [tls] certificate and key "
	        "(there is no [tls] section)"},
	    {"[listener a]\naddress = 127.0.0.1:25\n", 1,
	        "listener 'a': tls = starttls needs [tls] certificate"},
	    {"[server]\n", 0, "no [listener NAME] section"},
	};
	char err[4096], path[PATH_MAX + 64], want[PATH_MAX + 512];
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		int rc;

		/* add a good listener unless the case is about having none */
		if (strstr(cases[i].want, "no [listener") == NULL)
			(void)snprintf(text, sizeof(text),
			    "%s[listener zz]\naddress = 127.0.0.9:9\n"
			    "tls = none\n",
			    cases[i].text);
		else
			(void)snprintf(text, sizeof(text), "%s", cases[i].text);
		rc = load(
		    "bad.conf", text, &c, err, sizeof(err), path, sizeof(path));
		if (cases[i].line > 0)
			(void)snprintf(want, sizeof(want), "%s:%d: %s", path,
			    cases[i].line, cases[i].want);
		else
			(void)snprintf(
			    want, sizeof(want), "%s: %s", path, cases[i].want);
		if (rc != -1 || strncmp(err, want, strlen(want)) != 0 ||
		    strchr(err, '\n') != NULL)
			fail_msg("case %zu:\n%s\ngot (rc %d):\n%s\nwant:\n%s",
			    i, cases[i].text, rc, err, want);
	}
}

static void
test_several_errors_reported(void **state)
{
	char err[4096], path[PATH_MAX + 64], want[4 * PATH_MAX + 512];
	struct config c;

	(void)state;
	assert_int_equal(load("multi.conf",
	                     "[server]\nworkers = x\nfoo = 1\n"
	                     "[listener a]\naddress = 127.0.0.1:1\ntls = none\n"
	                     "[auth]\nmechanisms = NOPE\n",
	                     &c, err, sizeof(err), path, sizeof(path)),
	    -1);
	(void)snprintf(want, sizeof(want),
	    "%s:2: workers: 'x' is not a number in 1..1024 or 'auto'\n"
	    "%s:3: unknown key 'foo' in [server]\n"
	    "%s:8: mechanisms: unknown SASL mechanism 'NOPE'",
	    path, path, path);
	assert_string_equal(err, want);
}

static void
test_missing_file(void **state)
{
	char err[1024], path[PATH_MAX + 64], want[PATH_MAX + 128];
	struct config c;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -1);
	(void)snprintf(want, sizeof(want),
	    "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
}

static void
test_small_error_buffer(void **state)
{
	char err[16];
	struct config c;

	(void)state;
	assert_int_equal(load("x.conf", "[bogus]\n[bogus2]\n", &c, err,
	                     sizeof(err), NULL, 0),
	    -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(load("x.conf", "[bogus]\n", &c, NULL, 0, NULL, 0), -1);
}

static void
test_crlf_and_comments(void **state)
{
	char err[1024];
	struct config c;

	(void)state;
	assert_int_equal(load("crlf.conf",
	                     "; c\r\n[server]\r\nhostname = h.example # c\r\n"
	                     "\t# indented comment\r\n"
	                     "[listener x]\r\naddress = 127.0.0.1:25;not\r\n"
	                     "tls = none\r\n",
	                     &c, err, sizeof(err), NULL, 0),
	    -1);
	/* ';' glued to a value is part of it, and not a valid address */
	assert_non_null(strstr(err, ":6: address: '127.0.0.1:25;not'"));
	assert_int_equal(load("crlf.conf",
	                     "; c\r\n[server]\r\nhostname = h.example # c\r\n"
	                     "\t# indented comment\r\n"
	                     "[listener x]\r\naddress = 127.0.0.1:25 ;yes\r\n"
	                     "tls = none\r\n",
	                     &c, err, sizeof(err), NULL, 0),
	    0);
	assert_string_equal(c.hostname, "h.example");
	assert_string_equal(c.listeners[0].addrs[0].text, "127.0.0.1:25");
}

/* [queue] and the relay keys of [delivery] (issue 4). */
static void
test_queue_and_relay(void **state)
{
	struct config c;
	char err[2048], text[2048];

	(void)state;
	assert_int_equal(
	    load("q0.conf", minimal, &c, err, sizeof(err), NULL, 0), 0);
	assert_int_equal(c.queue_retry_min_ms, 5 * 60 * 1000);
	assert_int_equal(c.queue_retry_max_ms, 60 * 60 * 1000);
	assert_int_equal(c.queue_lifetime_ms, 5U * 24 * 3600 * 1000);
	assert_int_equal(c.queue_delay_warning_ms, 4 * 3600 * 1000);
	assert_int_equal(c.queue_max_deliveries, 20);
	assert_int_equal(c.queue_per_destination, 4);
	assert_true(c.queue_min_free_space == 100ULL << 20);
	assert_string_equal(c.relay, "mx");
	assert_int_equal(c.relay_tls, CONFIG_RELAY_TLS_DEFAULT);
	assert_int_equal(c.mx_port, 25);
	assert_int_equal(c.connect_timeout_ms, 30000);
	assert_int_equal(c.relay_command_timeout_ms, 300000);
	assert_string_equal(c.local_lmtp, "");

	write_file("relay.pw", "s3cret pass\nsecond line\n");
	(void)snprintf(text, sizeof(text),
	    "%s[queue]\nretry_min = 1s\nretry_max = 2m\nlifetime = 1h\n"
	    "delay_warning = 0\nmax_deliveries = 5\nper_destination = 2\n"
	    "min_free_space = 1M\n"
	    "[delivery]\nlocal = lmtp:unix:lmtp.sock\n"
	    "relay = smtp://smarthost.example.net:587\nrelay_tls = none\n"
	    "relay_ca = ca.pem\nrelay_tls_name = smarthost.example.net\n"
	    "relay_user = me@example.net\nrelay_password_file = relay.pw\n"
	    "relay_mechanisms = PLAIN\nrelay_auth_param = yes\n"
	    "resolver = 127.0.0.1:5353\nmx_port = 2525\n"
	    "connect_timeout = 2s\nrelay_command_timeout = 10s\n",
	    minimal);
	if (load("q1.conf", text, &c, err, sizeof(err), NULL, 0) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.queue_retry_min_ms, 1000);
	assert_int_equal(c.queue_retry_max_ms, 120000);
	assert_int_equal(c.queue_lifetime_ms, 3600000);
	assert_int_equal(c.queue_delay_warning_ms, 0);
	assert_int_equal(c.queue_max_deliveries, 5);
	assert_int_equal(c.queue_per_destination, 2);
	assert_true(c.queue_min_free_space == 1ULL << 20);
	assert_true(strncmp(c.local_lmtp, "unix:/", 6) == 0);
	assert_non_null(strstr(c.local_lmtp, "/lmtp.sock"));
	assert_string_equal(c.relay, "smtp://smarthost.example.net:587");
	assert_int_equal(c.relay_tls, CONFIG_RELAY_TLS_NONE);
	assert_true(c.relay_ca[0] == '/');
	assert_string_equal(c.relay_tls_name, "smarthost.example.net");
	assert_string_equal(c.relay_user, "me@example.net");
	assert_string_equal(c.relay_password, "s3cret pass");
	assert_string_equal(c.relay_mechanisms, "PLAIN");
	assert_int_equal(c.relay_auth_param, 1);
	assert_string_equal(c.resolver, "127.0.0.1:5353");
	assert_int_equal(c.mx_port, 2525);
	assert_int_equal(c.connect_timeout_ms, 2000);
	assert_int_equal(c.relay_command_timeout_ms, 10000);

	(void)snprintf(text, sizeof(text),
	    "%s[delivery]\nlocal = lmtp:127.0.0.1:24\nrelay = "
	    "smtps://[192.0.2.1]:465\n",
	    minimal);
	if (load("q2.conf", text, &c, err, sizeof(err), NULL, 0) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.local_lmtp, "127.0.0.1:24");
	assert_string_equal(c.relay, "smtps://[192.0.2.1]:465");
}

static void
test_queue_and_relay_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"[queue]\nretry_min = soon\n", "retry_min"},
	    {"[queue]\nretry_min = 0\n", "longer than 0"},
	    {"[queue]\nretry_min = 2h\nretry_max = 1h\n", "shorter than"},
	    {"[queue]\nmax_deliveries = 0\n", "1..1000"},
	    {"[queue]\nmin_free_space = lots\n", "not a size"},
	    {"[queue]\ncolour = blue\n", "colour"},
	    {"[delivery]\nrelay = smtp://\n", "is not mx"},
	    {"[delivery]\nrelay = ftp://x.example\n", "is not mx"},
	    {"[delivery]\nrelay = smtp://x.example:0\n", "is not mx"},
	    {"[delivery]\nrelay = smtp://x.example:99999\n", "is not mx"},
	    {"[delivery]\nrelay_tls = maybe\n", "required, opportunistic"},
	    {"[delivery]\nrelay_password_file = nonexistent.pw\n",
	        "cannot read"},
	    {"[delivery]\nresolver = dns.example\n", "ADDRESS:PORT"},
	    {"[delivery]\nmx_port = 0\n", "1..65535"},
	    {"[delivery]\nlocal = lmtp:\n", "unix:/PATH"},
	    {"[delivery]\nlocal = lmtp:host.example:0\n", "bad port"},
	    {"[delivery]\nlocal = lmtp:unix:\n", "socket path"},
	    {"[delivery]\nlocal = mbox:/var/mail\n", "expected maildir"},
	};
	struct config c;
	char err[2048], text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(
		    text, sizeof(text), "%s%s", minimal, cases[i].text);
		err[0] = '\0';
		if (load("qe.conf", text, &c, err, sizeof(err), NULL, 0) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].text);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: want '%s' in: %s", i, cases[i].want,
			    err);
	}
}

static void
test_ldap_dovecot(void **state)
{
	struct config c;
	char err[2048], text[2048];

	(void)state;
	write_file("ldap.pw", "reader-secret\n");
	(void)snprintf(text, sizeof(text),
	    "%s[auth]\npassdb = ldap:\n"
	    "[ldap]\nuri = ldap://127.0.0.1:3899 ldaps://127.0.0.1:3636\n"
	    "starttls = no\nbind_dn = cn=reader,dc=example,dc=test\n"
	    "bind_password_file = ldap.pw\nbase = dc=example,dc=test\n"
	    "filter = (&(objectClass=inetOrgPerson)(|(mail=%%s)(uid=%%s)))\n"
	    "mode = password\npassword_attribute = userPassword\n"
	    "alias_attribute = mail mailLocalAddress\n"
	    "disabled_attribute = employeeType\ntimeout = 2s\n"
	    "[dovecot]\nuserdb_socket = run/auth-userdb\nservice = submission\n"
	    "timeout = 3s\n",
	    minimal);
	err[0] = '\0';
	if (load("ldap.conf", text, &c, err, sizeof(err), NULL, 0) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.passdb_driver, "ldap");
	assert_string_equal(c.passdb_path, "");
	assert_string_equal(
	    c.ldap_uri, "ldap://127.0.0.1:3899 ldaps://127.0.0.1:3636");
	assert_int_equal(c.ldap_mode, CONFIG_LDAP_PASSWORD);
	assert_string_equal(c.ldap_filter,
	    "(&(objectClass=inetOrgPerson)(|(mail=%s)(uid=%s)))");
	assert_string_equal(c.ldap_alias_attribute, "mail mailLocalAddress");
	assert_string_equal(c.ldap_disabled_attribute, "employeeType");
	assert_int_equal(c.ldap_timeout_ms, 2000);
	assert_true(
	    strncmp(c.ldap_bind_password_file, tmpdir, strlen(tmpdir)) == 0);
	assert_true(
	    strncmp(c.dovecot_userdb_socket, tmpdir, strlen(tmpdir)) == 0);
	assert_string_equal(c.dovecot_service, "submission");
	assert_int_equal(c.dovecot_timeout_ms, 3000);

	/* defaults, and dovecot:PATH resolved like any path */
	(void)snprintf(text, sizeof(text),
	    "%s[auth]\npassdb = dovecot:run/auth-client\n", minimal);
	if (load("dv.conf", text, &c, err, sizeof(err), NULL, 0) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.passdb_driver, "dovecot");
	assert_true(strncmp(c.passdb_path, tmpdir, strlen(tmpdir)) == 0);
	assert_string_equal(c.dovecot_service, "smtp");
	assert_int_equal(c.ldap_mode, CONFIG_LDAP_BIND);
	assert_string_equal(
	    c.ldap_filter, "(&(objectClass=inetOrgPerson)(mail=%s))");
	assert_string_equal(c.ldap_password_attribute, "userPassword");
}

static void
test_ldap_dovecot_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"[auth]\npassdb = ldap:\n", "needs [ldap] uri"},
	    {"[auth]\npassdb = ldap:\n[ldap]\nuri = ldap://127.0.0.1\n",
	        "needs [ldap] base"},
	    {"[auth]\npassdb = ldap:x\n", "takes no argument"},
	    {"[auth]\npassdb = dovecot:\n", "empty path"},
	    {"[ldap]\nuri = http://x\n", "not an ldap://"},
	    {"[ldap]\nuri = ldap://x http://y\n", "not an ldap://"},
	    {"[ldap]\nfilter = mail=%s\n", "not an LDAP filter"},
	    {"[ldap]\nfilter = (mail=%u)\n", "only %s"},
	    {"[ldap]\nfilter = (mail=x)\n", "does not use the login"},
	    {"[ldap]\nfilter = (&(mail=%s)\n", "unbalanced"},
	    {"[ldap]\nfilter = (mail=%s))(\n", "unbalanced"},
	    {"[ldap]\nmode = compare\n", "bind, password"},
	    {"[ldap]\npassword_attribute = user Password\n",
	        "not an attribute name"},
	    {"[ldap]\nalias_attribute = mail,alias\n", "list of attribute"},
	    {"[ldap]\ntimeout = 0\n", "longer than 0"},
	    {"[ldap]\nstarttls = perhaps\n", "not a boolean"},
	    {"[ldap]\nuri = ldaps://x\nstarttls = yes\n", "TLS already"},
	    {"[ldap]\nbind_dn = cn=x\n", "without bind_password_file"},
	    {"[auth]\npassdb = ldap:\n[ldap]\nuri = ldap://x\nbase = dc=x\n"
	     "bind_dn = cn=x\nbind_password_file = missing.pw\n",
	        "cannot read"},
	    {"[dovecot]\nservice = sm tp\n", "not a service name"},
	    {"[dovecot]\nsocket = x\n", "unknown key"},
	    {"[ldaps]\nuri = ldap://x\n", "unknown section"},
	};
	struct config c;
	char err[2048], text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(
		    text, sizeof(text), "%s%s", minimal, cases[i].text);
		err[0] = '\0';
		if (load("le.conf", text, &c, err, sizeof(err), NULL, 0) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].text);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: want '%s' in: %s", i, cases[i].want,
			    err);
	}
}

/* [oauth], [auth] external_map (EXTERNAL, OAUTHBEARER, XOAUTH2) */
static void
test_oauth_external(void **state)
{
	struct config c;
	char err[2048], text[2048];

	(void)state;
	assert_int_equal(
	    load("o0.conf", minimal, &c, err, sizeof(err), NULL, 0), 0);
	assert_int_equal(c.external_map, CONFIG_EXTERNAL_FINGERPRINT);
	assert_string_equal(c.oauth_user_claim, "email");
	assert_int_equal(c.oauth_clock_skew_ms, 60000);
	assert_int_equal(c.oauth_require_user, 1);
	assert_string_equal(c.oauth_jwks, "");

	write_file("jwks.json", "{\"keys\":[]}\n");
	write_file("ca.pem", "x\n");
	write_file("client.secret", "s3cret\n");
	(void)snprintf(text, sizeof(text),
	    "[listener submission]\naddress = 127.0.0.1:5870\n"
	    "client_certificates = request\n"
	    "[auth]\nmechanisms = PLAIN OAUTHBEARER XOAUTH2 EXTERNAL\n"
	    "external_map = san-email\n"
	    "[tls]\ncertificate = cert.pem\nkey = key.pem\nclient_ca = ca.pem\n"
	    "[oauth]\njwks = jwks.json\nissuer = https://idp.example.test\n"
	    "audience = postern\nuser_claim = preferred_username\n"
	    "clock_skew = 2m\nscope = openid email\nrequire_user = no\n"
	    "introspection_url = https://idp.example.test/introspect\n"
	    "introspection_client_id = postern\n"
	    "introspection_client_secret_file = client.secret\n"
	    "introspection_ca = ca.pem\n");
	if (load("o1.conf", text, &c, err, sizeof(err), NULL, 0) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.external_map, CONFIG_EXTERNAL_SAN_EMAIL);
	assert_true(strncmp(c.oauth_jwks, tmpdir, strlen(tmpdir)) == 0);
	assert_true(strncmp(c.oauth_introspection_client_secret_file, tmpdir,
	                strlen(tmpdir)) == 0);
	assert_string_equal(c.oauth_issuer, "https://idp.example.test");
	assert_string_equal(c.oauth_audience, "postern");
	assert_string_equal(c.oauth_user_claim, "preferred_username");
	assert_int_equal(c.oauth_clock_skew_ms, 120000);
	assert_string_equal(c.oauth_scope, "openid email");
	assert_int_equal(c.oauth_require_user, 0);
	assert_string_equal(
	    c.oauth_introspection_url, "https://idp.example.test/introspect");
	assert_string_equal(c.oauth_introspection_client_id, "postern");
}

static void
test_oauth_external_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"[auth]\nexternal_map = cn\n", "fingerprint, san-email"},
	    {"[auth]\nmechanisms = OAUTHBEARER\n", "need [oauth] jwks"},
	    {"[listener zz]\nmechanisms = XOAUTH2\n", "need [oauth] jwks"},
	    {"[auth]\nmechanisms = EXTERNAL\n",
	        "EXTERNAL needs [tls] client_ca"},
	    {"[oauth]\njwks = jwks.json\naudience = a\n",
	        "need [oauth] issuer"},
	    {"[oauth]\njwks = jwks.json\nissuer = i\n", "needs audience"},
	    {"[oauth]\njwks = missing.json\nissuer = i\naudience = a\n",
	        "cannot read jwks"},
	    {"[oauth]\nintrospection_url = http://idp/introspect\n",
	        "not an https:// URL"},
	    {"[oauth]\nintrospection_url = https://idp/x\naudience = a\n",
	        "needs introspection_client_id"},
	    {"[oauth]\nclock_skew = 1h\n", "at most 10m"},
	    {"[oauth]\nclock_skew = soon\n", "not a duration"},
	    {"[oauth]\nuser_claim = e mail\n", "not a claim name"},
	    {"[oauth]\nrequire_user = maybe\n", "not a boolean"},
	    {"[oauth]\nissuer =\n", "empty value"},
	    {"[oauth]\ntoken = x\n", "unknown key"},
	    {"[oauth]\njwks = jwks.json\njwks = jwks.json\n", "set twice"},
	};
	struct config c;
	char err[2048], text[1024];
	size_t i;

	(void)state;
	write_file("jwks.json", "{\"keys\":[]}\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(
		    text, sizeof(text), "%s%s", minimal, cases[i].text);
		err[0] = '\0';
		if (load("oe.conf", text, &c, err, sizeof(err), NULL, 0) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].text);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: want '%s' in: %s", i, cases[i].want,
			    err);
	}
}

/* test_passdb_chain_cache - [auth] passdb chains, cache and upgrade keys, [pgsql]. */
static void
test_passdb_chain_cache(void **state)
{
	struct config c;
	char err[2048], text[2048], want[PATH_MAX + 32];

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.auth_cache_ttl_ms, 3600000);
	assert_int_equal(c.auth_cache_negative_ttl_ms, 60000);
	assert_int_equal(c.auth_cache_size, 100000);
	assert_int_equal(c.auth_backend_timeout_ms, 10000);
	assert_int_equal(c.auth_migrate_scram, 1);
	assert_int_equal(c.auth_rehash, 1);
	assert_int_equal(c.auth_allow_plain_scheme, 0);
	assert_int_equal(c.password_min_length, 10);
	assert_int_equal(c.pgsql_pool_size, 4);

	(void)snprintf(text, sizeof(text),
	    "%s[auth]\n"
	    "passdb = sqlite:users.db pgsql:host=127.0.0.1 port=5432 "
	    "dbname=mail passwd-file:/etc/postern/users\n"
	    "cache_ttl = 10m\ncache_negative_ttl = 5s\ncache_size = 500\n"
	    "backend_timeout = 2s\nmigrate_scram = no\nrehash = no\n"
	    "allow_plain_scheme = yes\npassword_min_length = 14\n"
	    "password_min_quality = 40\n"
	    "[pgsql]\nquery_password = SELECT login, password FROM u WHERE "
	    "login = $1\nquery_update = none\nconnect_timeout = 3s\n"
	    "statement_timeout = 1500ms\npool_size = 8\n",
	    minimal);
	if (load("chain.conf", text, &c, err, sizeof(err), NULL, 0) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.npassdbs, 3);
	(void)snprintf(want, sizeof(want), "%s/users.db", tmpdir);
	assert_string_equal(c.passdbs[0].driver, "sqlite");
	assert_string_equal(c.passdbs[0].arg, want);
	assert_string_equal(c.passdb_driver, "sqlite");
	assert_string_equal(c.passdb_path, want);
	assert_string_equal(c.passdbs[1].driver, "pgsql");
	/* a conninfo is kept as written, not resolved as a path */
	assert_string_equal(
	    c.passdbs[1].arg, "host=127.0.0.1 port=5432 dbname=mail");
	assert_string_equal(c.passdbs[2].arg, "/etc/postern/users");
	assert_int_equal(c.auth_cache_ttl_ms, 600000);
	assert_int_equal(c.auth_cache_negative_ttl_ms, 5000);
	assert_int_equal(c.auth_cache_size, 500);
	assert_int_equal(c.auth_backend_timeout_ms, 2000);
	assert_int_equal(c.auth_migrate_scram, 0);
	assert_int_equal(c.auth_rehash, 0);
	assert_int_equal(c.auth_allow_plain_scheme, 1);
	assert_int_equal(c.password_min_length, 14);
	assert_int_equal(c.password_min_quality, 40);
	assert_string_equal(c.pgsql_query_password,
	    "SELECT login, password FROM u WHERE login = $1");
	assert_string_equal(c.pgsql_query_update, "none");
	assert_int_equal(c.pgsql_connect_timeout_ms, 3000);
	assert_int_equal(c.pgsql_statement_timeout_ms, 1500);
	assert_int_equal(c.pgsql_pool_size, 8);

	/* a lone pgsql passdb: its conninfo stays a conninfo */
	(void)snprintf(text, sizeof(text),
	    "%s[auth]\npassdb = pgsql:postgresql://mail@localhost/mail\n",
	    minimal);
	if (load("pg.conf", text, &c, err, sizeof(err), NULL, 0) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.npassdbs, 1);
	assert_string_equal(c.passdb_path, "postgresql://mail@localhost/mail");
}

static void
test_passdb_chain_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"[auth]\npassdb = pgsql:\n", "empty connection string for pgsql"},
	    {"[auth]\npassdb = sqlite:\n", "empty path for sqlite"},
	    {"[auth]\npassdb = sqlite:a sqlite:b sqlite:c sqlite:d sqlite:e\n",
	        "at most 4 passdbs"},
	    {"[auth]\npassdb = nope:x sqlite:a\n", "unknown passdb driver"},
	    {"[auth]\ncache_ttl = forever\n", "cache_ttl: "},
	    {"[auth]\ncache_size = -1\n", "cache_size: "},
	    {"[auth]\nbackend_timeout = 0\n", "longer than 0"},
	    {"[auth]\nmigrate_scram = perhaps\n", "not a boolean"},
	    {"[auth]\npassword_min_quality = 101\n", "password_min_quality: "},
	    {"[pgsql]\nquery_password = SELECT 1\n", "does not use the login"},
	    {"[pgsql]\npool_size = 0\n", "pool_size: "},
	    {"[pgsql]\nquery = x\n", "unknown key"},
	};
	struct config c;
	char err[2048], text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(
		    text, sizeof(text), "%s%s", minimal, cases[i].text);
		if (load("bad.conf", text, &c, err, sizeof(err), NULL, 0) !=
		        -1 ||
		    strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu:\n%s\nwant %s, got:\n%s", i,
			    cases[i].text, cases[i].want, err);
	}
}

/* test_policy_guard - [policy] and [guard]: defaults, values, paths. */
static void
test_policy_guard(void **state)
{
	struct config c;
	char err[2048], text[2048];

	(void)state;
	assert_int_equal(
	    load("pg0.conf", minimal, &c, err, sizeof(err), NULL, 0), 0);
	assert_int_equal(c.sender_check, CONFIG_SENDER_STRICT);
	assert_int_equal(c.allow_null_sender, 0);
	assert_int_equal(c.submission_fixups, 1);
	assert_int_equal(c.privacy, 0);
	assert_string_equal(c.trusted_networks, "");
	assert_int_equal(c.messages_per_hour, 1000);
	assert_int_equal(c.recipients_per_day, 10000);
	assert_int_equal(c.hard_cap_factor, 10);
	assert_int_equal(c.guard_enabled, 1);
	assert_int_equal(c.guard_max_failures, 5);
	assert_int_equal(c.guard_ban_after, 10);
	assert_int_equal(c.guard_ban_time_ms, 3600 * 1000);
	assert_int_equal(c.guard_delay_base_ms, 1000);
	assert_int_equal(c.guard_delay_max_ms, 30 * 1000);
	assert_string_equal(c.guard_redis, "");
	assert_string_equal(c.guard_state, "");
	(void)snprintf(text, sizeof(text),
	    "%s[policy]\n"
	    "sender_check = warn\n"
	    "allow_null_sender = yes\n"
	    "sender_login = maps/sender_login\n"
	    "trusted_networks = 192.0.2.0/24, 2001:db8::/32 127.0.0.2\n"
	    "privacy = yes\n"
	    "submission_fixups = no\n"
	    "messages_per_hour = 50\n"
	    "recipients_per_day = 0\n"
	    "message_window = 10m\n"
	    "recipient_window = 12h\n"
	    "hard_cap_factor = 0\n"
	    "contain_suspend = yes\n"
	    "connection_rate = 30\n"
	    "[guard]\n"
	    "enabled = no\n"
	    "max_failures = 3\n"
	    "ban_after = 20\n"
	    "ban_time = 2h\n"
	    "window = 30m\n"
	    "delay_base = 250ms\n"
	    "delay_max = 10s\n"
	    "allow_networks = 10.0.0.0/8\n"
	    "redis = 127.0.0.1:6379\n"
	    "state = state/guard.db\n",
	    minimal);
	assert_int_equal(
	    load("pg1.conf", text, &c, err, sizeof(err), NULL, 0), 0);
	assert_int_equal(c.sender_check, CONFIG_SENDER_WARN);
	assert_int_equal(c.allow_null_sender, 1);
	assert_true(c.sender_login[0] == '/');
	assert_non_null(strstr(c.sender_login, "/maps/sender_login"));
	assert_string_equal(
	    c.trusted_networks, "192.0.2.0/24, 2001:db8::/32 127.0.0.2");
	assert_int_equal(c.privacy, 1);
	assert_int_equal(c.submission_fixups, 0);
	assert_int_equal(c.messages_per_hour, 50);
	assert_int_equal(c.recipients_per_day, 0);
	assert_int_equal(c.message_window_ms, 600 * 1000);
	assert_int_equal(c.recipient_window_ms, 12 * 3600 * 1000);
	assert_int_equal(c.hard_cap_factor, 0);
	assert_int_equal(c.contain_suspend, 1);
	assert_int_equal(c.connection_rate, 30);
	assert_int_equal(c.guard_enabled, 0);
	assert_int_equal(c.guard_max_failures, 3);
	assert_int_equal(c.guard_ban_after, 20);
	assert_int_equal(c.guard_ban_time_ms, 2 * 3600 * 1000);
	assert_int_equal(c.guard_window_ms, 30 * 60 * 1000);
	assert_int_equal(c.guard_delay_base_ms, 250);
	assert_int_equal(c.guard_delay_max_ms, 10 * 1000);
	assert_string_equal(c.guard_allow_networks, "10.0.0.0/8");
	assert_string_equal(c.guard_redis, "127.0.0.1:6379");
	assert_non_null(strstr(c.guard_state, "/state/guard.db"));
}

static void
test_policy_guard_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"[policy]\nsender_check = lax\n", "expected strict, warn or off"},
	    {"[policy]\ntrusted_networks = 10.0.0.0/33\n", "bad prefix length"},
	    {"[policy]\ntrusted_networks = example.org\n",
	        "not an address or prefix"},
	    {"[policy]\nmessages_per_hour = many\n", "not a number"},
	    {"[policy]\nmessage_window = 0\n", "longer than 0"},
	    {"[policy]\nprivacy = sometimes\n", "not a boolean"},
	    {"[policy]\nsender_login =\n", "empty"},
	    {"[guard]\nban_time = forever\n", "not a duration"},
	    {"[guard]\nallow_networks = 10.0.0.0/8 nope\n",
	        "not an address or prefix"},
	    {"[guard]\nredis = localhost\n", "expected host:port"},
	    {"[guard]\nredis = localhost:0\n", "expected host:port"},
	    {"[guard]\nbogus = 1\n", "unknown key"},
	    {"[guard]\nmax_failures = 1\nmax_failures = 2\n", "set twice"},
	};
	struct config c;
	char err[2048], text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(
		    text, sizeof(text), "%s%s", minimal, cases[i].text);
		err[0] = '\0';
		if (load("pge.conf", text, &c, err, sizeof(err), NULL, 0) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].text);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: want '%s' in: %s", i, cases[i].want,
			    err);
	}
}

/* The SMTP workers drop what only the auth and queue services need. */
static void
test_drop_secrets(void **state)
{
	struct config *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(c);
	config_defaults(c);
	snprintf(c->relay_password, sizeof(c->relay_password), "s3cret");
	snprintf(c->passdbs[0].arg, sizeof(c->passdbs[0].arg),
	    "host=db password=s3cret");
	c->npassdbs = 1;
	snprintf(c->passdb_path, sizeof(c->passdb_path), "password=s3cret");
	config_drop_secrets(c);
	assert_string_equal(c->relay_password, "");
	assert_string_equal(c->passdbs[0].arg, "");
	assert_string_equal(c->passdb_path, "");
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_minimal_resolves_relative_paths),
	    cmocka_unit_test(test_relative_to_config_dir_not_cwd),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_design_example_local_key),
	    cmocka_unit_test(test_booleans),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_hostport),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_several_errors_reported),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_small_error_buffer),
	    cmocka_unit_test(test_crlf_and_comments),
	    cmocka_unit_test(test_queue_and_relay),
	    cmocka_unit_test(test_queue_and_relay_errors),
	    cmocka_unit_test(test_ldap_dovecot),
	    cmocka_unit_test(test_ldap_dovecot_errors),
	    cmocka_unit_test(test_oauth_external),
	    cmocka_unit_test(test_oauth_external_errors),
	    cmocka_unit_test(test_passdb_chain_cache),
	    cmocka_unit_test(test_passdb_chain_errors),
	    cmocka_unit_test(test_policy_guard),
	    cmocka_unit_test(test_policy_guard_errors),
	    cmocka_unit_test(test_drop_secrets),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
