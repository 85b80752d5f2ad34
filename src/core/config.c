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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/tls1.h>

#include "core/config.h"
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
};

enum cfg_section {
	CFG_SEC_NONE,
	CFG_SEC_SERVER,
	CFG_SEC_TLS,
	CFG_SEC_AUTH,
	CFG_SEC_DELIVERY,
	CFG_SEC_LISTENER,
	CFG_SEC_COUNT,
};

static const char *const section_names[CFG_SEC_COUNT] = {
    "",
    "server",
    "tls",
    "auth",
    "delivery",
    "listener",
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
	int seen[CONFIG_MAX_LISTENERS + 1][32];
	/* keys whose value was rejected: no follow-on errors about them */
	unsigned char bad[CONFIG_MAX_LISTENERS + 1][32];
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

	(void)copy(c->mechanisms, "PLAIN LOGIN", sizeof(c->mechanisms));
	(void)copy(c->passdb_driver, "passwd-file", sizeof(c->passdb_driver));
	(void)copy(c->passdb_path, "users", sizeof(c->passdb_path));
	c->allow_authzid = 0;
	c->failure_delay_ms = 1000;
	c->auth_threads = 0;
	(void)copy(c->default_scheme, "ARGON2ID", sizeof(c->default_scheme));

	(void)copy(c->maildir, "mail/%d/%n", sizeof(c->maildir));
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
	return cfg_why(p, "internal: no setter for %s", key);
}

static int
auth_set(struct cfg_parser *p, const char *key, const char *value)
{
	struct config *c = p->c;

	if (strcmp(key, "mechanisms") == 0)
		return set_mechanisms(
		    p, value, c->mechanisms, sizeof(c->mechanisms));
	if (strcmp(key, "passdb") == 0) {
		const char *colon = strchr(value, ':');
		size_t i, dlen;

		if (colon == NULL)
			return cfg_why(p,
			    "'%s' is not DRIVER:ARGUMENT (like "
			    "passwd-file:users)",
			    value);
		dlen = (size_t)(colon - value);
		for (i = 0;
		     i < sizeof(known_passdbs) / sizeof(known_passdbs[0]); i++)
			if (strlen(known_passdbs[i]) == dlen &&
			    strncmp(known_passdbs[i], value, dlen) == 0)
				break;
		if (i == sizeof(known_passdbs) / sizeof(known_passdbs[0]))
			return cfg_why(p,
			    "unknown passdb driver '%.*s' (known: passwd-file)",
			    (int)dlen, value);
		if (set_path(p, colon + 1, c->passdb_path,
		        sizeof(c->passdb_path)) < 0)
			return -1;
		return set_string(p, known_passdbs[i], c->passdb_driver,
		    sizeof(c->passdb_driver));
	}
	if (strcmp(key, "allow_authzid") == 0)
		return set_bool(p, value, &c->allow_authzid);
	if (strcmp(key, "failure_delay") == 0)
		return set_duration(p, value, 1, &c->failure_delay_ms);
	if (strcmp(key, "threads") == 0)
		return set_uint(p, value, 1, 1024, 1, &c->auth_threads);
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
			if (strncmp(value, "maildir:", 8) != 0)
				return cfg_why(p,
				    "'%s': only maildir:TEMPLATE is supported",
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
    {CFG_SEC_AUTH, "mechanisms", auth_set},
    {CFG_SEC_AUTH, "passdb", auth_set},
    {CFG_SEC_AUTH, "allow_authzid", auth_set},
    {CFG_SEC_AUTH, "failure_delay", auth_set},
    {CFG_SEC_AUTH, "threads", auth_set},
    {CFG_SEC_AUTH, "default_scheme", auth_set},
    {CFG_SEC_DELIVERY, "local_domains", delivery_set},
    {CFG_SEC_DELIVERY, "maildir", delivery_set},
    {CFG_SEC_DELIVERY, "local", delivery_set},
    {CFG_SEC_LISTENER, "address", listener_set},
    {CFG_SEC_LISTENER, "tls", listener_set},
    {CFG_SEC_LISTENER, "auth", listener_set},
    {CFG_SEC_LISTENER, "plaintext_auth", listener_set},
    {CFG_SEC_LISTENER, "mechanisms", listener_set},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(NKEYS <= 32, "cfg_parser.seen is too small");

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
		    "listener NAME)",
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
	resolve(p, c->passdb_path, sizeof(c->passdb_path),
	    key_line(p, CFG_SEC_AUTH, "passdb"), "passdb");
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
