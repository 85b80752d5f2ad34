/*
 * agent_int.h - what the delivery agents share (private to src/deliver):
 * result bookkeeping and the SMTP/LMTP conversation on a connected client.
 */
#ifndef POSTERN_DELIVER_AGENT_INT_H
#define POSTERN_DELIVER_AGENT_INT_H

#include "deliver/agent.h"
#include "deliver/smtp_client.h"

/* The agents, one per enum dlv_method; each returns as dlv_run(). */
int dlv_maildir(struct dlv_job *job);
int dlv_lmtp(struct dlv_job *job);
int dlv_smtp(struct dlv_job *job);
int dlv_mx(struct dlv_job *job);
int dlv_discard(struct dlv_job *job);

/* dlv_status_of - 2xx OK, 5xx PERM, anything else TEMP. */
enum dlv_status dlv_status_of(int code);

/*
 * dlv_rcpt_set - result of one recipient: status, enhanced code (NULL or
 * "" = derived from status) and a reason (sanitised, bounded).
 */
void dlv_rcpt_set(struct dlv_rcpt *r, enum dlv_status st, const char *dsn,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* dlv_all_reply - every recipient gets reply r (ours or the next hop's). */
void dlv_all_reply(struct dlv_job *job, const struct smtp_reply *r);

/* dlv_opts - client options from job and its route. */
void dlv_opts(
    const struct dlv_job *job, enum smtpc_proto proto, struct smtpc_opts *out);

/*
 * dlv_converse - on a connected client: session set-up per so, then (if
 * that worked) the transaction and QUIT. Fills job->hop, job->tls_info
 * and, when the transaction ran, every recipient. Returns 0 when the
 * transaction ran; -1 when the session failed before MAIL (then nothing
 * is filled except hop/tls_info and c's reply says why).
 */
int dlv_converse(
    struct dlv_job *job, struct smtpc *c, const struct smtpc_session_opts *so);

/* dlv_tls_mode - the client's TLS policy for a route's. */
enum smtpc_tls dlv_tls_mode(enum dlv_tls t);

/*
 * dlv_relay_to - deliver job to the single next hop of its route (smtp.c):
 * the smarthost (SMTP) or the LMTP server (UNIX socket or TCP).
 */
int dlv_relay_to(struct dlv_job *job, enum smtpc_proto proto);

#endif
