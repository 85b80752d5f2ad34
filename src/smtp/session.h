/*
 * session.h - one SMTP session as a state machine without sockets.
 * Bytes come in through smtp_session_feed(); replies, the TLS switch,
 * AUTH exchanges, recipient lookups and the durable commit go out through
 * struct smtp_session_ops, so the worker plugs in sockets and IPC and the
 * unit tests plug in mocks. Asynchronous answers come back through the
 * smtp_session_*_done() functions; while one is outstanding the session
 * reads nothing more (pipelined input waits in the caller's buffer).
 */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/buf.h"
#include "ipc/proto.h"
#include "smtp/data.h"
#include "smtp/parse.h"

struct config;
struct config_listener;
struct hdr_scan;

enum smtp_state {
	SMTP_STATE_CONNECTED, /* greeting sent, no EHLO yet */
	SMTP_STATE_HELO,      /* EHLO/HELO done, no transaction */
	SMTP_STATE_MAIL,      /* MAIL accepted */
	SMTP_STATE_RCPT,      /* at least one RCPT accepted */
	SMTP_STATE_DATA,      /* reading the message body */
	SMTP_STATE_AUTH,      /* inside a SASL exchange: lines are responses */
	SMTP_STATE_TLS,       /* 220 sent for STARTTLS, handshake pending */
	SMTP_STATE_CLOSING,   /* final reply queued, no more input */
};

enum smtp_wait {
	SMTP_WAIT_NONE,
	SMTP_WAIT_AUTH,   /* auth service answer */
	SMTP_WAIT_RCPT,   /* recipient lookup */
	SMTP_WAIT_COMMIT, /* durable write before 250 */
	SMTP_WAIT_DELAY,  /* auth failure delay */
	SMTP_WAIT_POLICY, /* sender / rate check (MAIL, after DATA) */
};

#define SMTP_MAX_MECHS 16
/* An over-long line longer than this closes the session (421). */
#define SMTP_DISCARD_MAX (1024 * 1024)

/* A mechanism as the auth service offers it (PROTO_MECHS) or the registry. */
struct smtp_mech_offer {
	char name[32];
	unsigned int flags; /* SASL_F_* */
};

struct smtp_rcpt {
	struct mailaddr addr;
	char mailbox[ADDR_PATH_MAX +
	    1];    /* canonical local user, or the address */
	int local; /* in a local domain */
};

enum smtp_commit_result {
	SMTP_COMMIT_OK,       /* durable: 250 */
	SMTP_COMMIT_TEMP,     /* 451 4.3.0 */
	SMTP_COMMIT_NO_SPACE, /* 452 4.3.1 */
};

/* The transaction exists only between MAIL and the end of DATA or RSET. */
struct smtp_tx {
	struct smtp_mail_args mail;
	struct smtp_rcpt *rcpts;
	size_t nrcpts;
	size_t rcpt_cap;
	char id[24]; /* queue id, in 250 and logs */
	struct data_reader reader;
	int body_fd; /* spool file, -1 until DATA */
	unsigned long long body_size;
	unsigned long long body_spill_at; /* call body_spill past it; 0 never */
	int sink_failed;
	struct hdr_scan *hdr; /* header section while DATA streams */
	int hdr_written;      /* Received + fix-ups + header on disk */
	uint32_t rcpt_budget; /* recipients the login may still send */
	int held;             /* containment: queue on hold */
	int notify;           /* write the containment notices */
};

struct smtp_session;

struct smtp_session_ops {
	/* write - queue bytes for the client. */
	void (*write)(void *arg, const char *p, size_t n);
	/* close - flush what was written, then close the connection. */
	void (*close)(void *arg);
	/* starttls - after the 220 is flushed, start the TLS handshake;
	 * the caller discards any buffered input. Done: smtp_session_tls_done(). */
	void (*starttls)(void *arg);
	/* auth_start / auth_step / auth_cancel - relay a SASL exchange to the
	 * auth service; answer: smtp_session_auth_done(). */
	void (*auth_start)(void *arg, uint64_t xid, const char *mech,
	    const unsigned char *ir, size_t irlen, int has_ir);
	void (*auth_step)(
	    void *arg, uint64_t xid, const unsigned char *p, size_t n);
	void (*auth_cancel)(void *arg, uint64_t xid);
	/* rcpt_lookup - is address a local mailbox? answer: smtp_session_rcpt_done(). */
	void (*rcpt_lookup)(void *arg, uint64_t xid, const char *address);
	/* body_open - a new spool file for the message, fd or -1. */
	int (*body_open)(void *arg, char *id, size_t idlen);
	/* body_spill - the body passed body_spill_at: move it (same fd); 0 or -1. */
	int (*body_spill)(void *arg, struct smtp_tx *tx);
	/* commit - make tx durable in the spool; answer: smtp_session_commit_done(). */
	void (*commit)(void *arg, struct smtp_tx *tx);
	/* space_ok - 1 if the spool can take need more octets now. */
	int (*space_ok)(void *arg, unsigned long long need);
	/* delay - call smtp_session_delay_done() after ms milliseconds. */
	void (*delay)(void *arg, unsigned int ms);
	/* mail_check / data_check - sender ownership and rate limits of an
	 * authenticated transaction (NULL: no checks); answers:
	 * smtp_session_mail_done(), smtp_session_data_done(). */
	void (*mail_check)(void *arg, uint64_t xid, const struct smtp_tx *tx);
	void (*data_check)(void *arg, uint64_t xid, const struct smtp_tx *tx);
};

struct smtp_session {
	uint64_t id;
	char idstr[20]; /* hex, in every log line */
	const struct config *cfg;
	const struct config_listener *listener;
	const struct smtp_session_ops *ops;
	void *ops_arg;

	char client_addr[64]; /* "192.0.2.1" */
	char client_port[8];
	enum smtp_state state;
	enum smtp_wait wait;
	int esmtp; /* EHLO (not HELO) */
	char helo[256];
	int tls; /* under TLS now */
	char tls_version[16];
	char tls_cipher[64];
	int tls_bits;
	char cert_identity[256]; /* verified client certificate */
	int authenticated;
	char login[256];
	char auth_mech[32];
	uint64_t auth_xid;
	uint64_t xid_seq;
	unsigned int auth_failures;
	unsigned int errors;
	unsigned int messages;
	int shutting_down; /* 421 at the next idle point */

	const struct smtp_mech_offer *mechs; /* what the auth service offers */
	size_t nmechs;

	struct buf line;  /* partial command line */
	int discarding;   /* dropping an over-long line */
	size_t discarded; /* octets dropped from it so far */
	struct smtp_tx *tx;
	struct smtp_rcpt pending_rcpt;
};

/* smtp_session_init - set up s for a new connection; call smtp_session_start() next. */
void smtp_session_init(struct smtp_session *s, uint64_t id,
    const struct config *cfg, const struct config_listener *l,
    const struct smtp_session_ops *ops, void *ops_arg, const char *client_addr,
    const char *client_port, int tls_already);

/* smtp_session_start - send the greeting (or, for implicit TLS, after the handshake). */
void smtp_session_start(struct smtp_session *s);

/* smtp_session_free - release the transaction and buffers (cancels a pending AUTH). */
void smtp_session_free(struct smtp_session *s);

/*
 * smtp_session_feed - give the session bytes from the client. Returns how
 * many were consumed; fewer than n while the session waits for an answer
 * or is closing (the caller keeps the rest and feeds it again after the
 * *_done call returns 1).
 */
size_t smtp_session_feed(struct smtp_session *s, const char *p, size_t n);

/* smtp_session_tls_done - the handshake finished (ok = 1) with these facts. */
void smtp_session_tls_done(struct smtp_session *s, int ok, const char *version,
    const char *cipher, int bits);

/* smtp_session_set_cert_identity - what a verified client certificate proves (EXTERNAL). */
void smtp_session_set_cert_identity(struct smtp_session *s, const char *id);

/* smtp_session_auth_done - the auth service's answer for xid; returns 1 if input may resume. */
int smtp_session_auth_done(struct smtp_session *s, uint64_t xid,
    enum proto_verdict v, const unsigned char *data, size_t len,
    const char *user);

/* smtp_session_rcpt_done - recipient lookup answer; returns 1 if input may resume. */
int smtp_session_rcpt_done(struct smtp_session *s, uint64_t xid,
    enum proto_rcpt status, const char *mailbox);

/* smtp_session_commit_done - the commit finished; returns 1 if input may resume. */
int smtp_session_commit_done(
    struct smtp_session *s, enum smtp_commit_result r, const char *error);

/* smtp_session_mail_done - the MAIL FROM policy answer for xid; returns 1 if input may resume. */
int smtp_session_mail_done(struct smtp_session *s, uint64_t xid,
    enum proto_policy v, uint32_t rcpt_budget, const char *text);

/* smtp_session_data_done - the after-DATA policy answer for xid; returns 1 if input may resume. */
int smtp_session_data_done(struct smtp_session *s, uint64_t xid,
    enum proto_policy v, int notify, const char *text);

/* smtp_session_delay_done - the failure delay elapsed; returns 1 if input may resume. */
int smtp_session_delay_done(struct smtp_session *s);

/* smtp_session_timeout - the client was idle too long: 421 and close. */
void smtp_session_timeout(struct smtp_session *s);

/* smtp_session_shutdown - server stopping: 421 now if idle, else after the current transaction. */
void smtp_session_shutdown(struct smtp_session *s);

/* smtp_session_set_mechs - the mechanisms the auth service serves (borrowed pointer). */
void smtp_session_set_mechs(
    struct smtp_session *s, const struct smtp_mech_offer *m, size_t n);

/* smtp_session_idle - 1 when no transaction, exchange or wait is in progress. */
int smtp_session_idle(const struct smtp_session *s);

/* --- used by the cmd_*.c files --- */

/* smtp_reply - send "code esc text" (esc may be NULL); counts 4xx/5xx as errors when counted. */
void smtp_reply(struct smtp_session *s, int code, const char *esc,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* smtp_reply_error - like smtp_reply, and counts one session error (421 at the limit). */
void smtp_reply_error(struct smtp_session *s, int code, const char *esc,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* smtp_enter_state - change state, with a debug log line. */
void smtp_enter_state(struct smtp_session *s, enum smtp_state st);

/* smtp_tx_free - drop the transaction (closing the spool file). */
void smtp_tx_free(struct smtp_session *s);

/* smtp_session_close - queue a final reply already sent; stop reading; close. */
void smtp_session_close(struct smtp_session *s);

/* smtp_session_maybe_shutdown - after a transaction ends, honour a pending shutdown (421, close); 1 if it closed. */
int smtp_session_maybe_shutdown(struct smtp_session *s);

/* Commands (cmd_*.c): args is the text after the verb. */
void smtp_cmd_helo(struct smtp_session *s, const char *args, int esmtp);
void smtp_cmd_starttls(struct smtp_session *s, const char *args);
void smtp_cmd_auth(struct smtp_session *s, const char *args);
void smtp_auth_response(struct smtp_session *s, const char *line, size_t len);
void smtp_cmd_mail(struct smtp_session *s, const char *args, size_t len);
void smtp_cmd_rcpt(struct smtp_session *s, const char *args, size_t len);
void smtp_cmd_data(struct smtp_session *s, const char *args);
size_t smtp_data_feed(struct smtp_session *s, const char *p, size_t n);
void smtp_cmd_rset(struct smtp_session *s, const char *args);
void smtp_cmd_noop(struct smtp_session *s, const char *args);
void smtp_cmd_quit(struct smtp_session *s, const char *args);
void smtp_cmd_vrfy(struct smtp_session *s, const char *args);
void smtp_cmd_help(struct smtp_session *s, const char *args);

/* smtp_mech_usable - 1 if mechanism name may be used in this session now (TLS state, listener). */
int smtp_mech_usable(
    const struct smtp_session *s, const char *name, int *needs_tls_r);

/* smtp_received_header - the Received: field (RFC 5321 §4.4, RFC 3848) for tx, CRLF-terminated. */
int smtp_received_header(
    const struct smtp_session *s, const struct smtp_tx *tx, struct buf *out);

#endif
