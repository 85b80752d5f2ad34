/*
 * config.c - postern.conf: a small strict INI reader and the typed model.
 * The parser is ours (inih as packaged cannot report line numbers): every
 * problem becomes one "file:line: message", unknown sections and keys are
 * errors, and relative paths resolve against the configuration's directory.
 * It reads files but never binds, resolves names or changes privileges.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/tls1.h>

#include "core/config.h"
#include "core/secret.h"
#include "core/log.h"

#define CONFIG_LINE_MAX   4096 /* longer lines are an error, not a truncation */
#define CONFIG_ERRORS_MAX 50   /* stop reporting after this many */

/* The SASL mechanisms accepted in "mechanisms =" lists (upper case). */
static const char *const known_mechanisms[] = {
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-256-PLUS",
    "EXTERNAL",
    "OAUTHBEARER",
    "XOAUTH2",
};

/* The passdb drivers accepted in "passdb = DRIVER:ARG". */
static const char *const known_passdbs[] = {
    "passwd-file",
    "ldap",
    "dovecot",
    "sqlite",
    "pgsql",
};

enum cfg_section {
	CFG_SEC_NONE,
	CFG_SEC_SERVER,
	CFG_SEC_TLS,
	CFG_SEC_AUTH,
	CFG_SEC_DELIVERY,
	CFG_SEC_LISTENER,
	CFG_SEC_LDAP,
	CFG_SEC_DOVECOT,
	CFG_SEC_QUEUE,
	CFG_SEC_OAUTH,
	CFG_SEC_PGSQL,
	CFG_SEC_POLICY,
	CFG_SEC_GUARD,
	CFG_SEC_COUNT,
};

static const char *const section_names[CFG_SEC_COUNT] = {
    "",
    "server",
    "tls",
    "auth",
    "delivery",
    "listener",
    "ldap",
    "dovecot",
    "queue",
    "oauth",
    "pgsql",
    "policy",
    "guard",
};

struct cfg_parser;

/* A setter returns 0, or -1 after writing the reason into p->why. */
typedef int cfg_setter(
    struct cfg_parser *p, const char *key, const char *value);

struct cfg_key {
	enum cfg_section section;
	const char *name;
	cfg_setter *set;
};

/* Room for every key of every section; the assert below keeps it honest. */
#define CFG_MAX_KEYS 200

struct cfg_parser {
	struct config *c;
	const char *path; /* as given, for messages */
	char *err;
	size_t errlen;
	size_t errused;
	int nerrors;
	int line;
	enum cfg_section section;
	struct config_listener *listener; /* in [listener NAME] */
	int section_line[CFG_SEC_COUNT];
	char why[512];
	/* line of each key per scope: [0] = global sections, [1 + i] = listener i */
	int seen[CONFIG_MAX_LISTENERS + 1][CFG_MAX_KEYS];
	/* keys whose value was rejected: no follow-on errors about them */
	unsigned char bad[CONFIG_MAX_LISTENERS + 1][CFG_MAX_KEYS];
};

/* cfg_error - append "path:line: message" (line 0: "path: message") to the error text. */
static void cfg_error(struct cfg_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cfg_error(struct cfg_parser *p, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	p->nerrors++;
	if (p->nerrors > CONFIG_ERRORS_MAX + 1 || p->err == NULL ||
	    p->errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (p->nerrors == CONFIG_ERRORS_MAX + 1) {
		line = 0;
		(void)snprintf(
		    msg, sizeof(msg), "too many errors, stopped reporting");
	}
	if (p->errused >= p->errlen - 1)
		return;
	if (line > 0)
		n = snprintf(p->err + p->errused, p->errlen - p->errused,
		    "%s%s:%d: %s", p->errused > 0 ? "\n" : "", p->path, line,
		    msg);
	else
		n = snprintf(p->err + p->errused, p->errlen - p->errused,
		    "%s%s: %s", p->errused > 0 ? "\n" : "", p->path, msg);
	if (n < 0)
		return;
	p->errused += (size_t)n;
	if (p->errused >= p->errlen)
		p->errused = p->errlen - 1;
}

static int cfg_why(struct cfg_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cfg_why - record why a setter failed; returns -1 for "return cfg_why(...)". */
static int
cfg_why(struct cfg_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* copy - bounded copy; -1 if src does not fit. */
static int
copy(char *dst, const char *src, size_t dstsize)
{
	size_t n = strlen(src);

	if (n >= dstsize)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int
ieq(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
		a++;
		b++;
	}
	return *a == *b;
}

static char *
trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (unsigned long long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	if (*s != '\0')
		return -1;
	*out = v;
	return 0;
}

/*
 * valid_domain - RFC 1035 §2.3.1 preferred name syntax (letters, digits,
 * hyphens; labels 1..63, not starting or ending with '-'), at most 253
 * octets, one optional trailing dot not counted.
 */
static int
valid_domain(const char *s)
{
	size_t len = strlen(s), label = 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-')
			return 0;
		if (ch == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	if (s[len - 1] == '-')
		return 0;
	return 1;
}

/* ---- public value parsers ---- */

/*
 * duration = 1*DIGIT [ "ms" / "s" / "m" / "h" / "d" ]   (no unit: seconds)
 */
int
config_parse_duration(const char *s, unsigned int *ms_r)
{
	unsigned long long v = 0, mult;
	const char *p = s;

	if (s == NULL || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > UINT_MAX)
			return -1;
	}
	if (*p == '\0' || ieq(p, "s"))
		mult = 1000;
	else if (ieq(p, "ms"))
		mult = 1;
	else if (ieq(p, "m"))
		mult = 60ULL * 1000;
	else if (ieq(p, "h"))
		mult = 3600ULL * 1000;
	else if (ieq(p, "d"))
		mult = 86400ULL * 1000;
	else
		return -1;
	if (v > UINT_MAX / mult)
		return -1;
	*ms_r = (unsigned int)(v * mult);
	return 0;
}

/*
 * size = 1*DIGIT [ "k" / "m" / "g" / "t" ]   (binary multiples, any case)
 */
int
config_parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v = 0, mult;
	const char *p = s;

	if (s == NULL || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (ULLONG_MAX - (unsigned long long)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (*p == '\0')
		mult = 1;
	else if (ieq(p, "k"))
		mult = 1ULL << 10;
	else if (ieq(p, "m"))
		mult = 1ULL << 20;
	else if (ieq(p, "g"))
		mult = 1ULL << 30;
	else if (ieq(p, "t"))
		mult = 1ULL << 40;
	else
		return -1;
	if (v > ULLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * hostport = ( IPv4 / "[" IPv6 "]" / "*" ) ":" port     port = 1..65535
 * Numeric addresses only: the configuration never triggers a DNS lookup.
 * "*" is 0.0.0.0 (every IPv4 address); use "[::]" for IPv6.
 */
int
config_parse_hostport(const char *s, struct config_addr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs, *he;
	unsigned long long port;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	int v6 = 0;

	if (s == NULL)
		return -1;
	if (*s == '[') {
		he = strchr(s, ']');
		if (he == NULL || he[1] != ':')
			return -1;
		hs = s + 1;
		colon = he + 1;
		v6 = 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hs = s;
		he = colon;
		if (memchr(hs, ':', (size_t)(he - hs)) != NULL)
			return -1; /* bare IPv6: brackets required */
	}
	if (he == hs || (size_t)(he - hs) >= sizeof(host))
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -1;

	memset(a, 0, sizeof(*a));
	if (!v6) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((unsigned short)port);
		if (strcmp(host, "*") == 0)
			sin.sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return -1;
		memcpy(&a->ss, &sin, sizeof(sin));
		a->len = sizeof(sin);
		if (inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host)) ==
		    NULL)
			return -1;
		(void)snprintf(a->text, sizeof(a->text), "%s:%llu", host, port);
	} else {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((unsigned short)port);
		if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1)
			return -1;
		memcpy(&a->ss, &sin6, sizeof(sin6));
		a->len = sizeof(sin6);
		if (inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host)) ==
		    NULL)
			return -1;
		(void)snprintf(
		    a->text, sizeof(a->text), "[%s]:%llu", host, port);
	}
	return 0;
}

int
config_is_local_domain(const struct config *c, const char *domain)
{
	size_t i, n;
	char buf[256];

	if (domain == NULL)
		return 0;
	n = strlen(domain);
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, domain, n + 1);
	if (n > 1 && buf[n - 1] == '.')
		buf[n - 1] = '\0';
	for (i = 0; i < c->nlocal_domains; i++)
		if (ieq(c->local_domains[i], buf))
			return 1;
	return 0;
}

/* ---- defaults ---- */

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));

	if (gethostname(c->hostname, sizeof(c->hostname)) != 0 ||
	    c->hostname[0] == '\0' || !valid_domain(c->hostname))
		(void)copy(c->hostname, "localhost", sizeof(c->hostname));
	c->hostname[sizeof(c->hostname) - 1] = '\0';
	(void)copy(c->spool, "spool", sizeof(c->spool));
	c->log_level = LOG_LEVEL_INFO;
	c->workers = 0;
	c->max_connections = 1000;
	c->max_connections_per_ip = 20;
	c->max_message_size = 35ULL << 20;
	c->max_recipients = 100;
	c->max_errors = 10;
	c->command_timeout_ms = 5 * 60 * 1000;
	c->data_timeout_ms = 3 * 60 * 1000;
	c->shutdown_timeout_ms = 30 * 1000;

	c->tls_min_version = TLS1_2_VERSION;

	(void)copy(c->mechanisms,
	    "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN",
	    sizeof(c->mechanisms));
	(void)copy(c->passdb_driver, "passwd-file", sizeof(c->passdb_driver));
	(void)copy(c->passdb_path, "users", sizeof(c->passdb_path));
	c->allow_authzid = 0;
	c->failure_delay_ms = 1000;
	c->auth_threads = 0;
	(void)copy(c->default_scheme, "ARGON2ID", sizeof(c->default_scheme));
	c->scram_iterations = 4096;
	c->auth_cache_ttl_ms = 3600 * 1000;
	c->auth_cache_negative_ttl_ms = 60 * 1000;
	c->auth_cache_size = 100000;
	c->auth_backend_timeout_ms = 10 * 1000;
	c->auth_migrate_scram = 1;
	c->auth_rehash = 1;
	c->auth_allow_plain_scheme = 0;
	c->password_min_length = 10;
	c->password_min_quality = 0;
	c->pgsql_connect_timeout_ms = 5 * 1000;
	c->pgsql_statement_timeout_ms = 5 * 1000;
	c->pgsql_pool_size = 4;

	(void)copy(c->maildir, "mail/%d/%n", sizeof(c->maildir));
	(void)copy(c->relay, "mx", sizeof(c->relay));
	c->relay_tls = CONFIG_RELAY_TLS_DEFAULT;
	c->mx_port = 25;
	c->connect_timeout_ms = 30 * 1000;
	c->relay_command_timeout_ms = 5 * 60 * 1000;

	c->queue_retry_min_ms = 5 * 60 * 1000;
	c->queue_retry_max_ms = 60 * 60 * 1000;
	c->queue_lifetime_ms = 5U * 24 * 3600 * 1000;
	c->queue_delay_warning_ms = 4 * 3600 * 1000;
	c->queue_max_deliveries = 20;
	c->queue_per_destination = 4;
	c->queue_min_free_space = 100ULL << 20;

	(void)copy(c->ldap_filter, "(&(objectClass=inetOrgPerson)(mail=%s))",
	    sizeof(c->ldap_filter));
	c->ldap_mode = CONFIG_LDAP_BIND;
	(void)copy(c->ldap_password_attribute, "userPassword",
	    sizeof(c->ldap_password_attribute));
	c->ldap_timeout_ms = 5 * 1000;
	(void)copy(c->dovecot_service, "smtp", sizeof(c->dovecot_service));
	c->dovecot_timeout_ms = 10 * 1000;

	c->external_map = CONFIG_EXTERNAL_FINGERPRINT;
	(void)copy(c->oauth_user_claim, "email", sizeof(c->oauth_user_claim));
	c->oauth_clock_skew_ms = 60 * 1000;
	c->oauth_require_user = 1;

	c->sender_check = CONFIG_SENDER_STRICT;
	c->submission_fixups = 1;
	c->messages_per_hour = 1000;
	c->recipients_per_day = 10000;
	c->message_window_ms = 3600 * 1000;
	c->recipient_window_ms = 24U * 3600 * 1000;
	c->hard_cap_factor = 10;
	c->guard_enabled = 1;
	c->guard_max_failures = 5;
	c->guard_ban_after = 10;
	c->guard_ban_time_ms = 3600 * 1000;
	c->guard_window_ms = 3600 * 1000;
	c->guard_delay_base_ms = 1000;
	c->guard_delay_max_ms = 30 * 1000;
}

/* ---- typed setters ---- */

static int
set_bool(struct cfg_parser *p, const char *value, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (ieq(value, yes[i])) {
			*out = 1;
			return 0;
		}
		if (ieq(value, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return cfg_why(p,
	    "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)", value);
}

static int
set_uint(struct cfg_parser *p, const char *value, unsigned int min,
    unsigned int max, int allow_auto, unsigned int *out)
{
	unsigned long long v;

	if (allow_auto && ieq(value, "auto")) {
		*out = 0;
		return 0;
	}
	if (parse_uint(value, max, &v) < 0 || v < min)
		return cfg_why(p, "'%s' is not a number in %u..%u%s", value,
		    min, max, allow_auto ? " or 'auto'" : "");
	*out = (unsigned int)v;
	return 0;
}

static int
set_duration(
    struct cfg_parser *p, const char *value, int allow_zero, unsigned int *out)
{
	unsigned int ms;

	if (config_parse_duration(value, &ms) < 0)
		return cfg_why(p,
		    "'%s' is not a duration (like 250ms, 30s, 5m, 2h, 1d)",
		    value);
	if (ms == 0 && !allow_zero)
		return cfg_why(p, "must be longer than 0");
	*out = ms;
	return 0;
}

static int
set_string(struct cfg_parser *p, const char *value, char *out, size_t outsize)
{
	const unsigned char *s;

	for (s = (const unsigned char *)value; *s != '\0'; s++)
		if (*s < 0x20 || *s == 0x7f)
			return cfg_why(p, "control character in value");
	if (copy(out, value, outsize) < 0)
		return cfg_why(
		    p, "value too long (at most %zu octets)", outsize - 1);
	return 0;
}

static int
set_path(struct cfg_parser *p, const char *value, char *out, size_t outsize)
{
	if (value[0] == '\0')
		return cfg_why(p, "empty path");
	return set_string(p, value, out, outsize);
}

/*
 * set_mechanisms - mechanisms = 1*(NAME [","] [SP]); each must be known,
 * none twice. Stored upper case, space separated, in the given order.
 */
static int
set_mechanisms(
    struct cfg_parser *p, const char *value, char *out, size_t outsize)
{
	char buf[CONFIG_LINE_MAX], res[512], *tok, *save = NULL;
	const char *name;
	size_t i, n;

	if (copy(buf, value, sizeof(buf)) < 0)
		return cfg_why(p, "value too long");
	res[0] = '\0';
	n = 0;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		name = NULL;
		for (i = 0;
		     i < sizeof(known_mechanisms) / sizeof(known_mechanisms[0]);
		     i++)
			if (ieq(tok, known_mechanisms[i]))
				name = known_mechanisms[i];
		if (name == NULL)
			return cfg_why(p, "unknown SASL mechanism '%s'", tok);
		/* " NAME " in " res " means it is listed twice */
		{
			char pat[64], hay[520];

			(void)snprintf(pat, sizeof(pat), " %s ", name);
			(void)snprintf(hay, sizeof(hay), " %s ", res);
			if (strstr(hay, pat) != NULL)
				return cfg_why(
				    p, "mechanism '%s' listed twice", name);
		}
		if (n > 0 && copy(res + n, " ", sizeof(res) - n) == 0)
			n++;
		if (copy(res + n, name, sizeof(res) - n) < 0)
			return cfg_why(p, "too many mechanisms");
		n += strlen(name);
	}
	if (n == 0)
		return cfg_why(p, "no mechanism listed");
	if (copy(out, res, outsize) < 0)
		return cfg_why(p, "too many mechanisms");
	return 0;
}

static int
server_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;
	int lvl;

	if (strcmp(key, "hostname") == 0) {
		if (!valid_domain(value))
			return cfg_why(
			    p, "'%s' is not a valid host name", value);
		return set_string(p, value, c->hostname, sizeof(c->hostname));
	}
	if (strcmp(key, "spool") == 0)
		return set_path(p, value, c->spool, sizeof(c->spool));
	if (strcmp(key, "user") == 0) {
		const char *s;

		for (s = value; *s != '\0'; s++)
			if (!isalnum((unsigned char)*s) && *s != '_' &&
			    *s != '-' && *s != '.')
				return cfg_why(
				    p, "'%s' is not a user name", value);
		return set_string(p, value, c->run_user, sizeof(c->run_user));
	}
	if (strcmp(key, "log_level") == 0) {
		if (strcmp(value, "debug") == 0)
			lvl = LOG_LEVEL_DEBUG;
		else if (strcmp(value, "info") == 0)
			lvl = LOG_LEVEL_INFO;
		else if (strcmp(value, "warn") == 0)
			lvl = LOG_LEVEL_WARN;
		else if (strcmp(value, "error") == 0)
			lvl = LOG_LEVEL_ERR;
		else
			return cfg_why(p,
			    "'%s' is not a log level (debug, info, warn, "
			    "error)",
			    value);
		c->log_level = lvl;
		return 0;
	}
	if (strcmp(key, "workers") == 0)
		return set_uint(p, value, 1, 1024, 1, &c->workers);
	if (strcmp(key, "max_connections") == 0)
		return set_uint(p, value, 1, 1000000, 0, &c->max_connections);
	if (strcmp(key, "max_connections_per_ip") == 0)
		return set_uint(
		    p, value, 1, 1000000, 0, &c->max_connections_per_ip);
	if (strcmp(key, "max_message_size") == 0) {
		unsigned long long v;

		if (config_parse_size(value, &v) < 0 || v == 0 ||
		    v > (1ULL << 40))
			return cfg_why(p,
			    "'%s' is not a size between 1 and 1T (like 64k, "
			    "35M, 1G)",
			    value);
		c->max_message_size = v;
		return 0;
	}
	if (strcmp(key, "max_recipients") == 0)
		return set_uint(p, value, 1, 100000, 0, &c->max_recipients);
	if (strcmp(key, "max_errors") == 0)
		return set_uint(p, value, 1, 10000, 0, &c->max_errors);
	if (strcmp(key, "command_timeout") == 0)
		return set_duration(p, value, 0, &c->command_timeout_ms);
	if (strcmp(key, "data_timeout") == 0)
		return set_duration(p, value, 0, &c->data_timeout_ms);
	if (strcmp(key, "shutdown_timeout") == 0)
		return set_duration(p, value, 1, &c->shutdown_timeout_ms);
	return cfg_why(p, "internal: no setter for %s", key);
}

static int
tls_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "certificate") == 0)
		return set_path(
		    p, value, c->tls_certificate, sizeof(c->tls_certificate));
	if (strcmp(key, "key") == 0)
		return set_path(p, value, c->tls_key, sizeof(c->tls_key));
	if (strcmp(key, "min_version") == 0) {
		if (ieq(value, "TLSv1.2"))
			c->tls_min_version = TLS1_2_VERSION;
		else if (ieq(value, "TLSv1.3"))
			c->tls_min_version = TLS1_3_VERSION;
		else
			return cfg_why(p,
			    "'%s' is not a TLS version (TLSv1.2, TLSv1.3)",
			    value);
		return 0;
	}
	if (strcmp(key, "ciphers") == 0)
		return set_string(
		    p, value, c->tls_ciphers, sizeof(c->tls_ciphers));
	if (strcmp(key, "client_ca") == 0)
		return set_path(
		    p, value, c->tls_client_ca, sizeof(c->tls_client_ca));
	return cfg_why(p, "internal: no setter for %s", key);
}

/* cfg_append - append src to dst (size dstsize); 0, or -1 if it does not fit. */
static int
cfg_append(char *dst, const char *src, size_t dstsize)
{
	size_t n = strlen(dst), m = strlen(src);

	if (n + m >= dstsize)
		return -1;
	memcpy(dst + n, src, m + 1);
	return 0;
}

/*
 * set_passdbs - passdb = 1*( DRIVER ":" ARG ) separated by blanks: a word
 * "known-driver:..." starts the next passdb, any other word continues the
 * argument of the current one (a pgsql conninfo has blanks). Several
 * passdbs are a chain: the first that knows the user answers.
 */
static int
set_passdbs(struct cfg_parser *p, const char *value)
{
	struct config *c = p->c;
	char buf[CONFIG_LINE_MAX + 1], *tok, *save = NULL;
	struct config_passdb *cur = NULL;
	size_t i, dlen;

	if (copy(buf, value, sizeof(buf)) < 0)
		return cfg_why(p, "value too long");
	c->npassdbs = 0;
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		const char *colon = strchr(tok, ':');

		i = sizeof(known_passdbs) / sizeof(known_passdbs[0]);
		if (colon != NULL) {
			dlen = (size_t)(colon - tok);
			for (i = 0; i <
			     sizeof(known_passdbs) / sizeof(known_passdbs[0]);
			     i++)
				if (strlen(known_passdbs[i]) == dlen &&
				    strncmp(known_passdbs[i], tok, dlen) == 0)
					break;
		}
		if (i < sizeof(known_passdbs) / sizeof(known_passdbs[0])) {
			if (c->npassdbs >= CONFIG_MAX_PASSDBS)
				return cfg_why(p, "at most %d passdbs",
				    CONFIG_MAX_PASSDBS);
			cur = &c->passdbs[c->npassdbs++];
			memset(cur, 0, sizeof(*cur));
			(void)copy(
			    cur->driver, known_passdbs[i], sizeof(cur->driver));
			if (copy(cur->arg, colon + 1, sizeof(cur->arg)) < 0)
				return cfg_why(p, "argument too long");
			continue;
		}
		if (cur == NULL) {
			if (colon == NULL)
				return cfg_why(p,
				    "'%s' is not DRIVER:ARGUMENT (like "
				    "passwd-file:users)",
				    value);
			return cfg_why(p,
			    "unknown passdb driver '%.*s' (known: "
			    "passwd-file, sqlite, pgsql, ldap, dovecot)",
			    (int)(colon - tok), tok);
		}
		if ((cur->arg[0] != '\0' &&
		        cfg_append(cur->arg, " ", sizeof(cur->arg)) < 0) ||
		    cfg_append(cur->arg, tok, sizeof(cur->arg)) < 0)
			return cfg_why(p, "argument too long");
	}
	if (c->npassdbs == 0)
		return cfg_why(p, "no passdb given");
	for (i = 0; i < c->npassdbs; i++) {
		struct config_passdb *d = &c->passdbs[i];

		/* "ldap:" takes no argument: its settings are in [ldap] */
		if (strcmp(d->driver, "ldap") == 0 && d->arg[0] != '\0')
			return cfg_why(p,
			    "ldap takes no argument (write "
			    "'ldap:' and set the [ldap] section)");
		if (strcmp(d->driver, "ldap") != 0 && d->arg[0] == '\0')
			return cfg_why(p, "empty %s for %s",
			    strcmp(d->driver, "pgsql") == 0
			        ? "connection string"
			        : "path",
			    d->driver);
		if (set_string(p, d->arg, d->arg, sizeof(d->arg)) < 0)
			return -1;
	}
	(void)copy(
	    c->passdb_driver, c->passdbs[0].driver, sizeof(c->passdb_driver));
	(void)copy(c->passdb_path, c->passdbs[0].arg, sizeof(c->passdb_path));
	return 0;
}

/* pgsql_set - [pgsql]: queries and limits of the pgsql passdb. */
static int
pgsql_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;
	static const struct {
		const char *key;
		size_t off;
	} queries[] = {
	    {"query_password", offsetof(struct config, pgsql_query_password)},
	    {"query_senders", offsetof(struct config, pgsql_query_senders)},
	    {"query_apppass", offsetof(struct config, pgsql_query_apppass)},
	    {"query_exists", offsetof(struct config, pgsql_query_exists)},
	    {"query_update", offsetof(struct config, pgsql_query_update)},
	    {"query_touch", offsetof(struct config, pgsql_query_touch)},
	};
	size_t i;

	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		if (strcmp(key, queries[i].key) != 0)
			continue;
		if (!ieq(value, "none") && strstr(value, "$1") == NULL)
			return cfg_why(p,
			    "the query does not use the login "
			    "($1) (or write 'none')");
		return set_string(p, value, (char *)c + queries[i].off,
		    sizeof(c->pgsql_query_password));
	}
	if (strcmp(key, "connect_timeout") == 0)
		return set_duration(p, value, 0, &c->pgsql_connect_timeout_ms);
	if (strcmp(key, "statement_timeout") == 0)
		return set_duration(
		    p, value, 0, &c->pgsql_statement_timeout_ms);
	if (strcmp(key, "pool_size") == 0)
		return set_uint(p, value, 1, 64, 0, &c->pgsql_pool_size);
	return cfg_why(p, "internal: no setter for %s", key);
}

static int
auth_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "mechanisms") == 0)
		return set_mechanisms(
		    p, value, c->mechanisms, sizeof(c->mechanisms));
	if (strcmp(key, "passdb") == 0)
		return set_passdbs(p, value);
	if (strcmp(key, "cache_ttl") == 0)
		return set_duration(p, value, 1, &c->auth_cache_ttl_ms);
	if (strcmp(key, "cache_negative_ttl") == 0)
		return set_duration(
		    p, value, 1, &c->auth_cache_negative_ttl_ms);
	if (strcmp(key, "cache_size") == 0)
		return set_uint(p, value, 0, 10000000, 0, &c->auth_cache_size);
	if (strcmp(key, "backend_timeout") == 0)
		return set_duration(p, value, 0, &c->auth_backend_timeout_ms);
	if (strcmp(key, "migrate_scram") == 0)
		return set_bool(p, value, &c->auth_migrate_scram);
	if (strcmp(key, "rehash") == 0)
		return set_bool(p, value, &c->auth_rehash);
	if (strcmp(key, "allow_plain_scheme") == 0)
		return set_bool(p, value, &c->auth_allow_plain_scheme);
	if (strcmp(key, "password_min_length") == 0)
		return set_uint(p, value, 1, 1024, 0, &c->password_min_length);
	if (strcmp(key, "password_min_quality") == 0)
		return set_uint(p, value, 0, 100, 0, &c->password_min_quality);
	if (strcmp(key, "allow_authzid") == 0)
		return set_bool(p, value, &c->allow_authzid);
	if (strcmp(key, "failure_delay") == 0)
		return set_duration(p, value, 1, &c->failure_delay_ms);
	if (strcmp(key, "threads") == 0)
		return set_uint(p, value, 1, 1024, 1, &c->auth_threads);
	if (strcmp(key, "scram_iterations") == 0)
		return set_uint(
		    p, value, 4096, 10000000, 0, &c->scram_iterations);
	if (strcmp(key, "default_scheme") == 0) {
		char buf[sizeof(c->default_scheme)];
		size_t i;

		if (value[0] == '\0' || copy(buf, value, sizeof(buf)) < 0)
			return cfg_why(p, "'%s' is not a scheme name", value);
		for (i = 0; buf[i] != '\0'; i++) {
			if (!isalnum((unsigned char)buf[i]) && buf[i] != '-' &&
			    buf[i] != '_' && buf[i] != '.')
				return cfg_why(
				    p, "'%s' is not a scheme name", value);
			buf[i] = (char)toupper((unsigned char)buf[i]);
		}
		return set_string(
		    p, buf, c->default_scheme, sizeof(c->default_scheme));
	}
	return cfg_why(p, "internal: no setter for %s", key);
}

/*
 * valid_ldap_filter - "(" ... ")" with balanced parentheses, at least one
 * "%s" (the login, escaped by the driver) and no other "%" escape than "%%".
 */
static int
valid_ldap_filter(struct cfg_parser *p, const char *f)
{
	int depth = 0, subst = 0;

	if (f[0] != '(')
		return cfg_why(p,
		    "'%s' is not an LDAP filter (like "
		    "(&(objectClass=inetOrgPerson)(mail=%%s)))",
		    f);
	for (; *f != '\0'; f++) {
		if (*f == '(')
			depth++;
		else if (*f == ')' && --depth < 0)
			break;
		else if (*f == '%') {
			if (f[1] == 's')
				subst++;
			else if (f[1] != '%')
				return cfg_why(p,
				    "only %%s (the login) and %%%% "
				    "may follow '%%' in a filter");
			f++;
		}
	}
	if (depth != 0)
		return cfg_why(p, "unbalanced parentheses in the filter");
	if (subst == 0)
		return cfg_why(p, "the filter does not use the login (%%s)");
	return 0;
}

/* set_ldap_attrs - attribute names (RFC 4512 descr/options); a list if many. */
static int
set_ldap_attrs(struct cfg_parser *p, const char *value, int many, char *out,
    size_t outsize)
{
	const char *s;

	for (s = value; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != ';' &&
		    !(many && *s == ' '))
			return cfg_why(p, "'%s' is not %s", value,
			    many ? "a list of attribute names"
			         : "an attribute name");
	return set_string(p, value, out, outsize);
}

/* ldap_set - [ldap]: the "ldap:" passdb (src/auth/passdb_ldap.c). */
static int
ldap_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "uri") == 0) {
		char buf[sizeof(c->ldap_uri)], *tok, *save = NULL;

		if (copy(buf, value, sizeof(buf)) < 0 || buf[0] == '\0')
			return cfg_why(p, "'%s' is not an LDAP URI", value);
		for (tok = strtok_r(buf, " \t", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t", &save))
			if (strncmp(tok, "ldap://", 7) != 0 &&
			    strncmp(tok, "ldaps://", 8) != 0 &&
			    strncmp(tok, "ldapi://", 8) != 0)
				return cfg_why(p,
				    "'%s' is not an ldap://, ldaps:// or "
				    "ldapi:// URI",
				    tok);
		return set_string(p, value, c->ldap_uri, sizeof(c->ldap_uri));
	}
	if (strcmp(key, "starttls") == 0)
		return set_bool(p, value, &c->ldap_starttls);
	if (strcmp(key, "ca_file") == 0)
		return set_path(
		    p, value, c->ldap_ca_file, sizeof(c->ldap_ca_file));
	if (strcmp(key, "bind_dn") == 0)
		return set_string(
		    p, value, c->ldap_bind_dn, sizeof(c->ldap_bind_dn));
	if (strcmp(key, "bind_password_file") == 0)
		return set_path(p, value, c->ldap_bind_password_file,
		    sizeof(c->ldap_bind_password_file));
	if (strcmp(key, "base") == 0) {
		if (value[0] == '\0')
			return cfg_why(p, "empty search base");
		return set_string(p, value, c->ldap_base, sizeof(c->ldap_base));
	}
	if (strcmp(key, "filter") == 0) {
		if (valid_ldap_filter(p, value) < 0)
			return -1;
		return set_string(
		    p, value, c->ldap_filter, sizeof(c->ldap_filter));
	}
	if (strcmp(key, "mode") == 0) {
		if (ieq(value, "bind"))
			c->ldap_mode = CONFIG_LDAP_BIND;
		else if (ieq(value, "password"))
			c->ldap_mode = CONFIG_LDAP_PASSWORD;
		else
			return cfg_why(
			    p, "'%s' is not one of bind, password", value);
		return 0;
	}
	if (strcmp(key, "password_attribute") == 0) {
		if (value[0] == '\0')
			return cfg_why(p, "empty attribute name");
		return set_ldap_attrs(p, value, 0, c->ldap_password_attribute,
		    sizeof(c->ldap_password_attribute));
	}
	if (strcmp(key, "alias_attribute") == 0)
		return set_ldap_attrs(p, value, 1, c->ldap_alias_attribute,
		    sizeof(c->ldap_alias_attribute));
	if (strcmp(key, "disabled_attribute") == 0)
		return set_ldap_attrs(p, value, 0, c->ldap_disabled_attribute,
		    sizeof(c->ldap_disabled_attribute));
	if (strcmp(key, "timeout") == 0)
		return set_duration(p, value, 0, &c->ldap_timeout_ms);
	return cfg_why(p, "internal: no setter for %s", key);
}

/* dovecot_set - [dovecot]: the "dovecot:" passdb (src/auth/passdb_dovecot.c). */
static int
dovecot_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;
	const char *s;

	if (strcmp(key, "userdb_socket") == 0)
		return set_path(p, value, c->dovecot_userdb_socket,
		    sizeof(c->dovecot_userdb_socket));
	if (strcmp(key, "service") == 0) {
		for (s = value; *s != '\0'; s++)
			if (!isalnum((unsigned char)*s) && *s != '-' &&
			    *s != '_')
				break;
		if (value[0] == '\0' || *s != '\0')
			return cfg_why(p, "'%s' is not a service name", value);
		return set_string(
		    p, value, c->dovecot_service, sizeof(c->dovecot_service));
	}
	if (strcmp(key, "timeout") == 0)
		return set_duration(p, value, 0, &c->dovecot_timeout_ms);
	return cfg_why(p, "internal: no setter for %s", key);
}

/* external_set - [auth] external_map (src/auth/certmap.c). */
static int
external_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "external_map") != 0)
		return cfg_why(p, "internal: no setter for %s", key);
	if (ieq(value, "fingerprint"))
		c->external_map = CONFIG_EXTERNAL_FINGERPRINT;
	else if (ieq(value, "san-email"))
		c->external_map = CONFIG_EXTERNAL_SAN_EMAIL;
	else if (ieq(value, "subject-email"))
		c->external_map = CONFIG_EXTERNAL_SUBJECT_EMAIL;
	else
		return cfg_why(p,
		    "'%s' is not one of fingerprint, san-email, subject-email",
		    value);
	return 0;
}

/* oauth_set - [oauth]: bearer tokens for OAUTHBEARER and XOAUTH2 (src/auth/oauth.c). */
static int
oauth_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;
	const char *s;

	if (strcmp(key, "jwks") == 0)
		return set_path(p, value, c->oauth_jwks, sizeof(c->oauth_jwks));
	if (strcmp(key, "issuer") == 0 || strcmp(key, "audience") == 0) {
		if (value[0] == '\0')
			return cfg_why(p, "empty value");
		if (strcmp(key, "issuer") == 0)
			return set_string(
			    p, value, c->oauth_issuer, sizeof(c->oauth_issuer));
		return set_string(
		    p, value, c->oauth_audience, sizeof(c->oauth_audience));
	}
	if (strcmp(key, "user_claim") == 0) {
		for (s = value; *s != '\0'; s++)
			if (!isalnum((unsigned char)*s) && *s != '_' &&
			    *s != '-' && *s != '.' && *s != ':' && *s != '/')
				break;
		if (value[0] == '\0' || *s != '\0')
			return cfg_why(p, "'%s' is not a claim name", value);
		return set_string(
		    p, value, c->oauth_user_claim, sizeof(c->oauth_user_claim));
	}
	if (strcmp(key, "clock_skew") == 0) {
		if (set_duration(p, value, 1, &c->oauth_clock_skew_ms) < 0)
			return -1;
		if (c->oauth_clock_skew_ms > 10 * 60 * 1000)
			return cfg_why(p, "at most 10m");
		return 0;
	}
	if (strcmp(key, "scope") == 0)
		return set_string(
		    p, value, c->oauth_scope, sizeof(c->oauth_scope));
	if (strcmp(key, "require_user") == 0)
		return set_bool(p, value, &c->oauth_require_user);
	if (strcmp(key, "introspection_url") == 0) {
		if (strncmp(value, "https://", 8) != 0 || value[8] == '\0' ||
		    strpbrk(value, " \t\"<>\\") != NULL)
			return cfg_why(p, "'%s' is not an https:// URL", value);
		return set_string(p, value, c->oauth_introspection_url,
		    sizeof(c->oauth_introspection_url));
	}
	if (strcmp(key, "introspection_client_id") == 0)
		return set_string(p, value, c->oauth_introspection_client_id,
		    sizeof(c->oauth_introspection_client_id));
	if (strcmp(key, "introspection_client_secret_file") == 0)
		return set_path(p, value,
		    c->oauth_introspection_client_secret_file,
		    sizeof(c->oauth_introspection_client_secret_file));
	if (strcmp(key, "introspection_ca") == 0)
		return set_path(p, value, c->oauth_introspection_ca,
		    sizeof(c->oauth_introspection_ca));
	return cfg_why(p, "internal: no setter for %s", key);
}

/* valid_maildir_template - only %d, %n, %u and %% escapes. */
static int
valid_maildir_template(struct cfg_parser *p, const char *t)
{
	for (; *t != '\0'; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t != 'd' && *t != 'n' && *t != 'u' && *t != '%')
			return cfg_why(p,
			    "unknown escape '%%%c' in maildir template (known: "
			    "%%d %%n %%u %%%%)",
			    *t != '\0' ? *t : ' ');
	}
	return 0;
}

/* set_local_lmtp - "unix:/path" (relative: to the config) or "HOST:PORT". */
static int
set_local_lmtp(struct cfg_parser *p, const char *v)
{
	struct config *c = p->c;
	struct config_addr a;
	const char *colon;
	char host[256];
	unsigned long long port;

	if (strncmp(v, "unix:", 5) == 0) {
		char buf[PATH_MAX];

		if (v[5] == '\0')
			return cfg_why(p, "lmtp:unix: needs a socket path");
		if ((size_t)snprintf(buf, sizeof(buf), "unix:%s%s%s",
		        v[5] == '/' ? "" : c->dir, v[5] == '/' ? "" : "/",
		        v + 5) >= 5 + 108)
			return cfg_why(p, "socket path too long");
		return set_string(p, buf, c->local_lmtp, sizeof(c->local_lmtp));
	}
	colon = strrchr(v, ':');
	if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof(host))
		return cfg_why(p, "'%s' is not unix:/PATH or HOST:PORT", v);
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	if (config_parse_hostport(v, &a) < 0 && !valid_domain(host))
		return cfg_why(p, "'%s' is not unix:/PATH or HOST:PORT", v);
	if (parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return cfg_why(p, "'%s': bad port", v);
	return set_string(p, v, c->local_lmtp, sizeof(c->local_lmtp));
}

static int
delivery_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "local_domains") == 0) {
		char buf[CONFIG_LINE_MAX], *tok, *save = NULL;
		size_t i, n;

		if (copy(buf, value, sizeof(buf)) < 0)
			return cfg_why(p, "value too long");
		c->nlocal_domains = 0;
		for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
		     tok = strtok_r(NULL, ", \t", &save)) {
			if (!valid_domain(tok))
				return cfg_why(
				    p, "'%s' is not a valid domain", tok);
			n = strlen(tok);
			if (n > 1 && tok[n - 1] == '.')
				tok[n - 1] = '\0';
			for (i = 0; tok[i] != '\0'; i++)
				tok[i] = (char)tolower((unsigned char)tok[i]);
			if (config_is_local_domain(c, tok))
				continue;
			if (c->nlocal_domains >= CONFIG_MAX_DOMAINS)
				return cfg_why(p,
				    "too many local domains (at most %d)",
				    CONFIG_MAX_DOMAINS);
			(void)copy(c->local_domains[c->nlocal_domains++], tok,
			    sizeof(c->local_domains[0]));
		}
		return 0;
	}
	if (strcmp(key, "maildir") == 0 || strcmp(key, "local") == 0) {
		/* "local = maildir:TEMPLATE" is DESIGN §6's spelling */
		if (strcmp(key, "local") == 0) {
			if (strncmp(value, "lmtp:", 5) == 0)
				return set_local_lmtp(p, value + 5);
			if (strcmp(value, "discard") == 0) {
				c->local_discard = 1;
				return 0;
			}
			if (strncmp(value, "maildir:", 8) != 0)
				return cfg_why(p,
				    "'%s': expected maildir:TEMPLATE, "
				    "lmtp:unix:/PATH, lmtp:HOST:PORT or "
				    "discard",
				    value);
			value += 8;
		}
		if (set_path(p, value, c->maildir, sizeof(c->maildir)) < 0 ||
		    valid_maildir_template(p, value) < 0)
			return -1;
		return 0;
	}
	return cfg_why(p, "internal: no setter for %s", key);
}

/* valid_relay - "mx", or "smtp://HOST[:PORT]" / "smtps://HOST[:PORT]". */
static int
valid_relay(const char *v)
{
	const char *h, *colon;
	char host[256];
	size_t n;
	unsigned long long port;

	if (strcmp(v, "mx") == 0)
		return 1;
	if (strncmp(v, "smtp://", 7) == 0)
		h = v + 7;
	else if (strncmp(v, "smtps://", 8) == 0)
		h = v + 8;
	else
		return 0;
	if (h[0] == '[') {
		/* "[address-literal]" with an optional ":PORT" */
		const char *close = strchr(h, ']');

		if (close == NULL)
			return 0;
		if (close[1] == '\0')
			return 1;
		return close[1] == ':' &&
		    parse_uint(close + 2, 65535, &port) == 0 && port != 0;
	}
	colon = strchr(h, ':');
	n = colon != NULL ? (size_t)(colon - h) : strlen(h);
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!valid_domain(host))
		return 0;
	if (colon != NULL &&
	    (parse_uint(colon + 1, 65535, &port) < 0 || port == 0))
		return 0;
	return 1;
}

/* read_secret_file - the first line of path (relative: to the config) into out. */
static int
read_secret_file(
    struct cfg_parser *p, const char *value, char *out, size_t outsize)
{
	char path[PATH_MAX], line[512];
	FILE *f;
	size_t n;

	if (value[0] == '\0')
		return cfg_why(p, "empty path");
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s",
	        value[0] == '/' ? "" : p->c->dir, value[0] == '/' ? "" : "/",
	        value) >= sizeof(path))
		return cfg_why(p, "path too long");
	f = fopen(path, "re");
	if (f == NULL)
		return cfg_why(
		    p, "cannot read '%s': %s", path, strerror(errno));
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	(void)fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0 || n >= outsize) {
		explicit_bzero(line, sizeof(line));
		return cfg_why(p,
		    "'%s': no password on the first line, or longer than %zu "
		    "octets",
		    path, outsize - 1);
	}
	memcpy(out, line, n + 1);
	explicit_bzero(line, sizeof(line));
	return 0;
}

/* relay_set - the [delivery] keys for relaying (DESIGN §6). */
static int
relay_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "relay") == 0) {
		if (!valid_relay(value))
			return cfg_why(p,
			    "'%s' is not mx, smtp://HOST[:PORT] or "
			    "smtps://HOST[:PORT]",
			    value);
		return set_string(p, value, c->relay, sizeof(c->relay));
	}
	if (strcmp(key, "relay_tls") == 0) {
		if (ieq(value, "required"))
			c->relay_tls = CONFIG_RELAY_TLS_REQUIRED;
		else if (ieq(value, "opportunistic"))
			c->relay_tls = CONFIG_RELAY_TLS_OPPORTUNISTIC;
		else if (ieq(value, "none"))
			c->relay_tls = CONFIG_RELAY_TLS_NONE;
		else
			return cfg_why(p,
			    "'%s' is not one of required, opportunistic, none",
			    value);
		return 0;
	}
	if (strcmp(key, "relay_ca") == 0)
		return set_path(p, value, c->relay_ca, sizeof(c->relay_ca));
	if (strcmp(key, "relay_tls_name") == 0) {
		if (!valid_domain(value))
			return cfg_why(p, "'%s' is not a host name", value);
		return set_string(
		    p, value, c->relay_tls_name, sizeof(c->relay_tls_name));
	}
	if (strcmp(key, "relay_user") == 0)
		return set_string(
		    p, value, c->relay_user, sizeof(c->relay_user));
	if (strcmp(key, "relay_password_file") == 0)
		return read_secret_file(
		    p, value, c->relay_password, sizeof(c->relay_password));
	if (strcmp(key, "relay_mechanisms") == 0)
		return set_string(
		    p, value, c->relay_mechanisms, sizeof(c->relay_mechanisms));
	if (strcmp(key, "relay_auth_param") == 0)
		return set_bool(p, value, &c->relay_auth_param);
	if (strcmp(key, "resolver") == 0) {
		struct config_addr a;

		if (value[0] != '\0' && config_parse_hostport(value, &a) < 0)
			return cfg_why(p, "'%s' is not ADDRESS:PORT", value);
		return set_string(p, value, c->resolver, sizeof(c->resolver));
	}
	if (strcmp(key, "mx_port") == 0)
		return set_uint(p, value, 1, 65535, 0, &c->mx_port);
	if (strcmp(key, "connect_timeout") == 0)
		return set_duration(p, value, 0, &c->connect_timeout_ms);
	if (strcmp(key, "relay_command_timeout") == 0)
		return set_duration(p, value, 0, &c->relay_command_timeout_ms);
	return cfg_why(p, "internal: no setter for %s", key);
}

/*
 * set_networks - a list of CIDR prefixes: 1*(ADDR ["/" BITS]) separated
 * by blanks or commas, at most 64 (policy/relay.c matches them).
 */
static int
set_networks(struct cfg_parser *p, const char *value, char *out, size_t outsize)
{
	char buf[CONFIG_LINE_MAX], *tok, *save = NULL;
	int n = 0;

	if (copy(buf, value, sizeof(buf)) < 0)
		return cfg_why(p, "value too long");
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		unsigned char a[16];
		char *slash = strchr(tok, '/');
		unsigned long long bits, max;

		if (slash != NULL)
			*slash = '\0';
		if (inet_pton(AF_INET, tok, a) == 1)
			max = 32;
		else if (inet_pton(AF_INET6, tok, a) == 1)
			max = 128;
		else
			return cfg_why(
			    p, "'%s' is not an address or prefix", tok);
		if (slash != NULL &&
		    (slash[1] == '\0' || parse_uint(slash + 1, max, &bits) < 0))
			return cfg_why(
			    p, "'%s/%s': bad prefix length", tok, slash + 1);
		if (++n > 64)
			return cfg_why(p, "more than 64 networks");
	}
	return set_string(p, value, out, outsize);
}

/* policy_set - [policy]: relay, sender ownership, limits, fix-ups. */
static int
policy_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "sender_check") == 0) {
		if (ieq(value, "strict"))
			c->sender_check = CONFIG_SENDER_STRICT;
		else if (ieq(value, "warn"))
			c->sender_check = CONFIG_SENDER_WARN;
		else if (ieq(value, "off"))
			c->sender_check = CONFIG_SENDER_OFF;
		else
			return cfg_why(
			    p, "'%s': expected strict, warn or off", value);
		return 0;
	}
	if (strcmp(key, "allow_null_sender") == 0)
		return set_bool(p, value, &c->allow_null_sender);
	if (strcmp(key, "sender_login") == 0)
		return set_path(
		    p, value, c->sender_login, sizeof(c->sender_login));
	if (strcmp(key, "trusted_networks") == 0)
		return set_networks(
		    p, value, c->trusted_networks, sizeof(c->trusted_networks));
	if (strcmp(key, "privacy") == 0)
		return set_bool(p, value, &c->privacy);
	if (strcmp(key, "submission_fixups") == 0)
		return set_bool(p, value, &c->submission_fixups);
	if (strcmp(key, "messages_per_hour") == 0)
		return set_uint(
		    p, value, 0, 10000000, 0, &c->messages_per_hour);
	if (strcmp(key, "recipients_per_day") == 0)
		return set_uint(
		    p, value, 0, 100000000, 0, &c->recipients_per_day);
	if (strcmp(key, "message_window") == 0)
		return set_duration(p, value, 0, &c->message_window_ms);
	if (strcmp(key, "recipient_window") == 0)
		return set_duration(p, value, 0, &c->recipient_window_ms);
	if (strcmp(key, "hard_cap_factor") == 0)
		return set_uint(p, value, 0, 1000, 0, &c->hard_cap_factor);
	if (strcmp(key, "contain_suspend") == 0)
		return set_bool(p, value, &c->contain_suspend);
	if (strcmp(key, "connection_rate") == 0)
		return set_uint(p, value, 0, 1000000, 0, &c->connection_rate);
	return cfg_why(p, "internal: no setter for %s", key);
}

/* guard_set - [guard]: brute-force delays and bans. */
static int
guard_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "enabled") == 0)
		return set_bool(p, value, &c->guard_enabled);
	if (strcmp(key, "max_failures") == 0)
		return set_uint(p, value, 0, 10000, 0, &c->guard_max_failures);
	if (strcmp(key, "ban_after") == 0)
		return set_uint(p, value, 0, 10000, 0, &c->guard_ban_after);
	if (strcmp(key, "ban_time") == 0)
		return set_duration(p, value, 0, &c->guard_ban_time_ms);
	if (strcmp(key, "window") == 0)
		return set_duration(p, value, 0, &c->guard_window_ms);
	if (strcmp(key, "delay_base") == 0)
		return set_duration(p, value, 1, &c->guard_delay_base_ms);
	if (strcmp(key, "delay_max") == 0)
		return set_duration(p, value, 1, &c->guard_delay_max_ms);
	if (strcmp(key, "allow_networks") == 0)
		return set_networks(p, value, c->guard_allow_networks,
		    sizeof(c->guard_allow_networks));
	if (strcmp(key, "redis") == 0) {
		const char *colon = strrchr(value, ':');
		unsigned long long port;

		if (value[0] != '\0' &&
		    (colon == NULL || colon == value ||
		        parse_uint(colon + 1, 65535, &port) < 0 || port == 0))
			return cfg_why(p, "'%s': expected host:port", value);
		return set_string(
		    p, value, c->guard_redis, sizeof(c->guard_redis));
	}
	if (strcmp(key, "state") == 0)
		return set_path(
		    p, value, c->guard_state, sizeof(c->guard_state));
	return cfg_why(p, "internal: no setter for %s", key);
}

/* queue_set - [queue]: retries, lifetime, concurrency, free space. */
static int
queue_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "retry_min") == 0)
		return set_duration(p, value, 0, &c->queue_retry_min_ms);
	if (strcmp(key, "retry_max") == 0)
		return set_duration(p, value, 0, &c->queue_retry_max_ms);
	if (strcmp(key, "lifetime") == 0)
		return set_duration(p, value, 0, &c->queue_lifetime_ms);
	if (strcmp(key, "delay_warning") == 0)
		return set_duration(p, value, 1, &c->queue_delay_warning_ms);
	if (strcmp(key, "max_deliveries") == 0)
		return set_uint(p, value, 1, 1000, 0, &c->queue_max_deliveries);
	if (strcmp(key, "per_destination") == 0)
		return set_uint(
		    p, value, 1, 1000, 0, &c->queue_per_destination);
	if (strcmp(key, "min_free_space") == 0) {
		unsigned long long v;

		if (config_parse_size(value, &v) < 0 || v > (1ULL << 50))
			return cfg_why(
			    p, "'%s' is not a size (like 0, 100M, 1G)", value);
		c->queue_min_free_space = v;
		return 0;
	}
	return cfg_why(p, "internal: no setter for %s", key);
}

static int
listener_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config_listener *l = p->listener;

	if (strcmp(key, "address") == 0) {
		char buf[CONFIG_LINE_MAX], *tok, *save = NULL;

		if (copy(buf, value, sizeof(buf)) < 0)
			return cfg_why(p, "value too long");
		l->naddrs = 0;
		for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
		     tok = strtok_r(NULL, ", \t", &save)) {
			if (l->naddrs >= CONFIG_MAX_ADDRS)
				return cfg_why(p,
				    "too many addresses (at most %d)",
				    CONFIG_MAX_ADDRS);
			if (config_parse_hostport(tok, &l->addrs[l->naddrs]) <
			    0)
				return cfg_why(p,
				    "'%s' is not ADDRESS:PORT (like "
				    "127.0.0.1:587, [::1]:587, *:587)",
				    tok);
			l->naddrs++;
		}
		if (l->naddrs == 0)
			return cfg_why(p, "no address given");
		return 0;
	}
	if (strcmp(key, "tls") == 0) {
		if (ieq(value, "none"))
			l->tls = LISTENER_TLS_NONE;
		else if (ieq(value, "starttls"))
			l->tls = LISTENER_TLS_STARTTLS;
		else if (ieq(value, "implicit"))
			l->tls = LISTENER_TLS_IMPLICIT;
		else
			return cfg_why(p,
			    "'%s' is not one of none, starttls, implicit",
			    value);
		return 0;
	}
	if (strcmp(key, "auth") == 0) {
		if (ieq(value, "required"))
			l->auth = LISTENER_AUTH_REQUIRED;
		else if (ieq(value, "optional"))
			l->auth = LISTENER_AUTH_OPTIONAL;
		else if (ieq(value, "off"))
			l->auth = LISTENER_AUTH_OFF;
		else
			return cfg_why(p,
			    "'%s' is not one of required, optional, off",
			    value);
		return 0;
	}
	if (strcmp(key, "plaintext_auth") == 0)
		return set_bool(p, value, &l->plaintext_without_tls);
	if (strcmp(key, "legacy_tls") == 0)
		return set_bool(p, value, &l->legacy_tls);
	if (strcmp(key, "client_certificates") == 0) {
		if (ieq(value, "none"))
			l->client_certs = LISTENER_CERT_NONE;
		else if (ieq(value, "request"))
			l->client_certs = LISTENER_CERT_REQUEST;
		else if (ieq(value, "require"))
			l->client_certs = LISTENER_CERT_REQUIRE;
		else
			return cfg_why(p,
			    "'%s' is not one of none, request, require", value);
		return 0;
	}
	if (strcmp(key, "mechanisms") == 0)
		return set_mechanisms(
		    p, value, l->mechanisms, sizeof(l->mechanisms));
	return cfg_why(p, "internal: no setter for %s", key);
}

static const struct cfg_key keys[] = {
    {CFG_SEC_SERVER, "hostname", server_set},
    {CFG_SEC_SERVER, "spool", server_set},
    {CFG_SEC_SERVER, "user", server_set},
    {CFG_SEC_SERVER, "log_level", server_set},
    {CFG_SEC_SERVER, "workers", server_set},
    {CFG_SEC_SERVER, "max_connections", server_set},
    {CFG_SEC_SERVER, "max_connections_per_ip", server_set},
    {CFG_SEC_SERVER, "max_message_size", server_set},
    {CFG_SEC_SERVER, "max_recipients", server_set},
    {CFG_SEC_SERVER, "max_errors", server_set},
    {CFG_SEC_SERVER, "command_timeout", server_set},
    {CFG_SEC_SERVER, "data_timeout", server_set},
    {CFG_SEC_SERVER, "shutdown_timeout", server_set},
    {CFG_SEC_TLS, "certificate", tls_set},
    {CFG_SEC_TLS, "key", tls_set},
    {CFG_SEC_TLS, "min_version", tls_set},
    {CFG_SEC_TLS, "ciphers", tls_set},
    {CFG_SEC_TLS, "client_ca", tls_set},
    {CFG_SEC_AUTH, "mechanisms", auth_set},
    {CFG_SEC_AUTH, "passdb", auth_set},
    {CFG_SEC_AUTH, "allow_authzid", auth_set},
    {CFG_SEC_AUTH, "failure_delay", auth_set},
    {CFG_SEC_AUTH, "threads", auth_set},
    {CFG_SEC_AUTH, "default_scheme", auth_set},
    {CFG_SEC_AUTH, "scram_iterations", auth_set},
    {CFG_SEC_AUTH, "cache_ttl", auth_set},
    {CFG_SEC_AUTH, "cache_negative_ttl", auth_set},
    {CFG_SEC_AUTH, "cache_size", auth_set},
    {CFG_SEC_AUTH, "backend_timeout", auth_set},
    {CFG_SEC_AUTH, "migrate_scram", auth_set},
    {CFG_SEC_AUTH, "rehash", auth_set},
    {CFG_SEC_AUTH, "allow_plain_scheme", auth_set},
    {CFG_SEC_AUTH, "password_min_length", auth_set},
    {CFG_SEC_AUTH, "password_min_quality", auth_set},
    {CFG_SEC_PGSQL, "query_password", pgsql_set},
    {CFG_SEC_PGSQL, "query_senders", pgsql_set},
    {CFG_SEC_PGSQL, "query_apppass", pgsql_set},
    {CFG_SEC_PGSQL, "query_exists", pgsql_set},
    {CFG_SEC_PGSQL, "query_update", pgsql_set},
    {CFG_SEC_PGSQL, "query_touch", pgsql_set},
    {CFG_SEC_PGSQL, "connect_timeout", pgsql_set},
    {CFG_SEC_PGSQL, "statement_timeout", pgsql_set},
    {CFG_SEC_PGSQL, "pool_size", pgsql_set},
    {CFG_SEC_DELIVERY, "local_domains", delivery_set},
    {CFG_SEC_DELIVERY, "maildir", delivery_set},
    {CFG_SEC_DELIVERY, "local", delivery_set},
    {CFG_SEC_DELIVERY, "relay", relay_set},
    {CFG_SEC_DELIVERY, "relay_tls", relay_set},
    {CFG_SEC_DELIVERY, "relay_ca", relay_set},
    {CFG_SEC_DELIVERY, "relay_tls_name", relay_set},
    {CFG_SEC_DELIVERY, "relay_user", relay_set},
    {CFG_SEC_DELIVERY, "relay_password_file", relay_set},
    {CFG_SEC_DELIVERY, "relay_mechanisms", relay_set},
    {CFG_SEC_DELIVERY, "relay_auth_param", relay_set},
    {CFG_SEC_DELIVERY, "resolver", relay_set},
    {CFG_SEC_DELIVERY, "mx_port", relay_set},
    {CFG_SEC_DELIVERY, "connect_timeout", relay_set},
    {CFG_SEC_DELIVERY, "relay_command_timeout", relay_set},
    {CFG_SEC_QUEUE, "retry_min", queue_set},
    {CFG_SEC_QUEUE, "retry_max", queue_set},
    {CFG_SEC_QUEUE, "lifetime", queue_set},
    {CFG_SEC_QUEUE, "delay_warning", queue_set},
    {CFG_SEC_QUEUE, "max_deliveries", queue_set},
    {CFG_SEC_QUEUE, "per_destination", queue_set},
    {CFG_SEC_QUEUE, "min_free_space", queue_set},
    {CFG_SEC_LISTENER, "address", listener_set},
    {CFG_SEC_LISTENER, "tls", listener_set},
    {CFG_SEC_LISTENER, "auth", listener_set},
    {CFG_SEC_LISTENER, "plaintext_auth", listener_set},
    {CFG_SEC_LISTENER, "legacy_tls", listener_set},
    {CFG_SEC_LISTENER, "client_certificates", listener_set},
    {CFG_SEC_LISTENER, "mechanisms", listener_set},
    {CFG_SEC_LDAP, "uri", ldap_set},
    {CFG_SEC_LDAP, "starttls", ldap_set},
    {CFG_SEC_LDAP, "ca_file", ldap_set},
    {CFG_SEC_LDAP, "bind_dn", ldap_set},
    {CFG_SEC_LDAP, "bind_password_file", ldap_set},
    {CFG_SEC_LDAP, "base", ldap_set},
    {CFG_SEC_LDAP, "filter", ldap_set},
    {CFG_SEC_LDAP, "mode", ldap_set},
    {CFG_SEC_LDAP, "password_attribute", ldap_set},
    {CFG_SEC_LDAP, "alias_attribute", ldap_set},
    {CFG_SEC_LDAP, "disabled_attribute", ldap_set},
    {CFG_SEC_LDAP, "timeout", ldap_set},
    {CFG_SEC_DOVECOT, "userdb_socket", dovecot_set},
    {CFG_SEC_DOVECOT, "service", dovecot_set},
    {CFG_SEC_DOVECOT, "timeout", dovecot_set},
    {CFG_SEC_AUTH, "external_map", external_set},
    {CFG_SEC_OAUTH, "jwks", oauth_set},
    {CFG_SEC_OAUTH, "issuer", oauth_set},
    {CFG_SEC_OAUTH, "audience", oauth_set},
    {CFG_SEC_OAUTH, "user_claim", oauth_set},
    {CFG_SEC_OAUTH, "clock_skew", oauth_set},
    {CFG_SEC_OAUTH, "scope", oauth_set},
    {CFG_SEC_OAUTH, "require_user", oauth_set},
    {CFG_SEC_OAUTH, "introspection_url", oauth_set},
    {CFG_SEC_OAUTH, "introspection_client_id", oauth_set},
    {CFG_SEC_OAUTH, "introspection_client_secret_file", oauth_set},
    {CFG_SEC_OAUTH, "introspection_ca", oauth_set},
    {CFG_SEC_POLICY, "sender_check", policy_set},
    {CFG_SEC_POLICY, "allow_null_sender", policy_set},
    {CFG_SEC_POLICY, "sender_login", policy_set},
    {CFG_SEC_POLICY, "trusted_networks", policy_set},
    {CFG_SEC_POLICY, "privacy", policy_set},
    {CFG_SEC_POLICY, "submission_fixups", policy_set},
    {CFG_SEC_POLICY, "messages_per_hour", policy_set},
    {CFG_SEC_POLICY, "recipients_per_day", policy_set},
    {CFG_SEC_POLICY, "message_window", policy_set},
    {CFG_SEC_POLICY, "recipient_window", policy_set},
    {CFG_SEC_POLICY, "hard_cap_factor", policy_set},
    {CFG_SEC_POLICY, "contain_suspend", policy_set},
    {CFG_SEC_POLICY, "connection_rate", policy_set},
    {CFG_SEC_GUARD, "enabled", guard_set},
    {CFG_SEC_GUARD, "max_failures", guard_set},
    {CFG_SEC_GUARD, "ban_after", guard_set},
    {CFG_SEC_GUARD, "ban_time", guard_set},
    {CFG_SEC_GUARD, "window", guard_set},
    {CFG_SEC_GUARD, "delay_base", guard_set},
    {CFG_SEC_GUARD, "delay_max", guard_set},
    {CFG_SEC_GUARD, "allow_networks", guard_set},
    {CFG_SEC_GUARD, "redis", guard_set},
    {CFG_SEC_GUARD, "state", guard_set},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(NKEYS <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");

static int *
seen_slot(struct cfg_parser *p, size_t k)
{
	size_t scope = 0;

	if (p->section == CFG_SEC_LISTENER)
		scope = 1 + (size_t)(p->listener - p->c->listeners);
	return &p->seen[scope][k];
}

/* key_index - the index of sec/name in keys[] (which must list it). */
static size_t
key_index(enum cfg_section sec, const char *name)
{
	size_t k;

	for (k = 0; k < NKEYS; k++)
		if (keys[k].section == sec && strcmp(keys[k].name, name) == 0)
			break;
	return k < NKEYS ? k : 0;
}

/* key_line - the line where a global-section key was set, 0 if it was not. */
static int
key_line(const struct cfg_parser *p, enum cfg_section sec, const char *name)
{
	return p->seen[0][key_index(sec, name)];
}

static int
valid_listener_name(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return 0;
	return n > 0 && n < CONFIG_NAME_MAX;
}

/*
 * section = "[" *WSP ( "server" / "tls" / "auth" / "delivery" /
 *           "listener" 1*WSP NAME ) *WSP "]"
 */
static void
parse_section(struct cfg_parser *p, char *s)
{
	char *end = strchr(s, ']'), *name, *arg;
	struct config_listener *l;
	size_t i;
	int sec;

	/* keys after a rejected header are skipped: the header was reported */
	p->section = CFG_SEC_COUNT;
	p->listener = NULL;
	if (end == NULL || end[1] != '\0') {
		cfg_error(
		    p, p->line, "malformed section header (expected [NAME])");
		return;
	}
	*end = '\0';
	name = trim(s + 1);
	arg = name + strcspn(name, " \t");
	if (*arg != '\0') {
		*arg++ = '\0';
		arg = trim(arg);
	}
	for (sec = CFG_SEC_SERVER; sec < CFG_SEC_COUNT; sec++)
		if (strcmp(name, section_names[sec]) == 0)
			break;
	if (sec == CFG_SEC_COUNT) {
		cfg_error(p, p->line,
		    "unknown section [%s] (known: server, tls, auth, delivery, "
		    "listener NAME, ldap, dovecot, queue, oauth, pgsql, "
		    "policy, guard)",
		    name);
		p->section = CFG_SEC_COUNT; /* swallow its keys silently */
		return;
	}
	if (sec != CFG_SEC_LISTENER) {
		if (*arg != '\0') {
			cfg_error(
			    p, p->line, "section [%s] takes no name", name);
			p->section = CFG_SEC_COUNT;
			return;
		}
		if (p->section_line[sec] != 0) {
			cfg_error(p, p->line,
			    "section [%s] repeated (first at line %d)", name,
			    p->section_line[sec]);
			p->section = CFG_SEC_COUNT;
			return;
		}
		p->section_line[sec] = p->line;
		p->section = (enum cfg_section)sec;
		return;
	}
	p->section = CFG_SEC_COUNT;
	if (*arg == '\0') {
		cfg_error(
		    p, p->line, "[listener] needs a name: [listener NAME]");
		return;
	}
	if (!valid_listener_name(arg)) {
		cfg_error(p, p->line,
		    "bad listener name '%s' (letters, digits, '-', '_', '.'; "
		    "at most %d)",
		    arg, CONFIG_NAME_MAX - 1);
		return;
	}
	for (i = 0; i < p->c->nlisteners; i++)
		if (strcmp(p->c->listeners[i].name, arg) == 0) {
			cfg_error(p, p->line,
			    "duplicate listener '%s' (first at line %d)", arg,
			    p->c->listeners[i].line);
			return;
		}
	if (p->c->nlisteners >= CONFIG_MAX_LISTENERS) {
		cfg_error(p, p->line, "too many listeners (at most %d)",
		    CONFIG_MAX_LISTENERS);
		return;
	}
	l = &p->c->listeners[p->c->nlisteners++];
	memset(l, 0, sizeof(*l));
	(void)copy(l->name, arg, sizeof(l->name));
	l->line = p->line;
	l->tls = LISTENER_TLS_STARTTLS;
	l->auth = LISTENER_AUTH_REQUIRED;
	p->listener = l;
	p->section = CFG_SEC_LISTENER;
}

/* key-value = KEY *WSP "=" *WSP VALUE */
static void
parse_keyvalue(struct cfg_parser *p, char *s)
{
	char *eq = strchr(s, '='), *key, *value;
	size_t k;
	int *seen;

	if (eq == NULL) {
		cfg_error(p, p->line,
		    "expected 'key = value' or '[section]', got '%s'", s);
		return;
	}
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (*key == '\0') {
		cfg_error(p, p->line, "missing key before '='");
		return;
	}
	if (p->section == CFG_SEC_NONE) {
		cfg_error(p, p->line, "key '%s' outside of any [section]", key);
		return;
	}
	if (p->section == CFG_SEC_COUNT)
		return; /* inside a rejected section: already reported */
	for (k = 0; k < NKEYS; k++)
		if (keys[k].section == p->section &&
		    strcmp(keys[k].name, key) == 0)
			break;
	if (k == NKEYS) {
		cfg_error(p, p->line, "unknown key '%s' in [%s]", key,
		    section_names[p->section]);
		return;
	}
	seen = seen_slot(p, k);
	if (*seen != 0) {
		cfg_error(
		    p, p->line, "%s set twice (first at line %d)", key, *seen);
		return;
	}
	*seen = p->line;
	p->why[0] = '\0';
	if (keys[k].set(p, key, value) < 0) {
		cfg_error(p, p->line, "%s: %s", key, p->why);
		p->bad[p->section == CFG_SEC_LISTENER
		        ? 1 + (size_t)(p->listener - p->c->listeners)
		        : 0][k] = 1;
	}
}

/* strip_comment - cut at ';' or '#' that starts the line or follows blank space. */
static void
strip_comment(char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((s[i] == ';' || s[i] == '#') &&
		    (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
			s[i] = '\0';
			return;
		}
}

static void
parse_stream(struct cfg_parser *p, FILE *f)
{
	char *line = NULL, *s;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, f)) >= 0) {
		p->line++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strlen(line) != (size_t)n) {
			cfg_error(p, p->line, "NUL byte in line");
			continue;
		}
		if (n > CONFIG_LINE_MAX) {
			cfg_error(p, p->line,
			    "line too long (at most %d octets)",
			    CONFIG_LINE_MAX);
			continue;
		}
		strip_comment(line);
		s = trim(line);
		if (*s == '\0')
			continue;
		if (*s == '[')
			parse_section(p, s);
		else
			parse_keyvalue(p, s);
	}
	if (ferror(f))
		cfg_error(p, p->line, "read error: %s", strerror(errno));
	free(line);
}

/* resolve - make a relative path absolute against the configuration's directory. */
static void
resolve(
    struct cfg_parser *p, char *path, size_t size, int line, const char *what)
{
	char buf[PATH_MAX];
	int n;

	if (path[0] == '\0' || path[0] == '/')
		return;
	n = snprintf(buf, sizeof(buf), "%s/%s", p->c->dir, path);
	if (n < 0 || (size_t)n >= sizeof(buf) || (size_t)n >= size) {
		cfg_error(p, line, "%s: path too long once resolved against %s",
		    what, p->c->dir);
		return;
	}
	memcpy(path, buf, (size_t)n + 1);
}

/* check_readable - report "cannot read WHAT 'path': reason" unless path opens. */
static void
check_readable(
    struct cfg_parser *p, const char *path, int line, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		cfg_error(p, line, "cannot read %s '%s': %s", what, path,
		    strerror(errno));
		return;
	}
	(void)close(fd);
}

/* validate_ldap_dovecot - [ldap] and [dovecot]: paths, and what "passdb =" needs. */
static void
validate_ldap_dovecot(struct cfg_parser *p)
{
	struct config *c = p->c;
	int uri_line = key_line(p, CFG_SEC_LDAP, "uri");
	int pw_line = key_line(p, CFG_SEC_LDAP, "bind_password_file");
	int ca_line = key_line(p, CFG_SEC_LDAP, "ca_file");
	int passdb_line = key_line(p, CFG_SEC_AUTH, "passdb");

	resolve(
	    p, c->ldap_ca_file, sizeof(c->ldap_ca_file), ca_line, "ca_file");
	resolve(p, c->ldap_bind_password_file,
	    sizeof(c->ldap_bind_password_file), pw_line, "bind_password_file");
	resolve(p, c->dovecot_userdb_socket, sizeof(c->dovecot_userdb_socket),
	    key_line(p, CFG_SEC_DOVECOT, "userdb_socket"), "userdb_socket");
	if (c->ldap_starttls && strncmp(c->ldap_uri, "ldaps://", 8) == 0)
		cfg_error(p, key_line(p, CFG_SEC_LDAP, "starttls"),
		    "starttls: the URI is ldaps:// (TLS already)");
	if (c->ldap_bind_dn[0] != '\0' && c->ldap_bind_password_file[0] == '\0')
		cfg_error(p, key_line(p, CFG_SEC_LDAP, "bind_dn"),
		    "bind_dn given without bind_password_file");
	if (strcmp(c->passdb_driver, "ldap") != 0)
		return;
	if (c->ldap_uri[0] == '\0' &&
	    !p->bad[0][key_index(CFG_SEC_LDAP, "uri")])
		cfg_error(p, uri_line != 0 ? uri_line : passdb_line,
		    "passdb = ldap: needs [ldap] uri");
	if (c->ldap_base[0] == '\0' &&
	    !p->bad[0][key_index(CFG_SEC_LDAP, "base")])
		cfg_error(p, passdb_line, "passdb = ldap: needs [ldap] base");
	if (c->ldap_bind_password_file[0] != '\0')
		check_readable(p, c->ldap_bind_password_file, pw_line,
		    "bind_password_file");
	if (c->ldap_ca_file[0] != '\0')
		check_readable(p, c->ldap_ca_file, ca_line, "ca_file");
}

/* mech_listed - 1 if name is in the [auth] list or any listener's list. */
static int
mech_listed(const struct config *c, const char *name)
{
	char hay[sizeof(c->mechanisms) + 2], pat[32];
	size_t i;

	(void)snprintf(pat, sizeof(pat), " %s ", name);
	(void)snprintf(hay, sizeof(hay), " %s ", c->mechanisms);
	if (strstr(hay, pat) != NULL)
		return 1;
	for (i = 0; i < c->nlisteners; i++) {
		(void)snprintf(
		    hay, sizeof(hay), " %s ", c->listeners[i].mechanisms);
		if (strstr(hay, pat) != NULL)
			return 1;
	}
	return 0;
}

/* validate_oauth - [oauth] and EXTERNAL: paths, and what the mechanisms need. */
static void
validate_oauth(struct cfg_parser *p)
{
	struct config *c = p->c;
	int jwks_line = key_line(p, CFG_SEC_OAUTH, "jwks");
	int url_line = key_line(p, CFG_SEC_OAUTH, "introspection_url");
	int sec_line =
	    key_line(p, CFG_SEC_OAUTH, "introspection_client_secret_file");
	int ca_line = key_line(p, CFG_SEC_OAUTH, "introspection_ca");
	int oline = p->section_line[CFG_SEC_OAUTH];
	int mline = key_line(p, CFG_SEC_AUTH, "mechanisms");

	resolve(p, c->oauth_jwks, sizeof(c->oauth_jwks), jwks_line, "jwks");
	resolve(p, c->oauth_introspection_client_secret_file,
	    sizeof(c->oauth_introspection_client_secret_file), sec_line,
	    "introspection_client_secret_file");
	resolve(p, c->oauth_introspection_ca, sizeof(c->oauth_introspection_ca),
	    ca_line, "introspection_ca");
	if (c->oauth_jwks[0] != '\0')
		check_readable(p, c->oauth_jwks, jwks_line, "jwks");
	if (c->oauth_introspection_client_secret_file[0] != '\0')
		check_readable(p, c->oauth_introspection_client_secret_file,
		    sec_line, "introspection_client_secret_file");
	if (c->oauth_introspection_ca[0] != '\0')
		check_readable(
		    p, c->oauth_introspection_ca, ca_line, "introspection_ca");
	if (c->oauth_jwks[0] != '\0' && c->oauth_issuer[0] == '\0' &&
	    !p->bad[0][key_index(CFG_SEC_OAUTH, "issuer")])
		cfg_error(p, jwks_line, "jwks: tokens need [oauth] issuer");
	if ((c->oauth_jwks[0] != '\0' ||
	        c->oauth_introspection_url[0] != '\0') &&
	    c->oauth_audience[0] == '\0' &&
	    !p->bad[0][key_index(CFG_SEC_OAUTH, "audience")])
		cfg_error(p, oline,
		    "[oauth] needs audience: a token issued for another "
		    "service must not log in here");
	if (c->oauth_introspection_url[0] != '\0' &&
	    (c->oauth_introspection_client_id[0] == '\0' ||
	        c->oauth_introspection_client_secret_file[0] == '\0'))
		cfg_error(p, url_line,
		    "introspection_url needs introspection_client_id and "
		    "introspection_client_secret_file");
	if ((mech_listed(c, "OAUTHBEARER") || mech_listed(c, "XOAUTH2")) &&
	    c->oauth_jwks[0] == '\0' && c->oauth_introspection_url[0] == '\0' &&
	    !p->bad[0][key_index(CFG_SEC_OAUTH, "jwks")] &&
	    !p->bad[0][key_index(CFG_SEC_OAUTH, "introspection_url")])
		cfg_error(p, mline,
		    "OAUTHBEARER and XOAUTH2 need [oauth] jwks or "
		    "introspection_url");
	if (mech_listed(c, "EXTERNAL") && c->tls_client_ca[0] == '\0' &&
	    !p->bad[0][key_index(CFG_SEC_TLS, "client_ca")])
		cfg_error(p, mline,
		    "EXTERNAL needs [tls] client_ca (and a listener with "
		    "client_certificates = request or require)");
}

/* validate - cross-key rules, after every line is read. */
static void
validate(struct cfg_parser *p)
{
	struct config *c = p->c;
	int cert_line = key_line(p, CFG_SEC_TLS, "certificate");
	int key_line_ = key_line(p, CFG_SEC_TLS, "key");
	int tls_line = p->section_line[CFG_SEC_TLS];
	int tls_bad = p->bad[0][key_index(CFG_SEC_TLS, "certificate")] ||
	    p->bad[0][key_index(CFG_SEC_TLS, "key")];
	size_t i, j, k, a, b;

	resolve(p, c->spool, sizeof(c->spool),
	    key_line(p, CFG_SEC_SERVER, "spool"), "spool");
	resolve(p, c->tls_certificate, sizeof(c->tls_certificate), cert_line,
	    "certificate");
	resolve(p, c->tls_key, sizeof(c->tls_key), key_line_, "key");
	resolve(p, c->relay_ca, sizeof(c->relay_ca),
	    key_line(p, CFG_SEC_DELIVERY, "relay_ca"), "relay_ca");
	resolve(p, c->sender_login, sizeof(c->sender_login),
	    key_line(p, CFG_SEC_POLICY, "sender_login"), "sender_login");
	resolve(p, c->guard_state, sizeof(c->guard_state),
	    key_line(p, CFG_SEC_GUARD, "state"), "state");
	if (c->queue_retry_max_ms < c->queue_retry_min_ms)
		cfg_error(p, key_line(p, CFG_SEC_QUEUE, "retry_max"),
		    "retry_max is shorter than retry_min");
	resolve(p, c->tls_client_ca, sizeof(c->tls_client_ca),
	    key_line(p, CFG_SEC_TLS, "client_ca"), "client_ca");
	/* a pgsql conninfo is not a path */
	if (strcmp(c->passdb_driver, "pgsql") != 0)
		resolve(p, c->passdb_path, sizeof(c->passdb_path),
		    key_line(p, CFG_SEC_AUTH, "passdb"), "passdb");
	for (i = 0; i < c->npassdbs; i++)
		if (strcmp(c->passdbs[i].driver, "pgsql") != 0)
			resolve(p, c->passdbs[i].arg, sizeof(c->passdbs[i].arg),
			    key_line(p, CFG_SEC_AUTH, "passdb"), "passdb");
	validate_ldap_dovecot(p);
	validate_oauth(p);
	j = (size_t)key_line(p, CFG_SEC_DELIVERY, "maildir");
	if (j == 0)
		j = (size_t)key_line(p, CFG_SEC_DELIVERY, "local");
	resolve(p, c->maildir, sizeof(c->maildir), (int)j, "maildir");

	if (key_line(p, CFG_SEC_DELIVERY, "local") != 0 &&
	    key_line(p, CFG_SEC_DELIVERY, "maildir") != 0)
		cfg_error(p, key_line(p, CFG_SEC_DELIVERY, "local"),
		    "local: maildir is already set at line %d",
		    key_line(p, CFG_SEC_DELIVERY, "maildir"));

	if (c->tls_certificate[0] != '\0' && c->tls_key[0] == '\0' && !tls_bad)
		cfg_error(p, cert_line, "certificate given without a key");
	if (c->tls_key[0] != '\0' && c->tls_certificate[0] == '\0' && !tls_bad)
		cfg_error(p, key_line_, "key given without a certificate");
	if (c->tls_certificate[0] != '\0')
		check_readable(p, c->tls_certificate, cert_line, "certificate");
	if (c->tls_key[0] != '\0')
		check_readable(p, c->tls_key, key_line_, "key");
	if (c->tls_client_ca[0] != '\0')
		check_readable(p, c->tls_client_ca,
		    key_line(p, CFG_SEC_TLS, "client_ca"), "client_ca");

	if (c->nlisteners == 0)
		cfg_error(p, 0,
		    "no [listener NAME] section: the server would listen "
		    "nowhere");
	for (i = 0; i < c->nlisteners; i++) {
		struct config_listener *l = &c->listeners[i];

		if (l->naddrs == 0) {
			/* a bad "address =" line was reported already */
			if (!p->bad[1 + i]
			           [key_index(CFG_SEC_LISTENER, "address")])
				cfg_error(p, l->line,
				    "listener '%s' has no address", l->name);
			continue;
		}
		k = key_index(CFG_SEC_LISTENER, "client_certificates");
		if (l->client_certs != LISTENER_CERT_NONE &&
		    (l->tls == LISTENER_TLS_NONE ||
		        c->tls_client_ca[0] == '\0'))
			cfg_error(p,
			    p->seen[1 + i][k] != 0 ? p->seen[1 + i][k]
			                           : l->line,
			    "listener '%s': client_certificates needs TLS and "
			    "[tls] client_ca",
			    l->name);
		k = key_index(CFG_SEC_LISTENER, "legacy_tls");
		if (l->legacy_tls && l->tls == LISTENER_TLS_NONE)
			cfg_error(p,
			    p->seen[1 + i][k] != 0 ? p->seen[1 + i][k]
			                           : l->line,
			    "listener '%s': legacy_tls needs tls = starttls "
			    "or implicit",
			    l->name);
		k = key_index(CFG_SEC_LISTENER, "tls");
		if (l->tls != LISTENER_TLS_NONE && !p->bad[1 + i][k] &&
		    !tls_bad &&
		    (c->tls_certificate[0] == '\0' || c->tls_key[0] == '\0')) {
			cfg_error(p,
			    p->seen[1 + i][k] != 0 ? p->seen[1 + i][k]
			                           : l->line,
			    "listener '%s': tls = %s needs [tls] certificate "
			    "and key%s",
			    l->name,
			    l->tls == LISTENER_TLS_IMPLICIT ? "implicit"
			                                    : "starttls",
			    tls_line == 0 ? " (there is no [tls] section)"
			                  : "");
		}
		/* the same address twice, in this listener or an earlier one */
		for (a = 0; a < l->naddrs; a++)
			for (j = 0; j <= i; j++) {
				const struct config_listener *o =
				    &c->listeners[j];

				for (b = 0; b < (j == i ? a : o->naddrs); b++)
					if (strcmp(o->addrs[b].text,
					        l->addrs[a].text) == 0)
						cfg_error(p, l->line,
						    "listener '%s': address %s "
						    "already used by listener "
						    "'%s'",
						    l->name, l->addrs[a].text,
						    o->name);
			}
	}
}

int
config_load(const char *path, struct config *c, char *err, size_t errlen)
{
	struct cfg_parser *p;
	char *real, *slash;
	FILE *f;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	config_defaults(c);
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	p->c = c;
	p->path = path;
	p->err = err;
	p->errlen = errlen;

	f = fopen(path, "re");
	if (f == NULL) {
		cfg_error(p, 0, "cannot open: %s", strerror(errno));
		goto out;
	}
	real = realpath(path, NULL);
	if (real == NULL || copy(c->path, real, sizeof(c->path)) < 0) {
		cfg_error(p, 0, "cannot resolve path: %s",
		    real == NULL ? strerror(errno) : "too long");
		free(real);
		(void)fclose(f);
		goto out;
	}
	free(real);
	(void)copy(c->dir, c->path, sizeof(c->dir));
	slash = strrchr(c->dir, '/');
	if (slash == c->dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';

	parse_stream(p, f);
	(void)fclose(f);
	validate(p);
out:
	rc = p->nerrors > 0 ? -1 : 0;
	free(p);
	return rc;
}

void
config_drop_secrets(struct config *c)
{
	size_t i;

	secret_wipe(c->relay_password, sizeof(c->relay_password));
	for (i = 0; i < CONFIG_MAX_PASSDBS; i++)
		secret_wipe(c->passdbs[i].arg, sizeof(c->passdbs[i].arg));
	secret_wipe(c->passdb_path, sizeof(c->passdb_path));
}
