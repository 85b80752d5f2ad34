/*
 * oauth.h - bearer-token validation for OAUTHBEARER and XOAUTH2 in the auth
 * service: a JWT checked locally against the configured JWKS, otherwise
 * (or for a JWT signed by a key we do not have) RFC 7662 introspection on
 * the work pool, cached until the token expires. The token's user must be
 * a passdb login unless [oauth] require_user = no.
 */
#ifndef POSTERN_AUTH_OAUTH_H
#define POSTERN_AUTH_OAUTH_H

#include <stddef.h>

#include "auth/passdb.h"

struct config;
struct event_base;
struct oauth;
struct secret;
struct workpool;

/* oauth_configured - 1 if cfg has [oauth] jwks or introspection_url. */
int oauth_configured(const struct config *cfg);

/*
 * oauth_new - a validator using base (answers), pool (introspection) and db
 * (user checks), with cfg's [oauth] settings copied. NULL with err if the
 * JWKS or the client secret cannot be loaded.
 */
struct oauth *oauth_new(const struct config *cfg, struct event_base *base,
    struct workpool *pool, struct passdb *db, char *err, size_t errlen);

/*
 * oauth_reload - take cfg's settings and re-read the JWKS and the client
 * secret (SIGHUP); the cache is emptied. 0, or -1 with err and the old
 * settings kept.
 */
int oauth_reload(
    struct oauth *o, const struct config *cfg, char *err, size_t errlen);

/*
 * oauth_validate - cb(r, arg) runs later on the loop, never inside the
 * call: PASSDB_OK with r->user the login; PASSDB_MISMATCH for a token that
 * is not good (r->oauth_scope set for the failure status); PASSDB_DISABLED;
 * PASSDB_TEMPFAIL when introspection or the passdb cannot answer.
 */
void oauth_validate(
    struct oauth *o, const struct secret *token, passdb_cb *cb, void *arg);

/* oauth_free - after workpool_free() (introspection answers use o); NULL ignored. */
void oauth_free(struct oauth *o);

#endif
