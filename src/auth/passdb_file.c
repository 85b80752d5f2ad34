/*
 * passdb_file.c - the "passwd-file" driver: a Dovecot-compatible passwd-file
 * loaded into a hash table keyed by the lower-cased login. Hashing runs on
 * the work pool with a copy of the stored hash, so pool threads never see
 * the table. The file is re-read on reload and, at most once a second, when
 * its inode, size or mtime changed; a broken file keeps the old data.
 * Extra fields honoured: "nologin" and "disabled=y" (after the right password);
 * "scram-sha-256=", "scram-sha-1=" and "cram-md5=" carry the credentials
 * those mechanisms need beside the main password (pf_extra_cred).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <pthread.h>

#include "auth/passdb.h"
#include "auth/scheme.h"
#include "auth/userfile.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"
#include "net/workpool.h"

#define PF_USER_MAX    255
#define PF_EXTRA_FIELD 5 /* ':' separators in rest before extra fields */

struct pf_user {
	char *key;      /* lower-cased login */
	char *user;     /* as written in the file */
	char *password; /* stored value; wiped on free */
	int disabled;
	struct pf_user *next;
	char *extra; /* extra fields as written ("cert=sha256:..."), or NULL */
};

struct pf_table {
	struct pf_user **buckets;
	size_t nbuckets; /* power of two */
	size_t nusers;
};

struct pf_stat {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct pf_priv {
	char path[PATH_MAX];
	struct pf_table *t;
	struct pf_stat st;
	time_t last_check; /* monotonic seconds */
	int stat_warned;
};

/* One verification travelling to the pool and back. */
struct pf_job {
	passdb_cb *cb;
	void *arg;
	struct secret *password;
	struct secret *stored; /* NULL: unknown user, dummy hash */
	char user[PF_USER_MAX + 1];
	int disabled;
	int no_scram;    /* no SCRAM-SHA-256 keys stored for the user */
	char scheme[40]; /* scheme of the main password */
	enum passdb_status status;
	int malformed;
};

/* One credential upgrade (SCRAM migration, rehash) travelling to the pool. */
struct pf_update {
	struct passdb *db;
	passdb_cb *cb;
	void *arg;
	char user[PF_USER_MAX + 1];
	char *hash;  /* new main password, or NULL */
	char *scram; /* new scram-sha-256 record, or NULL */
	enum passdb_status status;
	char err[256];
};

/* Rewrites of the users file by the server are serialised here; the CLI
 * rewrites atomically too (rename), so readers never see half a file. */
static pthread_mutex_t pf_write_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t
pf_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
pf_table_free(struct pf_table *t)
{
	struct pf_user *u, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		for (u = t->buckets[i]; u != NULL; u = next) {
			next = u->next;
			free(u->key);
			free(u->user);
			if (u->extra != NULL) {
				/* may hold SCRAM keys or a CRAM-MD5 context */
				secret_wipe(u->extra, strlen(u->extra));
				free(u->extra);
			}
			if (u->password != NULL) {
				secret_wipe(u->password, strlen(u->password));
				free(u->password);
			}
			free(u);
		}
	}
	free(t->buckets);
	free(t);
}

/* pf_key - lower-cased copy of user into key (PF_USER_MAX + 1); 0 or -1 if too long. */
static int
pf_key(const char *user, char *key)
{
	if (user == NULL || str_copy(key, user, PF_USER_MAX + 1) > PF_USER_MAX)
		return -1;
	(void)str_lower(key);
	return 0;
}

static struct pf_user *
pf_find(const struct pf_table *t, const char *user)
{
	char key[PF_USER_MAX + 1];
	struct pf_user *u;

	if (t == NULL || t->nbuckets == 0 || pf_key(user, key) < 0)
		return NULL;
	u = t->buckets[pf_hash(key) & (t->nbuckets - 1)];
	for (; u != NULL; u = u->next) {
		if (strcmp(u->key, key) == 0)
			return u;
	}
	return NULL;
}

/* yes_value - Dovecot's boolean spellings. */
static int
yes_value(const char *v)
{
	return str_ieq(v, "y") || str_ieq(v, "yes") || str_ieq(v, "1") ||
	    str_ieq(v, "true");
}

/*
 * pf_disabled - rest = uid:gid:gecos:home:shell:extra_fields, extra fields
 * space separated; "nologin", "nologin=y", "disabled", "disabled=y".
 */
static int
pf_disabled(const char *rest)
{
	char buf[1024], *tok, *save = NULL, *eq;
	const char *p = rest;
	int i;

	for (i = 0; i < PF_EXTRA_FIELD; i++) {
		p = strchr(p, ':');
		if (p == NULL)
			return 0;
		p++;
	}
	(void)str_copy(buf, p, sizeof(buf));
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		eq = strchr(tok, '=');
		if (eq != NULL)
			*eq = '\0';
		if (!str_ieq(tok, "nologin") && !str_ieq(tok, "disabled"))
			continue;
		if (eq == NULL || yes_value(eq + 1))
			return 1;
	}
	return 0;
}

/* pf_keep_extra - remember the extra fields for find_by_field (ENOMEM: none). */
static void
pf_keep_extra(struct pf_user *u, const char *rest)
{
	const char *p = rest;
	int i;

	for (i = 0; p != NULL && i < PF_EXTRA_FIELD; i++) {
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	if (p != NULL && *p != '\0')
		u->extra = strdup(p);
}

/* pf_build - hash table from a loaded userfile; NULL on ENOMEM. */
static struct pf_table *
pf_build(const struct userfile *uf, const char *path)
{
	struct pf_table *t;
	struct pf_user *u;
	char key[PF_USER_MAX + 1], q[300];
	size_t i, nb = 16, b;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	while (nb < uf->n * 2)
		nb *= 2;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	t->nbuckets = nb;
	for (i = 0; i < uf->n; i++) {
		const struct userfile_line *l = &uf->lines[i];

		if (l->raw != NULL || l->user == NULL)
			continue;
		if (pf_key(l->user, key) < 0)
			continue;
		if (pf_find(t, key) != NULL) {
			log_warn("passwd-file: path=%s line=%d user=%s "
			         "duplicate entry ignored",
			    path, l->lineno,
			    log_q(q, sizeof(q), l->user, (size_t)-1));
			continue;
		}
		u = calloc(1, sizeof(*u));
		if (u == NULL)
			goto fail;
		u->key = strdup(key);
		u->user = strdup(l->user);
		u->password = strdup(l->password != NULL ? l->password : "");
		u->disabled = pf_disabled(l->rest != NULL ? l->rest : "");
		pf_keep_extra(u, l->rest);
		b = pf_hash(key) & (nb - 1);
		u->next = t->buckets[b];
		t->buckets[b] = u;
		t->nusers++;
		if (u->key == NULL || u->user == NULL || u->password == NULL)
			goto fail;
	}
	return t;

fail:
	pf_table_free(t);
	return NULL;
}

static int
pf_stat_of(const char *path, struct pf_stat *out)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->dev = sb.st_dev;
	out->ino = sb.st_ino;
	out->size = sb.st_size;
	out->mtime = sb.st_mtim;
	return 0;
}

static time_t
pf_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return ts.tv_sec;
}

/* pf_load - (re)read the file; on any error the old table stays. */
static int
pf_load(struct pf_priv *pp, char *err, size_t errlen)
{
	struct userfile uf;
	struct pf_table *t;
	struct pf_stat st;

	if (pf_stat_of(pp->path, &st) < 0) {
		(void)snprintf(
		    err, errlen, "%s: %s", pp->path, strerror(errno));
		return -1;
	}
	if (userfile_load(pp->path, &uf, err, errlen) < 0)
		return -1;
	t = pf_build(&uf, pp->path);
	userfile_free(&uf);
	if (t == NULL) {
		(void)snprintf(err, errlen, "%s: out of memory", pp->path);
		return -1;
	}
	pf_table_free(pp->t);
	pp->t = t;
	pp->st = st;
	pp->last_check = pf_now();
	pp->stat_warned = 0;
	log_info("passwd-file: path=%s users=%zu loaded", pp->path, t->nusers);
	return 0;
}

/* pf_maybe_reload - at most once a second, re-read a file that changed. */
static void
pf_maybe_reload(struct pf_priv *pp)
{
	struct pf_stat st;
	char err[512];
	time_t now = pf_now();

	if (now == pp->last_check)
		return;
	pp->last_check = now;
	if (pf_stat_of(pp->path, &st) < 0) {
		if (!pp->stat_warned)
			log_warn("passwd-file: path=%s cannot stat: %s; "
			         "keeping the loaded users",
			    pp->path, strerror(errno));
		pp->stat_warned = 1;
		return;
	}
	if (st.dev == pp->st.dev && st.ino == pp->st.ino &&
	    st.size == pp->st.size && st.mtime.tv_sec == pp->st.mtime.tv_sec &&
	    st.mtime.tv_nsec == pp->st.mtime.tv_nsec)
		return;
	if (pf_load(pp, err, sizeof(err)) < 0) {
		log_warn("passwd-file: reload failed, keeping the loaded "
		         "users: %s",
		    err);
		pp->st = st; /* do not retry until it changes again */
	}
}

static int
pf_open(struct passdb *db, const char *arg, char *err, size_t errlen)
{
	struct pf_priv *pp;

	if (arg == NULL || arg[0] == '\0') {
		(void)snprintf(err, errlen, "passwd-file: no file given");
		return -1;
	}
	pp = calloc(1, sizeof(*pp));
	if (pp == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (str_copy(pp->path, arg, sizeof(pp->path)) >= sizeof(pp->path)) {
		(void)snprintf(err, errlen, "passwd-file: path too long");
		free(pp);
		return -1;
	}
	if (pf_load(pp, err, errlen) < 0) {
		free(pp);
		return -1;
	}
	db->priv = pp;
	return 0;
}

static void
pf_close(struct passdb *db)
{
	struct pf_priv *pp = db->priv;

	if (pp == NULL)
		return;
	pf_table_free(pp->t);
	free(pp);
	db->priv = NULL;
}

static int
pf_reload(struct passdb *db, char *err, size_t errlen)
{
	return pf_load(db->priv, err, errlen);
}

static void
pf_job_free(struct pf_job *j)
{
	secret_free(j->password);
	secret_free(j->stored);
	secret_wipe(j, sizeof(*j));
	free(j);
}

/* pf_work - on a pool thread: hash, or burn the same time for an unknown user. */
static void
pf_work(void *arg)
{
	struct pf_job *j = arg;
	int rc;

	if (j->stored == NULL) {
		pw_dummy_verify(j->password);
		j->status = PASSDB_NO_USER;
		return;
	}
	rc = pw_verify(j->password, (const char *)j->stored->data);
	if (rc == 1)
		j->status = j->disabled ? PASSDB_DISABLED : PASSDB_OK;
	else {
		j->status = PASSDB_MISMATCH;
		j->malformed = rc < 0;
	}
}

/* pf_done - on the loop: report and free. */
static void
pf_done(void *arg)
{
	struct pf_job *j = arg;
	struct cred_result r;
	char q[300];

	if (j->malformed)
		log_warn("passwd-file: user=%s stored password is malformed "
		         "or of an unknown scheme",
		    log_q(q, sizeof(q), j->user, (size_t)-1));
	memset(&r, 0, sizeof(r));
	r.status = j->status;
	r.user = j->user;
	if (j->stored != NULL) {
		/* What the migration to SCRAM and the rehash need to know. */
		r.flags |= CRED_WRITABLE;
		if (j->no_scram)
			r.flags |= CRED_NO_SCRAM;
		if (j->scheme[0] != '\0')
			r.scheme = j->scheme;
	}
	j->cb(&r, j->arg);
	pf_job_free(j);
}

static int pf_extra_cred(
    const char *extra, const char *scheme, const char **data_r, size_t *len_r);

static void
pf_verify(struct passdb *db, const char *user, const struct secret *password,
    passdb_cb *cb, void *arg)
{
	struct pf_priv *pp = db->priv;
	struct pf_user *u;
	struct pf_job *j;
	struct cred_result r;

	pf_maybe_reload(pp);
	memset(&r, 0, sizeof(r));
	r.user = user;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		goto tempfail;
	j->cb = cb;
	j->arg = arg;
	if (password != NULL)
		j->password = secret_new(password->data, password->len);
	else
		j->password = secret_new("", 0);
	if (j->password == NULL)
		goto tempfail;
	u = pf_find(pp->t, user);
	if (u != NULL) {
		(void)str_copy(j->user, u->user, sizeof(j->user));
		j->disabled = u->disabled;
		j->stored = secret_new(u->password, strlen(u->password));
		if (j->stored == NULL)
			goto tempfail;
		{
			const char *data = NULL;
			const struct pw_scheme *sc =
			    pw_split(u->password, &data);
			size_t dlen = 0;

			if (sc != NULL)
				(void)str_copy(
				    j->scheme, sc->name, sizeof(j->scheme));
			j->no_scram =
			    (sc == NULL ||
			        !str_ieq(sc->name, "SCRAM-SHA-256")) &&
			    pf_extra_cred(
			        u->extra, "scram-sha-256", &data, &dlen) == -1;
		}
	} else if (user != NULL)
		(void)str_copy(j->user, user, sizeof(j->user));
	if (workpool_submit(db->pool, pf_work, pf_done, j) < 0)
		goto tempfail;
	return;

tempfail:
	if (j != NULL)
		pf_job_free(j);
	r.status = PASSDB_TEMPFAIL;
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err(
		    "passwd-file: cannot schedule a reply; request dropped");
}

/*
 * pf_extra_cred - a credential kept in the extra fields beside the main
 * password: "scram-sha-256={SCRAM-SHA-256}4096,...", "scram-sha-1=...",
 * "cram-md5={CRAM-MD5}<hex>" (key = scheme, any case; the "{NAME}" prefix
 * optional and, when present, the same scheme). 0 with the data, or -1.
 */
static int
pf_extra_cred(
    const char *extra, const char *scheme, const char **data_r, size_t *len_r)
{
	size_t slen = strlen(scheme), n;
	const char *p = extra, *v;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (n > slen + 1 && p[slen] == '=' &&
		    strncasecmp(p, scheme, slen) == 0) {
			v = p + slen + 1;
			n -= slen + 1;
			if (v[0] == '{') {
				if (n < slen + 2 || v[slen + 1] != '}' ||
				    strncasecmp(v + 1, scheme, slen) != 0)
					return -1;
				v += slen + 2;
				n -= slen + 2;
			}
			if (n == 0)
				return -1;
			*data_r = v;
			*len_r = n;
			return 0;
		}
		p += n;
	}
	return -1;
}

/*
 * pf_lookup - stored value without its "{NAME}" prefix: the main password
 * when NAME is scheme, else the extra field named scheme (pf_extra_cred).
 */
static void
pf_lookup(struct passdb *db, const char *user, const char *scheme,
    passdb_cb *cb, void *arg)
{
	struct pf_priv *pp = db->priv;
	struct pf_user *u;
	struct cred_result r;
	struct secret *sec = NULL;
	char name[64];
	const char *data = NULL;
	size_t dlen = 0;

	pf_maybe_reload(pp);
	memset(&r, 0, sizeof(r));
	r.user = user;
	u = pf_find(pp->t, user);
	if (u == NULL)
		r.status = PASSDB_NO_USER;
	else if (scheme == NULL)
		r.status = PASSDB_NO_SCHEME;
	else if (pw_split_name(u->password, name, sizeof(name), &data) == 0 &&
	    str_ieq(name, scheme))
		dlen = strlen(data);
	else if (pf_extra_cred(u->extra, scheme, &data, &dlen) == 0)
		(void)str_copy(name, scheme, sizeof(name));
	else
		r.status = PASSDB_NO_SCHEME;
	if (u != NULL && data != NULL && r.status != PASSDB_NO_SCHEME) {
		sec = secret_new(data, dlen);
		r.status = sec != NULL ? PASSDB_OK : PASSDB_TEMPFAIL;
		r.scheme = name;
		r.secret = sec;
	}
	if (u != NULL) {
		r.user = u->user;
		if (u->disabled)
			r.flags |= CRED_DISABLED;
	}
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err(
		    "passwd-file: cannot schedule a reply; request dropped");
	secret_free(sec);
}

#define PF_SENDERS_MAX 64

/*
 * pf_senders - the sender policy in extra fields (policy/sender.h): every
 * "sender=ADDR" (aliases, "@domain" for a whole domain) and "sendas=ADDR"
 * (send-as grants), values may be comma-separated; "messages_per_hour=N"
 * and "recipients_per_day=N" as the login's own limits. Pointers into buf
 * (size buflen).
 */
static void
pf_senders(const char *extra, char *buf, size_t buflen, const char **out,
    struct cred_result *r)
{
	char *tok, *save = NULL;
	size_t n = 0;

	out[0] = NULL;
	if (extra == NULL || str_copy(buf, extra, buflen) >= buflen)
		return;
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *v = strchr(tok, '='), *a, *s2 = NULL;
		unsigned long long rate;

		if (v == NULL)
			continue;
		*v++ = '\0';
		if (str_ieq(tok, "messages_per_hour")) {
			if (str_to_uint(v, 10000000, &rate) == 0)
				r->rate_cap = (unsigned int)rate;
			continue;
		}
		if (str_ieq(tok, "recipients_per_day")) {
			if (str_to_uint(v, 100000000, &rate) == 0)
				r->rcpt_cap = (unsigned int)rate;
			continue;
		}
		if (!str_ieq(tok, "sender") && !str_ieq(tok, "sendas"))
			continue;
		for (a = strtok_r(v, ",", &s2); a != NULL && n < PF_SENDERS_MAX;
		     a = strtok_r(NULL, ",", &s2))
			if (a[0] != '\0')
				out[n++] = a;
	}
	out[n] = NULL;
}

static void
pf_exists(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	struct pf_priv *pp = db->priv;
	struct pf_user *u;
	struct cred_result r;
	const char *senders[PF_SENDERS_MAX + 1];
	char sbuf[4096];

	pf_maybe_reload(pp);
	memset(&r, 0, sizeof(r));
	u = pf_find(pp->t, user);
	r.status = u != NULL ? PASSDB_OK : PASSDB_NO_USER;
	r.user = u != NULL ? u->user : user;
	if (u != NULL) {
		pf_senders(u->extra, sbuf, sizeof(sbuf), senders, &r);
		r.senders = senders;
	}
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err(
		    "passwd-file: cannot schedule a reply; request dropped");
}

/* ---- find_by_field: certificate and token logins ---- */

/* pf_has_field - 1 if the space-separated extra fields hold key=value. */
static int
pf_has_field(const char *extra, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), n;
	const char *p = extra;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (n == klen + 1 + vlen && strncmp(p, key, klen) == 0 &&
		    p[klen] == '=' &&
		    strncasecmp(p + klen + 1, value, vlen) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* pf_find_by_field - a scan of the table: O(users), no index kept. */
static void
pf_find_by_field(struct passdb *db, const char *key, const char *value,
    passdb_cb *cb, void *arg)
{
	struct pf_priv *pp = db->priv;
	struct pf_user *u = NULL, *found = NULL;
	struct cred_result r;
	size_t i;

	pf_maybe_reload(pp);
	memset(&r, 0, sizeof(r));
	if (key == NULL)
		found = pf_find(pp->t, value);
	else if (value != NULL && value[0] != '\0' && pp->t != NULL)
		for (i = 0; i < pp->t->nbuckets && found == NULL; i++)
			for (u = pp->t->buckets[i]; u != NULL; u = u->next)
				if (u->extra != NULL &&
				    pf_has_field(u->extra, key, value)) {
					found = u;
					break;
				}
	r.status = found != NULL ? PASSDB_OK : PASSDB_NO_USER;
	if (found != NULL) {
		r.user = found->user;
		if (found->disabled)
			r.flags |= CRED_DISABLED;
	}
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err(
		    "passwd-file: cannot schedule a reply; request dropped");
}

/* pf_update_work - on a pool thread: rewrite the users file with the new
 * credentials of one user, keeping everything else as it was. */
static void
pf_update_work(void *arg)
{
	struct pf_update *up = arg;
	struct pf_priv *pp = up->db->priv;
	struct userfile uf;
	struct userfile_line *l;

	memset(&uf, 0, sizeof(uf));
	up->status = PASSDB_TEMPFAIL;
	if (pthread_mutex_lock(&pf_write_lock) != 0)
		return;
	if (userfile_load(pp->path, &uf, up->err, sizeof(up->err)) == -1)
		goto out;
	l = userfile_find(&uf, up->user);
	if (l == NULL) {
		up->status = PASSDB_NO_USER;
		goto out;
	}
	if (up->hash != NULL && userfile_set(&uf, l->user, up->hash) == -1)
		goto out;
	l = userfile_find(&uf, up->user);
	if (up->scram != NULL &&
	    (l == NULL ||
	        userfile_set_field(l, "scram-sha-256", up->scram) == -1))
		goto out;
	if (userfile_save(pp->path, &uf, up->err, sizeof(up->err)) == -1)
		goto out;
	up->status = PASSDB_OK;
out:
	userfile_free(&uf);
	(void)pthread_mutex_unlock(&pf_write_lock);
}

static void
pf_update_free(struct pf_update *up)
{
	if (up->hash != NULL) {
		secret_wipe(up->hash, strlen(up->hash));
		free(up->hash);
	}
	if (up->scram != NULL) {
		secret_wipe(up->scram, strlen(up->scram));
		free(up->scram);
	}
	free(up);
}

static void
pf_update_done(void *arg)
{
	struct pf_update *up = arg;
	struct pf_priv *pp = up->db->priv;
	struct cred_result r;
	char err[256];

	if (up->status == PASSDB_OK && pf_load(pp, err, sizeof(err)) == -1)
		log_warn("passwd-file: reload after update failed: %s", err);
	else if (up->status == PASSDB_TEMPFAIL && up->err[0] != '\0')
		log_warn("passwd-file: update failed: %s", up->err);
	memset(&r, 0, sizeof(r));
	r.status = up->status;
	r.user = up->user;
	up->cb(&r, up->arg);
	pf_update_free(up);
}

static void
pf_update(struct passdb *db, const char *user, const char *hash,
    const char *scram_sha256, passdb_cb *cb, void *arg)
{
	struct pf_update *up = calloc(1, sizeof(*up));
	struct cred_result r;

	memset(&r, 0, sizeof(r));
	r.user = user;
	r.status = PASSDB_TEMPFAIL;
	if (up == NULL)
		goto fail;
	up->db = db;
	up->cb = cb;
	up->arg = arg;
	(void)str_copy(up->user, user, sizeof(up->user));
	if (hash != NULL && (up->hash = strdup(hash)) == NULL)
		goto fail;
	if (scram_sha256 != NULL) {
		/* Stored as postern user writes it: with its {SCHEME}. */
		const char *pfx =
		    scram_sha256[0] == '{' ? "" : "{SCRAM-SHA-256}";

		if (asprintf(&up->scram, "%s%s", pfx, scram_sha256) < 0) {
			up->scram = NULL;
			goto fail;
		}
	}
	if (workpool_submit(db->pool, pf_update_work, pf_update_done, up) == 0)
		return;
fail:
	if (up != NULL)
		pf_update_free(up);
	if (passdb_reply_later(db, &r, cb, arg) < 0)
		log_err(
		    "passwd-file: cannot schedule a reply; request dropped");
}

const struct passdb_driver passdb_driver_file = {
    .name = "passwd-file",
    .caps = PASSDB_CAN_LOOKUP | PASSDB_CAN_VERIFY,
    .open = pf_open,
    .lookup = pf_lookup,
    .verify = pf_verify,
    .exists = pf_exists,
    .reload = pf_reload,
    .close = pf_close,
    .find_by_field = pf_find_by_field,
    .update = pf_update,
};
