/*
 * message.h - the message side of postern send / postern sendmail: build a
 * small RFC 5322 message from command-line parts (From, To, Subject, body;
 * Date, Message-ID, MIME headers for UTF-8 text), and prepare a message
 * read from a file or stdin (sendmail -t: recipients from To:, Cc:, Bcc:;
 * Bcc: removed; missing From:, Date:, Message-ID: added). No I/O.
 * Public names: msg_*.
 */
#ifndef POSTERN_CLI_MESSAGE_H
#define POSTERN_CLI_MESSAGE_H

#include <stddef.h>

#include "core/buf.h"

#define MSG_RCPTS_MAX 1000
#define MSG_SIZE_MAX  (64ULL * 1024 * 1024)

/* A list of envelope addresses ("local@domain"), without duplicates. */
struct msg_rcpts {
	char **v;
	size_t n;
	size_t cap;
};

/* msg_rcpts_add - append addr unless it is there already; 0 or -1. */
int msg_rcpts_add(struct msg_rcpts *r, const char *addr);

/*
 * msg_rcpts_add_list - the addresses of an RFC 5322 address-list ("Ann
 * <a@x>, b@y, group: c@z;") or a bare address; 0, or -1 with err.
 */
int msg_rcpts_add_list(
    struct msg_rcpts *r, const char *list, char *err, size_t errlen);

/* msg_rcpts_free - release the list and reset it. */
void msg_rcpts_free(struct msg_rcpts *r);

/* msg_addr_of - the address of a "Name <a@b>" or "a@b" value into out; 0 or -1. */
int msg_addr_of(const char *value, char *out, size_t outlen);

/* What msg_prepare may add and what it found. */
struct msg_fix {
	const char *from_header; /* From: to add if missing ("" = none) */
	const char *hostname;    /* for Message-ID */
	const char *received; /* a Received: field body to put first, or NULL */
};

struct msg_info {
	char from_addr[512]; /* address of the first From: mailbox, or "" */
	int eightbit;        /* octets >= 0x80 */
	int added_from;
};

/*
 * msg_prepare - copy the message in[0..n) to out with fixes: a leading
 * "From " (mbox) line dropped, Bcc: fields removed, missing From:, Date:
 * and Message-ID: added. With extract non-NULL, the addresses of To:, Cc:
 * and Bcc: are added to it. 0, or -1 with err.
 */
int msg_prepare(const char *in, size_t n, const struct msg_fix *fix,
    struct msg_rcpts *extract, struct buf *out, struct msg_info *info,
    char *err, size_t errlen);

/*
 * msg_build - a complete text/plain message: From: from, To: the
 * recipients, Subject: (RFC 2047 encoded if not ASCII), Date:,
 * Message-ID:, MIME headers, the body with CRLF line ends. 0 or -1.
 */
int msg_build(struct buf *out, const char *from, const struct msg_rcpts *to,
    const char *subject, const char *body, const char *hostname, char *err,
    size_t errlen);

/* msg_date - the current time as an RFC 5322 date-time into out. */
void msg_date(char *out, size_t outlen);

#endif
