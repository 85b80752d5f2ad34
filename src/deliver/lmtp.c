/*
 * lmtp.c - the LMTP agent (RFC 2033): a UNIX socket (route->unix_path) or
 * TCP (route->host, port 24 by default); LHLO instead of EHLO and one
 * reply per accepted recipient after the final "." (§4.2), so each
 * recipient gets its own result. TLS and AUTH as the route says (usually
 * neither on a local socket).
 */
#include "deliver/agent_int.h"

int
dlv_lmtp(struct dlv_job *job)
{
	return dlv_relay_to(job, SMTPC_LMTP);
}
