/*
 * smtp_client.h - blocking SMTP/LMTP client with explicit deadlines
 * (RFC 5321, RFC 2033 LMTP, RFC 3207 STARTTLS, RFC 8314 implicit TLS,
 * RFC 4954 AUTH, RFC 2920 PIPELINING). Used by the delivery agents on
 * work-pool threads and by `postern send`. Every reply goes through the
 * bounded parser in reply_parse.c. Public names: smtpc_*.
 *
 * Result convention: functions that talk return the reply code (200..559)
 * while the connection is still usable, or -1 when it is not (network
 * error, timeout, TLS failure, malformed reply). Either way c->reply holds
 * the server's reply or, with c->reply.local set, one we made up that
 * says what went wrong (a 4xx code unless the failure is permanent).
 */
#ifndef POSTERN_DELIVER_SMTP_CLIENT_H
#define POSTERN_DELIVER_SMTP_CLIENT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "deliver/reply_parse.h"

struct secret;

enum smtpc_proto {
	SMTPC_SMTP,
	SMTPC_LMTP, /* LHLO, one final reply per accepted recipient */
};

enum smtpc_tls {
	SMTPC_TLS_NONE,          /* never */
	SMTPC_TLS_OPPORTUNISTIC, /* STARTTLS if offered; unverified accepted */
	SMTPC_TLS_REQUIRED,      /* STARTTLS, verified, or fail (temporary) */
	SMTPC_TLS_IMPLICIT,      /* TLS from the first byte, verified */
};

struct smtpc_caps {
	int esmtp;                   /* EHLO/LHLO answered 250 */
	int pipelining;              /* RFC 2920 */
	int size;                    /* RFC 1870 */
	unsigned long long size_max; /* 0: none announced */
	int eightbitmime;            /* RFC 6152 */
	int smtputf8;                /* RFC 6531 */
	int starttls;                /* RFC 3207 */
	int enhanced;                /* RFC 2034 */
	int dsn;                     /* RFC 3461 */
	int auth;                    /* AUTH advertised (RFC 4954) */
	char auth_mechs[256];        /* " PLAIN LOGIN " (spaces around each) */
};

struct smtpc_opts {
	enum smtpc_proto proto;
	const char *helo_name;           /* our name for EHLO/LHLO */
	unsigned int connect_timeout_ms; /* per address; 0 = 30 s */
	unsigned int command_timeout_ms; /* per reply; 0 = 5 min */
	unsigned int data_timeout_ms;    /* reply to "."; 0 = 10 min */
	/*
	 * Optional protocol trace (postern send -v): each command line sent
	 * (dir 'C') and each reply line received (dir 'S'), without CRLF.
	 * AUTH payloads are passed as "<masked>", never as sent; message
	 * data is summarised, not traced.
	 */
	void (*trace)(void *arg, char dir, const char *line, size_t len);
	void *trace_arg;
};

/* How to secure and authenticate a session (smtpc_session). */
struct smtpc_session_opts {
	enum smtpc_tls tls;
	const char *ca_file;   /* NULL/"" = system CA store */
	const char *tls_name;  /* name to verify; NULL/"" = the host */
	const char *auth_user; /* NULL/"" = no AUTH */
	const struct secret *auth_password;
	const char *auth_mechs; /* allowed mechanisms, "" = any */
	const char *cert_file;  /* client certificate (chain) for EXTERNAL */
	const char *key_file;   /* its key; NULL/"" = in cert_file */
	int no_verify;          /* accept any server certificate (--insecure) */
};

/* How to authenticate (smtpc_authenticate). */
struct smtpc_auth_opts {
	const char *user;              /* authcid; "" for EXTERNAL */
	const char *authzid;           /* NULL/"" = none */
	const struct secret *password; /* or the OAuth 2.0 bearer token */
	const char *mechs;   /* allowed mechanisms, "" = automatic choice */
	int allow_plaintext; /* plaintext mechanisms without TLS (forced) */
};

struct smtpc;

/* smtpc_new - a client, not connected; NULL on allocation failure. */
struct smtpc *smtpc_new(const struct smtpc_opts *opts);

/* smtpc_free - close (without QUIT) and free; NULL is ignored. */
void smtpc_free(struct smtpc *c);

/*
 * smtpc_connect_host - resolve host (getaddrinfo) and connect to the first
 * address that answers, within the connect timeout each. -1 with c->reply
 * set on failure. host is also the default TLS name.
 */
int smtpc_connect_host(struct smtpc *c, const char *host, unsigned short port);

/* smtpc_connect_addr - connect to one address; name is for the hop and TLS. */
int smtpc_connect_addr(struct smtpc *c, const char *name,
    const struct sockaddr *sa, socklen_t salen);

/* smtpc_connect_unix - connect to a UNIX stream socket. */
int smtpc_connect_unix(struct smtpc *c, const char *path);

/* smtpc_close - drop the connection (no QUIT); c can connect again. */
void smtpc_close(struct smtpc *c);

/*
 * smtpc_session - after connect: implicit TLS if asked, the greeting,
 * EHLO/LHLO (HELO fallback for SMTP), STARTTLS per policy and EHLO again,
 * AUTH if a user is given. Returns 250/235 when ready for MAIL, the
 * refusing reply code (greeting, EHLO, AUTH), or -1.
 */
int smtpc_session(struct smtpc *c, const struct smtpc_session_opts *o);

/* Pieces of smtpc_session, for callers that need other policies. */
int smtpc_greeting(struct smtpc *c);
int smtpc_ehlo(struct smtpc *c);
int smtpc_starttls(struct smtpc *c, const struct smtpc_session_opts *o);
int smtpc_tls_handshake(struct smtpc *c, const struct smtpc_session_opts *o);
int smtpc_auth(struct smtpc *c, const char *user, const struct secret *password,
    const char *allowed);

/*
 * smtpc_authenticate - AUTH as a says: the mechanism is the strongest
 * offered one that a->mechs allows (the automatic list of smtpc_pick_mech,
 * then CRAM-MD5, OAUTHBEARER, XOAUTH2 and EXTERNAL when named in
 * a->mechs). -PLUS mechanisms get the connection's channel binding
 * (tls-exporter on TLS 1.3, tls-unique on TLS 1.2); SCRAM's server
 * signature must verify. 235, the refusing code (c->reply), or -1.
 * smtpc_auth() is this with user, password and allowed.
 */
int smtpc_authenticate(struct smtpc *c, const struct smtpc_auth_opts *a);

/*
 * smtpc_pick_mech - the strongest mechanism in preference order
 * (SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, LOGIN) that the
 * server offers (" A B " form), allowed permits ("" = any), this build
 * implements, and the TLS state allows: no plaintext mechanism without
 * TLS, no -PLUS without channel-binding support. NULL if none.
 */
const char *smtpc_pick_mech(const char *offered, const char *allowed, int tls);

/* One recipient of a transaction: in addr/orcpt, out the reply. */
struct smtpc_rcpt {
	const char *addr;  /* "user@domain" */
	const char *orcpt; /* RFC 3461 ORCPT value or NULL */
	int code;          /* final: RCPT refusal or the DATA result */
	char enh[16];
	char text[512]; /* reply_format() of the reply */
	int local;      /* the reply is ours, not the server's */
};

struct smtpc_envelope {
	const char *mail_from;   /* "" = null reverse path */
	unsigned long long size; /* SIZE= when offered */
	int eightbit;            /* BODY=8BITMIME when offered */
	int smtputf8;            /* SMTPUTF8 (refused if not offered) */
	const char
	    *auth_param; /* AUTH= mailbox (decoded) or "<>", NULL = none */
};

/*
 * smtpc_transaction - MAIL, RCPT for each of rcpts[0..n), DATA with the
 * message in fd (read with pread from 0, dot-stuffed, CRLF-normalised),
 * pipelined when offered. Fills every rcpt's code/text: RCPT refusals,
 * the DATA reply (SMTP: shared; LMTP: one per accepted recipient), or
 * the MAIL refusal for all. Returns 0, or -1 if the connection broke
 * (recipients without an answer then carry c->reply).
 */
int smtpc_transaction(struct smtpc *c, const struct smtpc_envelope *env, int fd,
    struct smtpc_rcpt *rcpts, size_t n);

/* smtpc_quit - QUIT (reply read with a short deadline) and close. */
void smtpc_quit(struct smtpc *c);

/* State after the calls above. */
const struct smtp_reply *smtpc_reply(const struct smtpc *c);
const struct smtpc_caps *smtpc_caps(const struct smtpc *c);
const char *smtpc_hop(const struct smtpc *c); /* "name[ip]:port" */
const char *smtpc_tls_info(
    const struct smtpc *c); /* "TLSv1.3 CIPHER verified" or "none" */
int smtpc_tls_active(const struct smtpc *c);
int smtpc_tls_verified(const struct smtpc *c);
const char *smtpc_auth_mech(
    const struct smtpc *c); /* "" when not authenticated */

/*
 * smtpc_parse_ehlo - capabilities from a 250 EHLO/LHLO reply into caps
 * (the first line is the greeting name, not a keyword).
 */
void smtpc_parse_ehlo(const struct smtp_reply *r, struct smtpc_caps *caps);

/*
 * DATA writer: dot-stuffing (RFC 5321 §4.5.2) and CRLF normalisation (a
 * bare LF or bare CR becomes CRLF).
 */
struct smtpc_dot {
	int bol; /* at the beginning of a line */
	int cr;  /* a CR is pending */
};

/* smtpc_dot_init - start of a message. */
void smtpc_dot_init(struct smtpc_dot *d);

/* smtpc_dot_feed - encode in[0..n) into out (room for 2 * n + 2); length. */
size_t smtpc_dot_feed(struct smtpc_dot *d, const char *in, size_t n, char *out);

/* smtpc_dot_end - the final line end if needed and ".\r\n" (room for 5). */
size_t smtpc_dot_end(struct smtpc_dot *d, char *out);

#endif
