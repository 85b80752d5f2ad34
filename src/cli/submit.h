/*
 * submit.h - one message to a submission server as an authenticating
 * client (RFC 6409, RFC 4954, RFC 3207, RFC 8314): the shared core of
 * postern send and postern sendmail. Connects, secures, authenticates,
 * sends, and says in which phase it failed so each command can map that
 * to its own exit codes. Credentials are never printed. Public: submit_*.
 */
#ifndef POSTERN_CLI_SUBMIT_H
#define POSTERN_CLI_SUBMIT_H

#include <stddef.h>

struct secret;
struct account;

enum submit_tls {
	SUBMIT_TLS_DEFAULT, /* implicit on port 465, STARTTLS otherwise */
	SUBMIT_TLS_STARTTLS,
	SUBMIT_TLS_IMPLICIT,
	SUBMIT_TLS_NONE,
};

/* Where and how to submit (filled from options and an account). */
struct submit_opts {
	const char *server; /* host[:port], [v6]:port */
	enum submit_tls tls;
	const char *tls_name; /* certificate name to verify; NULL = host */
	const char *cafile;
	int insecure; /* accept any server certificate */
	const char *cert, *key;
	const char *user; /* NULL/"" = no AUTH (unless EXTERNAL) */
	const char *authzid;
	const struct secret *password; /* password or OAuth 2.0 token */
	const char *mechs;             /* --auth: "" = automatic */
	int force_plaintext;           /* plaintext mechanism without TLS */
	const char *helo;
	unsigned int timeout_ms; /* per command; 0 = 60 s */
	int verbose;             /* trace the dialogue on stderr */
	int quiet;               /* no per-recipient report on success */
};

/* Outcome, from the first phase that failed. */
enum submit_status {
	SUBMIT_OK,
	SUBMIT_RESOLVE,  /* host name not found */
	SUBMIT_CONNECT,  /* connect, greeting, lost connection, timeout */
	SUBMIT_TLS,      /* handshake, certificate, STARTTLS missing */
	SUBMIT_AUTH,     /* refused, no mechanism, server not proven */
	SUBMIT_TEMP,     /* 4xx on MAIL/RCPT/DATA */
	SUBMIT_REJECTED, /* 5xx on MAIL or DATA: the message refused */
	SUBMIT_RCPT,     /* 5xx for some recipients (others may be sent) */
	SUBMIT_LOCAL,    /* our own trouble (memory, bad arguments) */
};

/*
 * submit_message - send msg_fd (read with pread from 0) from mail_from to
 * rcpts[0..n). Prints what failed (and, verbose, the dialogue) on stderr.
 */
enum submit_status submit_message(const struct submit_opts *o,
    const char *mail_from, char *const *rcpts, size_t n, int msg_fd,
    unsigned long long size, int eightbit);

/* submit_status_name - short text for s ("connection failed", ...). */
const char *submit_status_name(enum submit_status s);

/*
 * submit_run_command - the first line of the output of /bin/sh -c cmd (a
 * password or token command) as a new secret; NULL with err on failure
 * (the command's exit status, empty output). Its stderr goes to ours.
 */
struct secret *submit_run_command(const char *cmd, char *err, size_t errlen);

/*
 * submit_read_file - the first line of path (password_file) as a secret;
 * NULL with err.
 */
struct secret *submit_read_file(const char *path, char *err, size_t errlen);

/* submit_read_fd_line - the first line of fd (--password-stdin). */
struct secret *submit_read_fd_line(int fd, char *err, size_t errlen);

/*
 * submit_opts_from_account - fill o's empty fields from a (server, tls,
 * names, files, user, mechanisms). 0, or -1 with err (bad tls value).
 */
int submit_opts_from_account(
    struct submit_opts *o, const struct account *a, char *err, size_t errlen);

/*
 * submit_credential - the secret o->password should point to, from the
 * first source given: the token/password sources in the order
 * --password-file, --password-stdin, --password-command,
 * POSTERN_PASSWORD, then the account's password_file, password_command,
 * password. *none_r = 1 (and NULL) when no source exists.
 */
struct secret *submit_credential(const char *password_file, int password_stdin,
    const char *password_command, const struct account *a, int *none_r,
    char *err, size_t errlen);

#endif
