/*
 * test_scram.c - SCRAM-SHA-1, SCRAM-SHA-256 and -PLUS (src/sasl/scram.c,
 * scram_math.c): the RFC 5802 §5 and RFC 7677 §3 vectors through both
 * sides, client vs server round trips (names with ',' and '=', authzid,
 * tls-exporter and tls-unique), the downgrade and man-in-the-middle cases,
 * unknown users, and every malformed-message branch of the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/secret.h"
#include "sasl/client.h"
#include "sasl/exchange.h"
#include "sasl/registry.h"
#include "sasl/scram.h"
#include "sasl/scram_math.h"
#include "sasl_test.h"

#define OUT_MAX 16384

struct vector {
	const struct sasl_mech *mech;
	const struct scram_hash *h;
	const char *cnonce, *snonce, *salt;
	const char *client_first, *server_first, *client_final, *server_final;
	const char *stored_key, *server_key;
};

static const struct vector vec_sha1 = {
    &sasl_mech_scram_sha1,
    &scram_sha1,
    "fyko+d2lbbFgONRv9qkxdawL",
    "3rfcNHYJY1ZVvWVs7j",
    "QSXCR+Q6sek8bf92",
    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    "6dlGYMOdZcOPutkcNY8U2g7vK9Y=",
    "D+CSWLOshSulAsxiupA+qs2/fTE=",
};

static const struct vector vec_sha256 = {
    &sasl_mech_scram_sha256,
    &scram_sha256,
    "rOprNGfwEbeRWgbNEkqO",
    "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "W22ZaJ0SNY7soEsUEjb6gQ==",
    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
};

static struct bytes
S(const char *s) {
	struct bytes b = {(const unsigned char *)s, strlen(s)};

	return b;
}

static void
b64(const unsigned char *p, size_t n, char *out, size_t outsize)
{
	assert_true(base64_encode(p, n, out, outsize) >= 0);
}

/* record_text - "iter,salt,StoredKey,ServerKey" of the vector. */
static void
record_text(const struct vector *v, char *out, size_t outsize)
{
	snprintf(out, outsize, "4096,%s,%s,%s", v->salt, v->stored_key,
	    v->server_key);
}

/* resume_ok - answer the pending lookup with record text rec for user. */
static enum sasl_status
resume_with(struct sasl_exchange *x, enum passdb_status status,
    const char *user, const char *rec, unsigned int flags, struct buf *out)
{
	struct cred_result r = cred(status, user, flags);
	struct secret *sec = NULL;
	enum sasl_status st;

	assert_int_equal(x->pending, SASL_PENDING_CREDENTIALS);
	if (rec != NULL) {
		sec = secret_new(rec, strlen(rec));
		r.secret = sec;
		r.scheme = x->pending_scheme;
	}
	st = sasl_exchange_resume(x, &r, out);
	secret_free(sec);
	return st;
}

static void
check_vector_math(const struct vector *v)
{
	struct scram_record rec;
	unsigned char salt[64], proof[32], sig[32], sp[32], rawproof[32];
	char t[128], am[512];
	long sl;
	const char *cfb = v->client_first + 3;
	const char *cf = v->client_final;
	size_t cfwp = (size_t)(strstr(cf, ",p=") - cf);

	sl = base64_decode(v->salt, strlen(v->salt), salt, sizeof(salt));
	assert_true(sl > 0);
	assert_int_equal(
	    scram_record_make(v->h, "pencil", 6, salt, (size_t)sl, 4096, &rec),
	    0);
	b64(rec.stored_key, v->h->len, t, sizeof(t));
	assert_string_equal(t, v->stored_key);
	b64(rec.server_key, v->h->len, t, sizeof(t));
	assert_string_equal(t, v->server_key);
	assert_int_equal(scram_record_format(v->h, &rec, am, sizeof(am)), 0);
	record_text(v, t, sizeof(t));
	assert_string_equal(am, t);

	snprintf(
	    am, sizeof(am), "%s,%s,%.*s", cfb, v->server_first, (int)cfwp, cf);
	assert_int_equal(
	    scram_hi(v->h, "pencil", 6, salt, (size_t)sl, 4096, sp), 0);
	assert_int_equal(
	    scram_client_proof(v->h, sp, am, strlen(am), proof, sig), 0);
	b64(proof, v->h->len, t, sizeof(t));
	assert_string_equal(t, strstr(cf, ",p=") + 3);
	b64(sig, v->h->len, t, sizeof(t));
	assert_string_equal(t, v->server_final + 2);
	assert_int_equal(
	    base64_decode(strstr(cf, ",p=") + 3, strlen(strstr(cf, ",p=") + 3),
	        rawproof, sizeof(rawproof)),
	    (long)v->h->len);
	assert_int_equal(scram_check_proof(v->h, rec.stored_key, am, strlen(am),
	                     rawproof, v->h->len),
	    1);
	rawproof[0] ^= 1;
	assert_int_equal(scram_check_proof(v->h, rec.stored_key, am, strlen(am),
	                     rawproof, v->h->len),
	    0);
	assert_int_equal(scram_check_proof(v->h, rec.stored_key, am, strlen(am),
	                     rawproof, v->h->len - 1),
	    -1);
}

static void
test_math_vectors(void **state)
{
	check_vector_math(&vec_sha1);
	check_vector_math(&vec_sha256);
	assert_ptr_equal(scram_hash_find("scram-sha-1"), &scram_sha1);
	assert_ptr_equal(scram_hash_find("SCRAM-SHA-256"), &scram_sha256);
	assert_null(scram_hash_find("SCRAM-SHA-512"));
}

static void
test_record_parse(void **state)
{
	static const char *const bad[] = {
	    "",
	    "4096",
	    "0,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,"
	    "D+CSWLOshSulAsxiupA+qs2/fTE=",
	    "x,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,"
	    "D+CSWLOshSulAsxiupA+qs2/fTE=",
	    "4096,,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,D+CSWLOshSulAsxiupA+qs2/fTE=",
	    "4096,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=",
	    "4096,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,"
	    "D+CSWLOshSulAsxiupA+qs2/fTE=,extra",
	    /* SHA-256 keys in a SHA-1 record */
	    "4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "4096,QSXCR+Q6sek8bf92!,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,"
	    "D+CSWLOshSulAsxiupA+qs2/fTE=",
	    "99999999999,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,"
	    "D+CSWLOshSulAsxiupA+qs2/fTE=",
	};
	struct scram_record rec;
	char t[256];
	size_t i;

	record_text(&vec_sha1, t, sizeof(t));
	assert_int_equal(
	    scram_record_parse(&scram_sha1, t, strlen(t), &rec), 0);
	assert_int_equal(rec.iter, 4096);
	assert_int_equal(rec.salt_len, 12);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(scram_record_parse(
		                     &scram_sha1, bad[i], strlen(bad[i]), &rec),
		    -1);
}

/* server_vector - the RFC exchange, server side, with the RFC's nonce. */
static void
server_vector(const struct vector *v)
{
	struct sasl_exchange *x = sasl_exchange_new(v->mech, NULL, 0);
	struct buf out;
	char rec[256];
	struct bytes in;

	assert_non_null(x);
	buf_init(&out, OUT_MAX);
	sasl_scram_test_nonces(NULL, v->snonce);
	in = S(v->client_first);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	assert_string_equal(x->authcid, "user");
	assert_string_equal(x->pending_scheme, v->h->scheme);
	record_text(v, rec, sizeof(rec));
	assert_int_equal(
	    resume_with(x, PASSDB_OK, "user", rec, 0, &out), SASL_CONTINUE);
	assert_int_equal(out.len, strlen(v->server_first));
	assert_memory_equal(out.data, v->server_first, out.len);
	in = S(v->client_final);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_OK);
	assert_int_equal(out.len, strlen(v->server_final));
	assert_memory_equal(out.data, v->server_final, out.len);
	assert_string_equal(x->user, "user");
	sasl_scram_test_nonces(NULL, NULL);
	buf_free(&out);
	sasl_exchange_free(x);
}

/* client_vector - the RFC exchange, client side. */
static void
client_vector(const struct vector *v)
{
	static const char pw[] = "pencil";
	struct secret *s = secret_new(pw, 6);
	struct sasl_client *c = sasl_client_new(v->mech, "user", NULL, s);
	struct buf out;
	struct bytes in;
	char bad[128];

	assert_non_null(c);
	buf_init(&out, OUT_MAX);
	sasl_scram_test_nonces(v->cnonce, NULL);
	assert_int_equal(sasl_client_step(c, NULL, &out), SASL_CONTINUE);
	assert_int_equal(out.len, strlen(v->client_first));
	assert_memory_equal(out.data, v->client_first, out.len);
	in = S(v->server_first);
	assert_int_equal(sasl_client_step(c, &in, &out), SASL_CONTINUE);
	assert_int_equal(out.len, strlen(v->client_final));
	assert_memory_equal(out.data, v->client_final, out.len);
	in = S(v->server_final);
	assert_int_equal(sasl_client_step(c, &in, &out), SASL_OK);
	assert_int_equal(out.len, 0);
	sasl_client_free(c);

	/* a server that does not know the password: its v= is refused */
	c = sasl_client_new(v->mech, "user", NULL, s);
	assert_int_equal(sasl_client_step(c, NULL, &out), SASL_CONTINUE);
	in = S(v->server_first);
	assert_int_equal(sasl_client_step(c, &in, &out), SASL_CONTINUE);
	snprintf(bad, sizeof(bad), "%s", v->server_final);
	bad[3] = bad[3] == 'A' ? 'B' : 'A';
	in = S(bad);
	assert_int_equal(sasl_client_step(c, &in, &out), SASL_FAIL);
	sasl_client_free(c);

	/* an e= server-final-message is a failure */
	c = sasl_client_new(v->mech, "user", NULL, s);
	assert_int_equal(sasl_client_step(c, NULL, &out), SASL_CONTINUE);
	in = S(v->server_first);
	assert_int_equal(sasl_client_step(c, &in, &out), SASL_CONTINUE);
	in = S("e=invalid-proof");
	assert_int_equal(sasl_client_step(c, &in, &out), SASL_FAIL);
	sasl_client_free(c);

	sasl_scram_test_nonces(NULL, NULL);
	buf_free(&out);
	secret_free(s);
}

static void
test_rfc5802_vector(void **state)
{
	server_vector(&vec_sha1);
	client_vector(&vec_sha1);
}

static void
test_rfc7677_vector(void **state)
{
	server_vector(&vec_sha256);
	client_vector(&vec_sha256);
}

/* The client refuses server-first messages it cannot trust. */
static void
test_client_bad_server_first(void **state)
{
	static const char *const bad[] = {
	    /* no server nonce after ours */
	    "r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096",
	    "r=XXXX+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
	    "m=x,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=!!!,i=4096",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=99999999999",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=12x",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096,s=QSXCR+Q6sek8bf92",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92",
	    "",
	};
	struct secret *s = secret_new("pencil", 6);
	struct buf out;
	struct bytes in;
	size_t i;

	buf_init(&out, OUT_MAX);
	sasl_scram_test_nonces(vec_sha1.cnonce, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sasl_client *c =
		    sasl_client_new(&sasl_mech_scram_sha1, "user", NULL, s);

		assert_int_equal(
		    sasl_client_step(c, NULL, &out), SASL_CONTINUE);
		in = S(bad[i]);
		assert_int_equal(sasl_client_step(c, &in, &out), SASL_FAIL);
		sasl_client_free(c);
	}
	sasl_scram_test_nonces(NULL, NULL);
	buf_free(&out);
	secret_free(s);
}

struct conn_cb {
	const char *type; /* what the client binds to; NULL: no TLS data */
	unsigned char data[32];
	size_t len;
};

/*
 * roundtrip - our client against our server for user/password; the server
 * holds keys derived from server_pw. Returns the final server status and
 * leaves the exchange's error in *err.
 */
static enum sasl_status
roundtrip(const struct sasl_mech *m, const char *user, const char *authzid,
    const char *pw, const char *server_pw, const struct sasl_conn_info *ci,
    const struct conn_cb *ccb, int allow_authzid, enum sasl_error *err,
    char *login, size_t loginlen)
{
	const struct scram_hash *h =
	    strstr(m->name, "SHA-1") != NULL ? &scram_sha1 : &scram_sha256;
	struct secret *s = secret_new(pw, strlen(pw));
	struct sasl_client *c = sasl_client_new(m, user, authzid, s);
	struct sasl_exchange *x = sasl_exchange_new(m, ci, allow_authzid);
	struct scram_record rec;
	unsigned char salt[16] = "0123456789abcdef";
	char rtext[256];
	struct buf cout, sout;
	struct bytes in;
	enum sasl_status st, cst;

	assert_non_null(c);
	assert_non_null(x);
	if (ccb != NULL && ccb->type != NULL) {
		c->cb_type = ccb->type;
		c->cb_data = ccb->data;
		c->cb_len = ccb->len;
	}
	assert_int_equal(scram_record_make(h, server_pw, strlen(server_pw),
	                     salt, sizeof(salt), 4096, &rec),
	    0);
	assert_int_equal(scram_record_format(h, &rec, rtext, sizeof(rtext)), 0);
	buf_init(&cout, OUT_MAX);
	buf_init(&sout, OUT_MAX);
	cst = sasl_client_step(c, NULL, &cout);
	if (cst != SASL_CONTINUE) {
		st = SASL_FAIL;
		*err = SASL_ERR_NONE;
		goto out;
	}
	in.data = (const unsigned char *)cout.data;
	in.len = cout.len;
	st = sasl_exchange_step(x, &in, &sout);
	if (st != SASL_PENDING)
		goto out;
	st = resume_with(x, PASSDB_OK, x->authcid, rtext, 0, &sout);
	if (st != SASL_CONTINUE)
		goto out;
	in.data = (const unsigned char *)sout.data;
	in.len = sout.len;
	assert_int_equal(sasl_client_step(c, &in, &cout), SASL_CONTINUE);
	in.data = (const unsigned char *)cout.data;
	in.len = cout.len;
	st = sasl_exchange_step(x, &in, &sout);
	if (st == SASL_OK) {
		in.data = (const unsigned char *)sout.data;
		in.len = sout.len;
		assert_int_equal(sasl_client_step(c, &in, &cout), SASL_OK);
		snprintf(login, loginlen, "%s", x->user);
	}
out:
	*err = x->error;
	buf_free(&cout);
	buf_free(&sout);
	sasl_client_free(c);
	sasl_exchange_free(x);
	secret_free(s);
	return st;
}

static void
tls_conn(struct sasl_conn_info *ci, int v13, int plus)
{
	size_t i;

	memset(ci, 0, sizeof(*ci));
	ci->tls = 1;
	snprintf(ci->tls_version, sizeof(ci->tls_version), "%s",
	    v13 ? "TLSv1.3" : "TLSv1.2");
	for (i = 0; i < 32; i++)
		ci->cb_exporter[i] = (unsigned char)(0xa0 + i);
	ci->cb_exporter_len = 32;
	if (!v13) {
		for (i = 0; i < 12; i++)
			ci->cb_unique[i] = (unsigned char)(0x10 + i);
		ci->cb_unique_len = 12;
	}
	ci->plus_advertised = plus;
}

static void
test_roundtrips(void **state)
{
	static const struct sasl_mech *const plain_mechs[] = {
	    &sasl_mech_scram_sha1, &sasl_mech_scram_sha256};
	static const char *const users[] = {
	    "user", "a,b@example.org", "x=y", "=2C,=,", "ünïcödé@example.org"};
	struct sasl_conn_info ci;
	enum sasl_error err;
	char login[300];
	size_t i, j;

	tls_conn(&ci, 1, 0);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < sizeof(users) / sizeof(users[0]); j++) {
			assert_int_equal(
			    roundtrip(plain_mechs[i], users[j], NULL,
			        "secret pw", "secret pw", &ci, NULL, 0, &err,
			        login, sizeof(login)),
			    SASL_OK);
			assert_string_equal(login, users[j]);
		}
		/* wrong password: invalid proof, 535 */
		assert_int_equal(
		    roundtrip(plain_mechs[i], "user", NULL, "bad", "secret pw",
		        &ci, NULL, 0, &err, login, sizeof(login)),
		    SASL_FAIL);
		assert_int_equal(err, SASL_ERR_CREDENTIALS);
		/* authzid: allowed only with allow_authzid; ',' '=' survive */
		assert_int_equal(
		    roundtrip(plain_mechs[i], "user", "b,o=ss", "pw", "pw", &ci,
		        NULL, 0, &err, login, sizeof(login)),
		    SASL_FAIL);
		assert_int_equal(err, SASL_ERR_AUTHZ);
		assert_int_equal(
		    roundtrip(plain_mechs[i], "user", "b,o=ss", "pw", "pw", &ci,
		        NULL, 1, &err, login, sizeof(login)),
		    SASL_OK);
		assert_string_equal(login, "b,o=ss");
		assert_int_equal(
		    roundtrip(plain_mechs[i], "user", "user", "pw", "pw", &ci,
		        NULL, 0, &err, login, sizeof(login)),
		    SASL_OK);
	}
}

/* -PLUS with tls-exporter (TLS 1.3) and tls-unique (TLS 1.2), and the
 * man in the middle: binding data of another TLS connection. */
static void
test_plus(void **state)
{
	static const struct sasl_mech *const plus[] = {
	    &sasl_mech_scram_sha1_plus, &sasl_mech_scram_sha256_plus};
	struct sasl_conn_info ci13, ci12;
	struct conn_cb exp, uniq, other;
	enum sasl_error err;
	char login[300];
	size_t i;

	tls_conn(&ci13, 1, 1);
	tls_conn(&ci12, 0, 1);
	exp.type = "tls-exporter";
	memcpy(exp.data, ci13.cb_exporter, 32);
	exp.len = 32;
	uniq.type = "tls-unique";
	memcpy(uniq.data, ci12.cb_unique, 12);
	uniq.len = 12;
	other = exp;
	other.data[5] ^= 0x40;
	for (i = 0; i < 2; i++) {
		assert_int_equal(
		    roundtrip(plus[i], "user", NULL, "pw", "pw", &ci13, &exp, 0,
		        &err, login, sizeof(login)),
		    SASL_OK);
		assert_int_equal(
		    roundtrip(plus[i], "user", NULL, "pw", "pw", &ci12, &uniq,
		        0, &err, login, sizeof(login)),
		    SASL_OK);
		/* TLS 1.2 with extended master secret offers tls-exporter too */
		assert_int_equal(
		    roundtrip(plus[i], "user", NULL, "pw", "pw", &ci12, &exp, 0,
		        &err, login, sizeof(login)),
		    SASL_OK);
		/* MITM: the client's TLS session is not the server's */
		assert_int_equal(
		    roundtrip(plus[i], "user", NULL, "pw", "pw", &ci13, &other,
		        0, &err, login, sizeof(login)),
		    SASL_FAIL);
		assert_int_equal(err, SASL_ERR_CHANBIND);
		/* no tls-unique on TLS 1.3 */
		assert_int_equal(
		    roundtrip(plus[i], "user", NULL, "pw", "pw", &ci13, &uniq,
		        0, &err, login, sizeof(login)),
		    SASL_FAIL);
		assert_int_equal(err, SASL_ERR_CHANBIND);
		/* the client cannot run -PLUS without binding data */
		assert_int_equal(
		    roundtrip(plus[i], "user", NULL, "pw", "pw", &ci13, NULL, 0,
		        &err, login, sizeof(login)),
		    SASL_FAIL);
	}
}

/* "y": the client could bind but saw no -PLUS; refused if we offered it. */
static void
test_downgrade(void **state)
{
	struct sasl_conn_info ci;
	struct conn_cb exp;
	enum sasl_error err;
	char login[300];

	tls_conn(&ci, 1, 1);
	exp.type = "tls-exporter";
	memcpy(exp.data, ci.cb_exporter, 32);
	exp.len = 32;
	assert_int_equal(roundtrip(&sasl_mech_scram_sha256, "user", NULL, "pw",
	                     "pw", &ci, &exp, 0, &err, login, sizeof(login)),
	    SASL_FAIL);
	assert_int_equal(err, SASL_ERR_CHANBIND);
	ci.plus_advertised = 0;
	assert_int_equal(roundtrip(&sasl_mech_scram_sha256, "user", NULL, "pw",
	                     "pw", &ci, &exp, 0, &err, login, sizeof(login)),
	    SASL_OK);
}

struct first_case {
	const struct sasl_mech *mech;
	const char *msg;
	size_t len; /* 0: strlen */
	int plus_advertised, tls13;
	enum sasl_status want;
	enum sasl_error err;
	const char *reason;
};

/* Every way a client-first-message can be refused. */
static void
test_malformed_first(void **state)
{
	static const struct first_case cases[] = {
	    {&sasl_mech_scram_sha256, "", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "x,,n=user,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "F,n,,n=user,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,n=user,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,a=,n=user,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,a=x=2,n=user,r=abc", 0, 0, 0,
	        SASL_FAIL, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,m=ext,n=user,r=abc", 0, 0, 0,
	        SASL_FAIL, SASL_ERR_MALFORMED, "extensions-not-supported"},
	    {&sasl_mech_scram_sha256, "n,,r=abc,n=user", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=user", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=user,r=", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=user,r=ab\x7f", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=user,r=abc,", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=user,r=abc,junk", 0, 0, 0,
	        SASL_FAIL, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=user\0x,r=abc", 18, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256,
	        "n,,n=us\xff"
	        "er,r=abc",
	        0, 0, 0, SASL_FAIL, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-username-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=us=2Xer,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-username-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=user=,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-username-encoding"},
	    {&sasl_mech_scram_sha256, "n,,n=us\ter,r=abc", 0, 0, 0, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-username-encoding"},
	    /* channel binding rules (RFC 5802 §6) */
	    {&sasl_mech_scram_sha256, "p=tls-exporter,,n=user,r=abc", 0, 1, 1,
	        SASL_FAIL, SASL_ERR_CHANBIND, "channel-binding-not-supported"},
	    {&sasl_mech_scram_sha256, "y,,n=user,r=abc", 0, 1, 1, SASL_FAIL,
	        SASL_ERR_CHANBIND, "server-does-support-channel-binding"},
	    {&sasl_mech_scram_sha256_plus, "n,,n=user,r=abc", 0, 1, 1,
	        SASL_FAIL, SASL_ERR_CHANBIND, "channel-binding-required"},
	    {&sasl_mech_scram_sha256_plus, "y,,n=user,r=abc", 0, 1, 1,
	        SASL_FAIL, SASL_ERR_CHANBIND, "channel-binding-required"},
	    {&sasl_mech_scram_sha256_plus, "p=tls-server-end-point,,n=user,r=a",
	        0, 1, 1, SASL_FAIL, SASL_ERR_CHANBIND,
	        "unsupported-channel-binding-type"},
	    {&sasl_mech_scram_sha256_plus, "p=tls-unique,,n=user,r=a", 0, 1, 1,
	        SASL_FAIL, SASL_ERR_CHANBIND,
	        "unsupported-channel-binding-type"},
	    {&sasl_mech_scram_sha256_plus, "p=,,n=user,r=a", 0, 1, 1, SASL_FAIL,
	        SASL_ERR_MALFORMED, "invalid-encoding"},
	    {&sasl_mech_scram_sha256_plus, "p=tls_x,,n=user,r=a", 0, 1, 1,
	        SASL_FAIL, SASL_ERR_MALFORMED, "invalid-encoding"},
	    /* accepted: extensions are ignored, 'y' without -PLUS offered */
	    {&sasl_mech_scram_sha256, "n,,n=user,r=abc,x=ext", 0, 0, 0,
	        SASL_PENDING, SASL_ERR_NONE, NULL},
	    {&sasl_mech_scram_sha256, "y,,n=user,r=abc", 0, 0, 0, SASL_PENDING,
	        SASL_ERR_NONE, NULL},
	    {&sasl_mech_scram_sha256_plus, "p=tls-unique,,n=user,r=a", 0, 1, 0,
	        SASL_PENDING, SASL_ERR_NONE, NULL},
	};
	struct sasl_conn_info ci;
	struct buf out;
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct first_case *t = &cases[i];
		struct sasl_exchange *x;
		struct bytes in;

		tls_conn(&ci, t->tls13, t->plus_advertised);
		x = sasl_exchange_new(t->mech, &ci, 0);
		in.data = (const unsigned char *)t->msg;
		in.len = t->len != 0 ? t->len : strlen(t->msg);
		print_message("case %zu: %s\n", i, t->msg);
		assert_int_equal(sasl_exchange_step(x, &in, &out), t->want);
		assert_int_equal(x->error, t->err);
		if (t->reason != NULL)
			assert_string_equal(x->reason, t->reason);
		sasl_exchange_free(x);
	}
	buf_free(&out);
}

/* start - a SCRAM-SHA-256 exchange that has sent its server-first (vector). */
static struct sasl_exchange *
start(const struct sasl_conn_info *ci, struct buf *out)
{
	struct sasl_exchange *x =
	    sasl_exchange_new(&sasl_mech_scram_sha256, ci, 0);
	char rec[256];
	struct bytes in = S(vec_sha256.client_first);

	sasl_scram_test_nonces(NULL, vec_sha256.snonce);
	assert_int_equal(sasl_exchange_step(x, &in, out), SASL_PENDING);
	record_text(&vec_sha256, rec, sizeof(rec));
	assert_int_equal(
	    resume_with(x, PASSDB_OK, "user", rec, 0, out), SASL_CONTINUE);
	sasl_scram_test_nonces(NULL, NULL);
	return x;
}

/* Every way a client-final-message can be refused. */
static void
test_malformed_final(void **state)
{
#define NONCE "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define PROOF "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	static const struct {
		const char *msg;
		enum sasl_error err;
		const char *reason;
	} cases[] = {
	    {"", SASL_ERR_MALFORMED, "invalid-encoding"},
	    {NONCE ",c=biws," PROOF, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {"c=biws," NONCE, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {"c=biws," PROOF, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {"c=biws," NONCE "," PROOF ",x=y", SASL_ERR_MALFORMED,
	        "invalid-encoding"},
	    {"c=biws," NONCE ",p=", SASL_ERR_MALFORMED, "invalid-encoding"},
	    {"c=biws," NONCE ",p=!!!!", SASL_ERR_MALFORMED, "invalid-encoding"},
	    {"c=biws," NONCE ",p=dHzbZapWIk4jUhN+Ute9", SASL_ERR_MALFORMED,
	        "invalid-encoding"},
	    {"c=bi!s," NONCE "," PROOF, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {"c=," NONCE "," PROOF, SASL_ERR_MALFORMED, "invalid-encoding"},
	    {"c=eSws," NONCE "," PROOF, SASL_ERR_CHANBIND,
	        "channel-bindings-dont-match"},
	    {"c=biwsAAAA," NONCE "," PROOF, SASL_ERR_CHANBIND,
	        "channel-bindings-dont-match"},
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO," PROOF, SASL_ERR_CREDENTIALS,
	        "nonce-mismatch"},
	    {"c=biws," NONCE "X," PROOF, SASL_ERR_CREDENTIALS,
	        "nonce-mismatch"},
	    {"c=biws,r=XOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$"
	     "k0," PROOF,
	        SASL_ERR_CREDENTIALS, "nonce-mismatch"},
	    {"c=biws," NONCE ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	        SASL_ERR_CREDENTIALS, "invalid-proof"},
	};
	struct buf out;
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sasl_exchange *x = start(NULL, &out);
		struct bytes in = S(cases[i].msg);

		print_message("case %zu: %s\n", i, cases[i].msg);
		assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
		assert_int_equal(x->error, cases[i].err);
		assert_string_equal(x->reason, cases[i].reason);
		assert_string_equal(x->user, "");
		/* no further step after a failure */
		in = S(vec_sha256.client_final);
		assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
		sasl_exchange_free(x);
	}
	/* an extension before the proof parses (and changes AuthMessage) */
	{
		struct sasl_exchange *x = start(NULL, &out);
		struct bytes in = S("c=biws," NONCE ",x=ext," PROOF);

		assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
		assert_string_equal(x->reason, "invalid-proof");
		sasl_exchange_free(x);
	}
	buf_free(&out);
#undef NONCE
#undef PROOF
}

/* lookup_answer - client-first for user, then the given passdb answer; sf gets the server-first. */
static enum sasl_status
lookup_answer(const char *user, enum passdb_status status, const char *rec,
    unsigned int flags, char *sf, size_t sflen, struct sasl_exchange **xr)
{
	struct sasl_exchange *x =
	    sasl_exchange_new(&sasl_mech_scram_sha256, NULL, 0);
	struct buf out;
	char msg[300];
	struct bytes in;
	enum sasl_status st;

	buf_init(&out, OUT_MAX);
	snprintf(msg, sizeof(msg), "n,,n=%s,r=abcdef", user);
	in = S(msg);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	st = resume_with(x, status, user, rec, flags, &out);
	snprintf(
	    sf, sflen, "%.*s", (int)out.len, out.data != NULL ? out.data : "");
	buf_free(&out);
	*xr = x;
	return st;
}

/* salt_of - ",s=...," of a server-first-message. */
static void
salt_of(const char *sf, char *out, size_t outlen)
{
	const char *s = strstr(sf, ",s=");

	assert_non_null(s);
	snprintf(out, outlen, "%s", s);
}

/* final_for - a client-final-message with sf's nonce and a made-up proof. */
static void
final_for(const char *sf, char *out, size_t outlen)
{
	const char *comma = strchr(sf, ',');

	assert_non_null(comma);
	snprintf(out, outlen, "c=biws,%.*s,p=%s", (int)(comma - sf), sf,
	    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
}

/* Unknown users and users without SCRAM keys look like real ones. */
static void
test_unknown_user(void **state)
{
	static const unsigned char key[SASL_SCRAM_FAKE_KEY_LEN] = {1, 2, 3};
	struct sasl_exchange *x;
	char sf1[512], sf2[512], s1[256], s2[256], fin[600];
	struct buf out;
	struct bytes in;

	buf_init(&out, OUT_MAX);
	sasl_scram_configure(key, sizeof(key), 8192);
	assert_int_equal(lookup_answer("ghost", PASSDB_NO_USER, NULL, 0, sf1,
	                     sizeof(sf1), &x),
	    SASL_CONTINUE);
	assert_non_null(strstr(sf1, ",i=8192"));
	/* the proof is checked as usual, then refused as a wrong one */
	final_for(sf1, fin, sizeof(fin));
	in = S(fin);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
	assert_string_equal(x->reason, "no-such-user");
	sasl_exchange_free(x);

	/* same salt for the same user (any case), another for another */
	assert_int_equal(lookup_answer("GHOST", PASSDB_NO_USER, NULL, 0, sf2,
	                     sizeof(sf2), &x),
	    SASL_CONTINUE);
	sasl_exchange_free(x);
	salt_of(sf1, s1, sizeof(s1));
	salt_of(sf2, s2, sizeof(s2));
	assert_string_equal(s1, s2);
	assert_int_equal(lookup_answer("ghost2", PASSDB_NO_USER, NULL, 0, sf2,
	                     sizeof(sf2), &x),
	    SASL_CONTINUE);
	sasl_exchange_free(x);
	salt_of(sf2, s2, sizeof(s2));
	assert_string_not_equal(s1, s2);

	/* a full exchange with the right password still fails */
	{
		struct secret *pw = secret_new("pencil", 6);
		struct sasl_client *c = sasl_client_new(
		    &sasl_mech_scram_sha256, "nokeys", NULL, pw);
		struct buf cout;

		buf_init(&cout, OUT_MAX);
		x = sasl_exchange_new(&sasl_mech_scram_sha256, NULL, 0);
		assert_int_equal(
		    sasl_client_step(c, NULL, &cout), SASL_CONTINUE);
		in.data = (const unsigned char *)cout.data;
		in.len = cout.len;
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_PENDING);
		assert_int_equal(
		    resume_with(x, PASSDB_NO_SCHEME, "nokeys", NULL, 0, &out),
		    SASL_CONTINUE);
		in.data = (const unsigned char *)out.data;
		in.len = out.len;
		assert_int_equal(
		    sasl_client_step(c, &in, &cout), SASL_CONTINUE);
		in.data = (const unsigned char *)cout.data;
		in.len = cout.len;
		assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
		assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
		assert_string_equal(x->reason, "no-scram-keys");
		sasl_exchange_free(x);
		sasl_client_free(c);
		secret_free(pw);
		buf_free(&cout);
	}

	/* a malformed stored record: the same, logged as such */
	assert_int_equal(lookup_answer("user", PASSDB_OK, "4096,garbage", 0,
	                     sf1, sizeof(sf1), &x),
	    SASL_CONTINUE);
	final_for(sf1, fin, sizeof(fin));
	in = S(fin);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_CREDENTIALS);
	assert_string_equal(x->reason, "bad-stored-keys");
	sasl_exchange_free(x);

	/* backend trouble: 454, not 535 */
	assert_int_equal(lookup_answer("user", PASSDB_TEMPFAIL, NULL, 0, sf1,
	                     sizeof(sf1), &x),
	    SASL_TEMPFAIL);
	assert_int_equal(x->error, SASL_ERR_TEMP);
	sasl_exchange_free(x);
	sasl_scram_configure(NULL, 0, 4096);
	buf_free(&out);
}

/* Disabled and must-change accounts: known only after a correct proof. */
static void
test_account_flags(void **state)
{
	static const unsigned int flags[] = {CRED_DISABLED, CRED_MUST_CHANGE};
	static const enum sasl_error errs[] = {
	    SASL_ERR_DISABLED, SASL_ERR_MUST_CHANGE};
	struct buf out;
	size_t i;

	buf_init(&out, OUT_MAX);
	for (i = 0; i < 2; i++) {
		struct sasl_exchange *x =
		    sasl_exchange_new(&sasl_mech_scram_sha256, NULL, 0);
		char rec[256];
		struct bytes in = S(vec_sha256.client_first);

		sasl_scram_test_nonces(NULL, vec_sha256.snonce);
		assert_int_equal(
		    sasl_exchange_step(x, &in, &out), SASL_PENDING);
		record_text(&vec_sha256, rec, sizeof(rec));
		assert_int_equal(
		    resume_with(x, PASSDB_OK, "user", rec, flags[i], &out),
		    SASL_CONTINUE);
		in = S(vec_sha256.client_final);
		assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_FAIL);
		assert_int_equal(x->error, errs[i]);
		assert_string_equal(x->user, "");
		sasl_exchange_free(x);
	}
	sasl_scram_test_nonces(NULL, NULL);
	buf_free(&out);
}

/* No initial response: an empty challenge first (RFC 4954 §4). */
static void
test_no_initial_response(void **state)
{
	struct sasl_exchange *x =
	    sasl_exchange_new(&sasl_mech_scram_sha1, NULL, 0);
	struct buf out;
	struct bytes in = S(vec_sha1.client_first);

	buf_init(&out, OUT_MAX);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_exchange_step(x, &in, &out), SASL_PENDING);
	sasl_exchange_free(x);

	/* two empty responses in a row: malformed */
	x = sasl_exchange_new(&sasl_mech_scram_sha1, NULL, 0);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_CONTINUE);
	assert_int_equal(sasl_exchange_step(x, NULL, &out), SASL_FAIL);
	assert_int_equal(x->error, SASL_ERR_MALFORMED);
	sasl_exchange_free(x);
	buf_free(&out);
}

static void
test_registry(void **state)
{
	const struct sasl_mech *m = sasl_mech_find("scram-sha-256-plus");

	assert_ptr_equal(m, &sasl_mech_scram_sha256_plus);
	assert_true(m->flags & SASL_F_CHANBIND);
	assert_true(m->flags & SASL_F_CLIENT_FIRST);
	assert_int_equal(m->need, SASL_NEED_CREDENTIALS);
	assert_string_equal(m->scheme, "SCRAM-SHA-256");
	m = sasl_mech_find("SCRAM-SHA-1");
	assert_ptr_equal(m, &sasl_mech_scram_sha1);
	assert_false(m->flags & (SASL_F_CHANBIND | SASL_F_PLAINTEXT));
	assert_string_equal(m->scheme, "SCRAM-SHA-1");
	assert_ptr_equal(
	    sasl_mech_find("SCRAM-SHA-1-PLUS"), &sasl_mech_scram_sha1_plus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_math_vectors),
	    cmocka_unit_test(test_record_parse),
	    cmocka_unit_test(test_rfc5802_vector),
	    cmocka_unit_test(test_rfc7677_vector),
	    cmocka_unit_test(test_client_bad_server_first),
	    cmocka_unit_test(test_roundtrips),
	    cmocka_unit_test(test_plus),
	    cmocka_unit_test(test_downgrade),
	    cmocka_unit_test(test_malformed_first),
	    cmocka_unit_test(test_malformed_final),
	    cmocka_unit_test(test_unknown_user),
	    cmocka_unit_test(test_account_flags),
	    cmocka_unit_test(test_no_initial_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
