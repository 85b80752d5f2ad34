/*
 * dovecot_proto.h - Dovecot's authentication protocol (v1.2, client side),
 * the pure part: parsing the lines Dovecot's auth process sends on its
 * auth-client and auth-userdb sockets, and building our requests. No I/O;
 * passdb_dovecot.c drives it. Everything Dovecot sends is bounded here.
 */
#ifndef POSTERN_AUTH_DOVECOT_PROTO_H
#define POSTERN_AUTH_DOVECOT_PROTO_H

#include <stddef.h>

struct secret;

#define DOVECOT_LINE_MAX    16384 /* the protocol's expected maximum */
#define DOVECOT_FIELDS_MAX  64    /* TAB-separated fields in one line */
#define DOVECOT_SENDERS_MAX 32    /* addresses taken from "senders=" */

enum dovecot_cmd {
	DOVECOT_CMD_UNKNOWN, /* ignored, as the protocol asks */
	DOVECOT_CMD_VERSION,
	DOVECOT_CMD_MECH,
	DOVECOT_CMD_SPID,
	DOVECOT_CMD_CUID,
	DOVECOT_CMD_COOKIE,
	DOVECOT_CMD_DONE,
	DOVECOT_CMD_OK,
	DOVECOT_CMD_FAIL,
	DOVECOT_CMD_CONT,
	DOVECOT_CMD_USER,     /* auth-userdb: the user exists */
	DOVECOT_CMD_NOTFOUND, /* auth-userdb: it does not */
};

/* One parsed line; the strings point into the caller's (modified) line. */
struct dovecot_reply {
	enum dovecot_cmd cmd;
	unsigned int id;    /* OK FAIL CONT USER NOTFOUND */
	unsigned int major; /* VERSION */
	unsigned int minor;
	const char *mech; /* MECH: the mechanism name */
	const char
	    *user; /* "user=" (OK, FAIL) or USER's <userid>; NULL if none */
	const char *reason; /* "reason=", or FAIL's message on auth-userdb */
	const char *
	    senders; /* "senders=" extra field: addresses, ',' or ' ' separated */
	int temp;    /* FAIL: "temp" or "code=temp_fail" */
	int nologin;  /* OK: "nologin" or "proxy": verified, but no access */
	int disabled; /* FAIL: "code=user_disabled" */
	int expired;  /* FAIL: "code=pass_expired" */
};

/*
 * dovecot_parse_line - parse one line (without its LF) of len octets in
 * place (line has room for len + 1 octets: a NUL is stored at line[len]):
 * fields are split at TAB and their \001 escapes decoded. 0, or -1
 * if the line is malformed (too long, too many fields, NUL inside, a bad id
 * or version, a decoded NUL). out is zeroed first.
 */
int dovecot_parse_line(char *line, size_t len, struct dovecot_reply *out);

/*
 * dovecot_escape - Dovecot's tab-escaping of in: \001 -> \0011, TAB -> \001t,
 * CR -> \001r, LF -> \001l. Returns the length written (NUL-terminated) or
 * (size_t)-1 if it does not fit (out = "").
 */
size_t dovecot_escape(const char *in, char *out, size_t outlen);

/*
 * dovecot_auth_line - "AUTH\t<id>\tPLAIN\tservice=<service>\tnologin\t
 * secured\tno-penalty\tresp=<base64(NUL user NUL password)>\n" into a new
 * secret (it holds the password). NULL if user or service is unusable or
 * on ENOMEM. "no-penalty": Dovecot cannot see the client's address here,
 * so its penalty would slow every Postern client for one attacker;
 * Postern's own guard delays per client address instead.
 */
struct secret *dovecot_auth_line(unsigned int id, const char *service,
    const char *user, const struct secret *password);

/* dovecot_user_line - "USER\t<id>\t<user>\tservice=<service>\n"; length or (size_t)-1. */
size_t dovecot_user_line(unsigned int id, const char *service, const char *user,
    char *out, size_t outlen);

/*
 * dovecot_split_senders - the addresses of a "senders=" value (',' or ' '
 * separated) as NUL-terminated pointers into buf (a copy the caller owns),
 * at most max - 1 of them, then NULL. Returns how many.
 */
size_t dovecot_split_senders(char *buf, const char **out, size_t max);

#endif
