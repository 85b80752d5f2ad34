/*
 * cmd_data.c - DATA (RFC 5321 §4.1.1.4): opens the spool file, streams the
 * body through the DATA reader and asks for the durable commit; the 250
 * comes only after it (DESIGN §7). The header section is held in memory
 * (bounded, smtp/headers.c) until it ends; then the Received field, the
 * submission fix-ups (RFC 6409 §8.2-8.3: Date, Message-ID) and the header
 * are written once, and the rest streams. For an authenticated session the
 * From:/Sender: addresses go to the auth service before the commit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "smtp/headers.h"
#include "smtp/session.h"

/* RFC 5321 6.3 asks for a limit of at least 100 hops. */
#define SMTP_MAX_HOPS 100

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* maybe_spill - a body kept in memory that grew too big moves to a file; 0 or -1. */
static int
maybe_spill(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	if (tx->body_spill_at == 0 || tx->body_size <= tx->body_spill_at ||
	    s->ops->body_spill == NULL)
		return 0;
	if (s->ops->body_spill(s->ops_arg, tx) == -1) {
		tx->sink_failed = errno;
		return -1;
	}
	tx->body_spill_at = 0;
	return 0;
}

/* fixups - RFC 6409 §8.2, §8.3: Date and Message-ID when the client left them out. */
static int
fixups(const struct smtp_session *s, const struct smtp_tx *tx, struct buf *out)
{
	char date[64], token[17];
	struct tm tm;
	time_t now = time(NULL);
	int r = 0;

	if (!s->authenticated || !s->cfg->submission_fixups)
		return 0;
	if (!(tx->hdr->have & HDR_HAVE_DATE)) {
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
		        &tm) == 0)
			return -1;
		r |= buf_printf(out, "Date: %s\r\n", date);
	}
	if (!(tx->hdr->have & HDR_HAVE_MSGID)) {
		rand_token(token, sizeof(token) - 1);
		r |= buf_printf(out, "Message-ID: <%s.%s@%s>\r\n", tx->id,
		    token, s->cfg->hostname);
	}
	return r == 0 ? 0 : -1;
}

/*
 * write_header - once the header section ended (or overflowed, or the
 * message did): Received, fix-ups, the buffered section, the blank line a
 * header-less message lacks, and the body bytes buffered after it.
 */
static int
write_header(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct hdr_scan *h = tx->hdr;
	struct buf out;
	int rc = 0;

	hdr_scan_end(h);
	buf_init(&out, HDR_SECTION_MAX + 16384);
	if (smtp_received_header(s, tx, &out) == -1 ||
	    fixups(s, tx, &out) == -1 ||
	    buf_append(&out, h->head.data, h->scanned) == -1 ||
	    (h->need_blank && buf_append(&out, "\r\n", 2) == -1) ||
	    buf_append(&out, h->head.data + h->scanned,
	        h->head.len - h->scanned) == -1) {
		errno = ENOMEM;
		rc = -1;
	} else if (write_all(tx->body_fd, out.data, out.len) == -1) {
		rc = -1;
	}
	if (rc == 0) {
		tx->body_size += out.len;
		rc = maybe_spill(s);
	} else {
		tx->sink_failed = errno;
	}
	buf_free(&out);
	buf_free(&h->head); /* the addresses stay for the check */
	tx->hdr_written = 1;
	return rc;
}

static int
body_sink(void *arg, const char *p, size_t n)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = s->tx;

	if (!tx->hdr_written) {
		size_t took = hdr_scan_feed(tx->hdr, p, n);

		if (tx->hdr->state == HDR_S_READING)
			return 0;
		if (write_header(s) == -1)
			return -1;
		p += took;
		n -= took;
	}
	if (n > 0 && write_all(tx->body_fd, p, n) == -1) {
		tx->sink_failed = errno;
		return -1;
	}
	tx->body_size += n;
	return maybe_spill(s);
}

/* commit - ask for the durable write (the 250 follows it). */
static void
commit(struct smtp_session *s)
{
	s->wait = SMTP_WAIT_COMMIT;
	s->ops->commit(s->ops_arg, s->tx);
}

int
smtp_session_data_done(struct smtp_session *s, uint64_t xid,
    enum proto_policy v, int notify, const char *text)
{
	struct smtp_tx *tx = s->tx;
	char t[256];
	size_t i, o = 0;

	if (s->wait != SMTP_WAIT_POLICY || s->auth_xid != xid || tx == NULL ||
	    !tx->hdr_written || s->state != SMTP_STATE_HELO)
		return 0;
	s->wait = SMTP_WAIT_NONE;
	for (i = 0; text != NULL && text[i] != '\0' && o + 1 < sizeof(t); i++)
		if ((unsigned char)text[i] >= 0x20 && text[i] != 0x7f)
			t[o++] = text[i];
	t[o] = '\0';
	switch (v) {
	case PROTO_P_HOLD:
		tx->held = 1;
		tx->notify = notify;
		commit(s);
		return 0;
	case PROTO_P_OK:
		commit(s);
		return 0;
	case PROTO_P_REFUSE:
		log_info("session=%s event=rejected id=%s reason=header-sender",
		    s->idstr, tx->id);
		smtp_reply_error(s, 550, "5.7.1", "%s",
		    o > 0 ? t
		          : "From: address not owned by the authenticated "
		            "user");
		break;
	case PROTO_P_LIMIT:
		smtp_reply(s, 452, "4.7.1", "%s",
		    o > 0 ? t : "Sending limit reached, try again later");
		break;
	default:
		smtp_reply(s, 451, "4.7.1", "%s",
		    o > 0 ? t : "Sender check unavailable, try again later");
		break;
	}
	smtp_tx_free(s);
	return s->state != SMTP_STATE_CLOSING;
}

void
smtp_cmd_data(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;

	if (args[0] != '\0') {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (tx == NULL) {
		smtp_reply_error(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (tx->nrcpts == 0) {
		smtp_reply_error(s, 554, "5.5.1", "Error: no valid recipients");
		return;
	}
	if (!s->ops->space_ok(s->ops_arg, tx->mail.size)) {
		log_warn(
		    "session=%s event=refused reason=spool-full", s->idstr);
		smtp_reply(
		    s, 452, "4.3.1", "Error: insufficient system storage");
		return;
	}
	tx->body_fd = s->ops->body_open(s->ops_arg, tx->id, sizeof(tx->id));
	if (tx->body_fd < 0) {
		smtp_reply(
		    s, 451, "4.3.0", "Error: cannot store the message now");
		return;
	}
	tx->hdr = malloc(sizeof(*tx->hdr));
	if (tx->hdr == NULL) {
		smtp_reply(
		    s, 451, "4.3.0", "Error: cannot store the message now");
		smtp_tx_free(s);
		smtp_enter_state(s, SMTP_STATE_HELO);
		return;
	}
	hdr_scan_init(tx->hdr);
	tx->body_size = 0;
	tx->hdr_written = 0;
	data_reader_init(&tx->reader, s->cfg->max_message_size,
	    SMTP_TEXT_LINE_MAX, body_sink, s);
	smtp_enter_state(s, SMTP_STATE_DATA);
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

size_t
smtp_data_feed(struct smtp_session *s, const char *p, size_t n)
{
	struct smtp_tx *tx = s->tx;
	size_t used = 0;
	enum data_error e;

	if (data_reader_feed(&tx->reader, p, n, &used) == 0)
		return used;
	e = data_reader_error(&tx->reader);
	if (e == DATA_OK && !tx->hdr_written && write_header(s) == -1)
		e = DATA_ERR_SINK; /* a message that was all header */
	if (e != DATA_OK) {
		smtp_enter_state(s, SMTP_STATE_HELO);
		log_info("session=%s event=rejected id=%s reason=%s", s->idstr,
		    tx->id,
		    e == DATA_ERR_BARE_LF             ? "bare-lf"
		        : e == DATA_ERR_BARE_CR       ? "bare-cr"
		        : e == DATA_ERR_LINE_TOO_LONG ? "line-too-long"
		        : e == DATA_ERR_TOO_BIG       ? "too-big"
		                                      : "spool-write");
		switch (e) {
		case DATA_ERR_BARE_LF:
		case DATA_ERR_BARE_CR:
			smtp_reply_error(s, 554, "5.6.0",
			    "Error: message contains bare CR or LF "
			    "(RFC 5321 2.3.8)");
			break;
		case DATA_ERR_LINE_TOO_LONG:
			smtp_reply_error(s, 500, "5.5.6",
			    "Error: message line longer than 1000 octets");
			break;
		case DATA_ERR_TOO_BIG:
			smtp_reply_error(s, 552, "5.3.4",
			    "Error: message size exceeds fixed limit");
			break;
		default:
			if (tx->sink_failed == ENOSPC ||
			    tx->sink_failed == EDQUOT)
				smtp_reply(s, 452, "4.3.1",
				    "Error: insufficient system storage");
			else
				smtp_reply(s, 451, "4.3.0",
				    "Error: cannot store the message now");
			break;
		}
		smtp_tx_free(s);
		(void)smtp_session_maybe_shutdown(s);
		return used;
	}
	smtp_enter_state(s, SMTP_STATE_HELO);
	if (tx->hdr->nreceived > SMTP_MAX_HOPS) {
		/* RFC 5321 6.3: a message that went round this often loops */
		log_info("session=%s event=rejected id=%s reason=too-many-hops "
		         "hops=%u",
		    s->idstr, tx->id, tx->hdr->nreceived);
		smtp_reply_error(s, 554, "5.4.6",
		    "Error: too many hops (%u Received fields): mail loop?",
		    tx->hdr->nreceived);
		smtp_tx_free(s);
		(void)smtp_session_maybe_shutdown(s);
		return used;
	}
	if (s->authenticated && s->ops->data_check != NULL) {
		/* From:/Sender: ownership and the message count first */
		s->auth_xid = (s->id << 16) | (++s->xid_seq & 0xffff);
		s->wait = SMTP_WAIT_POLICY;
		s->ops->data_check(s->ops_arg, s->auth_xid, tx);
		return used;
	}
	commit(s);
	return used;
}
