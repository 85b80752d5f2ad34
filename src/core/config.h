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

enum config_relay_tls {
	CONFIG_RELAY_TLS_DEFAULT, /* required for smtp://, opportunistic for mx */
	CONFIG_RELAY_TLS_REQUIRED,
	CONFIG_RELAY_TLS_OPPORTUNISTIC,
	CONFIG_RELAY_TLS_NONE,
};

enum listener_tls {
	LISTENER_TLS_NONE,
	LISTENER_TLS_STARTTLS,
	LISTENER_TLS_IMPLICIT,
};

enum listener_auth {
	LISTENER_AUTH_OFF,      /* MX: no AUTH offered, local domains only */
	LISTENER_AUTH_OPTIONAL, /* local domains without AUTH, relay with it */
	LISTENER_AUTH_REQUIRED, /* submission: 530 5.7.0 before AUTH */
};

/* [auth] external_map: how EXTERNAL maps a client certificate to a login */
enum config_external_map {
	CONFIG_EXTERNAL_FINGERPRINT, /* the login with extra field cert=sha256:<hex> */
	CONFIG_EXTERNAL_SAN_EMAIL, /* a subjectAltName rfc822Name that is a login */
	CONFIG_EXTERNAL_SUBJECT_EMAIL, /* the subject's emailAddress, if a login */
};

enum listener_cert {
	LISTENER_CERT_NONE,    /* no client certificate asked for */
	LISTENER_CERT_REQUEST, /* asked; EXTERNAL works when one verifies */
	LISTENER_CERT_REQUIRE, /* the handshake fails without a valid one */
};

/* [policy] sender_check */
enum config_sender_check {
	CONFIG_SENDER_STRICT, /* refuse what the login does not own */
	CONFIG_SENDER_WARN,   /* log it, accept */
	CONFIG_SENDER_OFF,
};

enum config_ldap_mode {
	CONFIG_LDAP_BIND, /* search the entry, then bind as it with the password */
	CONFIG_LDAP_PASSWORD, /* fetch the password attribute, verify locally */
};

#define CONFIG_MAX_PASSDBS 4

/* One "DRIVER:ARG" of [auth] passdb. */
struct config_passdb {
	char driver[32];
	char arg[PATH_MAX]; /* resolved path, or a conninfo for pgsql */
};

struct config_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80]; /* "127.0.0.1:5870", "[::1]:587" */
};

struct config_listener {
	char name[CONFIG_NAME_MAX]; /* from [listener NAME] */
	int line;                   /* of the section header */
	struct config_addr addrs[CONFIG_MAX_ADDRS];
	size_t naddrs;
	enum listener_tls tls;
	enum listener_auth auth;
	int plaintext_without_tls;       /* allow PLAIN/LOGIN before TLS */
	enum listener_cert client_certs; /* for SASL EXTERNAL */
	char mechanisms[512];            /* "" = [auth] mechanisms */
	int legacy_tls; /* accept TLS 1.0/1.1 handshakes (granted devices) */
};

struct config {
	char path[PATH_MAX]; /* the file loaded */
	char dir[PATH_MAX];  /* its directory, for relative paths */

	/* [server] */
	char hostname[256];
	char spool[PATH_MAX];
	char run_user[64];    /* drop privileges to this user; "" = stay */
	int log_level;        /* enum log_level */
	unsigned int workers; /* SMTP worker processes; 0 = one per core */
	unsigned int max_connections;        /* whole server (shared counter) */
	unsigned int max_connections_per_ip; /* across the server */
	unsigned long long max_message_size; /* octets, SIZE (RFC 1870) */
	unsigned int max_recipients;         /* per message */
	unsigned int max_errors;             /* per session, then 421 */
	unsigned int command_timeout_ms;     /* RFC 5321 §4.5.3.2.7: 5 min */
	unsigned int data_timeout_ms; /* per DATA block: 3 min (§4.5.3.2.5) */
	unsigned int
	    shutdown_timeout_ms; /* SIGTERM grace for in-flight sessions */

	/* [tls] */
	char tls_certificate[PATH_MAX];
	char tls_key[PATH_MAX];
	int tls_min_version;          /* TLS1_2_VERSION or TLS1_3_VERSION */
	char tls_ciphers[512];        /* TLS 1.2 cipher list; "" = OpenSSL's */
	char tls_client_ca[PATH_MAX]; /* CAs for client certificates */

	/* [auth] */
	char mechanisms[512];          /* advertised order, space separated */
	char passdb_driver[32];        /* "passwd-file" */
	char passdb_path[PATH_MAX];    /* its argument, resolved */
	int allow_authzid;             /* PLAIN authzid != authcid */
	unsigned int failure_delay_ms; /* before every 535 */
	unsigned int auth_threads;     /* hashing pool; 0 = one per core */
	char default_scheme[32];       /* for new passwords: "ARGON2ID" */
	unsigned int
	    scram_iterations; /* PBKDF2 rounds of new SCRAM keys (RFC 7677 §4: >= 4096) */
	/* [auth] passdb chain, auth cache, backend timeout, upgrades at login */
	struct config_passdb passdbs
	    [CONFIG_MAX_PASSDBS]; /* in order; [0] = passdb_driver/path */
	size_t npassdbs;
	unsigned int
	    auth_cache_ttl_ms; /* successful verifications; 0 = not cached */
	unsigned int auth_cache_negative_ttl_ms; /* failed verifications */
	unsigned int auth_cache_size;            /* entries; 0 = no cache */
	unsigned int auth_backend_timeout_ms;    /* then 454 4.7.0 */
	int auth_migrate_scram; /* store SCRAM-SHA-256 keys at PLAIN/LOGIN over TLS */
	int auth_rehash;        /* re-hash to default_scheme at login */
	int auth_allow_plain_scheme; /* stored {PLAIN}/{CLEAR} passwords verify */
	unsigned int
	    password_min_length; /* postern user: libpwquality minlen */
	unsigned int
	    password_min_quality; /* postern user: pwquality score 0..100 */

	/* [pgsql]: queries of the pgsql passdb; "" = the built-in default, "none" = off */
	char pgsql_query_password[1024]; /* $1 = login */
	char pgsql_query_senders[1024];  /* $1 = login */
	char pgsql_query_apppass[1024];  /* $1 = login */
	char pgsql_query_exists[1024];   /* $1 = login or address */
	char pgsql_query_update
	    [1024]; /* $1 = login, $2 = hash, $3 = SCRAM keys */
	char pgsql_query_touch[1024]; /* $1 = login, $2 = credential label */
	unsigned int pgsql_connect_timeout_ms;
	unsigned int pgsql_statement_timeout_ms;
	unsigned int pgsql_pool_size; /* idle connections kept */

	/* [delivery] */
	char local_domains[CONFIG_MAX_DOMAINS][256];
	size_t nlocal_domains;
	char maildir
	    [PATH_MAX]; /* template with %d (domain) and %n (local part) */
	char local_lmtp
	    [PATH_MAX]; /* local = lmtp:unix:/path or lmtp:HOST:PORT; "" = maildir */
	int local_discard; /* local = discard: spooled, then dropped (benchmarks) */
	char relay[512]; /* "mx", "smtp://host[:port]", "smtps://host[:port]" */
	int relay_tls;   /* enum config_relay_tls */
	char relay_ca[PATH_MAX];  /* "" = system store */
	char relay_tls_name[256]; /* "" = the smarthost's name */
	char relay_user[256];     /* "" = no AUTH to the smarthost */
	char relay_password
	    [256]; /* read from relay_password_file; never logged */
	char relay_mechanisms[128]; /* "" = the best offered */
	int relay_auth_param;       /* pass AUTH= on to the smarthost */
	char resolver[128];   /* "host:port" of a DNS server, "" = system */
	unsigned int mx_port; /* 25 */
	unsigned int connect_timeout_ms;
	unsigned int relay_command_timeout_ms;

	/* [queue] */
	unsigned int
	    queue_retry_min_ms; /* first retry after a temporary failure */
	unsigned int queue_retry_max_ms;     /* backoff doubles up to this */
	unsigned int queue_lifetime_ms;      /* then bounce */
	unsigned int queue_delay_warning_ms; /* 0 = no delay warning */
	unsigned int queue_max_deliveries;   /* concurrent deliveries in all */
	unsigned int
	    queue_per_destination; /* concurrent deliveries per destination */
	unsigned long long
	    queue_min_free_space; /* refuse mail (452 4.3.1) below this */

	/* [ldap] - settings of "passdb = ldap:" */
	char ldap_uri[512]; /* ldap://host:port or ldaps://host:port */
	int ldap_starttls;  /* StartTLS on an ldap:// URI */
	char ldap_ca_file
	    [PATH_MAX]; /* CAs for the server's certificate; "" = system */
	char ldap_bind_dn[512]; /* service bind for searches; "" = anonymous */
	char ldap_bind_password_file[PATH_MAX]; /* its password, first line */
	char ldap_base[512];                    /* search base */
	char ldap_filter[512]; /* "%s" = the login, RFC 4515-escaped */
	int ldap_mode;         /* enum config_ldap_mode */
	char ldap_password_attribute[64]; /* mode = password: "userPassword" */
	char ldap_alias_attribute
	    [256]; /* sender addresses; space separated names */
	char ldap_disabled_attribute[64]; /* TRUE/yes/1/disabled = disabled */
	unsigned int ldap_timeout_ms;     /* per LDAP operation and connect */

	/* [dovecot] - settings of "passdb = dovecot:AUTH-CLIENT-SOCKET" */
	char dovecot_userdb_socket
	    [PATH_MAX];           /* auth-userdb, for RCPT checks; "" = none */
	char dovecot_service[32]; /* service= sent to Dovecot: "smtp" */
	unsigned int dovecot_timeout_ms; /* per request */

	/* [auth] external_map and [oauth]: EXTERNAL, OAUTHBEARER, XOAUTH2 */
	int external_map; /* enum config_external_map */
	char oauth_jwks
	    [PATH_MAX]; /* JWK Set file for local JWT checks; "" = none */
	char oauth_issuer[512];    /* required "iss" */
	char oauth_audience[512];  /* required in "aud" */
	char oauth_user_claim[64]; /* the claim that names the login: "email" */
	unsigned int oauth_clock_skew_ms; /* tolerated for exp / nbf / iat */
	char oauth_scope[256]; /* named in failure statuses (RFC 7628 §3.2.2) */
	int oauth_require_user; /* the token's user must be a passdb login */
	char oauth_introspection_url
	    [1024]; /* RFC 7662 endpoint, https:// only */
	char oauth_introspection_client_id[256];
	char oauth_introspection_client_secret_file[PATH_MAX]; /* first line */
	char oauth_introspection_ca[PATH_MAX]; /* "" = system store */

	/* [policy] - relay control, sender ownership, limits (src/policy, auth/ratelimit.c) */
	int sender_check;      /* enum config_sender_check */
	int allow_null_sender; /* MAIL FROM:<> after AUTH */
	char sender_login
	    [PATH_MAX]; /* "address login,login" map file; "" = none */
	char trusted_networks[1024]; /* may relay without AUTH; "" = none */
	int privacy; /* no client address in Received: of authenticated mail */
	int submission_fixups; /* add Date: / Message-ID: to authenticated mail */
	unsigned int messages_per_hour;   /* per login; 0 = no limit */
	unsigned int recipients_per_day;  /* per login; 0 = no limit */
	unsigned int message_window_ms;   /* the "hour" of messages_per_hour */
	unsigned int recipient_window_ms; /* the "day" of recipients_per_day */
	unsigned int
	    hard_cap_factor; /* hold a login's mail at N x a limit; 0 = never */
	int contain_suspend; /* a contained login also fails AUTH */
	unsigned int
	    connection_rate; /* connections per address per minute; 0 = no limit */

	/* [guard] - brute-force delays and bans (src/auth/guard.c) */
	int guard_enabled;
	unsigned int guard_max_failures; /* distinct failures before delays */
	unsigned int
	    guard_ban_after; /* distinct failures that ban the address */
	unsigned int guard_ban_time_ms;
	unsigned int guard_window_ms; /* counters forget after this idle time */
	unsigned int
	    guard_delay_base_ms; /* first delay after max_failures, doubling */
	unsigned int guard_delay_max_ms;
	char guard_allow_networks[1024]; /* never counted or banned */
	char guard_redis
	    [256]; /* "host:port" shared by several nodes; "" = none */
	char guard_state[PATH_MAX]; /* SQLite file; "" = <spool>/guard.db */

	struct config_listener listeners[CONFIG_MAX_LISTENERS];
	size_t nlisteners;
};

/* config_defaults - fill c with the built-in defaults (no listeners). */
void config_defaults(struct config *c);

/*
 * config_load - read and validate path into c (defaults first).
 * Returns 0, or -1 with one "file:line: message" per problem (newline
 * separated, at most errlen bytes) in err.
 */
int config_load(const char *path, struct config *c, char *err, size_t errlen);

/*
 * config_drop_secrets - wipe what only the auth or queue service needs
 * (the relay password, passdb arguments that may carry a conninfo
 * password): the SMTP workers hold no secret (DESIGN §2).
 */
void config_drop_secrets(struct config *c);

/* config_is_local_domain - 1 if domain (any case) is one of [delivery] local_domains. */
int config_is_local_domain(const struct config *c, const char *domain);

/* config_parse_duration - "300", "300s", "5m", "2h", "1d", "250ms" to milliseconds; 0 or -1. */
int config_parse_duration(const char *s, unsigned int *ms_r);

/* config_parse_size - "1048576", "64k", "35M", "1G" (binary multiples) to octets; 0 or -1. */
int config_parse_size(const char *s, unsigned long long *out);

/* config_parse_hostport - "127.0.0.1:25", "[::1]:25", "*:25" into a; 0 or -1. */
int config_parse_hostport(const char *s, struct config_addr *a);

#endif
