/*
 * introspect.h - one RFC 7662 token introspection request over HTTPS with
 * libcurl. Blocking: run it on the work pool, never on the loop.
 */
#ifndef POSTERN_AUTH_INTROSPECT_H
#define POSTERN_AUTH_INTROSPECT_H

#include <stddef.h>

struct secret;

#define INTROSPECT_BODY_MAX   (64 * 1024) /* a longer answer is an error */
#define INTROSPECT_TIMEOUT_MS 10000
#define INTROSPECT_ERROR_MAX  256 /* CURL_ERROR_SIZE */

struct introspect_req {
	/* in */
	const char *url;                    /* https:// only */
	const char *client_id;              /* HTTP Basic user */
	const struct secret *client_secret; /* HTTP Basic password */
	const char *ca;                     /* CA file; NULL or "" = system */
	const struct secret *token;
	/* out */
	long http_status; /* 0 when no HTTP answer */
	char *body;       /* NUL-terminated, malloc'd; NULL on failure */
	size_t body_len;
	char error[INTROSPECT_ERROR_MAX]; /* transport error, "" if none */
};

/* introspect_global_init - once, before any thread runs a request; 0 or -1. */
int introspect_global_init(void);

/*
 * introspect_run - POST token=...&token_type_hint=access_token to q->url
 * (RFC 7662 §2.1) and collect the answer. 0 with an HTTP status and body
 * (any status), or -1 with q->error. Never logs; wipes what held the token.
 */
int introspect_run(struct introspect_req *q);

/* introspect_req_clear - free and forget the answer. */
void introspect_req_clear(struct introspect_req *q);

#endif
