/*
 * introspect.c - RFC 7662 §2 token introspection with libcurl: an HTTPS
 * POST of the token, client authentication with HTTP Basic (§2.1, RFC 6749
 * §2.3.1), no redirects, bounded time and answer size. Runs on a pool
 * thread; the answer is judged on the loop (oauth.c). The token and the
 * client secret are wiped from every buffer that held them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth/introspect.h"
#include "core/secret.h"
#include "core/str.h"

struct body {
	char *data;
	size_t len;
	int too_big;
};

int
introspect_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *nd;

	if (nmemb != 0 && n / nmemb != size)
		return 0;
	if (n > INTROSPECT_BODY_MAX - b->len) {
		b->too_big = 1;
		return 0; /* aborts the transfer */
	}
	nd = realloc(b->data, b->len + n + 1);
	if (nd == NULL)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* form - "token=<escaped>&token_type_hint=access_token" in a secret. */
static struct secret *
form(CURL *h, const struct secret *token)
{
	static const char hint[] = "&token_type_hint=access_token";
	struct secret *f = NULL;
	char *esc, *buf;
	size_t n;

	esc = curl_easy_escape(h, (const char *)token->data, (int)token->len);
	if (esc == NULL)
		return NULL;
	n = strlen(esc);
	buf = malloc(6 + n + sizeof(hint));
	if (buf != NULL) {
		memcpy(buf, "token=", 6);
		memcpy(buf + 6, esc, n);
		memcpy(buf + 6 + n, hint, sizeof(hint));
		f = secret_new(buf, 6 + n + sizeof(hint) - 1);
		secret_wipe(buf, 6 + n + sizeof(hint));
		free(buf);
	}
	secret_wipe(esc, n);
	curl_free(esc);
	return f;
}

int
introspect_run(struct introspect_req *q)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct secret *fields = NULL;
	struct body b = {NULL, 0, 0};
	CURL *h;
	CURLcode rc = CURLE_FAILED_INIT;

	q->http_status = 0;
	q->body = NULL;
	q->body_len = 0;
	q->error[0] = '\0';
	errbuf[0] = '\0';
	h = curl_easy_init();
	if (h == NULL) {
		(void)str_copy(
		    q->error, "curl_easy_init failed", sizeof(q->error));
		return -1;
	}
	fields = form(h, q->token);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (fields == NULL || hdrs == NULL) {
		(void)str_copy(q->error, "out of memory", sizeof(q->error));
		goto out;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, q->url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	        (long)INTROSPECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	        (long)INTROSPECT_TIMEOUT_MS / 2) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(
	        h, CURLOPT_USERAGENT, "postern/" POSTERN_VERSION) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)fields->len) !=
	        CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, fields->data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
		(void)str_copy(
		    q->error, "curl_easy_setopt failed", sizeof(q->error));
		goto out;
	}
	if (q->ca != NULL && q->ca[0] != '\0' &&
	    curl_easy_setopt(h, CURLOPT_CAINFO, q->ca) != CURLE_OK) {
		(void)str_copy(q->error, "bad CA file", sizeof(q->error));
		goto out;
	}
	if (q->client_id != NULL && q->client_id[0] != '\0' &&
	    q->client_secret != NULL &&
	    (curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) !=
	            CURLE_OK ||
	        curl_easy_setopt(h, CURLOPT_USERNAME, q->client_id) !=
	            CURLE_OK ||
	        curl_easy_setopt(h, CURLOPT_PASSWORD,
	            (const char *)q->client_secret->data) != CURLE_OK)) {
		(void)str_copy(
		    q->error, "curl_easy_setopt failed", sizeof(q->error));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		(void)snprintf(q->error, sizeof(q->error), "%s",
		    b.too_big               ? "answer too long"
		        : errbuf[0] != '\0' ? errbuf
		                            : curl_easy_strerror(rc));
		goto out;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->http_status);
	q->body = b.data != NULL ? b.data : strdup("");
	q->body_len = b.len;
	b.data = NULL;
out:
	/* curl keeps copies of the password option: cleanup frees them */
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	secret_free(fields);
	free(b.data);
	return rc == CURLE_OK && q->body != NULL ? 0 : -1;
}

void
introspect_req_clear(struct introspect_req *q)
{
	if (q->body != NULL) {
		secret_wipe(q->body, q->body_len);
		free(q->body);
	}
	q->body = NULL;
	q->body_len = 0;
}
