/*
 * agent.h - the delivery agents behind the queue: maildir, lmtp, smtp
 * (smarthost), mx. An agent delivers one message to a group of recipients
 * sharing a destination and reports a result per recipient. Agents block
 * (sockets with timeouts, DNS, fsync): the queue service runs them on its
 * work pool, never on its event loop.
 */
#ifndef POSTERN_DELIVER_AGENT_H
#define POSTERN_DELIVER_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"

enum dlv_method {
	DLV_MAILDIR, /* local: Maildir folders */
	DLV_LMTP,    /* local: RFC 2033 to an LMTP server */
	DLV_SMTP,    /* relay: a configured smarthost */
	DLV_MX,      /* relay: the recipient domain's MX hosts */
	DLV_DISCARD, /* local: accept and drop (local = discard, benchmarks) */
};

enum dlv_status {
	DLV_OK,   /* the next hop took responsibility (2xx) */
	DLV_TEMP, /* try again later (4xx, network, DNS SERVFAIL, ...) */
	DLV_PERM, /* bounce (5xx, null MX, no such domain, ...) */
};

enum dlv_tls {
	DLV_TLS_NONE,          /* plaintext (must be configured explicitly) */
	DLV_TLS_OPPORTUNISTIC, /* STARTTLS when offered, unverified is acceptable */
	DLV_TLS_REQUIRED, /* STARTTLS or implicit TLS, certificate verified */
	DLV_TLS_IMPLICIT, /* TLS from the first byte (port 465), verified */
};

/* Where and how a relay goes; built from the configuration. */
struct dlv_route {
	enum dlv_method method;
	char host[256];      /* smtp: smarthost; lmtp: host or "" for unix */
	char unix_path[108]; /* lmtp over a UNIX socket */
	unsigned short port;
	enum dlv_tls tls;
	char ca_file[4096];  /* "" = system CA store */
	char tls_name[256];  /* name to verify; "" = host */
	char auth_user[256]; /* "" = no AUTH */
	char auth_password[256];
	char auth_mechs[128]; /* allowed client mechanisms, "" = best offered */
	int pass_auth_param;  /* send AUTH= (next hop trusted) */
	char maildir_tmpl[4096]; /* maildir: path template */
	char resolver[128];     /* mx: "127.0.0.1:5353"; "" = system resolver */
	unsigned short mx_port; /* mx: 25, tests use another */
	/* mx: our own listeners, for the RFC 5321 5.1 loop rule (NULL: none) */
	const struct config_listener *self;
	size_t nself;
	unsigned int connect_timeout_ms;
	unsigned int command_timeout_ms;
};

struct dlv_rcpt {
	const char *addr;       /* in: "user@domain" */
	const char *orcpt;      /* in: DSN ORCPT or NULL */
	enum dlv_status status; /* out */
	char reply[512];        /* out: the next hop's reply or our reason */
	char dsn_code[16];      /* out: enhanced status code, "5.1.1" */
};

struct dlv_job {
	/* in */
	const char *id; /* queue id, for logs */
	int msg_fd;     /* the message, read with pread from 0 */
	off_t msg_size;
	const char *mail_from;  /* "" for the null reverse path */
	const char *auth_param; /* AUTH= value or NULL */
	int smtputf8;
	int eightbit;          /* BODY=8BITMIME */
	const char *domain;    /* the recipients' domain (mx) */
	const char *helo_name; /* our hostname */
	const struct dlv_route *route;
	struct dlv_rcpt *rcpts;
	size_t nrcpts;
	/* out */
	char hop[300]; /* "mx1.example.net[192.0.2.1]:25" */
	char tls_info
	    [96]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384 verified" or "none" */
};

/*
 * dlv_run - deliver job->msg to every recipient of job (blocking). Fills
 * each rcpt's status/reply; returns 0, or -1 if nothing could be tried
 * (then every rcpt carries the same temporary or permanent status).
 */
int dlv_run(struct dlv_job *job);

#endif
