/*
 * session.c - the SMTP session state machine (RFC 5321 §4.1.4 command
 * order), the command table, line framing with RFC limits, and replies.
 * Everything that touches sockets, IPC or disk goes through s->ops.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "smtp/headers.h"
#include "smtp/session.h"

/* What a command needs before it may run. */
#define NEED_NONE 0x00
#define NEED_HELO 0x01 /* after EHLO/HELO */
#define NEED_IDLE 0x02 /* not inside a transaction */

struct smtp_cmd_entry {
	enum smtp_cmd cmd;
	unsigned int needs;
};

static const char *const state_names[] = {
    [SMTP_STATE_CONNECTED] = "connected",
    [SMTP_STATE_HELO] = "helo",
    [SMTP_STATE_MAIL] = "mail",
    [SMTP_STATE_RCPT] = "rcpt",
    [SMTP_STATE_DATA] = "data",
    [SMTP_STATE_AUTH] = "auth",
    [SMTP_STATE_TLS] = "tls",
    [SMTP_STATE_CLOSING] = "closing",
};

void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("session=%s event=state from=%s to=%s", s->idstr,
	    state_names[s->state], state_names[st]);
	s->state = st;
}

static void
reply_va(struct smtp_session *s, int code, const char *esc, const char *fmt,
    va_list ap)
{
	char line[SMTP_TEXT_LINE_MAX];
	int n, m;

	if (esc != NULL)
		n = snprintf(line, sizeof(line), "%03d %s ", code, esc);
	else
		n = snprintf(line, sizeof(line), "%03d ", code);
	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	if (m < 0)
		m = 0;
	/* widen before adding: n + m may overflow an int */
	if ((size_t)n + (size_t)m > sizeof(line) - 3)
		m = (int)(sizeof(line) - 3) - n;
	line[n + m] = '\r';
	line[n + m + 1] = '\n';
	s->ops->write(s->ops_arg, line, (size_t)n + (size_t)m + 2);
}

void
smtp_reply(
    struct smtp_session *s, int code, const char *esc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_va(s, code, esc, fmt, ap);
	va_end(ap);
}

void
smtp_reply_error(
    struct smtp_session *s, int code, const char *esc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_va(s, code, esc, fmt, ap);
	va_end(ap);
	s->errors++;
	if (s->cfg->max_errors > 0 && s->errors >= s->cfg->max_errors &&
	    s->state != SMTP_STATE_CLOSING) {
		log_info("session=%s event=disconnect reason=too-many-errors "
		         "errors=%u",
		    s->idstr, s->errors);
		smtp_reply(s, 421, "4.7.0", "%s Error: too many errors",
		    s->cfg->hostname);
		smtp_session_close(s);
	}
}

void
smtp_session_close(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_CLOSING)
		return;
	if (s->state == SMTP_STATE_AUTH || s->wait == SMTP_WAIT_AUTH)
		s->ops->auth_cancel(s->ops_arg, s->auth_xid);
	smtp_enter_state(s, SMTP_STATE_CLOSING);
	s->ops->close(s->ops_arg);
}

void
smtp_tx_free(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	if (tx == NULL)
		return;
	if (tx->body_fd >= 0)
		close(tx->body_fd);
	if (tx->hdr != NULL) {
		hdr_scan_free(tx->hdr);
		free(tx->hdr);
	}
	free(tx->rcpts);
	free(tx);
	s->tx = NULL;
}

void
smtp_session_init(struct smtp_session *s, uint64_t id, const struct config *cfg,
    const struct config_listener *l, const struct smtp_session_ops *ops,
    void *ops_arg, const char *client_addr, const char *client_port,
    int tls_already)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	snprintf(s->idstr, sizeof(s->idstr), "%012llx",
	    (unsigned long long)(id & 0xffffffffffffULL));
	s->cfg = cfg;
	s->listener = l;
	s->ops = ops;
	s->ops_arg = ops_arg;
	str_copy(s->client_addr, client_addr, sizeof(s->client_addr));
	str_copy(s->client_port, client_port, sizeof(s->client_port));
	s->tls = tls_already;
	s->state = SMTP_STATE_CONNECTED;
	buf_init(&s->line, SMTP_AUTH_LINE_MAX);
}

void
smtp_session_start(struct smtp_session *s)
{
	smtp_reply(s, 220, NULL, "%s ESMTP Postern", s->cfg->hostname);
}

void
smtp_session_free(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_AUTH || s->wait == SMTP_WAIT_AUTH)
		s->ops->auth_cancel(s->ops_arg, s->auth_xid);
	smtp_tx_free(s);
	buf_free(&s->line);
}

void
smtp_session_set_mechs(
    struct smtp_session *s, const struct smtp_mech_offer *m, size_t n)
{
	s->mechs = m;
	s->nmechs = n;
}

int
smtp_session_idle(const struct smtp_session *s)
{
	return s->wait == SMTP_WAIT_NONE && s->tx == NULL &&
	    s->state != SMTP_STATE_AUTH && s->state != SMTP_STATE_DATA &&
	    s->state != SMTP_STATE_TLS;
}

void
smtp_session_timeout(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_CLOSING)
		return;
	log_info("session=%s event=disconnect reason=timeout state=%s",
	    s->idstr, state_names[s->state]);
	smtp_reply(
	    s, 421, "4.4.2", "%s Error: timeout exceeded", s->cfg->hostname);
	smtp_session_close(s);
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	s->shutting_down = 1;
	if (s->state == SMTP_STATE_CLOSING)
		return;
	/* A transaction in DATA or a pending commit finishes first: what was
	 * acknowledged stays acknowledged, what was not is refused cleanly. */
	if (s->state == SMTP_STATE_DATA || s->wait == SMTP_WAIT_COMMIT ||
	    (s->wait == SMTP_WAIT_POLICY && s->tx != NULL &&
	        s->tx->hdr_written))
		return;
	smtp_reply(
	    s, 421, "4.3.2", "%s Service shutting down", s->cfg->hostname);
	smtp_session_close(s);
}

int
smtp_session_maybe_shutdown(struct smtp_session *s)
{
	if (!s->shutting_down || s->state == SMTP_STATE_CLOSING)
		return 0;
	smtp_reply(
	    s, 421, "4.3.2", "%s Service shutting down", s->cfg->hostname);
	smtp_session_close(s);
	return 1;
}

static const struct smtp_cmd_entry cmd_table[] = {
    {SMTP_CMD_HELO, NEED_NONE},
    {SMTP_CMD_EHLO, NEED_NONE},
    {SMTP_CMD_STARTTLS, NEED_HELO | NEED_IDLE},
    {SMTP_CMD_AUTH, NEED_HELO | NEED_IDLE},
    {SMTP_CMD_MAIL, NEED_HELO},
    {SMTP_CMD_RCPT, NEED_HELO},
    {SMTP_CMD_DATA, NEED_HELO},
    {SMTP_CMD_RSET, NEED_NONE},
    {SMTP_CMD_NOOP, NEED_NONE},
    {SMTP_CMD_QUIT, NEED_NONE},
    {SMTP_CMD_VRFY, NEED_NONE},
    {SMTP_CMD_HELP, NEED_NONE},
};

/* check_command - may cmd run now? Replies and returns 0 if not. */
static int
check_command(struct smtp_session *s, enum smtp_cmd cmd)
{
	size_t i;

	for (i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
		if (cmd_table[i].cmd != cmd)
			continue;
		if ((cmd_table[i].needs & NEED_HELO) &&
		    s->state == SMTP_STATE_CONNECTED) {
			smtp_reply_error(
			    s, 503, "5.5.1", "Error: send HELO/EHLO first");
			return 0;
		}
		if ((cmd_table[i].needs & NEED_IDLE) && s->tx != NULL) {
			smtp_reply_error(s, 503, "5.5.1",
			    "Error: MAIL transaction in progress");
			return 0;
		}
		return 1;
	}
	return 1;
}

static void
run_command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command c;
	char vq[48];

	if (smtp_parse_command(line, len, &c) == -1) {
		log_info(
		    "session=%s event=bad-command reason=syntax", s->idstr);
		smtp_reply_error(s, 500, "5.5.2",
		    "Error: bad syntax or characters in command");
		return;
	}
	if (c.cmd != SMTP_CMD_AUTH && len + 2 > SMTP_CMD_LINE_MAX) {
		smtp_reply_error(s, 500, "5.5.6", "Error: line too long");
		return;
	}
	if (!check_command(s, c.cmd))
		return;
	switch (c.cmd) {
	case SMTP_CMD_HELO:
		smtp_cmd_helo(s, c.args, 0);
		break;
	case SMTP_CMD_EHLO:
		smtp_cmd_helo(s, c.args, 1);
		break;
	case SMTP_CMD_STARTTLS:
		smtp_cmd_starttls(s, c.args);
		break;
	case SMTP_CMD_AUTH:
		smtp_cmd_auth(s, c.args);
		break;
	case SMTP_CMD_MAIL:
		smtp_cmd_mail(s, c.args, c.argslen);
		break;
	case SMTP_CMD_RCPT:
		smtp_cmd_rcpt(s, c.args, c.argslen);
		break;
	case SMTP_CMD_DATA:
		smtp_cmd_data(s, c.args);
		break;
	case SMTP_CMD_RSET:
		smtp_cmd_rset(s, c.args);
		break;
	case SMTP_CMD_NOOP:
		smtp_cmd_noop(s, c.args);
		break;
	case SMTP_CMD_QUIT:
		smtp_cmd_quit(s, c.args);
		break;
	case SMTP_CMD_VRFY:
		smtp_cmd_vrfy(s, c.args);
		break;
	case SMTP_CMD_HELP:
		smtp_cmd_help(s, c.args);
		break;
	case SMTP_CMD_EXPN:
		smtp_reply_error(s, 502, "5.5.1", "Error: EXPN not supported");
		break;
	case SMTP_CMD_BDAT:
		smtp_reply_error(s, 502, "5.5.1",
		    "Error: BDAT not supported (CHUNKING is not offered)");
		break;
	case SMTP_CMD_HTTP:
		log_info("session=%s event=disconnect reason=http-request",
		    s->idstr);
		smtp_reply(s, 500, "5.5.1", "Error: this is an SMTP server");
		smtp_session_close(s);
		break;
	case SMTP_CMD_UNKNOWN:
	default:
		log_info("session=%s event=bad-command verb=%s", s->idstr,
		    log_q(vq, sizeof(vq), c.verb, (size_t)-1));
		smtp_reply_error(
		    s, 500, "5.5.2", "Error: command not recognized");
		break;
	}
}

/* line_done - a complete line (CRLF removed, length checked against 12288). */
static void
line_done(struct smtp_session *s, const char *line, size_t len)
{
	if (s->state == SMTP_STATE_AUTH)
		smtp_auth_response(s, line, len);
	else
		run_command(s, line, len);
}

/* too_long - the line ended (or will end) past every limit. */
static void
too_long(struct smtp_session *s)
{
	log_info("session=%s event=bad-command reason=line-too-long", s->idstr);
	if (s->state == SMTP_STATE_AUTH) {
		s->ops->auth_cancel(s->ops_arg, s->auth_xid);
		smtp_enter_state(s, SMTP_STATE_HELO);
		smtp_reply_error(s, 500, "5.5.6",
		    "Authentication Exchange line is too long");
		return;
	}
	smtp_reply_error(s, 500, "5.5.6", "Error: line too long");
}

static int
can_read(const struct smtp_session *s)
{
	return s->wait == SMTP_WAIT_NONE && s->state != SMTP_STATE_CLOSING &&
	    s->state != SMTP_STATE_TLS;
}

size_t
smtp_session_feed(struct smtp_session *s, const char *p, size_t n)
{
	size_t used = 0;

	while (used < n && can_read(s)) {
		const char *lf;
		size_t chunk, linelen;

		if (s->state == SMTP_STATE_DATA) {
			used += smtp_data_feed(s, p + used, n - used);
			continue;
		}
		lf = memchr(p + used, '\n', n - used);
		chunk = (lf != NULL) ? (size_t)(lf - (p + used)) : n - used;
		if (s->discarding) {
			/* The 500 went out when the line overflowed; drop the
			 * rest of it, and give up on a client that sends a
			 * megabyte without a line end: no SMTP client does. */
			used += chunk;
			s->discarded += chunk;
			if (lf != NULL) {
				used++;
				s->discarding = 0;
				s->discarded = 0;
			} else if (s->discarded > SMTP_DISCARD_MAX &&
			    s->state != SMTP_STATE_CLOSING) {
				log_info("session=%s event=disconnect "
				         "reason=endless-line",
				    s->idstr);
				smtp_reply(s, 421, "4.7.0",
				    "%s Error: line too long, closing",
				    s->cfg->hostname);
				smtp_session_close(s);
			}
			continue;
		}
		/* +1 for the LF: the limit counts the line terminator. */
		if (s->line.len + chunk + 1 > SMTP_AUTH_LINE_MAX) {
			buf_reset(&s->line);
			s->discarding = 1;
			s->discarded = 0;
			too_long(s);
			continue;
		}
		if (buf_append(&s->line, p + used, chunk) == -1) {
			buf_reset(&s->line);
			s->discarding = 1;
			s->discarded = 0;
			too_long(s);
			continue;
		}
		used += chunk;
		if (lf == NULL)
			break;
		used++;
		linelen = s->line.len;
		if (linelen > 0 && s->line.data[linelen - 1] == '\r')
			linelen--;
		/* Copy out: a command may reset the buffer. */
		{
			char line[SMTP_AUTH_LINE_MAX + 1];

			/* NUL-terminated: commands read their arguments as C
			 * strings; the parser refuses lines holding a NUL. */
			memcpy(line, s->line.data, linelen);
			line[linelen] = '\0';
			buf_reset(&s->line);
			line_done(s, line, linelen);
		}
	}
	return used;
}

void
smtp_session_tls_done(struct smtp_session *s, int ok, const char *version,
    const char *cipher, int bits)
{
	if (!ok) {
		smtp_session_close(s);
		return;
	}
	s->tls = 1;
	str_copy(s->tls_version, version, sizeof(s->tls_version));
	str_copy(s->tls_cipher, cipher, sizeof(s->tls_cipher));
	s->tls_bits = bits;
	log_info("session=%s event=tls version=%s cipher=%s", s->idstr,
	    s->tls_version, s->tls_cipher);
	if (s->state == SMTP_STATE_TLS) {
		/* RFC 3207 §4.2: forget everything learnt before TLS. */
		smtp_tx_free(s);
		s->esmtp = 0;
		s->helo[0] = '\0';
		s->authenticated = 0;
		s->login[0] = '\0';
		s->cert_identity[0] = '\0';
		buf_reset(&s->line);
		s->discarding = 0;
		smtp_enter_state(s, SMTP_STATE_CONNECTED);
	} else {
		/* Implicit TLS (RFC 8314): the greeting comes after the handshake. */
		smtp_session_start(s);
	}
}

void
smtp_session_set_cert_identity(struct smtp_session *s, const char *id)
{
	str_copy(s->cert_identity, id, sizeof(s->cert_identity));
}

int
smtp_session_delay_done(struct smtp_session *s)
{
	if (s->wait != SMTP_WAIT_DELAY)
		return 0;
	s->wait = SMTP_WAIT_NONE;
	return can_read(s);
}

int
smtp_session_commit_done(
    struct smtp_session *s, enum smtp_commit_result r, const char *error)
{
	struct smtp_tx *tx = s->tx;
	char fq[ADDR_PATH_MAX * 2];
	char from[ADDR_PATH_MAX + 1];

	if (s->wait != SMTP_WAIT_COMMIT || tx == NULL)
		return 0;
	s->wait = SMTP_WAIT_NONE;
	if (addr_format(&tx->mail.from, from, sizeof(from)) < 0)
		from[0] = '\0';
	if (r == SMTP_COMMIT_OK) {
		char lq[300];

		s->messages++;
		/* the audit line: who, from where, authenticated how */
		log_info("session=%s event=accepted id=%s login=%s from=%s "
		         "rcpts=%zu size=%llu client=%s listener=%s tls=%s "
		         "mech=%s held=%s",
		    s->idstr, tx->id,
		    s->authenticated
		        ? log_q(lq, sizeof(lq), s->login, (size_t)-1)
		        : "-",
		    log_q(fq, sizeof(fq), from, (size_t)-1), tx->nrcpts,
		    tx->body_size, s->client_addr, s->listener->name,
		    s->tls ? s->tls_version : "no",
		    s->authenticated ? s->auth_mech : "-",
		    tx->held ? "yes" : "no");
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", tx->id);
	} else {
		log_warn("session=%s event=commit-failed id=%s error=%s",
		    s->idstr, tx->id,
		    log_q(
		        fq, sizeof(fq), error ? error : "unknown", (size_t)-1));
		if (r == SMTP_COMMIT_NO_SPACE)
			smtp_reply(s, 452, "4.3.1",
			    "Error: insufficient system storage");
		else
			smtp_reply(s, 451, "4.3.0",
			    "Error: cannot queue the message, try again later");
	}
	smtp_tx_free(s);
	smtp_enter_state(s, SMTP_STATE_HELO);
	if (smtp_session_maybe_shutdown(s))
		return 0;
	return can_read(s);
}

/* Shared by commands that leave a transaction. */
void
smtp_cmd_rset(struct smtp_session *s, const char *args)
{
	if (args[0] != '\0') {
		smtp_reply_error(s, 501, "5.5.4", "Syntax: RSET");
		return;
	}
	smtp_tx_free(s);
	if (s->state != SMTP_STATE_CONNECTED)
		smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_reply(s, 250, "2.0.0", "Ok");
	smtp_session_maybe_shutdown(s);
}
