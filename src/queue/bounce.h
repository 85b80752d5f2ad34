/*
 * bounce.h - delivery status notifications (RFC 3464 multipart/report,
 * report-type=delivery-status; RFC 3461 NOTIFY/RET/ENVID/ORCPT honoured).
 * Composes the message text only; the service spools it like any other.
 */
#ifndef POSTERN_QUEUE_BOUNCE_H
#define POSTERN_QUEUE_BOUNCE_H

#include <stddef.h>

#include "core/buf.h"
#include "queue/envelope.h"

enum bounce_kind {
	BOUNCE_FAILED,  /* Action: failed - permanent failure or expiry */
	BOUNCE_DELAYED, /* Action: delayed - still retrying (the warning) */
};

#define BOUNCE_FULL_MAX (1u << 20) /* RET=FULL above this: headers only */

/*
 * bounce_wanted - 1 if recipient r's NOTIFY asks for a DSN of this kind
 * (no NOTIFY: failures and delays yes). Never for a bounce's own
 * recipients or a null sender: the caller checks env->mail_from / is_bounce.
 */
int bounce_wanted(const struct env_rcpt *r, enum bounce_kind kind);

/*
 * bounce_compose - the DSN to orig's sender about the recipients i with
 * sel[i] != 0, into out (CRLF line ends). msg_fd is the original message
 * (read with pread: its headers, or all of it for RET=FULL). now and, for
 * BOUNCE_DELAYED, retry_until are unix times. 0 or -1 with err set.
 */
int bounce_compose(const struct envelope *orig, const unsigned char *sel,
    enum bounce_kind kind, int msg_fd, const char *hostname, long long now,
    long long retry_until, struct buf *out, char *err, size_t errlen);

#endif
