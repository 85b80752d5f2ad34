/*
 * cmd_data.c - DATA (RFC 5321 §4.1.1.4): opens the spool file, writes the
 * Received header, streams the body through the DATA reader and asks for
 * the durable commit; the 250 comes only after it (DESIGN §7).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "smtp/session.h"

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

static int
body_sink(void *arg, const char *p, size_t n)
{
	struct smtp_tx *tx = arg;

	if (write_all(tx->body_fd, p, n) == -1) {
		tx->sink_failed = errno;
		return -1;
	}
	tx->body_size += n;
	return 0;
}

void
smtp_cmd_data(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;
	struct buf hdr;

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
	tx->body_fd = s->ops->body_open(s->ops_arg, tx->id, sizeof(tx->id));
	if (tx->body_fd < 0) {
		smtp_reply(s, 451, "4.3.0", "Error: cannot store the message now");
		return;
	}
	buf_init(&hdr, 8192);
	if (smtp_received_header(s, tx, &hdr) == -1 ||
	    write_all(tx->body_fd, hdr.data, hdr.len) == -1) {
		buf_free(&hdr);
		log_warn("session=%s event=spool-error id=%s error=%s",
		    s->idstr, tx->id, strerror(errno));
		smtp_reply(s, 451, "4.3.0", "Error: cannot store the message now");
		smtp_tx_free(s);
		smtp_enter_state(s, SMTP_STATE_HELO);
		return;
	}
	tx->body_size = hdr.len;
	buf_free(&hdr);
	data_reader_init(&tx->reader, s->cfg->max_message_size,
	    SMTP_TEXT_LINE_MAX, body_sink, tx);
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
	if (e != DATA_OK) {
		smtp_enter_state(s, SMTP_STATE_HELO);
		log_info("session=%s event=rejected id=%s reason=%s", s->idstr,
		    tx->id,
		    e == DATA_ERR_BARE_LF	 ? "bare-lf"
			: e == DATA_ERR_BARE_CR	 ? "bare-cr"
			: e == DATA_ERR_LINE_TOO_LONG ? "line-too-long"
			: e == DATA_ERR_TOO_BIG	 ? "too-big"
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
			smtp_reply(s, 451, "4.3.0",
			    "Error: cannot store the message now");
			break;
		}
		smtp_tx_free(s);
		if (s->shutting_down && s->state != SMTP_STATE_CLOSING) {
			smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
			    s->cfg->hostname);
			smtp_session_close(s);
		}
		return used;
	}
	s->wait = SMTP_WAIT_COMMIT;
	smtp_enter_state(s, SMTP_STATE_HELO);
	s->ops->commit(s->ops_arg, tx);
	return used;
}
