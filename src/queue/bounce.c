/*
 * bounce.c - RFC 3464 delivery status notifications.
 *
 *   multipart/report; report-type=delivery-status          (RFC 6522)
 *     1. text/plain: what happened, for a human
 *     2. message/delivery-status: per-message fields, then per recipient
 *        Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code
 *     3. text/rfc822-headers (default, RET=HDRS) or message/rfc822 (RET=FULL)
 *
 * The From is MAILER-DAEMON@hostname, the envelope sender is <> (set by the
 * caller) and Auto-Submitted: auto-replied (RFC 3834) keeps responders
 * quiet. Addresses with UTF-8 use the "utf-8" address type (RFC 6533).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rand.h"
#include "queue/bounce.h"

#define HEADERS_MAX (64u * 1024)

int
bounce_wanted(const struct env_rcpt *r, enum bounce_kind kind)
{
	if (r->notify == 0)
		return 1;
	if (r->notify & ENV_NOTIFY_NEVER)
		return 0;
	return kind == BOUNCE_FAILED ? (r->notify & ENV_NOTIFY_FAILURE) != 0
	                             : (r->notify & ENV_NOTIFY_DELAY) != 0;
}

static void
rfc5322_date(long long t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* addr_type - RFC 3464 address-type: "rfc822", or "utf-8" (RFC 6533). */
static const char *
addr_type(const char *addr)
{
	return is_ascii(addr) ? "rfc822" : "utf-8";
}

/* status_of - an RFC 3463 code for r: its own, or a class-wide default. */
static const char *
status_of(const struct env_rcpt *r, enum bounce_kind kind)
{
	if (r->dsn_code[0] != '\0' &&
	    (kind == BOUNCE_DELAYED ? r->dsn_code[0] == '4'
	                            : r->dsn_code[0] == '5'))
		return r->dsn_code;
	return kind == BOUNCE_DELAYED ? "4.0.0" : "5.0.0";
}

/* copy_original - headers (up to the blank line) or everything, CRLF kept. */
static int
copy_original(struct buf *out, int fd, int full)
{
	char chunk[8192];
	off_t off = 0;
	size_t cap = full ? BOUNCE_FULL_MAX : HEADERS_MAX, got = 0;
	int last_nl = 1, ended = 0;

	while (got < cap && !ended) {
		size_t want =
		    sizeof(chunk) < cap - got ? sizeof(chunk) : cap - got;
		ssize_t n = pread(fd, chunk, want, off);
		size_t i, keep;

		if (n == -1 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		keep = (size_t)n;
		if (!full) {
			/* stop after the header block's terminating empty line */
			for (i = 0; i < (size_t)n; i++) {
				char ch = chunk[i];

				if (ch == '\n') {
					if (last_nl) {
						keep = i + 1;
						ended = 1;
						break;
					}
					last_nl = 1;
				} else if (ch != '\r') {
					last_nl = 0;
				}
			}
		}
		if (buf_append(out, chunk, keep) == -1)
			return -1;
		off += n;
		got += (size_t)n;
	}
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		return buf_appends(out, "\r\n");
	return 0;
}

int
bounce_compose(const struct envelope *orig, const unsigned char *sel,
    enum bounce_kind kind, int msg_fd, const char *hostname, long long now,
    long long retry_until, struct buf *out, char *err, size_t errlen)
{
	char date[64], arrival[64], until[64], boundary[64];
	const char *action = kind == BOUNCE_FAILED ? "failed" : "delayed";
	int full = 0, rc = 0, utf8 = 0;
	size_t i, n = 0;

	for (i = 0; i < orig->nrcpts; i++)
		if (sel[i]) {
			n++;
			if (!is_ascii(orig->rcpts[i].addr))
				utf8 = 1;
		}
	if (n == 0 || orig->mail_from[0] == '\0') {
		(void)snprintf(err, errlen, "nothing to report, or no sender");
		return -1;
	}
	if (!is_ascii(orig->mail_from))
		utf8 = 1;
	if (orig->ret == ENV_RET_FULL) {
		off_t size = lseek(msg_fd, 0, SEEK_END);

		full = size >= 0 && size <= (off_t)BOUNCE_FULL_MAX;
	}
	rfc5322_date(now, date, sizeof(date));
	rfc5322_date(orig->arrival, arrival, sizeof(arrival));
	rfc5322_date(retry_until, until, sizeof(until));
	(void)snprintf(boundary, sizeof(boundary), "%s/%016" PRIx64 "/%s",
	    orig->id, rand_u64(), hostname);

	rc |= buf_printf(out,
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: %s\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%s.%lld.dsn@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n"
	    "\r\n"
	    "This is a MIME-encapsulated message.\r\n"
	    "\r\n"
	    "--%s\r\n"
	    "Content-Type: text/plain; charset=%s\r\n"
	    "Content-Description: Notification\r\n"
	    "\r\n",
	    hostname, orig->mail_from,
	    kind == BOUNCE_FAILED ? "Undelivered Mail Returned to Sender"
	                          : "Delayed Mail (still being retried)",
	    date, orig->id, now, hostname, boundary, boundary,
	    utf8 ? "utf-8" : "us-ascii");
	if (kind == BOUNCE_FAILED)
		rc |= buf_printf(out,
		    "This is the mail system at host %s.\r\n\r\n"
		    "Your message (queue id %s) could not be delivered to "
		    "one or more\r\nrecipients. It is attached below.\r\n\r\n",
		    hostname, orig->id);
	else
		rc |= buf_printf(out,
		    "This is the mail system at host %s.\r\n\r\n"
		    "Your message (queue id %s) has not been delivered yet "
		    "to the\r\nrecipients below. It will be retried until "
		    "%s.\r\nThis is a warning only: you do not need to send "
		    "it again.\r\n\r\n",
		    hostname, orig->id, until);
	for (i = 0; i < orig->nrcpts; i++) {
		const struct env_rcpt *r = &orig->rcpts[i];

		if (!sel[i])
			continue;
		rc |= buf_printf(out, "<%s>: %s\r\n", r->addr,
		    r->last_error[0] != '\0' ? r->last_error
		                             : "no reason recorded");
	}
	rc |= buf_printf(out,
	    "\r\n--%s\r\n"
	    "Content-Type: message/%sdelivery-status\r\n"
	    "Content-Description: Delivery report\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; %s\r\n"
	    "X-Postern-Queue-ID: %s\r\n"
	    "Arrival-Date: %s\r\n",
	    boundary, utf8 ? "global-" : "", hostname, orig->id, arrival);
	if (orig->envid[0] != '\0')
		rc |= buf_printf(
		    out, "Original-Envelope-Id: %s\r\n", orig->envid);
	for (i = 0; i < orig->nrcpts; i++) {
		const struct env_rcpt *r = &orig->rcpts[i];

		if (!sel[i])
			continue;
		rc |= buf_printf(out, "\r\nFinal-Recipient: %s; %s\r\n",
		    addr_type(r->addr), r->addr);
		if (r->orcpt[0] != '\0')
			rc |= buf_printf(
			    out, "Original-Recipient: %s\r\n", r->orcpt);
		rc |= buf_printf(out, "Action: %s\r\nStatus: %s\r\n", action,
		    status_of(r, kind));
		if (r->hop[0] != '\0' && r->hop[0] != '[')
			/* "mx.example.net[192.0.2.1]:25" -> the name only */
			rc |= buf_printf(out, "Remote-MTA: dns; %.*s\r\n",
			    (int)strcspn(r->hop, "[:"), r->hop);
		if (r->last_error[0] != '\0')
			rc |= buf_printf(out, "Diagnostic-Code: smtp; %s\r\n",
			    r->last_error);
		rc |= buf_printf(out, "Last-Attempt-Date: %s\r\n", date);
		if (kind == BOUNCE_DELAYED)
			rc |=
			    buf_printf(out, "Will-Retry-Until: %s\r\n", until);
	}
	rc |= buf_printf(out,
	    "\r\n--%s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Description: %s\r\n"
	    "\r\n",
	    boundary,
	    full
	        ? (utf8 || orig->smtputf8 ? "message/global" : "message/rfc822")
	        : (utf8 || orig->smtputf8 ? "message/global-headers"
	                                  : "text/rfc822-headers"),
	    full ? "Undelivered Message" : "Undelivered Message Headers");
	if (rc != 0 || copy_original(out, msg_fd, full) == -1 ||
	    buf_printf(out, "\r\n--%s--\r\n", boundary) == -1) {
		(void)snprintf(err, errlen,
		    "cannot compose the DSN (too large or unreadable)");
		return -1;
	}
	return 0;
}
