/*
 * smtp.c - the smarthost agent: one configured relay host, STARTTLS with
 * certificate verification unless the route says otherwise (tls=none must
 * be configured explicitly), AUTH with the route's credentials (never a
 * plaintext mechanism without TLS), AUTH= passed on only when the route
 * trusts the next hop. The password lives in a struct secret while used.
 */
#include <string.h>

#include "core/secret.h"
#include "core/str.h"
#include "deliver/agent_int.h"

enum smtpc_tls
dlv_tls_mode(enum dlv_tls t)
{
	switch (t) {
	case DLV_TLS_NONE:
		return SMTPC_TLS_NONE;
	case DLV_TLS_OPPORTUNISTIC:
		return SMTPC_TLS_OPPORTUNISTIC;
	case DLV_TLS_REQUIRED:
		break;
	case DLV_TLS_IMPLICIT:
		return SMTPC_TLS_IMPLICIT;
	}
	return SMTPC_TLS_REQUIRED;
}

int
dlv_relay_to(struct dlv_job *job, enum smtpc_proto proto)
{
	const struct dlv_route *rt = job->route;
	struct smtpc_session_opts so;
	struct smtp_reply oom;
	struct smtpc_opts o;
	struct secret *pw = NULL;
	struct smtpc *c;
	unsigned short port;
	int rc;

	reply_set_local(&oom, 451, "4.3.0", "out of memory");
	dlv_opts(job, proto, &o);
	c = smtpc_new(&o);
	if (c == NULL) {
		dlv_all_reply(job, &oom);
		return -1;
	}
	memset(&so, 0, sizeof(so));
	so.tls = dlv_tls_mode(rt->tls);
	so.ca_file = rt->ca_file;
	so.tls_name = rt->tls_name;
	so.auth_mechs = rt->auth_mechs;
	if (rt->auth_user[0] != '\0') {
		pw = secret_new(rt->auth_password,
		    strnlen(rt->auth_password, sizeof(rt->auth_password)));
		if (pw == NULL) {
			smtpc_free(c);
			dlv_all_reply(job, &oom);
			return -1;
		}
		so.auth_user = rt->auth_user;
		so.auth_password = pw;
	}
	if (proto == SMTPC_LMTP && rt->unix_path[0] != '\0') {
		rc = smtpc_connect_unix(c, rt->unix_path);
	} else {
		if (rt->port != 0)
			port = rt->port;
		else if (proto == SMTPC_LMTP)
			port = 24;
		else if (rt->tls == DLV_TLS_IMPLICIT)
			port = 465;
		else
			port = 25;
		rc = smtpc_connect_host(c, rt->host, port);
	}
	if (rc == 0)
		rc = dlv_converse(job, c, &so);
	if (rc == -1) {
		if (smtpc_hop(c)[0] != '\0')
			str_copy(job->hop, smtpc_hop(c), sizeof(job->hop));
		dlv_all_reply(job, smtpc_reply(c));
	}
	secret_free(pw);
	smtpc_free(c);
	return rc;
}

int
dlv_smtp(struct dlv_job *job)
{
	return dlv_relay_to(job, SMTPC_SMTP);
}
