/*
 * apppass.c - accounts with app passwords and device credentials (apppass.h)
 * and the pool plumbing the database drivers share. A verification pays
 * one hash per credential tried, stopping at the first match; an unknown
 * user pays the dummy hash. Network profiles are CIDR lists matched
 * against the client address by passdb.c (also for cached answers).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/apppass.h"
#include "auth/scheme.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/str.h"
#include "net/workpool.h"

static void
free_secret_str(char *s)
{
	if (s == NULL)
		return;
	secret_wipe(s, strlen(s));
	free(s);
}

void
account_free_fields(struct account *a)
{
	size_t i;

	free_secret_str(a->password);
	free_secret_str(a->scram_sha256);
	free_secret_str(a->scram_sha1);
	free_secret_str(a->cram_md5);
	for (i = 0; i < a->nsenders; i++)
		free(a->senders[i]);
	free(a->senders);
	for (i = 0; i < a->ncreds; i++) {
		free(a->creds[i].label);
		free_secret_str(a->creds[i].password);
		free(a->creds[i].networks);
		free(a->creds[i].sender);
	}
	memset(a, 0, sizeof(*a));
}

int
account_add_sender(struct account *a, const char *address)
{
	char **n;

	n = realloc(a->senders, (a->nsenders + 2) * sizeof(*n));
	if (n == NULL)
		return -1;
	a->senders = n;
	n[a->nsenders] = strdup(address);
	if (n[a->nsenders] == NULL) {
		n[a->nsenders] = NULL;
		return -1;
	}
	n[++a->nsenders] = NULL;
	return 0;
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL || s[0] == '\0')
		return 0;
	*out = strdup(s);
	return *out == NULL ? -1 : 0;
}

int
account_add_cred(struct account *a, const char *label, const char *password,
    const char *networks, const char *sender, unsigned int rate_cap,
    int tls_floor)
{
	struct account_cred *c;

	if (a->ncreds >= APPPASS_MAX || password == NULL || label == NULL)
		return -1;
	c = &a->creds[a->ncreds];
	memset(c, 0, sizeof(*c));
	if (dup_opt(label, &c->label) < 0 ||
	    dup_opt(password, &c->password) < 0 ||
	    dup_opt(networks, &c->networks) < 0 ||
	    dup_opt(sender, &c->sender) < 0 || c->password == NULL ||
	    c->label == NULL) {
		free(c->label);
		free_secret_str(c->password);
		free(c->networks);
		free(c->sender);
		memset(c, 0, sizeof(*c));
		return -1;
	}
	c->rate_cap = rate_cap;
	c->tls_floor = tls_floor;
	a->ncreds++;
	return 0;
}

enum passdb_status
apppass_verify(const struct account *a, const struct secret *password,
    int *matched_r, int *malformed_r)
{
	size_t i;
	int rc;

	*matched_r = -1;
	*malformed_r = 0;
	if (a == NULL) {
		pw_dummy_verify(password);
		return PASSDB_NO_USER;
	}
	if (a->password != NULL && a->password[0] != '\0') {
		rc = pw_verify(password, a->password);
		if (rc == 1)
			return a->disabled ? PASSDB_DISABLED : PASSDB_OK;
		if (rc < 0)
			*malformed_r = 1;
	} else if (a->ncreds == 0)
		pw_dummy_verify(password); /* same time as a wrong password */
	for (i = 0; i < a->ncreds; i++) {
		rc = pw_verify(password, a->creds[i].password);
		if (rc == 1) {
			*matched_r = (int)i;
			return a->disabled ? PASSDB_DISABLED : PASSDB_OK;
		}
		if (rc < 0)
			*malformed_r = 1;
	}
	return PASSDB_MISMATCH;
}

/* parse_ip - an IPv4 or IPv6 literal (brackets allowed) into 16 octets; family or -1. */
static int
parse_ip(const char *s, size_t len, unsigned char out[16])
{
	char buf[INET6_ADDRSTRLEN + 2];
	unsigned char v6[16];
	static const unsigned char mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (len > 0 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, v6) != 1)
		return -1;
	if (memcmp(v6, mapped, sizeof(mapped)) == 0) {
		memcpy(out, v6 + 12, 4);
		return AF_INET;
	}
	memcpy(out, v6, 16);
	return AF_INET6;
}

/* prefix_match - the first bits of a and b agree. */
static int
prefix_match(const unsigned char *a, const unsigned char *b, unsigned int bits)
{
	unsigned int full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
apppass_network_ok(const char *networks, const char *client_addr)
{
	unsigned char ca[16], na[16];
	const char *p, *slash, *end;
	unsigned long bits;
	int cfam, nfam, any = 0;

	if (networks == NULL)
		return 1;
	if (client_addr == NULL)
		return 0;
	cfam = parse_ip(client_addr, strlen(client_addr), ca);
	for (p = networks; *p != '\0'; p = end) {
		size_t toklen;
		char *e;

		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		end = p + strcspn(p, " \t,");
		toklen = (size_t)(end - p);
		any = 1;
		slash = memchr(p, '/', toklen);
		nfam = parse_ip(
		    p, slash != NULL ? (size_t)(slash - p) : toklen, na);
		if (nfam < 0 || nfam != cfam)
			continue;
		if (slash == NULL)
			bits = nfam == AF_INET ? 32 : 128;
		else {
			bits = strtoul(slash + 1, &e, 10);
			if (e != end || e == slash + 1 ||
			    bits > (nfam == AF_INET ? 32UL : 128UL))
				continue;
		}
		if (prefix_match(ca, na, (unsigned int)bits))
			return 1;
	}
	return any ? 0 : 1;
}

int
apppass_networks_valid(const char *networks)
{
	unsigned char na[16];
	const char *p, *slash, *end;
	unsigned long bits;
	int fam, n = 0;
	char *e;

	for (p = networks; *p != '\0'; p = end) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		end = p + strcspn(p, " \t,");
		slash = memchr(p, '/', (size_t)(end - p));
		fam = parse_ip(p,
		    slash != NULL ? (size_t)(slash - p) : (size_t)(end - p),
		    na);
		if (fam < 0)
			return 0;
		if (slash != NULL) {
			bits = strtoul(slash + 1, &e, 10);
			if (e != end || e == slash + 1 ||
			    bits > (fam == AF_INET ? 32UL : 128UL))
				return 0;
		}
		n++;
	}
	return n > 0;
}

void
apppass_generate(char *out, size_t outlen)
{
	/* 32 symbols without 0/o/1/l: 5 bits each, 20 symbols = 100 bits */
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
	unsigned char r[20];
	size_t i, o = 0;

	if (outlen == 0)
		return;
	rand_bytes(r, sizeof(r));
	for (i = 0; i < sizeof(r) && o + 1 < outlen; i++) {
		if (i > 0 && i % 5 == 0 && o + 2 < outlen)
			out[o++] = '-';
		out[o++] = alphabet[r[i] & 31];
	}
	out[o] = '\0';
	secret_wipe(r, sizeof(r));
}

/* ---------- pool plumbing ---------- */

enum account_job_kind {
	AJ_VERIFY,
	AJ_LOOKUP,
	AJ_EXISTS,
	AJ_UPDATE,
	AJ_TOUCH,
};

struct account_job {
	enum account_job_kind kind;
	struct passdb *db;
	const struct account_ops *ops;
	passdb_cb *cb;
	void *arg;
	char user[ACCOUNT_USER_MAX + 1];
	char scheme[64];
	char canon[ACCOUNT_USER_MAX + 1];
	struct secret *password;
	char *hash;
	char *scram;
	char *label;
	struct account a;
	enum passdb_status status;
	int matched;
	int malformed;
};

static void
job_free(struct account_job *j)
{
	account_free_fields(&j->a);
	secret_free(j->password);
	free_secret_str(j->hash);
	free_secret_str(j->scram);
	free(j->label);
	secret_wipe(j, sizeof(*j));
	free(j);
}

static void
job_work(void *arg)
{
	struct account_job *j = arg;

	switch (j->kind) {
	case AJ_VERIFY:
		j->status = j->ops->fetch(j->db, j->user, 1, &j->a);
		if (j->status == PASSDB_TEMPFAIL)
			return;
		j->status =
		    apppass_verify(j->status == PASSDB_OK ? &j->a : NULL,
		        j->password, &j->matched, &j->malformed);
		return;
	case AJ_LOOKUP:
		j->status = j->ops->fetch(j->db, j->user, 0, &j->a);
		return;
	case AJ_EXISTS:
		j->status =
		    j->ops->exists(j->db, j->user, j->canon, sizeof(j->canon));
		/* The sender policy asks exists() for the login's aliases. */
		if (j->status == PASSDB_OK &&
		    j->ops->fetch(j->db,
		        j->canon[0] != '\0' ? j->canon : j->user, 0,
		        &j->a) == PASSDB_TEMPFAIL)
			j->status = PASSDB_TEMPFAIL;
		return;
	case AJ_UPDATE:
		j->status = j->ops->store(j->db, j->user, j->hash, j->scram);
		return;
	case AJ_TOUCH:
		j->ops->touch(j->db, j->user, j->label);
		return;
	}
}

/* scheme_of - the scheme name of a stored "{NAME}data" / crypt string, or NULL. */
static const char *
scheme_of(const char *stored)
{
	const struct pw_scheme *s = pw_split(stored, NULL);

	return s != NULL ? s->name : NULL;
}

static void
done_verify(struct account_job *j, struct cred_result *r)
{
	const struct account_cred *c;
	char q[300];

	if (j->malformed)
		log_warn("%s: user=%s a stored password is malformed or of an "
		         "unknown scheme",
		    j->ops->name, log_q(q, sizeof(q), j->user, (size_t)-1));
	r->user = j->a.login[0] != '\0' ? j->a.login : j->user;
	if (j->status != PASSDB_OK && j->status != PASSDB_DISABLED)
		return;
	r->senders = (const char *const *)j->a.senders;
	if (j->a.must_change)
		r->flags |= CRED_MUST_CHANGE;
	if (j->ops->store != NULL)
		r->flags |= CRED_WRITABLE;
	if (j->matched < 0) {
		r->scheme = scheme_of(j->a.password);
		if (j->a.scram_sha256 == NULL || j->a.scram_sha256[0] == '\0')
			r->flags |= CRED_NO_SCRAM;
		return;
	}
	c = &j->a.creds[j->matched];
	r->flags |= CRED_APP_PASSWORD;
	r->scheme = scheme_of(c->password);
	r->credential = c->label;
	r->networks = c->networks;
	r->fixed_sender = c->sender;
	r->rate_cap = c->rate_cap;
	r->tls_floor = c->tls_floor;
}

/* stored_for - the stored value of scheme for a lookup; NULL if none. */
static const char *
stored_for(const struct account *a, const char *scheme)
{
	const char *data = NULL, *v = NULL;
	const struct pw_scheme *s;

	if (scheme == NULL)
		return NULL;
	if (str_ieq(scheme, "SCRAM-SHA-256"))
		v = a->scram_sha256;
	else if (str_ieq(scheme, "SCRAM-SHA-1"))
		v = a->scram_sha1;
	else if (str_ieq(scheme, "CRAM-MD5"))
		v = a->cram_md5;
	else if (a->password != NULL) {
		s = pw_split(a->password, &data);
		if (s != NULL && str_ieq(s->name, scheme))
			v = data;
	}
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static void
job_done(void *arg)
{
	struct account_job *j = arg;
	struct cred_result r;
	struct secret *sec = NULL;
	const char *v;

	memset(&r, 0, sizeof(r));
	r.status = j->status;
	r.user = j->user;
	switch (j->kind) {
	case AJ_VERIFY:
		done_verify(j, &r);
		break;
	case AJ_LOOKUP:
		if (j->status != PASSDB_OK)
			break;
		r.user = j->a.login;
		if (j->a.disabled)
			r.flags |= CRED_DISABLED;
		if (j->a.must_change)
			r.flags |= CRED_MUST_CHANGE;
		r.senders = (const char *const *)j->a.senders;
		v = stored_for(&j->a, j->scheme);
		if (v == NULL) {
			r.status = PASSDB_NO_SCHEME;
			break;
		}
		sec = secret_new(v, strlen(v));
		if (sec == NULL) {
			r.status = PASSDB_TEMPFAIL;
			break;
		}
		r.scheme = j->scheme;
		r.secret = sec;
		break;
	case AJ_EXISTS:
		if (j->status == PASSDB_OK && j->canon[0] != '\0')
			r.user = j->canon;
		if (j->status == PASSDB_OK) {
			r.senders = (const char *const *)j->a.senders;
			if (j->a.disabled)
				r.flags |= CRED_DISABLED;
		}
		break;
	case AJ_UPDATE:
	case AJ_TOUCH:
		/* our own write: not a change by the administrator */
		passdb_watch_rebase(j->db);
		break;
	}
	if (j->cb != NULL)
		j->cb(&r, j->arg);
	secret_free(sec);
	job_free(j);
}

static struct account_job *
job_new(struct passdb *db, const struct account_ops *ops,
    enum account_job_kind kind, const char *user, passdb_cb *cb, void *arg)
{
	struct account_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->kind = kind;
	j->db = db;
	j->ops = ops;
	j->cb = cb;
	j->arg = arg;
	j->matched = -1;
	(void)str_copy(j->user, user != NULL ? user : "", sizeof(j->user));
	return j;
}

/* job_submit - to the pool; on failure answer TEMPFAIL later. */
static void
job_submit(struct account_job *j, const char *user)
{
	struct cred_result r;
	struct passdb *db = j->db;
	passdb_cb *cb = j->cb;
	void *arg = j->arg;

	if (workpool_submit(db->pool, job_work, job_done, j) == 0)
		return;
	job_free(j);
	if (cb == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.status = PASSDB_TEMPFAIL;
	r.user = user;
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err("passdb: cannot schedule a reply; request dropped");
}

static void
fail_later(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	struct cred_result r;

	memset(&r, 0, sizeof(r));
	r.status = PASSDB_TEMPFAIL;
	r.user = user;
	if (cb != NULL && passdb_reply_later(db, &r, cb, arg) < 0)
		log_err("passdb: cannot schedule a reply; request dropped");
}

void
account_verify(struct passdb *db, const struct account_ops *ops,
    const struct passdb_request *req, passdb_cb *cb, void *arg)
{
	struct account_job *j = job_new(db, ops, AJ_VERIFY, req->user, cb, arg);

	if (j == NULL) {
		fail_later(db, req->user, cb, arg);
		return;
	}
	if (req->password != NULL)
		j->password =
		    secret_new(req->password->data, req->password->len);
	else
		j->password = secret_new("", 0);
	if (j->password == NULL) {
		job_free(j);
		fail_later(db, req->user, cb, arg);
		return;
	}
	job_submit(j, req->user);
}

void
account_lookup(struct passdb *db, const struct account_ops *ops,
    const char *user, const char *scheme, passdb_cb *cb, void *arg)
{
	struct account_job *j = job_new(db, ops, AJ_LOOKUP, user, cb, arg);

	if (j == NULL) {
		fail_later(db, user, cb, arg);
		return;
	}
	(void)str_copy(
	    j->scheme, scheme != NULL ? scheme : "", sizeof(j->scheme));
	job_submit(j, user);
}

void
account_exists(struct passdb *db, const struct account_ops *ops,
    const char *user, passdb_cb *cb, void *arg)
{
	struct account_job *j = job_new(db, ops, AJ_EXISTS, user, cb, arg);

	if (j == NULL) {
		fail_later(db, user, cb, arg);
		return;
	}
	job_submit(j, user);
}

void
account_update(struct passdb *db, const struct account_ops *ops,
    const char *user, const char *hash, const char *scram, passdb_cb *cb,
    void *arg)
{
	struct account_job *j = job_new(db, ops, AJ_UPDATE, user, cb, arg);
	int fail = j == NULL || ops->store == NULL;

	if (!fail && hash != NULL) {
		j->hash = strdup(hash);
		fail = j->hash == NULL;
	}
	if (!fail && scram != NULL) {
		j->scram = strdup(scram);
		fail = j->scram == NULL;
	}
	if (fail) {
		if (j != NULL)
			job_free(j);
		fail_later(db, user, cb, arg);
		return;
	}
	job_submit(j, user);
}

void
account_touch(struct passdb *db, const struct account_ops *ops,
    const char *user, const char *label)
{
	struct account_job *j;

	if (ops->touch == NULL || label == NULL)
		return;
	j = job_new(db, ops, AJ_TOUCH, user, NULL, NULL);
	if (j == NULL)
		return;
	j->label = strdup(label);
	if (j->label == NULL) {
		job_free(j);
		return;
	}
	job_submit(j, user);
}
