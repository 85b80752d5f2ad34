/*
 * notice.h - the containment notices: when a login crosses its hard cap
 * and its mail is put on hold, the postmaster and the user get a short
 * message, written straight into the spool like any accepted message (null
 * sender, so it never bounces). Blocking (fsync): call from the work pool.
 */
#ifndef POSTERN_SMTP_NOTICE_H
#define POSTERN_SMTP_NOTICE_H

#include <stddef.h>

struct notice_info {
	const char *spool;
	const char *hostname;
	const char *login;
	const char *client_addr;
	const char *held_id; /* the first message held */
};

/* smtp_notice_write - commit one notice for rcpt; 0, or -1 with err. */
int smtp_notice_write(const struct notice_info *n, const char *rcpt,
    int to_user, char *err, size_t errlen);

#endif
