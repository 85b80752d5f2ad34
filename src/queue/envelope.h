/*
 * envelope.h - the queue file that travels with each spooled message: the
 * SMTP envelope, who submitted it and how, and per-recipient delivery state.
 * Text, versioned, line based (see envelope.c for the grammar); the loader
 * is strict and bounded because a damaged spool file must never crash the
 * queue service. No I/O here except env_load_file().
 */
#ifndef POSTERN_QUEUE_ENVELOPE_H
#define POSTERN_QUEUE_ENVELOPE_H

#include <stddef.h>
#include <time.h>

#define ENV_VERSION   1
#define ENV_ID_MAX    32  /* queue id incl. NUL: [0-9A-Za-z]{1,31} */
#define ENV_ADDR_MAX  512 /* RFC 5321 path (UTF-8 allowed) incl. NUL */
#define ENV_ERROR_MAX 512
#define ENV_MAX_RCPTS 10000
#define ENV_FILE_MAX  (8u << 20) /* a bigger file is damaged, not read */

enum env_rcpt_state {
	ENV_RCPT_PENDING, /* not delivered yet (may have failed temporarily) */
	ENV_RCPT_DELIVERED, /* the next hop took it */
	ENV_RCPT_FAILED,    /* permanent failure or expired; bounced */
};

/* DSN NOTIFY (RFC 3461 §4.1); 0 = not given (default: failures). */
#define ENV_NOTIFY_NEVER   0x01
#define ENV_NOTIFY_SUCCESS 0x02
#define ENV_NOTIFY_FAILURE 0x04
#define ENV_NOTIFY_DELAY   0x08

/* DSN RET (RFC 3461 §4.3) */
enum env_ret {
	ENV_RET_DEFAULT,
	ENV_RET_FULL,
	ENV_RET_HDRS,
};

struct env_rcpt {
	char addr[ENV_ADDR_MAX];  /* "user@domain" */
	char orcpt[ENV_ADDR_MAX]; /* DSN ORCPT "rfc822;..." or "" */
	unsigned int notify;      /* ENV_NOTIFY_* */
	enum env_rcpt_state state;
	unsigned int attempts;
	long long next_attempt;         /* unix time */
	char last_error[ENV_ERROR_MAX]; /* reply text or reason */
	char dsn_code[16];              /* "4.4.1", "5.1.1", "" */
	char hop[300];                  /* last remote MTA tried */
};

struct envelope {
	unsigned int version;
	char id[ENV_ID_MAX];
	long long arrival;             /* unix time of the 250 */
	char mail_from[ENV_ADDR_MAX];  /* "" = null reverse path <> */
	char auth_param[ENV_ADDR_MAX]; /* MAIL AUTH= (decoded), "" = none */
	char login[256];               /* authenticated user, "" = none */
	char client_addr[64];
	char helo[256];
	char listener[64];
	char tls[128]; /* "TLSv1.3 TLS_AES_..." or "" */
	int smtputf8;
	int eightbit;    /* BODY=8BITMIME */
	int is_bounce;   /* a DSN we generated: never bounce it */
	int held;        /* postern queue hold */
	int warned;      /* delay warning sent */
	char envid[101]; /* DSN ENVID (decoded), "" = none */
	enum env_ret ret;
	struct env_rcpt *rcpts;
	size_t nrcpts;
	size_t rcpt_cap;
};

/* env_init - empty envelope (version ENV_VERSION, no recipients). */
void env_init(struct envelope *e);

/* env_free - release the recipient array; e can be reused after env_init(). */
void env_free(struct envelope *e);

/*
 * env_add_rcpt - append a pending recipient (orcpt may be NULL). Returns the
 * new entry, or NULL if addr is too long, has control characters, or the
 * recipient limit or memory is exhausted.
 */
struct env_rcpt *env_add_rcpt(
    struct envelope *e, const char *addr, const char *orcpt);

/* env_valid_id - 1 if id is 1..31 characters of [0-9A-Za-z] (safe as a file name). */
int env_valid_id(const char *id);

/*
 * env_encode - serialize e into a malloc'd NUL-terminated text (*out, *len).
 * 0, or -1 (invalid id, out of memory) with err set.
 */
int env_encode(const struct envelope *e, char **out, size_t *len, char *err,
    size_t errlen);

/*
 * env_decode - parse data[0..len) into e (which it initializes). Strict:
 * any unknown key, malformed escape, out-of-range number, missing required
 * field or trailing garbage is an error. 0, or -1 with err set ("line N:
 * ...") and e left empty.
 */
int env_decode(
    const char *data, size_t len, struct envelope *e, char *err, size_t errlen);

/* env_load_file - read (at most ENV_FILE_MAX) and decode path; as env_decode, errno kept on I/O errors. */
int env_load_file(
    const char *path, struct envelope *e, char *err, size_t errlen);

/* env_pending - number of recipients still ENV_RCPT_PENDING. */
size_t env_pending(const struct envelope *e);

/* env_state_name - "pending", "delivered", "failed". */
const char *env_state_name(enum env_rcpt_state s);

#endif
