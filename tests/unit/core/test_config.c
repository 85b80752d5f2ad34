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
	assert_string_equal(c.mechanisms, "PLAIN LOGIN");
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
	        "local: 'mbox:/var/mail': only maildir:TEMPLATE"},
	    {"[delivery]\nrelay = mx\n", 2,
	        "unknown key 'relay' in [delivery]"},
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
