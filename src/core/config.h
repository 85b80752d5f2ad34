/*
 * config.h - the postern.conf model: INI sections, typed values, safe defaults.
 * config_load() validates everything and reports "file:line: what" for each
 * problem; relative paths are resolved against the configuration's directory.
 */
#ifndef POSTERN_CORE_CONFIG_H
#define POSTERN_CORE_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTENERS 16
#define CONFIG_MAX_ADDRS     8
#define CONFIG_MAX_DOMAINS   64
#define CONFIG_NAME_MAX      64

enum listener_tls {
	LISTENER_TLS_NONE,
	LISTENER_TLS_STARTTLS,
	LISTENER_TLS_IMPLICIT,
};

enum listener_auth {
	LISTENER_AUTH_OFF,	/* MX: no AUTH offered, local domains only */
	LISTENER_AUTH_OPTIONAL,	/* local domains without AUTH, relay with it */
	LISTENER_AUTH_REQUIRED,	/* submission: 530 5.7.0 before AUTH */
};

struct config_addr {
	struct sockaddr_storage ss;
	socklen_t		len;
	char			text[80];	/* "127.0.0.1:5870", "[::1]:587" */
};

struct config_listener {
	char			name[CONFIG_NAME_MAX];	/* from [listener NAME] */
	int			line;			/* of the section header */
	struct config_addr	addrs[CONFIG_MAX_ADDRS];
	size_t			naddrs;
	enum listener_tls	tls;
	enum listener_auth	auth;
	int			plaintext_without_tls;	/* allow PLAIN/LOGIN before TLS */
	char			mechanisms[512];	/* "" = [auth] mechanisms */
};

struct config {
	char		path[PATH_MAX];		/* the file loaded */
	char		dir[PATH_MAX];		/* its directory, for relative paths */

	/* [server] */
	char		hostname[256];
	char		spool[PATH_MAX];
	char		run_user[64];		/* drop privileges to this user; "" = stay */
	int		log_level;		/* enum log_level */
	unsigned int	workers;		/* SMTP worker processes; 0 = one per core */
	unsigned int	max_connections;	/* per worker process */
	unsigned int	max_connections_per_ip;	/* across the server */
	unsigned long long max_message_size;	/* octets, SIZE (RFC 1870) */
	unsigned int	max_recipients;		/* per message */
	unsigned int	max_errors;		/* per session, then 421 */
	unsigned int	command_timeout_ms;	/* RFC 5321 §4.5.3.2.7: 5 min */
	unsigned int	data_timeout_ms;	/* per DATA block: 3 min (§4.5.3.2.5) */
	unsigned int	shutdown_timeout_ms;	/* SIGTERM grace for in-flight sessions */

	/* [tls] */
	char		tls_certificate[PATH_MAX];
	char		tls_key[PATH_MAX];
	int		tls_min_version;	/* TLS1_2_VERSION or TLS1_3_VERSION */
	char		tls_ciphers[512];	/* TLS 1.2 cipher list; "" = OpenSSL's */

	/* [auth] */
	char		mechanisms[512];	/* advertised order, space separated */
	char		passdb_driver[32];	/* "passwd-file" */
	char		passdb_path[PATH_MAX];	/* its argument, resolved */
	int		allow_authzid;		/* PLAIN authzid != authcid */
	unsigned int	failure_delay_ms;	/* before every 535 */
	unsigned int	auth_threads;		/* hashing pool; 0 = one per core */
	char		default_scheme[32];	/* for new passwords: "ARGON2ID" */

	/* [delivery] */
	char		local_domains[CONFIG_MAX_DOMAINS][256];
	size_t		nlocal_domains;
	char		maildir[PATH_MAX];	/* template with %d (domain) and %n (local part) */

	struct config_listener listeners[CONFIG_MAX_LISTENERS];
	size_t		nlisteners;
};

/* config_defaults - fill c with the built-in defaults (no listeners). */
void config_defaults(struct config *c);

/*
 * config_load - read and validate path into c (defaults first).
 * Returns 0, or -1 with one "file:line: message" per problem (newline
 * separated, at most errlen bytes) in err.
 */
int config_load(const char *path, struct config *c, char *err, size_t errlen);

/* config_is_local_domain - 1 if domain (any case) is one of [delivery] local_domains. */
int config_is_local_domain(const struct config *c, const char *domain);

/* config_parse_duration - "300", "300s", "5m", "2h", "1d", "250ms" to milliseconds; 0 or -1. */
int config_parse_duration(const char *s, unsigned int *ms_r);

/* config_parse_size - "1048576", "64k", "35M", "1G" (binary multiples) to octets; 0 or -1. */
int config_parse_size(const char *s, unsigned long long *out);

/* config_parse_hostport - "127.0.0.1:25", "[::1]:25", "*:25" into a; 0 or -1. */
int config_parse_hostport(const char *s, struct config_addr *a);

#endif
