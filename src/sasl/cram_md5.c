/*
 * cram_md5.c - CRAM-MD5 (RFC 2195), server and client sides.
 *   challenge = "<" random "." time "@" hostname ">"   ; msg-id form, §2
 *   response  = user SP 32LHEX   ; hex(HMAC-MD5(secret, challenge))
 * The server holds the HMAC-MD5 context (cram_md5.h), never the password;
 * that context is still a password equivalent for this mechanism, which is
 * why CRAM-MD5 is SASL_F_WEAK (after TLS only, unless the listener allows
 * it) and off unless configured. Unknown users and users without a
 * CRAM-MD5 context are checked against a fake context and fail like a
 * wrong password (535 5.7.8), logged as no-such-user / no-cram-md5-keys.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* MD5_Init & co.: we need MD5's state */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>

#include "auth/passdb.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/client.h"
#include "sasl/cram_md5.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"

#define CRAM_CHALLENGE_MAX 320
#define MD5_BLOCK          64

enum cram_phase {
	CRAM_START,
	CRAM_WANT_RESPONSE,
	CRAM_LOOKUP,
	CRAM_DONE,
};

struct cram_state {
	enum cram_phase phase;
	char challenge[CRAM_CHALLENGE_MAX];
	size_t challenge_len;
	unsigned char digest[CRAM_MD5_DIGEST_LEN];
};

struct cram_client_state {
	int sent;
};

static char cram_hostname[256];

void
sasl_cram_md5_set_hostname(const char *host)
{
	if (host != NULL && host[0] != '\0' && strlen(host) < 200 &&
	    str_is_printable_ascii(host, strlen(host)))
		(void)str_copy(cram_hostname, host, sizeof(cram_hostname));
}

static void
put_le32(unsigned char *p, MD5_LONG v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
	p[2] = (unsigned char)((v >> 16) & 0xff);
	p[3] = (unsigned char)((v >> 24) & 0xff);
}

static MD5_LONG
get_le32(const unsigned char *p)
{
	return (MD5_LONG)p[0] | (MD5_LONG)p[1] << 8 | (MD5_LONG)p[2] << 16 |
	    (MD5_LONG)p[3] << 24;
}

int
sasl_cram_md5_context(
    const void *key, size_t keylen, unsigned char ctx[CRAM_MD5_CONTEXT_LEN])
{
	unsigned char k[MD5_BLOCK], ipad[MD5_BLOCK], opad[MD5_BLOCK];
	MD5_CTX ci, co;
	size_t i;
	int rc = -1;

	memset(k, 0, sizeof(k));
	if (keylen > MD5_BLOCK) {
		/* RFC 2104 §2: longer keys are hashed first */
		if (MD5(key, keylen, k) == NULL)
			goto out;
	} else if (keylen > 0)
		memcpy(k, key, keylen);
	for (i = 0; i < MD5_BLOCK; i++) {
		ipad[i] = k[i] ^ 0x36;
		opad[i] = k[i] ^ 0x5c;
	}
	if (MD5_Init(&ci) != 1 || MD5_Update(&ci, ipad, MD5_BLOCK) != 1 ||
	    MD5_Init(&co) != 1 || MD5_Update(&co, opad, MD5_BLOCK) != 1)
		goto out;
	put_le32(ctx + 0, co.A);
	put_le32(ctx + 4, co.B);
	put_le32(ctx + 8, co.C);
	put_le32(ctx + 12, co.D);
	put_le32(ctx + 16, ci.A);
	put_le32(ctx + 20, ci.B);
	put_le32(ctx + 24, ci.C);
	put_le32(ctx + 28, ci.D);
	rc = 0;
out:
	secret_wipe(k, sizeof(k));
	secret_wipe(ipad, sizeof(ipad));
	secret_wipe(opad, sizeof(opad));
	secret_wipe(&ci, sizeof(ci));
	secret_wipe(&co, sizeof(co));
	return rc;
}

/* md5_resume - an MD5 context that has consumed one block and is in state s. */
static int
md5_resume(MD5_CTX *c, const unsigned char *s)
{
	if (MD5_Init(c) != 1)
		return -1;
	c->A = get_le32(s);
	c->B = get_le32(s + 4);
	c->C = get_le32(s + 8);
	c->D = get_le32(s + 12);
	c->Nl = MD5_BLOCK * 8;
	c->Nh = 0;
	c->num = 0;
	return 0;
}

int
sasl_cram_md5_digest(const unsigned char ctx[CRAM_MD5_CONTEXT_LEN],
    const void *msg, size_t len, unsigned char out[CRAM_MD5_DIGEST_LEN])
{
	unsigned char inner[CRAM_MD5_DIGEST_LEN];
	MD5_CTX c;
	int rc = -1;

	if (md5_resume(&c, ctx + 16) < 0 ||
	    (len > 0 && MD5_Update(&c, msg, len) != 1) ||
	    MD5_Final(inner, &c) != 1)
		goto out;
	if (md5_resume(&c, ctx) < 0 ||
	    MD5_Update(&c, inner, sizeof(inner)) != 1 ||
	    MD5_Final(out, &c) != 1)
		goto out;
	rc = 0;
out:
	secret_wipe(inner, sizeof(inner));
	secret_wipe(&c, sizeof(c));
	return rc;
}

/* hex_in - 32 hex digits (either case) into 16 octets; 0 or -1. */
static int
hex_in(const char *s, size_t n, unsigned char *out)
{
	size_t i;

	if (n != 2 * CRAM_MD5_DIGEST_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

static enum sasl_status
x_fail(struct sasl_exchange *x, enum sasl_error e, const char *reason)
{
	x->reason = reason;
	return sasl_x_fail(x, e);
}

static enum sasl_status
cram_step(struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct cram_state *st = x->state;
	const char *msg, *sp;
	char host[256];
	int n;

	switch (st->phase) {
	case CRAM_START:
		st->phase = CRAM_DONE;
		if (in != NULL) /* the server speaks first */
			return x_fail(
			    x, SASL_ERR_MALFORMED, "initial-response");
		if (cram_hostname[0] != '\0')
			(void)str_copy(host, cram_hostname, sizeof(host));
		else if (gethostname(host, sizeof(host)) != 0 ||
		    host[0] == '\0' ||
		    !str_is_printable_ascii(host, strnlen(host, sizeof(host))))
			(void)str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		n = snprintf(st->challenge, sizeof(st->challenge),
		    "<%llu.%lld@%s>", (unsigned long long)rand_u64(),
		    (long long)time(NULL), host);
		if (n < 0 || (size_t)n >= sizeof(st->challenge) ||
		    buf_append(out, st->challenge, (size_t)n) < 0)
			return x_fail(x, SASL_ERR_TEMP, "no-resources");
		st->challenge_len = (size_t)n;
		st->phase = CRAM_WANT_RESPONSE;
		return SASL_CONTINUE;
	case CRAM_WANT_RESPONSE:
		st->phase = CRAM_DONE;
		if (in == NULL || in->len == 0 ||
		    memchr(in->data, '\0', in->len) != NULL)
			return x_fail(
			    x, SASL_ERR_MALFORMED, "invalid-encoding");
		msg = (const char *)in->data;
		/* the digest follows the last space: names may hold spaces */
		for (sp = msg + in->len - 1; sp > msg && *sp != ' '; sp--)
			;
		if (sp == msg ||
		    hex_in(sp + 1, in->len - (size_t)(sp + 1 - msg),
		        st->digest) < 0)
			return x_fail(
			    x, SASL_ERR_MALFORMED, "invalid-encoding");
		if (sasl_x_set_authcid(x, msg, (size_t)(sp - msg)) < 0)
			return x_fail(
			    x, SASL_ERR_MALFORMED, "invalid-username");
		st->phase = CRAM_LOOKUP;
		sasl_x_lookup_credentials(x, "CRAM-MD5");
		return SASL_PENDING;
	case CRAM_LOOKUP:
	case CRAM_DONE:
		break;
	}
	return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
}

/* unhex_ctx - the stored 64 hex digits into a context; 0 or -1. */
static int
unhex_ctx(const struct secret *s, unsigned char ctx[CRAM_MD5_CONTEXT_LEN])
{
	if (s == NULL || s->len != 2 * CRAM_MD5_CONTEXT_LEN)
		return -1;
	return hex_in((const char *)s->data, 32, ctx) < 0 ||
	        hex_in((const char *)s->data + 32, 32, ctx + 16) < 0
	    ? -1
	    : 0;
}

static enum sasl_status
cram_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	struct cram_state *st = x->state;
	unsigned char ctx[CRAM_MD5_CONTEXT_LEN], want[CRAM_MD5_DIGEST_LEN];
	const char *fake = NULL;
	int eq = 0;
	enum sasl_status s;

	(void)out;
	if (st->phase != CRAM_LOOKUP)
		return x_fail(x, SASL_ERR_TEMP, "state");
	st->phase = CRAM_DONE;
	switch (r->status) {
	case PASSDB_OK:
		if (unhex_ctx(r->secret, ctx) < 0)
			fake = "bad-stored-keys";
		break;
	case PASSDB_NO_USER:
		fake = "no-such-user";
		break;
	case PASSDB_NO_SCHEME:
		fake = "no-cram-md5-keys";
		break;
	case PASSDB_DISABLED:
	case PASSDB_MISMATCH:
		fake = "other-error";
		break;
	case PASSDB_TEMPFAIL:
	default:
		x->reason = "backend";
		x->error = SASL_ERR_TEMP;
		return SASL_TEMPFAIL;
	}
	if (fake != NULL)
		rand_bytes(ctx, sizeof(ctx)); /* the same work, no match */
	if (sasl_cram_md5_digest(ctx, st->challenge, st->challenge_len, want) ==
	    0)
		eq = ct_memeq(want, st->digest, sizeof(want));
	secret_wipe(ctx, sizeof(ctx));
	secret_wipe(want, sizeof(want));
	if (fake != NULL)
		return x_fail(x, SASL_ERR_CREDENTIALS, fake);
	if (!eq)
		return x_fail(x, SASL_ERR_CREDENTIALS, "invalid-proof");
	if (r->flags & CRED_DISABLED)
		return x_fail(x, SASL_ERR_DISABLED, "disabled");
	s = sasl_x_finish_identity(x, r->user);
	if (s != SASL_OK)
		return s;
	if (r->flags & CRED_MUST_CHANGE) {
		x->user[0] = '\0';
		return x_fail(x, SASL_ERR_MUST_CHANGE, "must-change");
	}
	return SASL_OK;
}

/* cram_client_step - "user hex(HMAC-MD5(password, challenge))". */
static enum sasl_status
cram_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	struct cram_client_state *st = c->state;
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char out[2 * CRAM_MD5_DIGEST_LEN + 1];
	unsigned int mdlen = 0, i;
	size_t clen = c->authcid != NULL ? strlen(c->authcid) : 0;
	enum sasl_status rc = SASL_FAIL;

	if (st->sent || challenge == NULL || challenge->len == 0 || clen == 0 ||
	    clen > SASL_USER_MAX || c->password == NULL ||
	    c->password->len > 0x7fffffff)
		return SASL_FAIL;
	st->sent = 1;
	if (HMAC(EVP_md5(), c->password->data, (int)c->password->len,
	        challenge->data, challenge->len, md, &mdlen) == NULL ||
	    mdlen != CRAM_MD5_DIGEST_LEN)
		goto out;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[2 * mdlen] = '\0';
	if (buf_append(response, c->authcid, clen) < 0 ||
	    buf_append(response, " ", 1) < 0 || buf_appends(response, out) < 0)
		goto out;
	rc = SASL_CONTINUE;
out:
	secret_wipe(md, sizeof(md));
	if (rc != SASL_CONTINUE)
		buf_reset(response);
	return rc;
}

const struct sasl_mech sasl_mech_cram_md5 = {
    .name = "CRAM-MD5",
    .flags = SASL_F_WEAK,
    .need = SASL_NEED_CREDENTIALS,
    .scheme = "CRAM-MD5",
    .state_size = sizeof(struct cram_state),
    .step = cram_step,
    .resume = cram_resume,
    .client_state_size = sizeof(struct cram_client_state),
    .client_step = cram_client_step,
};
