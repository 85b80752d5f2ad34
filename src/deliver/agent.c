/*
 * agent.c - dlv_run(): dispatch a job to its agent by route->method, and
 * the pieces the agents share: status mapping (2xx OK, 4xx and network
 * TEMP, 5xx PERM), bounded and sanitised per-recipient results, and the
 * SMTP/LMTP conversation on a connected client (smtp.c, lmtp.c, mx.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "deliver/agent_int.h"

enum dlv_status
dlv_status_of(int code)
{
	if (code >= 200 && code < 300)
		return DLV_OK;
	if (code >= 500 && code < 600)
		return DLV_PERM;
	return DLV_TEMP;
}

static const char *
default_dsn(enum dlv_status st)
{
	switch (st) {
	case DLV_OK:
		return "2.0.0";
	case DLV_PERM:
		return "5.0.0";
	case DLV_TEMP:
		break;
	}
	return "4.0.0";
}

/* sanitise - printable ASCII only, in place. */
static void
sanitise(char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c > 0x7e)
			*s = '?';
	}
}

void
dlv_rcpt_set(struct dlv_rcpt *r, enum dlv_status st, const char *dsn,
    const char *fmt, ...)
{
	va_list ap;

	r->status = st;
	if (dsn == NULL || dsn[0] == '\0' ||
	    reply_parse_enh(dsn, strlen(dsn)) != strlen(dsn) ||
	    strlen(dsn) >= sizeof(r->dsn_code))
		dsn = default_dsn(st);
	str_copy(r->dsn_code, dsn, sizeof(r->dsn_code));
	va_start(ap, fmt);
	(void)vsnprintf(r->reply, sizeof(r->reply), fmt, ap);
	va_end(ap);
	sanitise(r->reply);
}

/* rcpt_from_reply - one recipient's result from a reply. */
static void
rcpt_from(struct dlv_rcpt *r, int code, const char *enh, const char *text)
{
	enum dlv_status st = dlv_status_of(code);

	/* an enhanced code of another class than the reply's is noise */
	if (enh[0] != '\0' && enh[0] != (char)('0' + code / 100))
		enh = "";
	dlv_rcpt_set(r, st, enh, "%s", text);
}

void
dlv_all_reply(struct dlv_job *job, const struct smtp_reply *rep)
{
	char text[sizeof(job->rcpts[0].reply)];
	size_t i;

	(void)reply_format(rep, text, sizeof(text));
	for (i = 0; i < job->nrcpts; i++)
		rcpt_from(&job->rcpts[i], rep->code, rep->enh, text);
}

void
dlv_opts(
    const struct dlv_job *job, enum smtpc_proto proto, struct smtpc_opts *out)
{
	const struct dlv_route *rt = job->route;
	unsigned long long data_ms;

	memset(out, 0, sizeof(*out));
	out->proto = proto;
	out->helo_name = job->helo_name;
	out->connect_timeout_ms = rt->connect_timeout_ms;
	out->command_timeout_ms = rt->command_timeout_ms;
	/* the reply to "." may take longer than a command (RFC 5321
	 * §4.5.3.2.6 suggests 10 minutes against 5) */
	data_ms = 2ULL * rt->command_timeout_ms;
	out->data_timeout_ms =
	    data_ms > 0xffffffffULL ? 0xffffffffU : (unsigned int)data_ms;
}

int
dlv_converse(
    struct dlv_job *job, struct smtpc *c, const struct smtpc_session_opts *so)
{
	struct smtpc_envelope env;
	struct smtpc_rcpt *rr;
	size_t i;
	int code;

	code = smtpc_session(c, so);
	str_copy(job->hop, smtpc_hop(c), sizeof(job->hop));
	str_copy(job->tls_info, smtpc_tls_info(c), sizeof(job->tls_info));
	if (code != 250 && code != 235) {
		if (code > 0)
			smtpc_quit(c);
		return -1;
	}
	rr = calloc(job->nrcpts, sizeof(*rr));
	if (rr == NULL) {
		smtpc_quit(c);
		for (i = 0; i < job->nrcpts; i++)
			dlv_rcpt_set(&job->rcpts[i], DLV_TEMP, "4.3.0",
			    "451 4.3.0 out of memory");
		return 0;
	}
	for (i = 0; i < job->nrcpts; i++) {
		rr[i].addr = job->rcpts[i].addr;
		rr[i].orcpt = job->rcpts[i].orcpt;
	}
	memset(&env, 0, sizeof(env));
	env.mail_from = job->mail_from != NULL ? job->mail_from : "";
	env.size = job->msg_size > 0 ? (unsigned long long)job->msg_size : 0;
	env.eightbit = job->eightbit;
	env.smtputf8 = job->smtputf8;
	env.auth_param = job->route->pass_auth_param ? job->auth_param : NULL;
	code = smtpc_transaction(c, &env, job->msg_fd, rr, job->nrcpts);
	for (i = 0; i < job->nrcpts; i++)
		rcpt_from(&job->rcpts[i], rr[i].code, rr[i].enh, rr[i].text);
	free(rr);
	if (code == 0)
		smtpc_quit(c);
	else
		smtpc_close(c);
	log_debug("deliver: id=%s hop=%s tls=\"%s\"",
	    job->id != NULL ? job->id : "-", job->hop, job->tls_info);
	return 0;
}

int
dlv_run(struct dlv_job *job)
{
	size_t i;

	job->hop[0] = '\0';
	str_copy(job->tls_info, "none", sizeof(job->tls_info));
	for (i = 0; i < job->nrcpts; i++)
		dlv_rcpt_set(&job->rcpts[i], DLV_TEMP, "4.3.0",
		    "451 4.3.0 not attempted");
	if (job->route == NULL) {
		for (i = 0; i < job->nrcpts; i++)
			dlv_rcpt_set(&job->rcpts[i], DLV_TEMP, "4.3.5",
			    "451 4.3.5 no route");
		return -1;
	}
	if (job->nrcpts == 0)
		return 0;
	switch (job->route->method) {
	case DLV_MAILDIR:
		return dlv_maildir(job);
	case DLV_LMTP:
		return dlv_lmtp(job);
	case DLV_SMTP:
		return dlv_smtp(job);
	case DLV_MX:
		return dlv_mx(job);
	case DLV_DISCARD:
		return dlv_discard(job);
	}
	for (i = 0; i < job->nrcpts; i++)
		dlv_rcpt_set(&job->rcpts[i], DLV_TEMP, "4.3.5",
		    "451 4.3.5 unknown delivery method");
	return -1;
}
