/*
 * route.c - recipient domain to delivery route (DESIGN §6 [delivery]).
 * The relay settings were validated by config_load(); here they are only
 * split into the fields of struct dlv_route.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/str.h"
#include "queue/route.h"

static enum dlv_tls
relay_tls(int cfg_tls, enum dlv_tls dflt)
{
	switch (cfg_tls) {
	case CONFIG_RELAY_TLS_REQUIRED:
		return DLV_TLS_REQUIRED;
	case CONFIG_RELAY_TLS_OPPORTUNISTIC:
		return DLV_TLS_OPPORTUNISTIC;
	case CONFIG_RELAY_TLS_NONE:
		return DLV_TLS_NONE;
	default:
		return dflt;
	}
}

/* split_hostport - "host", "host:port", "[literal]", "[literal]:port". */
static void
split_hostport(const char *s, char *host, size_t hostlen, unsigned short *port)
{
	const char *colon;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		size_t n = close != NULL ? (size_t)(close - s) + 1 : strlen(s);

		if (n >= hostlen)
			n = hostlen - 1;
		memcpy(host, s, n);
		host[n] = '\0';
		colon = close != NULL && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			str_copy(host, s, hostlen);
		} else {
			size_t n = (size_t)(colon - s);

			if (n >= hostlen)
				n = hostlen - 1;
			memcpy(host, s, n);
			host[n] = '\0';
		}
	}
	if (colon != NULL)
		*port = (unsigned short)strtoul(colon + 1, NULL, 10);
}

int
queue_route(const struct config *cfg, const char *domain, struct dlv_route *out,
    char *key, size_t keylen)
{
	int n;

	memset(out, 0, sizeof(*out));
	out->connect_timeout_ms = cfg->connect_timeout_ms;
	out->command_timeout_ms = cfg->relay_command_timeout_ms;
	str_copy(out->resolver, cfg->resolver, sizeof(out->resolver));
	out->mx_port = (unsigned short)cfg->mx_port;
	out->self = cfg->listeners;
	out->nself = cfg->nlisteners;
	if (config_is_local_domain(cfg, domain)) {
		if (cfg->local_discard) {
			out->method = DLV_DISCARD;
			n = snprintf(key, keylen, "discard");
		} else if (cfg->local_lmtp[0] == '\0') {
			out->method = DLV_MAILDIR;
			str_copy(out->maildir_tmpl, cfg->maildir,
			    sizeof(out->maildir_tmpl));
			n = snprintf(key, keylen, "maildir");
		} else {
			out->method = DLV_LMTP;
			out->tls = DLV_TLS_NONE;
			if (strncmp(cfg->local_lmtp, "unix:", 5) == 0)
				str_copy(out->unix_path, cfg->local_lmtp + 5,
				    sizeof(out->unix_path));
			else
				split_hostport(cfg->local_lmtp, out->host,
				    sizeof(out->host), &out->port);
			n = snprintf(key, keylen, "lmtp:%s", cfg->local_lmtp);
		}
		return n < 0 || (size_t)n >= keylen ? -1 : 0;
	}
	if (strncmp(cfg->relay, "smtp://", 7) == 0 ||
	    strncmp(cfg->relay, "smtps://", 8) == 0) {
		int implicit = cfg->relay[4] == 's';

		out->method = DLV_SMTP;
		out->port = implicit ? 465 : 25;
		split_hostport(cfg->relay + (implicit ? 8 : 7), out->host,
		    sizeof(out->host), &out->port);
		out->tls = implicit
		    ? DLV_TLS_IMPLICIT
		    : relay_tls(cfg->relay_tls, DLV_TLS_REQUIRED);
		if (implicit && cfg->relay_tls == CONFIG_RELAY_TLS_NONE)
			out->tls =
			    DLV_TLS_NONE; /* operator's explicit choice */
		str_copy(out->ca_file, cfg->relay_ca, sizeof(out->ca_file));
		str_copy(
		    out->tls_name, cfg->relay_tls_name, sizeof(out->tls_name));
		str_copy(
		    out->auth_user, cfg->relay_user, sizeof(out->auth_user));
		str_copy(out->auth_password, cfg->relay_password,
		    sizeof(out->auth_password));
		str_copy(out->auth_mechs, cfg->relay_mechanisms,
		    sizeof(out->auth_mechs));
		out->pass_auth_param = cfg->relay_auth_param;
		n = snprintf(key, keylen, "smtp:%s:%u", out->host,
		    (unsigned int)out->port);
		return n < 0 || (size_t)n >= keylen ? -1 : 0;
	}
	out->method = DLV_MX;
	out->port = out->mx_port;
	out->tls = relay_tls(cfg->relay_tls, DLV_TLS_OPPORTUNISTIC);
	str_copy(out->ca_file, cfg->relay_ca, sizeof(out->ca_file));
	n = snprintf(key, keylen, "mx:%s", domain);
	if (n < 0 || (size_t)n >= keylen)
		return -1;
	str_lower(key);
	return 0;
}
