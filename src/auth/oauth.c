/*
 * oauth.c - bearer tokens for OAUTHBEARER (RFC 7628) and XOAUTH2: local JWT
 * validation (jwt.c, keys from jwks.c) on the loop, RFC 7662 introspection
 * (introspect.c) on the work pool with a bounded cache keyed by the
 * token's SHA-256 (the token itself is never stored), then a passdb check
 * of the token's user. Answers always arrive later on the loop. No token
 * is ever logged.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "auth/introspect.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/oauth.h"
#include "auth/passdb.h"
#include "core/config.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"
#include "net/workpool.h"

#define OAUTH_CACHE_SIZE    1024 /* entries, power of two */
#define OAUTH_CACHE_PROBE   8
#define OAUTH_CACHE_NEG_TTL 30   /* seconds an inactive token is remembered */
#define OAUTH_CACHE_NOEXP   60   /* ... an active one without "exp" */
#define OAUTH_CACHE_MAX_TTL 3600 /* never longer than this */
#define OAUTH_SECRET_MAX    1024

struct oauth_settings {
	char issuer[512];
	char audience[512];
	char user_claim[64];
	char scope[256];
	long long skew;
	int require_user;
	char url[1024];
	char client_id[256];
	char ca[PATH_MAX];
	struct secret *client_secret;
	struct jwks *keys;
};

struct oauth_cache_entry {
	unsigned char key[32]; /* SHA-256 of the token */
	long long expires;     /* wall-clock seconds; 0 = free */
	int active;
	char user[JWT_USER_MAX + 1];
	enum jwt_status why; /* for inactive entries */
};

struct oauth {
	struct event_base *base;
	struct workpool *pool;
	struct passdb *db;
	struct oauth_settings s;
	struct oauth_cache_entry cache[OAUTH_CACHE_SIZE];
	unsigned long nvalid, nrefused, nintrospect, ncached;
};

struct oauth_req {
	struct oauth *o;
	passdb_cb *cb;
	void *arg;
	unsigned char key[32];
	enum passdb_status status;
	unsigned int flags;
	char user[JWT_USER_MAX + 1];
	/* introspection, owned copies (settings may be reloaded meanwhile) */
	struct introspect_req iq;
	char *url, *client_id, *ca;
	struct secret *client_secret, *token;
	int ran;
};

int
oauth_configured(const struct config *cfg)
{
	return cfg->oauth_jwks[0] != '\0' ||
	    cfg->oauth_introspection_url[0] != '\0';
}

static long long
now_s(void)
{
	return (long long)time(NULL);
}

/* ---- settings ---- */

/* read_secret - the first line of path, at most OAUTH_SECRET_MAX octets. */
static struct secret *
read_secret(const char *path, char *err, size_t errlen)
{
	char buf[OAUTH_SECRET_MAX + 2];
	struct secret *s;
	size_t n;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	(void)fclose(f);
	n = strcspn(buf, "\r\n");
	if (n == 0 || n > OAUTH_SECRET_MAX) {
		secret_wipe(buf, sizeof(buf));
		(void)snprintf(
		    err, errlen, "%s: no secret on the first line", path);
		return NULL;
	}
	s = secret_new(buf, n);
	secret_wipe(buf, sizeof(buf));
	if (s == NULL)
		(void)snprintf(err, errlen, "out of memory");
	return s;
}

static void
settings_free(struct oauth_settings *s)
{
	secret_free(s->client_secret);
	jwks_free(s->keys);
	memset(s, 0, sizeof(*s));
}

static int
settings_load(struct oauth_settings *s, const struct config *cfg, char *err,
    size_t errlen)
{
	memset(s, 0, sizeof(*s));
	(void)str_copy(s->issuer, cfg->oauth_issuer, sizeof(s->issuer));
	(void)str_copy(s->audience, cfg->oauth_audience, sizeof(s->audience));
	(void)str_copy(
	    s->user_claim, cfg->oauth_user_claim, sizeof(s->user_claim));
	(void)str_copy(s->scope, cfg->oauth_scope, sizeof(s->scope));
	s->skew = (long long)(cfg->oauth_clock_skew_ms / 1000);
	s->require_user = cfg->oauth_require_user;
	(void)str_copy(s->url, cfg->oauth_introspection_url, sizeof(s->url));
	(void)str_copy(s->client_id, cfg->oauth_introspection_client_id,
	    sizeof(s->client_id));
	(void)str_copy(s->ca, cfg->oauth_introspection_ca, sizeof(s->ca));
	if (cfg->oauth_jwks[0] != '\0') {
		s->keys = jwks_load(cfg->oauth_jwks, err, errlen);
		if (s->keys == NULL)
			return -1;
		log_info("event=jwks-loaded path=%s keys=%zu skipped=%zu",
		    cfg->oauth_jwks, s->keys->n, s->keys->skipped);
	}
	if (cfg->oauth_introspection_client_secret_file[0] != '\0') {
		s->client_secret = read_secret(
		    cfg->oauth_introspection_client_secret_file, err, errlen);
		if (s->client_secret == NULL) {
			settings_free(s);
			return -1;
		}
	}
	return 0;
}

struct oauth *
oauth_new(const struct config *cfg, struct event_base *base,
    struct workpool *pool, struct passdb *db, char *err, size_t errlen)
{
	struct oauth *o;

	if (cfg->oauth_introspection_url[0] != '\0' &&
	    introspect_global_init() < 0) {
		(void)snprintf(err, errlen, "libcurl initialisation failed");
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->base = base;
	o->pool = pool;
	o->db = db;
	if (settings_load(&o->s, cfg, err, errlen) < 0) {
		free(o);
		return NULL;
	}
	return o;
}

int
oauth_reload(
    struct oauth *o, const struct config *cfg, char *err, size_t errlen)
{
	struct oauth_settings s;

	if (cfg->oauth_introspection_url[0] != '\0' && o->s.url[0] == '\0' &&
	    introspect_global_init() < 0) {
		(void)snprintf(err, errlen, "libcurl initialisation failed");
		return -1;
	}
	if (settings_load(&s, cfg, err, errlen) < 0)
		return -1;
	settings_free(&o->s);
	o->s = s;
	secret_wipe(o->cache, sizeof(o->cache));
	return 0;
}

void
oauth_free(struct oauth *o)
{
	if (o == NULL)
		return;
	settings_free(&o->s);
	secret_wipe(o->cache, sizeof(o->cache));
	free(o);
}

/* ---- the introspection cache ---- */

static size_t
cache_slot(const unsigned char *key)
{
	return ((size_t)key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16) &
	    (OAUTH_CACHE_SIZE - 1);
}

static struct oauth_cache_entry *
cache_find(struct oauth *o, const unsigned char *key, long long now)
{
	size_t i, b = cache_slot(key);

	for (i = 0; i < OAUTH_CACHE_PROBE; i++) {
		struct oauth_cache_entry *e =
		    &o->cache[(b + i) & (OAUTH_CACHE_SIZE - 1)];

		if (e->expires > now && ct_memeq(e->key, key, sizeof(e->key)))
			return e;
	}
	return NULL;
}

static void
cache_put(struct oauth *o, const unsigned char *key, long long expires,
    int active, const char *user, enum jwt_status why)
{
	size_t i, b = cache_slot(key);
	struct oauth_cache_entry *victim = NULL;
	long long now = now_s();

	if (expires > now + OAUTH_CACHE_MAX_TTL)
		expires = now + OAUTH_CACHE_MAX_TTL;
	if (expires <= now)
		return;
	for (i = 0; i < OAUTH_CACHE_PROBE; i++) {
		struct oauth_cache_entry *e =
		    &o->cache[(b + i) & (OAUTH_CACHE_SIZE - 1)];

		if (e->expires <= now ||
		    ct_memeq(e->key, key, sizeof(e->key))) {
			victim = e;
			break;
		}
		if (victim == NULL || e->expires < victim->expires)
			victim = e;
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, key, sizeof(victim->key));
	victim->expires = expires;
	victim->active = active;
	victim->why = why;
	if (user != NULL)
		(void)str_copy(victim->user, user, sizeof(victim->user));
}

/* ---- answers ---- */

static void
req_free(struct oauth_req *q)
{
	introspect_req_clear(&q->iq);
	free(q->url);
	free(q->client_id);
	free(q->ca);
	secret_free(q->client_secret);
	secret_free(q->token);
	secret_wipe(q, sizeof(*q));
	free(q);
}

/* deliver - on the loop, never inside oauth_validate(). */
static void
deliver(struct oauth_req *q)
{
	struct cred_result r;

	memset(&r, 0, sizeof(r));
	r.status = q->status;
	r.user = q->user[0] != '\0' ? q->user : NULL;
	r.flags = q->flags;
	if (q->status != PASSDB_OK && q->o->s.scope[0] != '\0')
		r.oauth_scope = q->o->s.scope;
	if (q->status == PASSDB_OK)
		q->o->nvalid++;
	else
		q->o->nrefused++;
	q->cb(&r, q->arg);
	req_free(q);
}

static void
fire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver(arg);
}

static void
answer_later(struct oauth_req *q, enum passdb_status st)
{
	struct timeval now = {0, 0};

	q->status = st;
	if (event_base_once(q->o->base, -1, EV_TIMEOUT, fire, q, &now) != 0) {
		log_err("event=oauth-error reason=cannot-schedule; request "
		        "dropped");
		req_free(q);
	}
}

static void
refuse(struct oauth_req *q, const char *how, const char *why)
{
	log_info(
	    "event=oauth-token result=refused check=%s reason=%s", how, why);
	q->user[0] = '\0';
	answer_later(q, PASSDB_MISMATCH);
}

/* user_answer - the passdb's word on the token's user; we are on the loop. */
static void
user_answer(const struct cred_result *r, void *arg)
{
	struct oauth_req *q = arg;
	char uq[300];

	q->status = r->status;
	q->flags = r->flags;
	switch (r->status) {
	case PASSDB_OK:
	case PASSDB_DISABLED:
		if (r->user != NULL)
			(void)str_copy(q->user, r->user, sizeof(q->user));
		break;
	case PASSDB_TEMPFAIL:
		q->user[0] = '\0';
		break;
	default:
		log_info("event=oauth-token result=refused reason=unknown-user "
		         "user=%s",
		    log_q(uq, sizeof(uq), q->user, (size_t)-1));
		q->user[0] = '\0';
		q->status = PASSDB_MISMATCH;
		break;
	}
	deliver(q);
}

/* have_user - the token is good and names user. */
static void
have_user(struct oauth_req *q, const char *user)
{
	(void)str_copy(q->user, user, sizeof(q->user));
	if (q->o->s.require_user) {
		passdb_find_by_field(q->o->db, NULL, q->user, user_answer, q);
		return;
	}
	answer_later(q, PASSDB_OK);
}

static void
policy(const struct oauth *o, struct jwt_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->issuer = o->s.issuer;
	pol->audience = o->s.audience;
	pol->user_claim = o->s.user_claim;
	pol->now = now_s();
	pol->skew = o->s.skew;
}

/* ---- introspection ---- */

static void
introspect_work(void *arg)
{
	struct oauth_req *q = arg;

	q->ran = introspect_run(&q->iq) == 0;
}

/* introspect_done - judge the RFC 7662 §2.2 answer on the loop. */
static void
introspect_done(void *arg)
{
	struct oauth_req *q = arg;
	struct oauth *o = q->o;
	struct jwt_policy pol;
	struct jwt_result res;
	enum jwt_status st;
	json_error_t jerr;
	json_t *j = NULL;

	if (!q->ran || q->iq.http_status != 200) {
		log_warn("event=oauth-introspection result=error status=%ld "
		         "error=\"%s\"",
		    q->iq.http_status, q->iq.error);
		answer_later(q, PASSDB_TEMPFAIL);
		return;
	}
	j = json_loadb(
	    q->iq.body, q->iq.body_len, JSON_REJECT_DUPLICATES, &jerr);
	introspect_req_clear(&q->iq);
	if (!json_is_object(j)) {
		log_warn("event=oauth-introspection result=error "
		         "reason=answer-not-a-json-object");
		json_decref(j);
		answer_later(q, PASSDB_TEMPFAIL);
		return;
	}
	if (!json_is_true(json_object_get(j, "active"))) {
		json_decref(j);
		cache_put(o, q->key, now_s() + OAUTH_CACHE_NEG_TTL, 0, NULL,
		    JWT_EXPIRED);
		refuse(q, "introspection", "inactive");
		return;
	}
	policy(o, &pol);
	st = jwt_check_claims(j, &pol, 0, &res);
	json_decref(j);
	if (st != JWT_OK) {
		cache_put(
		    o, q->key, now_s() + OAUTH_CACHE_NEG_TTL, 0, NULL, st);
		refuse(q, "introspection", jwt_status_name(st));
		return;
	}
	cache_put(o, q->key,
	    res.exp != 0 ? res.exp : now_s() + OAUTH_CACHE_NOEXP, 1, res.user,
	    JWT_OK);
	have_user(q, res.user);
}

static void
introspect(struct oauth_req *q, const struct secret *token)
{
	struct oauth *o = q->o;
	struct oauth_cache_entry *e = cache_find(o, q->key, now_s());

	if (e != NULL) {
		o->ncached++;
		if (e->active)
			have_user(q, e->user);
		else
			refuse(
			    q, "introspection-cache", jwt_status_name(e->why));
		return;
	}
	o->nintrospect++;
	q->url = strdup(o->s.url);
	q->client_id = strdup(o->s.client_id);
	q->ca = strdup(o->s.ca);
	q->token = secret_new(token->data, token->len);
	if (o->s.client_secret != NULL)
		q->client_secret = secret_new(
		    o->s.client_secret->data, o->s.client_secret->len);
	if (q->url == NULL || q->client_id == NULL || q->ca == NULL ||
	    q->token == NULL ||
	    (o->s.client_secret != NULL && q->client_secret == NULL)) {
		answer_later(q, PASSDB_TEMPFAIL);
		return;
	}
	q->iq.url = q->url;
	q->iq.client_id = q->client_id;
	q->iq.ca = q->ca;
	q->iq.token = q->token;
	q->iq.client_secret = q->client_secret;
	if (workpool_submit(o->pool, introspect_work, introspect_done, q) < 0) {
		log_warn("event=oauth-introspection result=error "
		         "reason=work-pool-full");
		answer_later(q, PASSDB_TEMPFAIL);
	}
}

void
oauth_validate(
    struct oauth *o, const struct secret *token, passdb_cb *cb, void *arg)
{
	struct oauth_req *q = calloc(1, sizeof(*q));
	struct jwt_policy pol;
	struct jwt_result res;
	enum jwt_status st;
	const char *tok;

	if (q == NULL) {
		log_err("event=oauth-error reason=out-of-memory; request "
		        "dropped");
		return;
	}
	q->o = o;
	q->cb = cb;
	q->arg = arg;
	if (token == NULL || token->len == 0 || token->len > JWT_TOKEN_MAX) {
		refuse(q, "syntax", "length");
		return;
	}
	tok = (const char *)token->data;
	if (EVP_Digest(token->data, token->len, q->key, NULL, EVP_sha256(),
	        NULL) != 1) {
		answer_later(q, PASSDB_TEMPFAIL);
		return;
	}
	if (o->s.keys != NULL && jwt_is_compact(tok, token->len)) {
		policy(o, &pol);
		st = jwt_verify(tok, token->len, o->s.keys, &pol, &res);
		if (st == JWT_OK) {
			have_user(q, res.user);
			return;
		}
		/* a JWT from a key we do not hold may still be introspected */
		if (st != JWT_NO_KEY || o->s.url[0] == '\0') {
			refuse(q, "jwt", jwt_status_name(st));
			return;
		}
	}
	if (o->s.url[0] != '\0') {
		introspect(q, token);
		return;
	}
	refuse(q, "syntax", "not-a-jwt");
}
