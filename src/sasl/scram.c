/*
 * scram.c - SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants, server and
 * client sides (RFC 5802 §5, §7; RFC 7677; channel bindings tls-unique
 * RFC 5929 and tls-exporter RFC 9266):
 *   client-first-message = gs2-header client-first-message-bare
 *   client-first-message-bare = [reserved-mext ","] username "," nonce
 *                               ["," extensions]
 *   server-first-message = [reserved-mext ","] nonce "," salt ","
 *                          iteration-count ["," extensions]
 *   client-final-message-without-proof = channel-binding "," nonce
 *                                        ["," extensions]
 *   client-final-message = client-final-message-without-proof "," proof
 *   server-final-message = (server-error / verifier) ["," extensions]
 * The server holds only StoredKey and ServerKey, never the password.
 *
 * Failures and SMTP. RFC 5802 sends errors as "e=..." in the
 * server-final-message, but RFC 4954 §4 has no way to carry data with a
 * failure reply, so the server-final-message is only ever sent on success
 * (as a 334 challenge, then 235). A failure is SASL_FAIL with x->error and
 * the RFC's e= value (where one is defined) in x->reason for the log:
 *   - a message that decodes but does not parse (missing or misplaced
 *     attributes, bad nonce characters, undecodable c= or p=, a mandatory
 *     extension "m=") is SASL_ERR_MALFORMED: 501 5.5.2, like a malformed
 *     PLAIN message; it says nothing about any user;
 *   - channel-binding failures (a "y" flag while -PLUS was advertised: the
 *     downgrade; "p=" with a non-PLUS mechanism; an unknown or unavailable
 *     cb-name; c= not matching this TLS connection) are SASL_ERR_CHANBIND;
 *   - a wrong nonce, a wrong proof, an unknown user or a user without keys
 *     of this scheme are SASL_ERR_CREDENTIALS. The last two never show
 *     early: the exchange goes on with a fake but stable salt and fails at
 *     the proof like a wrong password (e=invalid-proof), so that the reply
 *     never tells who exists; the log says reason=no-such-user or
 *     reason=no-scram-keys. These three and CHANBIND all answer 535 5.7.8.
 * User names are not SASLprep'ed (RFC 5802 §5.1 SHOULD): they are compared
 * as the passdb compares them; passwords are used as given.
 */
#include <stdio.h>
#include <string.h>

#include "auth/passdb.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/str.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/gs2.h"
#include "sasl/registry.h"
#include "sasl/scram.h"
#include "sasl/scram_math.h"

#define SCRAM_MSG_MAX     2048 /* client-first-message-bare we keep */
#define SCRAM_SF_MAX      512  /* server-first-message */
#define SCRAM_GS2_MAX     (8 + GS2_CBNAME_MAX + 3 * GS2_AUTHZID_MAX)
#define SCRAM_CB_MAX      64  /* channel-binding data octets */
#define SCRAM_NONCE_MAX   256 /* client nonce characters we accept */
#define SCRAM_NONCE_RAW   18  /* random octets: 24 base64 characters */
#define SCRAM_ATTRS_MAX   16
#define SCRAM_AUTHMSG_MAX (SCRAM_MSG_MAX + SCRAM_SF_MAX + 16384)

struct scram_attr {
	char name;
	const char *v;
	size_t len;
};

enum scram_phase {
	SCRAM_START,
	SCRAM_WANT_FIRST, /* empty challenge sent: the client-first comes next */
	SCRAM_LOOKUP,     /* waiting for the stored keys */
	SCRAM_WANT_FINAL, /* server-first sent */
	SCRAM_DONE,
};

enum scram_cb {
	SCRAM_CB_NONE,
	SCRAM_CB_UNIQUE,
	SCRAM_CB_EXPORTER,
};

struct scram_state {
	enum scram_phase phase;
	enum scram_cb cb;
	unsigned char gs2[SCRAM_GS2_MAX];
	size_t gs2_len;
	char cfb[SCRAM_MSG_MAX]; /* client-first-message-bare */
	size_t cfb_len;
	size_t cnonce_off, cnonce_len; /* in cfb */
	char sf[SCRAM_SF_MAX];         /* server-first-message */
	size_t sf_len;
	size_t nonce_len; /* "r=" value at sf + 2 */
	struct scram_record rec;
	char canon[SASL_USER_MAX + 1];
	unsigned int cred_flags;
	const char *fake; /* set: fail at the proof, log this */
};

struct scram_client_state {
	enum scram_phase phase;
	unsigned char gs2[SCRAM_GS2_MAX];
	size_t gs2_len;
	char cfb[SCRAM_MSG_MAX];
	size_t cfb_len;
	char cnonce[64];
	size_t cnonce_len;
	unsigned char server_sig[SCRAM_HASH_MAX];
};

/* The fake-credential key and iteration count (sasl_scram_configure). */
static unsigned char fake_key[SASL_SCRAM_FAKE_KEY_LEN];
static int fake_key_set;
static unsigned int fake_iter = SCRAM_ITER_DEFAULT;

void
sasl_scram_configure(
    const unsigned char *key, size_t keylen, unsigned int iterations)
{
	if (key != NULL && keylen == sizeof(fake_key)) {
		memcpy(fake_key, key, sizeof(fake_key));
		fake_key_set = 1;
	}
	if (iterations >= SCRAM_ITER_MIN && iterations <= SCRAM_ITER_MAX)
		fake_iter = iterations;
}

/* hash_of - the digest of one of our four mechanisms. */
static const struct scram_hash *
hash_of(const struct sasl_mech *m)
{
	return m == &sasl_mech_scram_sha1 || m == &sasl_mech_scram_sha1_plus
	    ? &scram_sha1
	    : &scram_sha256;
}

static int
is_plus(const struct sasl_mech *m)
{
	return (m->flags & SASL_F_CHANBIND) != 0;
}

/* x_fail - fail with error e and reason for the log. */
static enum sasl_status
x_fail(struct sasl_exchange *x, enum sasl_error e, const char *reason)
{
	x->reason = reason;
	return sasl_x_fail(x, e);
}

/*
 * scram_attrs - split s[0..n) into attributes:
 *   attr-val = ALPHA "=" value ; value = 1*value-char (any UTF-8 but ',')
 * The count, or -1 if it does not parse (values may be empty here; callers
 * check what they use).
 */
static int
scram_attrs(const char *s, size_t n, struct scram_attr *a, int max)
{
	const char *comma;
	size_t pos = 0, start, end;
	int k = 0;

	if (n == 0 || memchr(s, '\0', n) != NULL || !str_valid_utf8(s, n))
		return -1;
	for (;;) {
		if (k == max || n - pos < 2)
			return -1;
		if (!((s[pos] >= 'a' && s[pos] <= 'z') ||
		        (s[pos] >= 'A' && s[pos] <= 'Z')) ||
		    s[pos + 1] != '=')
			return -1;
		start = pos + 2;
		comma = memchr(s + start, ',', n - start);
		end = comma != NULL ? (size_t)(comma - s) : n;
		a[k].name = s[pos];
		a[k].v = s + start;
		a[k].len = end - start;
		k++;
		if (comma == NULL)
			return k;
		pos = end + 1;
	}
}

/* printable_nonce - 1*printable, printable = %x21-2B / %x2D-7E. */
static int
printable_nonce(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == ',')
			return 0;
	}
	return 1;
}

/* Fixed nonces for the RFC test vectors (sasl_scram_test_nonces). */
static const char *test_nonce[2];

void
sasl_scram_test_nonces(const char *client, const char *server)
{
	test_nonce[0] = client;
	test_nonce[1] = server;
}

/* make_nonce - SCRAM_NONCE_RAW random octets, base64: no ',' ever. */
static size_t
make_nonce(char *out, size_t outsize, int server)
{
	unsigned char raw[SCRAM_NONCE_RAW];
	long n;

	if (test_nonce[server] != NULL)
		return str_copy(out, test_nonce[server], outsize) < outsize
		    ? strlen(out)
		    : 0;
	rand_bytes(raw, sizeof(raw));
	n = base64_encode(raw, sizeof(raw), out, outsize);
	return n < 0 ? 0 : (size_t)n;
}

/* cb_data - the connection's channel-binding data of kind cb, or NULL. */
static const unsigned char *
cb_data(const struct sasl_exchange *x, enum scram_cb cb, size_t *len)
{
	*len = 0;
	if (cb == SCRAM_CB_EXPORTER && x->conn.cb_exporter_len > 0) {
		*len = x->conn.cb_exporter_len;
		return x->conn.cb_exporter;
	}
	if (cb == SCRAM_CB_UNIQUE && x->conn.cb_unique_len > 0) {
		*len = x->conn.cb_unique_len;
		return x->conn.cb_unique;
	}
	return NULL;
}

/*
 * check_gs2 - the channel-binding rules of RFC 5802 §6 for this mechanism
 * and connection; SASL_CONTINUE when the header is acceptable.
 */
static enum sasl_status
check_gs2(
    struct sasl_exchange *x, struct scram_state *st, const struct gs2_header *g)
{
	size_t len;

	if (!is_plus(x->mech)) {
		if (g->flag == GS2_CB_USED)
			return x_fail(x, SASL_ERR_CHANBIND,
			    "channel-binding-not-supported");
		/* The client could bind but believes we cannot: someone
		 * removed -PLUS from our EHLO. Refuse (downgrade). */
		if (g->flag == GS2_CB_CLIENT && x->conn.plus_advertised)
			return x_fail(x, SASL_ERR_CHANBIND,
			    "server-does-support-channel-binding");
		st->cb = SCRAM_CB_NONE;
		return SASL_CONTINUE;
	}
	if (g->flag != GS2_CB_USED)
		return x_fail(x, SASL_ERR_CHANBIND, "channel-binding-required");
	if (strcmp(g->cb_name, "tls-exporter") == 0)
		st->cb = SCRAM_CB_EXPORTER;
	else if (strcmp(g->cb_name, "tls-unique") == 0)
		st->cb = SCRAM_CB_UNIQUE;
	else
		return x_fail(
		    x, SASL_ERR_CHANBIND, "unsupported-channel-binding-type");
	if (!x->conn.tls || cb_data(x, st->cb, &len) == NULL)
		return x_fail(
		    x, SASL_ERR_CHANBIND, "unsupported-channel-binding-type");
	return SASL_CONTINUE;
}

/* server_first_in - parse the client-first-message and ask for the keys. */
static enum sasl_status
server_first_in(
    struct sasl_exchange *x, struct scram_state *st, const struct bytes *in)
{
	struct scram_attr a[SCRAM_ATTRS_MAX];
	struct gs2_header g;
	char user[SASL_USER_MAX + 1];
	const char *bare;
	size_t bare_len;
	long ulen;
	int n;
	enum sasl_status s;

	st->phase = SCRAM_DONE;
	if (in->len == 0 || gs2_parse(in->data, in->len, &g) < 0)
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	bare = (const char *)in->data + g.len;
	bare_len = in->len - g.len;
	if (bare_len >= sizeof(st->cfb))
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	n = scram_attrs(bare, bare_len, a, SCRAM_ATTRS_MAX);
	if (n < 0)
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	if (a[0].name == 'm')
		return x_fail(
		    x, SASL_ERR_MALFORMED, "extensions-not-supported");
	if (n < 2 || a[0].name != 'n' || a[1].name != 'r')
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	if (!printable_nonce(a[1].v, a[1].len) || a[1].len > SCRAM_NONCE_MAX)
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	ulen = gs2_saslname_decode(a[0].v, a[0].len, user, sizeof(user));
	if (ulen <= 0)
		return x_fail(
		    x, SASL_ERR_MALFORMED, "invalid-username-encoding");

	s = check_gs2(x, st, &g);
	if (s != SASL_CONTINUE)
		return s;
	if (sasl_x_set_authcid(x, user, (size_t)ulen) < 0)
		return x_fail(
		    x, SASL_ERR_MALFORMED, "invalid-username-encoding");
	if (sasl_x_set_authzid(x, g.authzid, g.authzid_len) < 0)
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");

	memcpy(st->gs2, in->data, g.len);
	st->gs2_len = g.len;
	memcpy(st->cfb, bare, bare_len);
	st->cfb_len = bare_len;
	st->cnonce_off = (size_t)(a[1].v - bare);
	st->cnonce_len = a[1].len;
	st->phase = SCRAM_LOOKUP;
	sasl_x_lookup_credentials(x, hash_of(x->mech)->scheme);
	return SASL_PENDING;
}

static enum sasl_status scram_step_server(
    struct sasl_exchange *x, const struct bytes *in, struct buf *out);

static enum sasl_status
scram_step(struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct scram_state *st = x->state;

	switch (st->phase) {
	case SCRAM_START:
		if (in == NULL) {
			/* No initial response: an empty challenge (RFC 4954 §4). */
			st->phase = SCRAM_WANT_FIRST;
			return SASL_CONTINUE;
		}
		return server_first_in(x, st, in);
	case SCRAM_WANT_FIRST:
		if (in == NULL)
			break;
		return server_first_in(x, st, in);
	case SCRAM_WANT_FINAL:
		if (in == NULL)
			break;
		return scram_step_server(x, in, out);
	case SCRAM_LOOKUP:
	case SCRAM_DONE:
		break;
	}
	return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
}

/*
 * fake_record - stable stand-in keys for a user we cannot serve:
 * salt = HMAC-SHA-256(key, scheme NUL lower(user)) truncated, the
 * configured iteration count, keys nobody can match.
 */
static void
fake_record(const struct sasl_exchange *x, const struct scram_hash *h,
    struct scram_record *rec)
{
	unsigned char mac[SCRAM_HASH_MAX];
	char msg[64 + SASL_USER_MAX + 1];
	size_t sl = strlen(h->scheme), ul = strlen(x->authcid);

	if (!fake_key_set) {
		rand_bytes(fake_key, sizeof(fake_key));
		fake_key_set = 1;
	}
	memset(rec, 0, sizeof(*rec));
	memcpy(msg, h->scheme, sl + 1);
	memcpy(msg + sl + 1, x->authcid, ul);
	(void)str_lower(msg + sl + 1);
	if (scram_hmac(&scram_sha256, fake_key, sizeof(fake_key), msg,
	        sl + 1 + ul, mac) < 0)
		rand_bytes(mac, sizeof(mac));
	memcpy(rec->salt, mac, SCRAM_SALT_LEN);
	rec->salt_len = SCRAM_SALT_LEN;
	rec->iter = fake_iter;
	rand_bytes(rec->stored_key, sizeof(rec->stored_key));
	rand_bytes(rec->server_key, sizeof(rec->server_key));
	secret_wipe(mac, sizeof(mac));
}

/* scram_resume - the stored keys (or their absence): send server-first. */
static enum sasl_status
scram_resume(
    struct sasl_exchange *x, const struct cred_result *r, struct buf *out)
{
	struct scram_state *st = x->state;
	const struct scram_hash *h = hash_of(x->mech);
	char snonce[64], salt[SCRAM_SALT_MAX * 2];
	size_t snl;
	int n;

	if (st->phase != SCRAM_LOOKUP)
		return x_fail(x, SASL_ERR_TEMP, "state");
	st->phase = SCRAM_DONE;
	st->fake = NULL;
	switch (r->status) {
	case PASSDB_OK:
		if (r->secret == NULL ||
		    scram_record_parse(h, (const char *)r->secret->data,
		        r->secret->len, &st->rec) < 0)
			st->fake = "bad-stored-keys";
		break;
	case PASSDB_NO_USER:
		st->fake = "no-such-user";
		break;
	case PASSDB_NO_SCHEME:
		st->fake = "no-scram-keys";
		break;
	case PASSDB_DISABLED:
		st->fake = "disabled";
		break;
	case PASSDB_MISMATCH:
		st->fake = "other-error";
		break;
	case PASSDB_TEMPFAIL:
	default:
		x->reason = "backend";
		x->error = SASL_ERR_TEMP;
		return SASL_TEMPFAIL;
	}
	if (st->fake != NULL)
		fake_record(x, h, &st->rec);
	(void)str_copy(st->canon,
	    r->user != NULL && r->user[0] != '\0' ? r->user : x->authcid,
	    sizeof(st->canon));
	st->cred_flags = r->flags;

	snl = make_nonce(snonce, sizeof(snonce), 1);
	if (snl == 0 ||
	    base64_encode(st->rec.salt, st->rec.salt_len, salt, sizeof(salt)) <
	        0)
		return x_fail(x, SASL_ERR_TEMP, "no-resources");
	n = snprintf(st->sf, sizeof(st->sf), "r=%.*s%s,s=%s,i=%u",
	    (int)st->cnonce_len, st->cfb + st->cnonce_off, snonce, salt,
	    st->rec.iter);
	if (n < 0 || (size_t)n >= sizeof(st->sf))
		return x_fail(x, SASL_ERR_TEMP, "no-resources");
	st->sf_len = (size_t)n;
	st->nonce_len = st->cnonce_len + snl;
	if (buf_append(out, st->sf, st->sf_len) < 0)
		return x_fail(x, SASL_ERR_TEMP, "no-resources");
	st->phase = SCRAM_WANT_FINAL;
	return SASL_CONTINUE;
}

/* check_cbind - c= must be base64(gs2-header [|| cb-data]) (RFC 5802 §7). */
static int
check_cbind(const struct sasl_exchange *x, const struct scram_state *st,
    const struct scram_attr *c)
{
	unsigned char want[SCRAM_GS2_MAX + SCRAM_CB_MAX],
	    got[SCRAM_GS2_MAX + SCRAM_CB_MAX + 4];
	const unsigned char *cb;
	size_t cblen = 0, wlen;
	long n;

	if (c->len == 0 || base64_decoded_max(c->len) > sizeof(got))
		return -1;
	n = base64_decode(c->v, c->len, got, sizeof(got));
	if (n < 0)
		return -1;
	memcpy(want, st->gs2, st->gs2_len);
	wlen = st->gs2_len;
	if (st->cb != SCRAM_CB_NONE) {
		cb = cb_data(x, st->cb, &cblen);
		if (cb == NULL || cblen > SCRAM_CB_MAX)
			return 0;
		memcpy(want + wlen, cb, cblen);
		wlen += cblen;
	}
	if ((size_t)n != wlen)
		return 0;
	return ct_memeq(want, got, wlen);
}

/* scram_step_server - the client-final-message: check binding, nonce, proof. */
static enum sasl_status
scram_step_server(
    struct sasl_exchange *x, const struct bytes *in, struct buf *out)
{
	struct scram_state *st = x->state;
	const struct scram_hash *h = hash_of(x->mech);
	struct scram_attr a[SCRAM_ATTRS_MAX];
	unsigned char proof[SCRAM_HASH_MAX + 4], sig[SCRAM_HASH_MAX];
	char v[SCRAM_HASH_MAX * 2];
	const char *msg = (const char *)in->data;
	struct buf am;
	size_t cfwp_len;
	long pl;
	int n, rc, cb;
	enum sasl_status s;

	st->phase = SCRAM_DONE;
	n = scram_attrs(msg, in->len, a, SCRAM_ATTRS_MAX);
	if (n < 0)
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	if (n < 3 || a[0].name != 'c' || a[1].name != 'r' ||
	    a[n - 1].name != 'p')
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	if (a[n - 1].len == 0 ||
	    base64_decoded_max(a[n - 1].len) > sizeof(proof))
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	pl = base64_decode(a[n - 1].v, a[n - 1].len, proof, sizeof(proof));
	if (pl < 0 || (size_t)pl != h->len)
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	cb = check_cbind(x, st, &a[0]);
	if (cb < 0)
		return x_fail(x, SASL_ERR_MALFORMED, "invalid-encoding");
	if (cb == 0)
		return x_fail(
		    x, SASL_ERR_CHANBIND, "channel-bindings-dont-match");
	if (a[1].len != st->nonce_len ||
	    memcmp(a[1].v, st->sf + 2, st->nonce_len) != 0)
		return x_fail(x, SASL_ERR_CREDENTIALS, "nonce-mismatch");

	/* AuthMessage = client-first-message-bare "," server-first-message
	 *               "," client-final-message-without-proof */
	cfwp_len = (size_t)(a[n - 1].v - msg) - 3;
	buf_init(&am, SCRAM_AUTHMSG_MAX);
	if (buf_append(&am, st->cfb, st->cfb_len) < 0 ||
	    buf_append(&am, ",", 1) < 0 ||
	    buf_append(&am, st->sf, st->sf_len) < 0 ||
	    buf_append(&am, ",", 1) < 0 || buf_append(&am, msg, cfwp_len) < 0) {
		buf_free(&am);
		return x_fail(x, SASL_ERR_TEMP, "no-resources");
	}
	/* the same work whether the keys are real or fake */
	rc = scram_check_proof(
	    h, st->rec.stored_key, am.data, am.len, proof, (size_t)pl);
	if (rc == 1 && st->fake == NULL &&
	    scram_hmac(h, st->rec.server_key, h->len, am.data, am.len, sig) < 0)
		rc = -1;
	buf_free(&am);
	secret_wipe(proof, sizeof(proof));
	if (st->fake != NULL)
		return x_fail(x, SASL_ERR_CREDENTIALS, st->fake);
	if (rc != 1)
		return x_fail(x, SASL_ERR_CREDENTIALS, "invalid-proof");

	if (st->cred_flags & CRED_DISABLED)
		return x_fail(x, SASL_ERR_DISABLED, "disabled");
	s = sasl_x_finish_identity(x, st->canon);
	if (s != SASL_OK)
		return s;
	if (st->cred_flags & CRED_MUST_CHANGE) {
		x->user[0] = '\0';
		return x_fail(x, SASL_ERR_MUST_CHANGE, "must-change");
	}
	if (base64_encode(sig, h->len, v, sizeof(v)) < 0 ||
	    buf_appends(out, "v=") < 0 || buf_appends(out, v) < 0) {
		x->user[0] = '\0';
		return x_fail(x, SASL_ERR_TEMP, "no-resources");
	}
	return SASL_OK;
}

/* ---------- client side ---------- */

/* client_first - gs2-header and client-first-message-bare. */
static enum sasl_status
client_first(
    struct sasl_client *c, struct scram_client_state *st, struct buf *response)
{
	char user[3 * SASL_USER_MAX + 1], authz[3 * GS2_AUTHZID_MAX + 1];
	const char *authzid = c->authzid != NULL ? c->authzid : "";
	size_t clen = c->authcid != NULL ? strlen(c->authcid) : 0;
	int n;

	if (clen == 0 || clen > SASL_USER_MAX ||
	    strlen(authzid) > GS2_AUTHZID_MAX || c->password == NULL ||
	    gs2_saslname_encode(c->authcid, clen, user, sizeof(user)) < 0 ||
	    gs2_saslname_encode(
	        authzid, strlen(authzid), authz, sizeof(authz)) < 0)
		return SASL_FAIL;
	if (is_plus(c->mech)) {
		if (c->cb_type == NULL || c->cb_data == NULL ||
		    c->cb_len == 0 || c->cb_len > SCRAM_CB_MAX ||
		    strlen(c->cb_type) > GS2_CBNAME_MAX)
			return SASL_FAIL;
		n = snprintf((char *)st->gs2, sizeof(st->gs2), "p=%s,%s%s,",
		    c->cb_type, authz[0] != '\0' ? "a=" : "", authz);
	} else {
		/* "y": we could bind, but the server did not offer -PLUS */
		n = snprintf((char *)st->gs2, sizeof(st->gs2), "%s,%s%s,",
		    c->cb_type != NULL && c->cb_len > 0 ? "y" : "n",
		    authz[0] != '\0' ? "a=" : "", authz);
	}
	if (n < 0 || (size_t)n >= sizeof(st->gs2))
		return SASL_FAIL;
	st->gs2_len = (size_t)n;
	st->cnonce_len = make_nonce(st->cnonce, sizeof(st->cnonce), 0);
	if (st->cnonce_len == 0)
		return SASL_FAIL;
	n = snprintf(st->cfb, sizeof(st->cfb), "n=%s,r=%s", user, st->cnonce);
	if (n < 0 || (size_t)n >= sizeof(st->cfb))
		return SASL_FAIL;
	st->cfb_len = (size_t)n;
	if (buf_append(response, st->gs2, st->gs2_len) < 0 ||
	    buf_append(response, st->cfb, st->cfb_len) < 0)
		return SASL_FAIL;
	st->phase = SCRAM_WANT_FINAL;
	return SASL_CONTINUE;
}

/* client_final - answer the server-first-message with our proof. */
static enum sasl_status
client_final(struct sasl_client *c, struct scram_client_state *st,
    const struct bytes *ch, struct buf *response)
{
	const struct scram_hash *h = hash_of(c->mech);
	struct scram_attr a[SCRAM_ATTRS_MAX];
	unsigned char salt[SCRAM_SALT_MAX], sp[SCRAM_HASH_MAX],
	    proof[SCRAM_HASH_MAX], cbin[SCRAM_GS2_MAX + SCRAM_CB_MAX];
	char cb64[2 * (SCRAM_GS2_MAX + SCRAM_CB_MAX)], p64[SCRAM_HASH_MAX * 2];
	const char *sfm = (const char *)ch->data;
	unsigned long long iter;
	char num[16];
	size_t cbl, mark;
	long sl;
	int n;
	enum sasl_status rc = SASL_FAIL;

	n = scram_attrs(sfm, ch->len, a, SCRAM_ATTRS_MAX);
	if (n < 3 || a[0].name != 'r' || a[1].name != 's' || a[2].name != 'i')
		return SASL_FAIL; /* also "m=": no extension is known to us */
	/* the server's nonce must extend ours */
	if (!printable_nonce(a[0].v, a[0].len) || a[0].len <= st->cnonce_len ||
	    memcmp(a[0].v, st->cnonce, st->cnonce_len) != 0)
		return SASL_FAIL;
	if (a[1].len == 0 || base64_decoded_max(a[1].len) > sizeof(salt) + 2)
		return SASL_FAIL;
	sl = base64_decode(a[1].v, a[1].len, salt, sizeof(salt));
	if (sl <= 0 || a[2].len == 0 || a[2].len >= sizeof(num))
		return SASL_FAIL;
	memcpy(num, a[2].v, a[2].len);
	num[a[2].len] = '\0';
	if (str_to_uint(num, SCRAM_ITER_MAX, &iter) < 0 ||
	    iter < SCRAM_ITER_MIN)
		return SASL_FAIL;

	memcpy(cbin, st->gs2, st->gs2_len);
	cbl = st->gs2_len;
	if (is_plus(c->mech)) {
		memcpy(cbin + cbl, c->cb_data, c->cb_len);
		cbl += c->cb_len;
	}
	if (base64_encode(cbin, cbl, cb64, sizeof(cb64)) < 0)
		return SASL_FAIL;
	/* AuthMessage is built in response, then cut back to the
	 * client-final-message-without-proof. */
	if (buf_append(response, st->cfb, st->cfb_len) < 0 ||
	    buf_append(response, ",", 1) < 0 ||
	    buf_append(response, sfm, ch->len) < 0 ||
	    buf_append(response, ",", 1) < 0)
		goto out;
	mark = response->len;
	if (buf_appends(response, "c=") < 0 ||
	    buf_appends(response, cb64) < 0 ||
	    buf_appends(response, ",r=") < 0 ||
	    buf_append(response, a[0].v, a[0].len) < 0)
		goto out;
	if (scram_hi(h, c->password->data, c->password->len, salt, (size_t)sl,
	        (unsigned int)iter, sp) < 0 ||
	    scram_client_proof(h, sp, response->data, response->len, proof,
	        st->server_sig) < 0 ||
	    base64_encode(proof, h->len, p64, sizeof(p64)) < 0)
		goto out;
	buf_consume(response, mark);
	if (buf_appends(response, ",p=") < 0 || buf_appends(response, p64) < 0)
		goto out;
	st->phase = SCRAM_DONE;
	rc = SASL_CONTINUE;
out:
	secret_wipe(sp, sizeof(sp));
	secret_wipe(proof, sizeof(proof));
	secret_wipe(p64, sizeof(p64));
	if (rc != SASL_CONTINUE)
		buf_reset(response);
	return rc;
}

/* client_verify - the server-final-message: v= must be the signature we expect. */
static enum sasl_status
client_verify(struct sasl_client *c, struct scram_client_state *st,
    const struct bytes *ch)
{
	const struct scram_hash *h = hash_of(c->mech);
	struct scram_attr a[SCRAM_ATTRS_MAX];
	unsigned char v[SCRAM_HASH_MAX + 4];
	long n;
	int k;

	st->phase = SCRAM_LOOKUP; /* nothing more is accepted */
	k = scram_attrs((const char *)ch->data, ch->len, a, SCRAM_ATTRS_MAX);
	if (k < 1 || a[0].name != 'v' || a[0].len == 0 ||
	    base64_decoded_max(a[0].len) > sizeof(v))
		return SASL_FAIL; /* "e=..." or garbage */
	n = base64_decode(a[0].v, a[0].len, v, sizeof(v));
	if (n < 0 || (size_t)n != h->len ||
	    !ct_memeq(v, st->server_sig, h->len))
		return SASL_FAIL;
	return SASL_OK;
}

/*
 * scram_client_step - client-first (as initial response, or after an empty
 * challenge), then client-final, then the check of the server's signature:
 * SASL_OK with an empty response, which the caller sends as the empty line
 * that answers the 334 carrying v=. A wrong or missing v= is SASL_FAIL: the
 * caller must then cancel with "*" and not trust the session.
 */
static enum sasl_status
scram_client_step(
    struct sasl_client *c, const struct bytes *challenge, struct buf *response)
{
	struct scram_client_state *st = c->state;

	switch (st->phase) {
	case SCRAM_START:
		if (challenge != NULL && challenge->len != 0)
			return SASL_FAIL;
		return client_first(c, st, response);
	case SCRAM_WANT_FINAL:
		if (challenge == NULL || challenge->len == 0)
			return SASL_FAIL;
		return client_final(c, st, challenge, response);
	case SCRAM_DONE:
		if (challenge == NULL || challenge->len == 0)
			return SASL_FAIL;
		return client_verify(c, st, challenge);
	case SCRAM_WANT_FIRST:
	case SCRAM_LOOKUP:
		break;
	}
	return SASL_FAIL;
}

#define SCRAM_MECH(var, mname, mflags, mscheme)                                \
	const struct sasl_mech var = {                                         \
	    .name = mname,                                                     \
	    .flags = SASL_F_CLIENT_FIRST | (mflags),                           \
	    .need = SASL_NEED_CREDENTIALS,                                     \
	    .scheme = mscheme,                                                 \
	    .state_size = sizeof(struct scram_state),                          \
	    .step = scram_step,                                                \
	    .resume = scram_resume,                                            \
	    .client_state_size = sizeof(struct scram_client_state),            \
	    .client_step = scram_client_step,                                  \
	}

SCRAM_MECH(sasl_mech_scram_sha1, "SCRAM-SHA-1", 0, "SCRAM-SHA-1");
SCRAM_MECH(sasl_mech_scram_sha1_plus, "SCRAM-SHA-1-PLUS", SASL_F_CHANBIND,
    "SCRAM-SHA-1");
SCRAM_MECH(sasl_mech_scram_sha256, "SCRAM-SHA-256", 0, "SCRAM-SHA-256");
SCRAM_MECH(sasl_mech_scram_sha256_plus, "SCRAM-SHA-256-PLUS", SASL_F_CHANBIND,
    "SCRAM-SHA-256");
