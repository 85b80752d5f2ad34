/*
 * passdb_ldap.c - the "ldap" passdb (OpenLDAP libldap), set by [ldap].
 * mode = bind: search the user's entry with the service identity, then bind
 * as that entry with the password (the directory checks it; caps VERIFY).
 * mode = password: fetch the password attribute ("{SCHEME}data") and verify
 * it here with pw_verify (caps LOOKUP | VERIFY).
 * libldap is used synchronously on the work pool; connections are kept in a
 * mutex-protected idle list, one in use per pool thread at most. A
 * connection that failed is dropped, and a dropped idle one is retried once
 * on a fresh connection, so a slapd restart costs no request. The login is
 * RFC 4515-escaped before it enters the filter; passwords are never logged.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ldap.h>

#include "auth/passdb.h"
#include "auth/passdb_ldap.h"
#include "auth/scheme.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"
#include "net/workpool.h"

#define LP_USER_MAX      320 /* an address: local@domain */
#define LP_FILTER_MAX    2048
#define LP_MAX_ALIASES   8    /* alias attribute names */
#define LP_MAX_SENDERS   64   /* sender addresses kept per user */
#define LP_VALUE_MAX     1024 /* longer attribute values are ignored */
#define LP_MAX_PASSWORDS 4    /* password attribute values tried */
#define LP_IDLE_MAX      16   /* idle connections kept */
#define LP_DUMMY_RDN     "cn=postern-no-such-entry"

struct lp_conn {
	LDAP *ld;
	int service_bound; /* bound as bind_dn (or anonymous) */
	struct lp_conn *next;
};

struct lp_priv {
	/* settings, read-only after open */
	char uri[512];
	int starttls;
	char ca_file[PATH_MAX];
	char bind_dn[512];
	struct secret *bind_pw; /* NULL: anonymous */
	char base[512];
	char filter[512];
	int mode; /* enum config_ldap_mode */
	char password_attr[64];
	char alias_buf[256];
	char *aliases[LP_MAX_ALIASES + 1];
	char disabled_attr[64];
	struct timeval timeout;
	char dummy_dn[600]; /* bind target for unknown users */

	pthread_mutex_t mtx; /* guards idle, nidle */
	struct lp_conn *idle;
	size_t nidle;

	int down; /* loop thread only: an outage was logged */
};

enum lp_op {
	LP_OP_VERIFY,
	LP_OP_LOOKUP,
	LP_OP_EXISTS,
};

/* One request travelling to the pool and back. */
struct lp_job {
	struct passdb *db;
	struct lp_priv *lp;
	enum lp_op op;
	passdb_cb *cb;
	void *arg;
	char user[LP_USER_MAX + 1];
	struct secret *password; /* verify */
	char scheme[64];         /* lookup: the scheme wanted */

	/* results, filled on the pool thread */
	enum passdb_status status;
	unsigned int flags;
	int contacted; /* the server answered */
	int malformed; /* password mode: no usable stored value */
	int ambiguous; /* the filter matched several entries */
	int toolong;   /* the login cannot name an entry */
	char found_scheme[64];
	struct secret *secret; /* lookup: the stored value without "{NAME}" */
	char *senders[LP_MAX_SENDERS + 1];
	char error[256]; /* for the log; never holds a secret */
};

/* ---------- RFC 4515 ---------- */

/*
 * RFC 4515 §3: valueencoding = 0*(normal / escaped); escaped = ESC HEX HEX.
 * Any octet may be escaped; we escape all but plain printable ASCII.
 */
size_t
passdb_ldap_escape(const char *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (outlen == 0)
		return (size_t)-1;
	for (i = 0; i < inlen; i++) {
		unsigned char ch = (unsigned char)in[i];
		int esc = ch < 0x20 || ch >= 0x7f || ch == '*' || ch == '(' ||
		    ch == ')' || ch == '\\';

		if (o + (esc ? 3 : 1) >= outlen) {
			out[0] = '\0';
			return (size_t)-1;
		}
		if (esc) {
			out[o++] = '\\';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 0x0f];
		} else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
	return o;
}

int
passdb_ldap_filter(
    const char *tmpl, const char *login, char *out, size_t outlen)
{
	char esc[LP_USER_MAX * 3 + 1];
	size_t o = 0, n;
	const char *t;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (passdb_ldap_escape(login, strlen(login), esc, sizeof(esc)) ==
	    (size_t)-1)
		return -1;
	n = strlen(esc);
	for (t = tmpl; *t != '\0'; t++) {
		if (*t == '%' && t[1] == 's') {
			if (o + n >= outlen)
				goto toolong;
			memcpy(out + o, esc, n);
			o += n;
			t++;
			continue;
		}
		if (*t == '%' && t[1] != '%')
			goto toolong;
		if (*t == '%')
			t++;
		if (o + 1 >= outlen)
			goto toolong;
		out[o++] = *t;
	}
	out[o] = '\0';
	return 0;

toolong:
	out[0] = '\0';
	return -1;
}

/* ---------- connections (pool threads) ---------- */

static void
lp_conn_free(struct lp_conn *c)
{
	if (c == NULL)
		return;
	if (c->ld != NULL)
		(void)ldap_unbind_ext_s(c->ld, NULL, NULL);
	free(c);
}

/* lp_broken - an error after which the connection cannot be trusted. */
static int
lp_broken(int rc)
{
	return rc < 0; /* client-side: server down, timeout, decoding... */
}

static void
lp_seterr(struct lp_job *j, LDAP *ld, const char *what, int rc)
{
	char *diag = NULL;

	/* the server's or libldap's detail ("TLS: peer cert untrusted") */
	if (ld != NULL &&
	    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) !=
	        LDAP_OPT_SUCCESS)
		diag = NULL;
	(void)snprintf(j->error, sizeof(j->error), "%s: %s (%d)%s%s", what,
	    ldap_err2string(rc), rc,
	    diag != NULL && diag[0] != '\0' ? ": " : "",
	    diag != NULL ? diag : "");
	ldap_memfree(diag);
}

/* lp_service_bind - bind c as bind_dn, or anonymously; an LDAP result code. */
static int
lp_service_bind(struct lp_priv *lp, struct lp_conn *c)
{
	struct berval cred;
	int rc;

	cred.bv_val = lp->bind_pw != NULL ? (char *)lp->bind_pw->data : NULL;
	cred.bv_len = lp->bind_pw != NULL ? lp->bind_pw->len : 0;
	rc = ldap_sasl_bind_s(
	    c->ld, lp->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		c->service_bound = 1;
	return rc;
}

/* lp_conn_new - connect (StartTLS if asked) and bind; NULL with j->error. */
static struct lp_conn *
lp_conn_new(struct lp_priv *lp, struct lp_job *j)
{
	struct lp_conn *c;
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
	int rc;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		(void)snprintf(j->error, sizeof(j->error), "out of memory");
		return NULL;
	}
	rc = ldap_initialize(&c->ld, lp->uri);
	if (rc != LDAP_SUCCESS) {
		lp_seterr(j, NULL, "initialize", rc);
		free(c);
		return NULL;
	}
	if (ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != 0 ||
	    ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != 0 ||
	    ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &lp->timeout) !=
	        0 ||
	    ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &lp->timeout) != 0 ||
	    ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != 0 ||
	    (lp->ca_file[0] != '\0' &&
	        ldap_set_option(
	            c->ld, LDAP_OPT_X_TLS_CACERTFILE, lp->ca_file) != 0) ||
	    ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != 0) {
		(void)snprintf(j->error, sizeof(j->error),
		    "cannot set connection options");
		lp_conn_free(c);
		return NULL;
	}
	if (lp->starttls) {
		rc = ldap_start_tls_s(c->ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			lp_seterr(j, c->ld, "StartTLS", rc);
			lp_conn_free(c);
			return NULL;
		}
	}
	rc = lp_service_bind(lp, c);
	if (rc != LDAP_SUCCESS) {
		lp_seterr(j, c->ld, "service bind", rc);
		lp_conn_free(c);
		return NULL;
	}
	return c;
}

/* lp_conn_get - an idle connection (*fresh = 0) or a new one (*fresh = 1). */
static struct lp_conn *
lp_conn_get(struct lp_priv *lp, struct lp_job *j, int force_new, int *fresh)
{
	struct lp_conn *c = NULL;

	if (!force_new) {
		pthread_mutex_lock(&lp->mtx);
		c = lp->idle;
		if (c != NULL) {
			lp->idle = c->next;
			lp->nidle--;
		}
		pthread_mutex_unlock(&lp->mtx);
	}
	*fresh = c == NULL;
	if (c == NULL)
		return lp_conn_new(lp, j);
	c->next = NULL;
	return c;
}

static void
lp_conn_put(struct lp_priv *lp, struct lp_conn *c)
{
	pthread_mutex_lock(&lp->mtx);
	if (lp->nidle < LP_IDLE_MAX) {
		c->next = lp->idle;
		lp->idle = c;
		lp->nidle++;
		c = NULL;
	}
	pthread_mutex_unlock(&lp->mtx);
	lp_conn_free(c);
}

/* ---------- one request (pool threads) ---------- */

/* lp_yes - the disabled attribute's "true" spellings. */
static int
lp_yes(const struct berval *v)
{
	static const char *const yes[] = {
	    "true", "yes", "y", "1", "on", "disabled", "locked"};
	char buf[16];
	size_t i;

	if (v->bv_len == 0 || v->bv_len >= sizeof(buf))
		return 0;
	memcpy(buf, v->bv_val, v->bv_len);
	buf[v->bv_len] = '\0';
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (str_ieq(buf, yes[i]))
			return 1;
	return 0;
}

/* lp_plain_value - v as a C string if it is short printable ASCII; else NULL. */
static char *
lp_plain_value(const struct berval *v)
{
	char *s;

	if (v->bv_len == 0 || v->bv_len > LP_VALUE_MAX ||
	    !str_is_printable_ascii(v->bv_val, v->bv_len))
		return NULL;
	s = malloc(v->bv_len + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, v->bv_val, v->bv_len);
	s[v->bv_len] = '\0';
	return s;
}

/* lp_collect - senders and the disabled flag from entry e. */
static void
lp_collect(struct lp_priv *lp, LDAP *ld, LDAPMessage *e, struct lp_job *j)
{
	struct berval **vals;
	size_t a, i, n = 0;

	for (a = 0; lp->aliases[a] != NULL; a++) {
		vals = ldap_get_values_len(ld, e, lp->aliases[a]);
		for (i = 0; vals != NULL && vals[i] != NULL; i++) {
			if (n >= LP_MAX_SENDERS)
				break;
			if (memchr(vals[i]->bv_val, ' ', vals[i]->bv_len) !=
			    NULL)
				continue;
			j->senders[n] = lp_plain_value(vals[i]);
			if (j->senders[n] != NULL)
				n++;
		}
		ldap_value_free_len(vals);
	}
	j->senders[n] = NULL;
	if (lp->disabled_attr[0] == '\0')
		return;
	vals = ldap_get_values_len(ld, e, lp->disabled_attr);
	for (i = 0; vals != NULL && vals[i] != NULL; i++)
		if (lp_yes(vals[i]))
			j->flags |= CRED_DISABLED;
	ldap_value_free_len(vals);
}

/*
 * lp_search - the user's entry (at most one). Returns an LDAP result code;
 * LDAP_SUCCESS with *res = NULL: no such user (or several: j->ambiguous).
 */
static int
lp_search(
    struct lp_priv *lp, struct lp_conn *c, struct lp_job *j, LDAPMessage **res)
{
	static char no_attrs[] = LDAP_NO_ATTRS;
	char filter[LP_FILTER_MAX];
	char *attrs[LP_MAX_ALIASES + 4];
	size_t na = 0, a;
	int rc, n;
	struct timeval tv = lp->timeout;

	*res = NULL;
	if (passdb_ldap_filter(lp->filter, j->user, filter, sizeof(filter)) <
	    0) {
		/* a login too long for any filter cannot name an entry */
		return LDAP_SUCCESS;
	}
	if (j->op != LP_OP_EXISTS) {
		if (lp->mode == CONFIG_LDAP_PASSWORD)
			attrs[na++] = lp->password_attr;
		for (a = 0; lp->aliases[a] != NULL; a++)
			attrs[na++] = lp->aliases[a];
		if (lp->disabled_attr[0] != '\0')
			attrs[na++] = lp->disabled_attr;
	}
	if (na == 0)
		attrs[na++] = no_attrs;
	attrs[na] = NULL;
	if (!c->service_bound) {
		rc = lp_service_bind(lp, c);
		if (rc != LDAP_SUCCESS) {
			lp_seterr(j, c->ld, "service bind", rc);
			return rc;
		}
	}
	rc = ldap_search_ext_s(c->ld, lp->base, LDAP_SCOPE_SUBTREE, filter,
	    attrs, 0, NULL, NULL, &tv, 2, res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED) {
		j->ambiguous = 1;
		ldap_msgfree(*res);
		*res = NULL;
		return LDAP_SUCCESS;
	}
	if (rc != LDAP_SUCCESS) {
		lp_seterr(j, c->ld, "search", rc);
		ldap_msgfree(*res);
		*res = NULL;
		return rc; /* LDAP_NO_SUCH_OBJECT too: the base is wrong */
	}
	n = ldap_count_entries(c->ld, *res);
	if (n != 1) {
		j->ambiguous = n > 1;
		ldap_msgfree(*res);
		*res = NULL;
	}
	return LDAP_SUCCESS;
}

/* lp_user_bind - bind as dn with the password; an LDAP result code. */
static int
lp_user_bind(struct lp_conn *c, const char *dn, const struct secret *pw)
{
	struct berval cred;

	cred.bv_val = (char *)pw->data;
	cred.bv_len = pw->len;
	c->service_bound = 0; /* whatever happens, it is not the service now */
	return ldap_sasl_bind_s(
	    c->ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

/* lp_stored - the usable password values of e, at most LP_MAX_PASSWORDS. */
static size_t
lp_stored(
    struct lp_priv *lp, LDAP *ld, LDAPMessage *e, char *out[LP_MAX_PASSWORDS])
{
	struct berval **vals;
	size_t i, n = 0;

	vals = ldap_get_values_len(ld, e, lp->password_attr);
	for (i = 0; vals != NULL && vals[i] != NULL && n < LP_MAX_PASSWORDS;
	     i++) {
		out[n] = lp_plain_value(vals[i]);
		if (out[n] != NULL)
			n++;
	}
	ldap_value_free_len(vals);
	return n;
}

static void
lp_free_stored(char *v[LP_MAX_PASSWORDS], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		secret_wipe(v[i], strlen(v[i]));
		free(v[i]);
	}
}

/*
 * lp_run - one attempt of job j on connection c. Returns the LDAP code of
 * a failure that makes the answer TEMPFAIL, or LDAP_SUCCESS with j->status
 * set. Slow hashing happens after *c is handed back (set to NULL).
 */
static int
lp_run(struct lp_priv *lp, struct lp_conn **cp, struct lp_job *j)
{
	struct lp_conn *c = *cp;
	LDAPMessage *res = NULL, *e;
	char *stored[LP_MAX_PASSWORDS], *dn = NULL;
	size_t nstored = 0, i;
	const char *data;
	int rc, vr, matched = 0;

	rc = lp_search(lp, c, j, &res);
	if (rc != LDAP_SUCCESS)
		return rc;
	j->contacted = 1;
	e = res != NULL ? ldap_first_entry(c->ld, res) : NULL;
	if (e != NULL && j->op != LP_OP_EXISTS)
		lp_collect(lp, c->ld, e, j);

	switch (j->op) {
	case LP_OP_EXISTS:
		j->status = e != NULL ? PASSDB_OK : PASSDB_NO_USER;
		break;

	case LP_OP_LOOKUP:
		if (e == NULL) {
			j->status = PASSDB_NO_USER;
			break;
		}
		nstored = lp_stored(lp, c->ld, e, stored);
		j->status = PASSDB_NO_SCHEME;
		for (i = 0; i < nstored; i++) {
			if (pw_split_name(stored[i], j->found_scheme,
			        sizeof(j->found_scheme), &data) < 0 ||
			    !str_ieq(j->found_scheme, j->scheme))
				continue;
			j->secret = secret_new(data, strlen(data));
			j->status =
			    j->secret != NULL ? PASSDB_OK : PASSDB_TEMPFAIL;
			break;
		}
		if (j->status != PASSDB_OK)
			j->found_scheme[0] = '\0';
		lp_free_stored(stored, nstored);
		break;

	case LP_OP_VERIFY:
		if (lp->mode == CONFIG_LDAP_PASSWORD) {
			if (e != NULL)
				nstored = lp_stored(lp, c->ld, e, stored);
			ldap_msgfree(res);
			res = NULL;
			*cp =
			    NULL; /* hand the connection back before hashing */
			lp_conn_put(lp, c);
			if (e == NULL || nstored == 0) {
				pw_dummy_verify(j->password);
				j->status = e == NULL ? PASSDB_NO_USER
				                      : PASSDB_MISMATCH;
				j->malformed = e != NULL;
				break;
			}
			for (i = 0; i < nstored && !matched; i++) {
				vr = pw_verify(j->password, stored[i]);
				matched = vr == 1;
				if (vr < 0)
					j->malformed = 1;
			}
			lp_free_stored(stored, nstored);
			if (matched)
				j->malformed = 0;
			j->status = matched ? PASSDB_OK : PASSDB_MISMATCH;
			break;
		}
		/* mode = bind: the directory verifies */
		if (e != NULL)
			dn = ldap_get_dn(c->ld, e);
		if (e != NULL && dn == NULL) {
			(void)snprintf(
			    j->error, sizeof(j->error), "entry without a DN");
			ldap_msgfree(res);
			return LDAP_DECODING_ERROR;
		}
		/* Unknown user: a bind that fails the same way, same time. */
		rc = lp_user_bind(
		    c, dn != NULL ? dn : lp->dummy_dn, j->password);
		ldap_memfree(dn);
		if (rc == LDAP_SUCCESS && e != NULL)
			j->status = PASSDB_OK;
		else if (rc == LDAP_SUCCESS || rc == LDAP_INVALID_CREDENTIALS ||
		    rc == LDAP_INAPPROPRIATE_AUTH ||
		    rc == LDAP_UNWILLING_TO_PERFORM ||
		    rc == LDAP_NO_SUCH_OBJECT)
			j->status =
			    e != NULL ? PASSDB_MISMATCH : PASSDB_NO_USER;
		else {
			lp_seterr(j, c->ld, "user bind", rc);
			ldap_msgfree(res);
			return rc;
		}
		break;
	}
	ldap_msgfree(res);
	if (j->status == PASSDB_OK && (j->flags & CRED_DISABLED) &&
	    j->op == LP_OP_VERIFY)
		j->status = PASSDB_DISABLED;
	return LDAP_SUCCESS;
}

/* lp_work - on a pool thread: run j, on a fresh connection if an idle one was stale. */
static void
lp_work(void *arg)
{
	struct lp_job *j = arg;
	struct lp_priv *lp = j->lp;
	struct lp_conn *c;
	int attempt, fresh = 0, rc = LDAP_OTHER;

	j->status = PASSDB_TEMPFAIL;
	if (j->op == LP_OP_VERIFY && j->password->len == 0) {
		/* RFC 4513 §5.1.2: an empty password is an unauthenticated
		 * bind that "succeeds"; never send one. */
		j->status = PASSDB_MISMATCH;
		return;
	}
	if (j->toolong) {
		if (j->op == LP_OP_VERIFY)
			pw_dummy_verify(j->password);
		j->status = PASSDB_NO_USER;
		return;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		c = lp_conn_get(lp, j, attempt > 0, &fresh);
		if (c == NULL)
			return; /* TEMPFAIL, j->error says why */
		rc = lp_run(lp, &c, j);
		if (rc > 0)
			j->contacted =
			    1; /* the server answered, with an error */
		if (rc == LDAP_SUCCESS) {
			if (c != NULL)
				lp_conn_put(lp, c);
			return;
		}
		if (c != NULL && lp_broken(rc)) {
			lp_conn_free(c);
			c = NULL;
		} else if (c != NULL)
			lp_conn_put(lp, c);
		/* a stale idle connection (slapd restarted): once more, fresh;
		 * not after a timeout: a hung server would double the wait */
		if (fresh ||
		    (rc != LDAP_SERVER_DOWN && rc != LDAP_CONNECT_ERROR))
			break;
		j->error[0] = '\0';
		for (size_t i = 0; j->senders[i] != NULL; i++) {
			free(j->senders[i]);
			j->senders[i] = NULL;
		}
		j->flags = 0;
		j->ambiguous = 0;
	}
	j->status = PASSDB_TEMPFAIL;
}

/* ---------- the loop side ---------- */

static void
lp_job_free(struct lp_job *j)
{
	size_t i;

	for (i = 0; j->senders[i] != NULL; i++)
		free(j->senders[i]);
	secret_free(j->password);
	secret_free(j->secret);
	secret_wipe(j, sizeof(*j));
	free(j);
}

/* lp_done - on the loop: log what needs logging, answer, free. */
static void
lp_done(void *arg)
{
	struct lp_job *j = arg;
	struct lp_priv *lp = j->lp;
	struct cred_result r;
	char q[LP_USER_MAX * 4 + 8], eq[300];

	if (j->status == PASSDB_TEMPFAIL && !j->contacted) {
		if (!lp->down)
			log_err("ldap: uri=%s unavailable: %s; answering "
			        "temporary failures",
			    log_q(eq, sizeof(eq), lp->uri, (size_t)-1),
			    log_q(q, sizeof(q), j->error, (size_t)-1));
		lp->down = 1;
	} else if (j->status == PASSDB_TEMPFAIL)
		log_warn("ldap: user=%s %s",
		    log_q(q, sizeof(q), j->user, (size_t)-1),
		    log_q(eq, sizeof(eq), j->error, (size_t)-1));
	else if (lp->down) {
		log_info("ldap: uri=%s reachable again",
		    log_q(eq, sizeof(eq), lp->uri, (size_t)-1));
		lp->down = 0;
	}
	if (j->ambiguous)
		log_warn("ldap: user=%s the filter matches several entries; "
		         "treated as unknown",
		    log_q(q, sizeof(q), j->user, (size_t)-1));
	if (j->malformed && j->status != PASSDB_OK)
		log_warn("ldap: user=%s no %s value of a known scheme",
		    log_q(q, sizeof(q), j->user, (size_t)-1),
		    lp->password_attr);
	memset(&r, 0, sizeof(r));
	r.status = j->status;
	r.user = j->user;
	r.flags = j->status == PASSDB_TEMPFAIL ? 0 : j->flags;
	if (j->op == LP_OP_VERIFY)
		r.flags &= ~(unsigned int)CRED_DISABLED; /* status says it */
	if (j->status == PASSDB_OK || j->status == PASSDB_DISABLED)
		r.senders = (const char *const *)j->senders;
	if (j->secret != NULL) {
		r.scheme = j->found_scheme;
		r.secret = j->secret;
	}
	j->cb(&r, j->arg);
	lp_job_free(j);
}

/* lp_submit - a job for op; answers TEMPFAIL (later) when it cannot start. */
static void
lp_submit(struct passdb *db, enum lp_op op, const char *user,
    const struct secret *password, const char *scheme, passdb_cb *cb, void *arg)
{
	struct lp_job *j;
	struct cred_result r;

	memset(&r, 0, sizeof(r));
	r.user = user;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		goto tempfail;
	j->db = db;
	j->lp = db->priv;
	j->op = op;
	j->cb = cb;
	j->arg = arg;
	/* no entry can have a longer login: answered without a search */
	if (user == NULL ||
	    str_copy(j->user, user, sizeof(j->user)) >= sizeof(j->user))
		j->toolong = 1;
	if (op == LP_OP_VERIFY) {
		j->password = password != NULL
		    ? secret_new(password->data, password->len)
		    : secret_new("", 0);
		if (j->password == NULL)
			goto tempfail;
	}
	if (scheme != NULL)
		(void)str_copy(j->scheme, scheme, sizeof(j->scheme));
	if (workpool_submit(db->pool, lp_work, lp_done, j) < 0)
		goto tempfail;
	return;

tempfail:
	if (j != NULL)
		lp_job_free(j);
	r.status = PASSDB_TEMPFAIL;
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err("ldap: cannot schedule a reply; request dropped");
}

static void
lp_verify(struct passdb *db, const char *user, const struct secret *password,
    passdb_cb *cb, void *arg)
{
	lp_submit(db, LP_OP_VERIFY, user, password, NULL, cb, arg);
}

static void
lp_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg)
{
	struct lp_priv *lp = db->priv;
	struct cred_result r;

	if (lp->mode != CONFIG_LDAP_PASSWORD || scheme == NULL) {
		memset(&r, 0, sizeof(r));
		r.status = PASSDB_NO_SCHEME;
		r.user = user;
		if (passdb_reply_later(db, &r, cb, arg) < 0)
			log_err("ldap: cannot schedule a reply; request "
			        "dropped");
		return;
	}
	lp_submit(db, LP_OP_LOOKUP, user, NULL, scheme, cb, arg);
}

static void
lp_exists(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	lp_submit(db, LP_OP_EXISTS, user, NULL, NULL, cb, arg);
}

/* ---------- open, reload, close ---------- */

/* lp_read_password - first line of path into a secret; 0 or -1 with err. */
static int
lp_read_password(
    const char *path, struct secret **out, char *err, size_t errlen)
{
	char buf[512];
	size_t n;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL) {
		(void)snprintf(err, errlen, "ldap: bind_password_file %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	(void)fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	*out = n > 0 ? secret_new(buf, n) : NULL;
	secret_wipe(buf, sizeof(buf));
	if (n == 0) {
		(void)snprintf(
		    err, errlen, "ldap: bind_password_file %s is empty", path);
		return -1;
	}
	if (*out == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void
lp_drop_idle(struct lp_priv *lp)
{
	struct lp_conn *c, *next;

	pthread_mutex_lock(&lp->mtx);
	c = lp->idle;
	lp->idle = NULL;
	lp->nidle = 0;
	pthread_mutex_unlock(&lp->mtx);
	for (; c != NULL; c = next) {
		next = c->next;
		lp_conn_free(c);
	}
}

static void
lp_priv_free(struct lp_priv *lp)
{
	lp_drop_idle(lp);
	secret_free(lp->bind_pw);
	pthread_mutex_destroy(&lp->mtx);
	free(lp);
}

/* The same driver without LOOKUP, installed by open() for mode = bind. */
static const struct passdb_driver lp_driver_bind;

static int
lp_open(struct passdb *db, const char *arg, char *err, size_t errlen)
{
	const struct config *cfg = db->cfg;
	struct lp_priv *lp;
	LDAP *ld = NULL;
	char *tok, *save = NULL;
	size_t n = 0;
	int rc;

	(void)arg;
	if (cfg == NULL || cfg->ldap_uri[0] == '\0' ||
	    cfg->ldap_base[0] == '\0') {
		(void)snprintf(err, errlen,
		    "ldap: [ldap] uri and base are "
		    "required");
		return -1;
	}
	lp = calloc(1, sizeof(*lp));
	if (lp == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pthread_mutex_init(&lp->mtx, NULL) != 0) {
		free(lp);
		(void)snprintf(err, errlen, "ldap: cannot create a mutex");
		return -1;
	}
	(void)str_copy(lp->uri, cfg->ldap_uri, sizeof(lp->uri));
	lp->starttls = cfg->ldap_starttls;
	(void)str_copy(lp->ca_file, cfg->ldap_ca_file, sizeof(lp->ca_file));
	(void)str_copy(lp->bind_dn, cfg->ldap_bind_dn, sizeof(lp->bind_dn));
	(void)str_copy(lp->base, cfg->ldap_base, sizeof(lp->base));
	(void)str_copy(lp->filter, cfg->ldap_filter, sizeof(lp->filter));
	lp->mode = cfg->ldap_mode;
	(void)str_copy(lp->password_attr, cfg->ldap_password_attribute,
	    sizeof(lp->password_attr));
	(void)str_copy(lp->disabled_attr, cfg->ldap_disabled_attribute,
	    sizeof(lp->disabled_attr));
	(void)str_copy(
	    lp->alias_buf, cfg->ldap_alias_attribute, sizeof(lp->alias_buf));
	for (tok = strtok_r(lp->alias_buf, " \t", &save);
	     tok != NULL && n < LP_MAX_ALIASES;
	     tok = strtok_r(NULL, " \t", &save))
		lp->aliases[n++] = tok;
	lp->aliases[n] = NULL;
	lp->timeout.tv_sec = cfg->ldap_timeout_ms / 1000;
	lp->timeout.tv_usec = (suseconds_t)(cfg->ldap_timeout_ms % 1000) * 1000;
	if (cfg->ldap_timeout_ms == 0)
		lp->timeout.tv_sec = 5;
	(void)snprintf(
	    lp->dummy_dn, sizeof(lp->dummy_dn), LP_DUMMY_RDN ",%s", lp->base);
	if (cfg->ldap_bind_password_file[0] != '\0' &&
	    lp_read_password(
	        cfg->ldap_bind_password_file, &lp->bind_pw, err, errlen) < 0) {
		lp_priv_free(lp);
		return -1;
	}
	/* parse the URI now (no network): a typo fails at start-up */
	rc = ldap_initialize(&ld, lp->uri);
	if (rc != LDAP_SUCCESS) {
		(void)snprintf(err, errlen, "ldap: uri %s: %s", lp->uri,
		    ldap_err2string(rc));
		lp_priv_free(lp);
		return -1;
	}
	(void)ldap_unbind_ext_s(ld, NULL, NULL);
	if (lp->mode == CONFIG_LDAP_PASSWORD &&
	    passdb_ldap_filter(lp->filter, "x", err, errlen) < 0) {
		(void)snprintf(err, errlen, "ldap: bad filter");
		lp_priv_free(lp);
		return -1;
	}
	db->priv = lp;
	if (lp->mode == CONFIG_LDAP_BIND)
		db->driver = &lp_driver_bind;
	log_info("ldap: uri=%s base=%s mode=%s%s", lp->uri, lp->base,
	    lp->mode == CONFIG_LDAP_BIND ? "bind" : "password",
	    lp->starttls ? " starttls=yes" : "");
	return 0;
}

static int
lp_reload(struct passdb *db, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	lp_drop_idle(db->priv); /* reconnect on the next request */
	return 0;
}

static void
lp_close(struct passdb *db)
{
	if (db->priv == NULL)
		return;
	lp_priv_free(db->priv);
	db->priv = NULL;
}

const struct passdb_driver passdb_driver_ldap = {
    .name = "ldap",
    .caps = PASSDB_CAN_LOOKUP | PASSDB_CAN_VERIFY,
    .open = lp_open,
    .lookup = lp_lookup,
    .verify = lp_verify,
    .exists = lp_exists,
    .reload = lp_reload,
    .close = lp_close,
};

static const struct passdb_driver lp_driver_bind = {
    .name = "ldap",
    .caps = PASSDB_CAN_VERIFY,
    .open = lp_open,
    .lookup = lp_lookup,
    .verify = lp_verify,
    .exists = lp_exists,
    .reload = lp_reload,
    .close = lp_close,
};
