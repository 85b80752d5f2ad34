/*
 * passdb_file.c - the "passwd-file" driver: a Dovecot-compatible passwd-file
 * loaded into a hash table keyed by the lower-cased login. Hashing runs on
 * the work pool with a copy of the stored hash, so pool threads never see
 * the table. The file is re-read on reload and, at most once a second, when
 * its inode, size or mtime changed; a broken file keeps the old data.
 * Extra fields honoured: "nologin" and "disabled=y" (after the right password).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
	enum passdb_status status;
	int malformed;
};

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
	j->cb(&r, j->arg);
	pf_job_free(j);
}

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

/* split_stored - "{NAME}data" or a bare crypt string into scheme name and data. */
static int
split_stored(
    const char *stored, char *name, size_t namelen, const char **data_r)
{
	const struct pw_scheme *s;
	const char *end;
	size_t n;

	if (stored[0] == '{') {
		end = strchr(stored + 1, '}');
		if (end == NULL)
			return -1;
		n = (size_t)(end - stored - 1);
		if (n == 0 || n >= namelen)
			return -1;
		memcpy(name, stored + 1, n);
		name[n] = '\0';
		*data_r = end + 1;
		return 0;
	}
	s = pw_split(stored, data_r);
	if (s == NULL)
		return -1;
	(void)str_copy(name, s->name, namelen);
	return 0;
}

/* pf_lookup - stored value without its "{NAME}" prefix when NAME is scheme. */
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

	pf_maybe_reload(pp);
	memset(&r, 0, sizeof(r));
	r.user = user;
	u = pf_find(pp->t, user);
	if (u == NULL)
		r.status = PASSDB_NO_USER;
	else if (scheme == NULL ||
	    split_stored(u->password, name, sizeof(name), &data) < 0 ||
	    !str_ieq(name, scheme))
		r.status = PASSDB_NO_SCHEME;
	else {
		sec = secret_new(data, strlen(data));
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

static void
pf_exists(struct passdb *db, const char *user, passdb_cb *cb, void *arg)
{
	struct pf_priv *pp = db->priv;
	struct pf_user *u;
	struct cred_result r;

	pf_maybe_reload(pp);
	memset(&r, 0, sizeof(r));
	u = pf_find(pp->t, user);
	r.status = u != NULL ? PASSDB_OK : PASSDB_NO_USER;
	r.user = u != NULL ? u->user : user;
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
};
