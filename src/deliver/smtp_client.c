/*
 * smtp_client.c - blocking SMTP/LMTP client: poll(2)-based connect, read
 * and write with deadlines on a non-blocking socket, STARTTLS and implicit
 * TLS (OpenSSL 3, SSL_set1_host verification), AUTH through the SASL
 * client API, pipelined envelopes, dot-stuffed DATA, per-recipient LMTP
 * replies (RFC 2033 §4.2). Runs on work-pool threads: no globals, and the
 * process must ignore SIGPIPE (the services do). Never logs AUTH lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/str.h"
#include "core/xtext.h"
#include "deliver/smtp_client.h"
#include "sasl/client.h"
#include "sasl/registry.h"

#define SMTPC_CONNECT_DEFAULT_MS 30000
#define SMTPC_COMMAND_DEFAULT_MS 300000 /* RFC 5321 §4.5.3.2 */
#define SMTPC_DATA_DEFAULT_MS    600000 /* §4.5.3.2.6: "." 10 minutes */
#define SMTPC_QUIT_MS            10000
#define SMTPC_AUTH_LINE_MAX      12288 /* RFC 4954 §4 */
#define SMTPC_CHUNK              16384
#define SMTPC_AUTH_ROUNDS_MAX    10

struct smtpc {
	struct smtpc_opts opts;
	char helo[256];
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int verified;
	char tls_info[96];
	char name[256]; /* host name for TLS and the hop */
	char hop[300];
	char auth_mech[32];
	char rbuf[4096];
	size_t rlen;
	struct reply_parser parser;
	struct smtp_reply reply;
	struct smtpc_caps caps;
};

/* ------------------------------------------------------------------ */
/* time and I/O */

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd - poll c->fd for events until deadline; 0 ready, -1 (reply set). */
static int
wait_fd(struct smtpc *c, short events, long long deadline, const char *what)
{
	struct pollfd pfd;
	long long left;
	int rc;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			reply_set_local(&c->reply, 421, "4.4.2",
			    "timeout %s %s", what, c->hop);
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1) {
			reply_set_local(&c->reply, 421, "4.4.2", "poll: %s",
			    strerror(errno));
			return -1;
		}
		if (rc > 0)
			return 0;
	}
}

static void
tls_err_text(char *out, size_t outlen)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		str_copy(out, "unknown TLS error", outlen);
	else
		ERR_error_string_n(e, out, outlen);
	ERR_clear_error();
}

/* ssl_wait - after an SSL call failed with rc: wait if it wants I/O. */
static int
ssl_wait(struct smtpc *c, int rc, long long deadline, const char *what)
{
	char err[160];
	int e = SSL_get_error(c->ssl, rc);

	if (e == SSL_ERROR_WANT_READ)
		return wait_fd(c, POLLIN, deadline, what);
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c, POLLOUT, deadline, what);
	if (e == SSL_ERROR_ZERO_RETURN) {
		reply_set_local(
		    &c->reply, 421, "4.4.2", "connection closed by %s", c->hop);
		return -1;
	}
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		reply_set_local(&c->reply, 421, "4.4.2", "%s %s: %s", what,
		    c->hop, errno != 0 ? strerror(errno) : "connection lost");
		return -1;
	}
	tls_err_text(err, sizeof(err));
	reply_set_local(
	    &c->reply, 421, "4.7.0", "TLS %s %s: %s", what, c->hop, err);
	return -1;
}

/* read_some - up to n bytes into p; > 0, or -1 (EOF is an error here). */
static ssize_t
read_some(struct smtpc *c, char *p, size_t n, long long deadline)
{
	ssize_t r;
	size_t got;
	int rc;

	for (;;) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			rc = SSL_read_ex(c->ssl, p, n, &got);
			if (rc == 1)
				return (ssize_t)got;
			if (ssl_wait(c, 0, deadline, "reading from") == -1)
				return -1;
			continue;
		}
		r = recv(c->fd, p, n, 0);
		if (r > 0)
			return r;
		if (r == 0) {
			reply_set_local(&c->reply, 421, "4.4.2",
			    "connection closed by %s", c->hop);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			reply_set_local(&c->reply, 421, "4.4.2",
			    "read from %s: %s", c->hop, strerror(errno));
			return -1;
		}
		if (wait_fd(c, POLLIN, deadline, "reading from") == -1)
			return -1;
	}
}

/* write_all - all of p[0..n) before deadline; 0 or -1. */
static int
write_all(struct smtpc *c, const char *p, size_t n, long long deadline)
{
	size_t done = 0, w;
	ssize_t r;
	int rc;

	while (done < n) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			rc = SSL_write_ex(c->ssl, p + done, n - done, &w);
			if (rc == 1) {
				done += w;
				continue;
			}
			if (ssl_wait(c, 0, deadline, "writing to") == -1)
				return -1;
			continue;
		}
		r = send(c->fd, p + done, n - done, MSG_NOSIGNAL);
		if (r >= 0) {
			done += (size_t)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			reply_set_local(&c->reply, 421, "4.4.2",
			    "write to %s: %s", c->hop, strerror(errno));
			return -1;
		}
		if (wait_fd(c, POLLOUT, deadline, "writing to") == -1)
			return -1;
	}
	return 0;
}

/* trace_out - pass each line of p[0..n) to the trace hook as sent. */
static void
trace_out(struct smtpc *c, const char *p, size_t n)
{
	size_t i = 0, k;

	if (c->opts.trace == NULL)
		return;
	while (i < n) {
		for (k = i; k < n && p[k] != '\r' && p[k] != '\n'; k++)
			;
		c->opts.trace(c->opts.trace_arg, 'C', p + i, k - i);
		while (k < n && (p[k] == '\r' || p[k] == '\n'))
			k++;
		i = k;
	}
}

/* trace_reply - pass the lines of r to the trace hook, code first. */
static void
trace_reply(struct smtpc *c, const struct smtp_reply *r)
{
	char line[REPLY_LINE_MAX + 32];
	const char *s;
	size_t i, n;
	int len;

	if (c->opts.trace == NULL)
		return;
	for (i = 0; i < r->nlines; i++) {
		if (reply_line(r, i, &s, &n) == -1)
			break;
		len = snprintf(line, sizeof(line), "%d%c%s%s%.*s", r->code,
		    i + 1 < r->nlines ? '-' : ' ', r->enh,
		    r->enh[0] != '\0' && n > 0 ? " " : "", (int)n, s);
		if (len > 0)
			c->opts.trace(c->opts.trace_arg, 'S', line,
			    (size_t)len < sizeof(line) ? (size_t)len
			                               : sizeof(line) - 1);
	}
}

/* read_reply - the next reply into c->reply; its code, or -1. */
static int
read_reply(struct smtpc *c, unsigned int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	enum reply_status st;
	size_t used;
	ssize_t r;

	if (c->fd == -1) {
		reply_set_local(&c->reply, 421, "4.4.2", "not connected");
		return -1;
	}
	for (;;) {
		if (c->rlen > 0) {
			st = reply_parse(
			    &c->parser, c->rbuf, c->rlen, &used, &c->reply);
			memmove(c->rbuf, c->rbuf + used, c->rlen - used);
			c->rlen -= used;
			if (st == REPLY_DONE) {
				trace_reply(c, &c->reply);
				return c->reply.code;
			}
			if (st == REPLY_ERROR) {
				reply_set_local(&c->reply, 421, "4.5.0",
				    "bad reply from %s: %s", c->hop,
				    reply_parse_error_str(c->parser.error));
				smtpc_close(c);
				return -1;
			}
		}
		r = read_some(c, c->rbuf, sizeof(c->rbuf), deadline);
		if (r == -1) {
			smtpc_close(c);
			return -1;
		}
		c->rlen = (size_t)r;
	}
}

/* send_quiet - write a complete command (with CRLF), not traced. */
static int
send_quiet(struct smtpc *c, const char *p, size_t n)
{
	if (c->fd == -1) {
		reply_set_local(&c->reply, 421, "4.4.2", "not connected");
		return -1;
	}
	if (write_all(c, p, n, now_ms() + c->opts.command_timeout_ms) == -1) {
		smtpc_close(c);
		return -1;
	}
	return 0;
}

/* send_raw - write a complete command (with CRLF); 0 or -1 (closed). */
static int
send_raw(struct smtpc *c, const char *p, size_t n)
{
	trace_out(c, p, n);
	return send_quiet(c, p, n);
}

/* cmd - send one formatted command line and read its reply: code or -1. */
static int cmd(struct smtpc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
cmd(struct smtpc *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		reply_set_local(&c->reply, 554, "5.3.0", "command too long");
		return c->reply.code;
	}
	/* sent by length, never a C string
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(line + n, "\r\n", 2);
	if (send_raw(c, line, (size_t)n + 2) == -1)
		return -1;
	return read_reply(c, c->opts.command_timeout_ms);
}

/* ------------------------------------------------------------------ */
/* life cycle and connecting */

struct smtpc *
smtpc_new(const struct smtpc_opts *opts)
{
	struct smtpc *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->opts = *opts;
	if (c->opts.connect_timeout_ms == 0)
		c->opts.connect_timeout_ms = SMTPC_CONNECT_DEFAULT_MS;
	if (c->opts.command_timeout_ms == 0)
		c->opts.command_timeout_ms = SMTPC_COMMAND_DEFAULT_MS;
	if (c->opts.data_timeout_ms == 0)
		c->opts.data_timeout_ms = SMTPC_DATA_DEFAULT_MS;
	str_copy(c->helo,
	    opts->helo_name != NULL && opts->helo_name[0] != '\0'
	        ? opts->helo_name
	        : "localhost",
	    sizeof(c->helo));
	c->opts.helo_name = c->helo;
	c->fd = -1;
	str_copy(c->tls_info, "none", sizeof(c->tls_info));
	reply_parse_init(&c->parser);
	return c;
}

void
smtpc_close(struct smtpc *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ctx != NULL) {
		SSL_CTX_free(c->ctx);
		c->ctx = NULL;
	}
	if (c->fd != -1) {
		(void)close(c->fd);
		c->fd = -1;
	}
	c->rlen = 0;
	reply_parse_init(&c->parser);
}

void
smtpc_free(struct smtpc *c)
{
	if (c == NULL)
		return;
	smtpc_close(c);
	secret_wipe(c->rbuf, sizeof(c->rbuf));
	free(c);
}

/* reset_session - forget what the last connection negotiated. */
static void
reset_session(struct smtpc *c)
{
	smtpc_close(c);
	memset(&c->caps, 0, sizeof(c->caps));
	c->verified = 0;
	c->auth_mech[0] = '\0';
	str_copy(c->tls_info, "none", sizeof(c->tls_info));
}

static void
addr_text(
    const struct sockaddr *sa, char *out, size_t outlen, unsigned short *port_r)
{
	*port_r = 0;
	out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		(void)inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)outlen);
		*port_r = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		(void)inet_ntop(
		    AF_INET6, &in6->sin6_addr, out, (socklen_t)outlen);
		*port_r = ntohs(in6->sin6_port);
	}
}

int
smtpc_connect_addr(struct smtpc *c, const char *name, const struct sockaddr *sa,
    socklen_t salen)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned short port;
	socklen_t elen;
	int fd, err, one = 1;

	reset_session(c);
	addr_text(sa, ip, sizeof(ip), &port);
	str_copy(c->name, name != NULL && name[0] != '\0' ? name : ip,
	    sizeof(c->name));
	(void)snprintf(c->hop, sizeof(c->hop), "%s[%s]:%u", c->name, ip,
	    (unsigned int)port);
	fd = socket(
	    sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		reply_set_local(
		    &c->reply, 421, "4.4.1", "socket: %s", strerror(errno));
		return -1;
	}
	c->fd = fd;
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, salen) == -1) {
		if (errno != EINPROGRESS && errno != EINTR) {
			reply_set_local(&c->reply, 421, "4.4.1",
			    "connect to %s: %s", c->hop, strerror(errno));
			smtpc_close(c);
			return -1;
		}
		if (wait_fd(c, POLLOUT, now_ms() + c->opts.connect_timeout_ms,
		        "connecting to") == -1) {
			smtpc_close(c);
			return -1;
		}
		elen = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
			err = errno;
		if (err != 0) {
			reply_set_local(&c->reply, 421, "4.4.1",
			    "connect to %s: %s", c->hop, strerror(err));
			smtpc_close(c);
			return -1;
		}
	}
	log_debug("smtpc: connected hop=%s", c->hop);
	return 0;
}

int
smtpc_connect_unix(struct smtpc *c, const char *path)
{
	struct sockaddr_un sun;
	size_t len = strlen(path);

	reset_session(c);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (len == 0 || len >= sizeof(sun.sun_path)) {
		reply_set_local(
		    &c->reply, 451, "4.3.5", "socket path too long");
		return -1;
	}
	memcpy(sun.sun_path, path, len + 1);
	if (smtpc_connect_addr(c, "localhost", (struct sockaddr *)&sun,
	        (socklen_t)sizeof(sun)) == -1)
		return -1;
	(void)snprintf(c->hop, sizeof(c->hop), "unix:%s", path);
	return 0;
}

int
smtpc_connect_host(struct smtpc *c, const char *host, unsigned short port)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[8], bare[256];
	size_t hl = strlen(host);
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	(void)snprintf(portstr, sizeof(portstr), "%u", (unsigned int)port);
	/* "[::1]" form for literals */
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' &&
	    hl - 2 < sizeof(bare)) {
		memcpy(bare, host + 1, hl - 2);
		bare[hl - 2] = '\0';
	} else {
		str_copy(bare, host, sizeof(bare));
	}
	rc = getaddrinfo(bare, portstr, &hints, &res);
	if (rc != 0) {
		reset_session(c);
		reply_set_local(&c->reply, 451, "4.4.3",
		    "cannot resolve %s: %s", bare, gai_strerror(rc));
		return -1;
	}
	rc = -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		rc = smtpc_connect_addr(c, bare, ai->ai_addr, ai->ai_addrlen);
		if (rc == 0)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

/* ------------------------------------------------------------------ */
/* TLS */

static int
is_ip_literal(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, tmp) == 1 ||
	    inet_pton(AF_INET6, s, tmp) == 1;
}

int
smtpc_tls_handshake(struct smtpc *c, const struct smtpc_session_opts *o)
{
	long long deadline = now_ms() + c->opts.command_timeout_ms;
	int verify = o->tls != SMTPC_TLS_OPPORTUNISTIC && !o->no_verify;
	const char *name = o->tls_name != NULL && o->tls_name[0] != '\0'
	    ? o->tls_name
	    : c->name;
	char err[160];
	long vr;
	int rc;

	if (c->fd == -1) {
		reply_set_local(&c->reply, 421, "4.4.2", "not connected");
		return -1;
	}
	ERR_clear_error();
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		goto tls_fail;
	if (verify &&
	    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1)
		goto tls_fail;
	SSL_CTX_set_options(
	    c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (o->ca_file != NULL && o->ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) !=
		    1) {
			tls_err_text(err, sizeof(err));
			reply_set_local(&c->reply, 451, "4.7.5",
			    "cannot load CA file %s: %s", o->ca_file, err);
			smtpc_close(c);
			return -1;
		}
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		goto tls_fail;
	}
	SSL_CTX_set_verify(
	    c->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (o->cert_file != NULL && o->cert_file[0] != '\0') {
		const char *kf = o->key_file != NULL && o->key_file[0] != '\0'
		    ? o->key_file
		    : o->cert_file;

		if (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_file) !=
		        1 ||
		    SSL_CTX_use_PrivateKey_file(c->ctx, kf, SSL_FILETYPE_PEM) !=
		        1 ||
		    SSL_CTX_check_private_key(c->ctx) != 1) {
			tls_err_text(err, sizeof(err));
			reply_set_local(&c->reply, 451, "4.7.5",
			    "cannot load client certificate %s: %s",
			    o->cert_file, err);
			smtpc_close(c);
			return -1;
		}
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		goto tls_fail;
	if (!is_ip_literal(name) && SSL_set_tlsext_host_name(c->ssl, name) != 1)
		goto tls_fail;
	/* checked in verify mode; only recorded otherwise */
	SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(c->ssl, name) != 1)
		goto tls_fail;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			break;
		vr = SSL_get_verify_result(c->ssl);
		if (verify && vr != X509_V_OK) {
			reply_set_local(&c->reply, 421, "4.7.5",
			    "TLS certificate of %s not verified for %s: %s",
			    c->hop, name, X509_verify_cert_error_string(vr));
			smtpc_close(c);
			return -1;
		}
		if (ssl_wait(c, rc, deadline, "handshake with") == -1) {
			smtpc_close(c);
			return -1;
		}
	}
	c->verified = SSL_get0_peer_certificate(c->ssl) != NULL &&
	    SSL_get_verify_result(c->ssl) == X509_V_OK;
	if (verify && !c->verified) {
		reply_set_local(&c->reply, 421, "4.7.5",
		    "TLS certificate of %s not verified", c->hop);
		smtpc_close(c);
		return -1;
	}
	(void)snprintf(c->tls_info, sizeof(c->tls_info), "%s %s %s",
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
	    c->verified ? "verified" : "unverified");
	log_debug("smtpc: TLS hop=%s tls=\"%s\"", c->hop, c->tls_info);
	return 0;

tls_fail:
	tls_err_text(err, sizeof(err));
	reply_set_local(
	    &c->reply, 421, "4.7.0", "TLS setup for %s: %s", c->hop, err);
	smtpc_close(c);
	return -1;
}

int
smtpc_starttls(struct smtpc *c, const struct smtpc_session_opts *o)
{
	int code = cmd(c, "STARTTLS");

	if (code != 220)
		return code;
	if (c->rlen > 0) {
		/* plaintext after 220 would be read as if it came over TLS */
		reply_set_local(&c->reply, 421, "4.7.0",
		    "%s sent data after the STARTTLS reply", c->hop);
		smtpc_close(c);
		return -1;
	}
	if (smtpc_tls_handshake(c, o) == -1)
		return -1;
	memset(&c->caps, 0, sizeof(c->caps)); /* RFC 3207 §4.2 */
	return 220;
}

/* ------------------------------------------------------------------ */
/* greeting, EHLO, capabilities */

int
smtpc_greeting(struct smtpc *c)
{
	return read_reply(c, c->opts.command_timeout_ms);
}

/* mech_name_ok - RFC 4422 §3.1: 1-20 of [A-Z0-9-_]. */
static int
mech_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 20)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* add_mechs - the words of s[0..n) to caps->auth_mechs, upper-cased. */
static void
add_mechs(struct smtpc_caps *caps, const char *s, size_t n)
{
	char word[24];
	size_t i = 0, start, len, k;

	if (caps->auth_mechs[0] == '\0')
		str_copy(caps->auth_mechs, " ", sizeof(caps->auth_mechs));
	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		start = i;
		while (i < n && s[i] != ' ')
			i++;
		len = i - start;
		if (!mech_name_ok(s + start, len))
			continue;
		/* " NAME ": the list keeps a space around every name */
		word[0] = ' ';
		for (k = 0; k < len; k++) {
			char ch = s[start + k];

			word[k + 1] = (ch >= 'a' && ch <= 'z')
			    ? (char)(ch - 'a' + 'A')
			    : ch;
		}
		word[len + 1] = ' ';
		word[len + 2] = '\0';
		if (strstr(caps->auth_mechs, word) != NULL)
			continue; /* listed twice */
		if (strlen(caps->auth_mechs) + len + 1 >=
		    sizeof(caps->auth_mechs))
			break;
		(void)str_append(
		    caps->auth_mechs, word + 1, sizeof(caps->auth_mechs));
	}
}

/* kw_is - line s[0..n) starts with keyword kw followed by end, ' ' or '='. */
static int
kw_is(const char *s, size_t n, const char *kw, size_t *rest_r)
{
	size_t k = strlen(kw), i;

	if (n < k)
		return 0;
	for (i = 0; i < k; i++) {
		char ch = s[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (ch != kw[i])
			return 0;
	}
	if (n > k && s[k] != ' ' && s[k] != '=')
		return 0;
	*rest_r = n > k ? k + 1 : k;
	return 1;
}

/*
 * ehlo-ok-rsp = "250" SP Domain [ SP ehlo-greet ] CRLF
 *             / "250-" Domain [ SP ehlo-greet ] CRLF
 *               *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF
 * ehlo-line = ehlo-keyword *( SP ehlo-param )     (RFC 5321 §4.1.1.1)
 */
void
smtpc_parse_ehlo(const struct smtp_reply *r, struct smtpc_caps *caps)
{
	unsigned long long v;
	char num[24];
	const char *s;
	size_t i, n, rest;

	memset(caps, 0, sizeof(*caps));
	caps->esmtp = 1;
	for (i = 1; i < r->nlines; i++) {
		if (reply_line(r, i, &s, &n) == -1)
			break;
		if (kw_is(s, n, "PIPELINING", &rest)) {
			caps->pipelining = 1;
		} else if (kw_is(s, n, "SIZE", &rest)) {
			caps->size = 1;
			if (n - rest > 0 && n - rest < sizeof(num)) {
				memcpy(num, s + rest, n - rest);
				num[n - rest] = '\0';
				if (str_to_uint(num, ~0ULL >> 1, &v) == 0)
					caps->size_max = v;
			}
		} else if (kw_is(s, n, "8BITMIME", &rest)) {
			caps->eightbitmime = 1;
		} else if (kw_is(s, n, "SMTPUTF8", &rest)) {
			caps->smtputf8 = 1;
		} else if (kw_is(s, n, "STARTTLS", &rest)) {
			caps->starttls = 1;
		} else if (kw_is(s, n, "ENHANCEDSTATUSCODES", &rest)) {
			caps->enhanced = 1;
		} else if (kw_is(s, n, "DSN", &rest)) {
			caps->dsn = 1;
		} else if (kw_is(s, n, "AUTH", &rest)) {
			/* also the pre-RFC "AUTH=PLAIN LOGIN" form */
			caps->auth = 1;
			add_mechs(caps, s + rest, n - rest);
		}
	}
}

int
smtpc_ehlo(struct smtpc *c)
{
	int code;

	memset(&c->caps, 0, sizeof(c->caps));
	code = cmd(
	    c, "%s %s", c->opts.proto == SMTPC_LMTP ? "LHLO" : "EHLO", c->helo);
	if (code == 250) {
		smtpc_parse_ehlo(&c->reply, &c->caps);
		return code;
	}
	if (code < 0 || c->opts.proto == SMTPC_LMTP || code / 100 != 5)
		return code;
	return cmd(c, "HELO %s", c->helo); /* RFC 5321 §3.2 fallback */
}

/* ------------------------------------------------------------------ */
/* AUTH (RFC 4954) */

static const char *const mech_pref[] = {
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-1",
    "PLAIN",
    "LOGIN",
    /* only when named in the allowed list: */
    "CRAM-MD5",
    "OAUTHBEARER",
    "XOAUTH2",
    "EXTERNAL",
};
#define MECH_PREF_AUTO 6 /* the first ones are chosen automatically */

/* in_list - 1 if word is one of the space separated words of list. */
static int
in_list(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, " ,");
		if (n == wl && strncasecmp(p, word, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* pick_mech - as smtpc_pick_mech; cb: channel binding is available. */
static const char *
pick_mech(const char *offered, const char *allowed, int tls, int cb,
    int allow_plaintext)
{
	const struct sasl_mech *m;
	int any = allowed == NULL || allowed[0] == '\0';
	size_t i;

	for (i = 0; i < sizeof(mech_pref) / sizeof(mech_pref[0]); i++) {
		if (!in_list(offered, mech_pref[i]))
			continue;
		if (any ? i >= MECH_PREF_AUTO : !in_list(allowed, mech_pref[i]))
			continue;
		m = sasl_mech_find(mech_pref[i]);
		if (m == NULL || m->client_step == NULL)
			continue;
		if ((m->flags & SASL_F_PLAINTEXT) != 0 && !tls &&
		    !allow_plaintext)
			continue;
		if ((m->flags & SASL_F_CHANBIND) != 0 && (!tls || !cb))
			continue;
		if ((m->flags & SASL_F_CLIENTCERT) != 0 && !tls)
			continue;
		return mech_pref[i];
	}
	return NULL;
}

const char *
smtpc_pick_mech(const char *offered, const char *allowed, int tls)
{
	/* no connection here, so no channel binding: never -PLUS */
	return pick_mech(offered, allowed, tls, 0, 0);
}

/*
 * chanbind - this connection's channel binding: tls-exporter (RFC 9266)
 * on TLS 1.3, tls-unique (RFC 5929 §3.1: the first Finished message,
 * ours on a full handshake) on TLS 1.2. Length, 0 if none.
 */
static size_t
chanbind(struct smtpc *c, unsigned char *out, size_t max, const char **type_r)
{
	static const char label[] = "EXPORTER-Channel-Binding";
	size_t n;

	*type_r = NULL;
	if (c->ssl == NULL || max < 32)
		return 0;
	if (SSL_version(c->ssl) == TLS1_3_VERSION) {
		if (SSL_export_keying_material(c->ssl, out, 32, label,
		        sizeof(label) - 1, NULL, 0, 0) != 1)
			return 0;
		*type_r = "tls-exporter";
		return 32;
	}
	if (SSL_session_reused(c->ssl))
		n = SSL_get_peer_finished(c->ssl, out, max);
	else
		n = SSL_get_finished(c->ssl, out, max);
	if (n == 0 || n > max)
		return 0;
	*type_r = "tls-unique";
	return n;
}

/* send_b64 - one AUTH line: prefix, then base64(p[0..n)) or "=" if empty_eq. */
static int
send_b64(
    struct smtpc *c, const char *prefix, const struct buf *data, int empty_eq)
{
	struct buf line;
	size_t need = base64_encoded_size(data->len);
	char *enc;
	int rc = -1;

	buf_init(&line, SMTPC_AUTH_LINE_MAX);
	enc = malloc(need);
	if (enc == NULL) {
		reply_set_local(&c->reply, 454, "4.7.0", "out of memory");
		return -2;
	}
	if (base64_encode(data->data != NULL ? data->data : "", data->len, enc,
	        need) < 0 ||
	    buf_appends(&line, prefix) < 0 ||
	    buf_appends(&line, data->len == 0 && empty_eq ? "=" : enc) < 0 ||
	    buf_append(&line, "\r\n", 2) < 0) {
		reply_set_local(
		    &c->reply, 454, "4.7.0", "AUTH response too long");
		rc = -2;
	} else {
		if (c->opts.trace != NULL) {
			char shown[80];
			int sl = snprintf(
			    shown, sizeof(shown), "%s<masked>", prefix);

			if (sl > 0 && (size_t)sl < sizeof(shown))
				c->opts.trace(
				    c->opts.trace_arg, 'C', shown, (size_t)sl);
		}
		rc = send_quiet(c, line.data, line.len);
	}
	secret_wipe(enc, need);
	free(enc);
	buf_free(&line);
	return rc;
}

/* auth_abort - cancel with "*" (RFC 4954 §4) and read the 501. */
static int
auth_abort(struct smtpc *c, const char *why)
{
	if (send_raw(c, "*\r\n", 3) == -1 ||
	    read_reply(c, c->opts.command_timeout_ms) == -1)
		return -1;
	reply_set_local(&c->reply, 454, "4.7.0", "AUTH %s with %s: %s",
	    c->auth_mech, c->hop, why);
	c->auth_mech[0] = '\0';
	return c->reply.code;
}

/* challenge_of - decode the base64 text of a 334 or 235 reply into out. */
static int
challenge_of(const struct smtp_reply *r, unsigned char *out, size_t outsize,
    size_t *len_r)
{
	const char *s;
	size_t n;
	long dl;

	if (reply_line(r, 0, &s, &n) == -1)
		return -1;
	if (n == 0) {
		*len_r = 0;
		return 0;
	}
	dl = base64_decode(s, n, out, outsize);
	if (dl < 0)
		return -1;
	*len_r = (size_t)dl;
	return 0;
}

int
smtpc_auth(struct smtpc *c, const char *user, const struct secret *password,
    const char *allowed)
{
	struct smtpc_auth_opts a;

	memset(&a, 0, sizeof(a));
	a.user = user;
	a.password = password;
	a.mechs = allowed;
	return smtpc_authenticate(c, &a);
}

/* plus_offered - the -PLUS variant of SCRAM mechanism name is offered. */
static int
plus_offered(const char *offered, const char *name)
{
	char plus[40];

	(void)snprintf(plus, sizeof(plus), "%s-PLUS", name);
	return in_list(offered, plus);
}

int
smtpc_authenticate(struct smtpc *c, const struct smtpc_auth_opts *a)
{
	unsigned char chal[REPLY_LINE_MAX], cb[64];
	const char *cb_type = NULL;
	size_t cb_len;
	int scram;
	const struct sasl_mech *m;
	struct sasl_client *sc;
	struct bytes in;
	struct buf resp;
	char prefix[64];
	const char *name;
	enum sasl_status st = SASL_CONTINUE;
	size_t clen;
	int code, rc, rounds;

	c->auth_mech[0] = '\0';
	if (!c->caps.auth) {
		reply_set_local(
		    &c->reply, 454, "4.7.0", "%s does not offer AUTH", c->hop);
		return c->reply.code;
	}
	cb_len = chanbind(c, cb, sizeof(cb), &cb_type);
	name = pick_mech(c->caps.auth_mechs, a->mechs, c->ssl != NULL,
	    cb_len > 0, a->allow_plaintext);
	if (name == NULL) {
		reply_set_local(&c->reply, 454, "4.7.0",
		    "no usable AUTH mechanism at %s (offered:%s%s)", c->hop,
		    c->caps.auth_mechs,
		    c->ssl == NULL ? "; plaintext mechanisms need TLS" : "");
		return c->reply.code;
	}
	m = sasl_mech_find(name);
	sc = m != NULL ? sasl_client_new(m, a->user != NULL ? a->user : "",
	                     a->authzid, a->password)
	               : NULL;
	if (sc == NULL) {
		reply_set_local(&c->reply, 454, "4.7.0", "out of memory");
		return c->reply.code;
	}
	scram = strncmp(name, "SCRAM-", 6) == 0;
	/*
	 * -PLUS binds to this connection. Plain SCRAM says "y" (we could
	 * bind) only when the server did not offer -PLUS: if it did, "y"
	 * would be taken as a downgrade (RFC 5802 §6), so we say "n".
	 */
	if (cb_len > 0 &&
	    ((m->flags & SASL_F_CHANBIND) != 0 ||
	        (scram && !plus_offered(c->caps.auth_mechs, name)))) {
		sc->cb_type = cb_type;
		sc->cb_data = cb;
		sc->cb_len = cb_len;
	}
	str_copy(c->auth_mech, name, sizeof(c->auth_mech));
	buf_init(&resp, SMTPC_AUTH_LINE_MAX);
	if ((m->flags & SASL_F_CLIENT_FIRST) != 0) {
		st = sasl_client_step(sc, NULL, &resp);
		if (st == SASL_FAIL) {
			reply_set_local(&c->reply, 454, "4.7.0",
			    "AUTH %s: cannot make the initial response", name);
			code = c->reply.code;
			goto out;
		}
		(void)snprintf(prefix, sizeof(prefix), "AUTH %s ", name);
		rc = send_b64(c, prefix, &resp, 1);
		if (rc == -2) {
			code = c->reply.code;
			goto out;
		}
		if (rc == -1) {
			code = -1;
			goto out;
		}
		code = read_reply(c, c->opts.command_timeout_ms);
	} else {
		code = cmd(c, "AUTH %s", name);
	}
	for (rounds = 0; code == 334; rounds++) {
		if (rounds >= SMTPC_AUTH_ROUNDS_MAX ||
		    challenge_of(&c->reply, chal, sizeof(chal), &clen) == -1) {
			code = auth_abort(c, "malformed challenge");
			goto out;
		}
		in.data = chal;
		in.len = clen;
		st = sasl_client_step(sc, &in, &resp);
		if (st == SASL_FAIL) {
			code = auth_abort(c,
			    scram && rounds > 0
			        ? "the server failed SCRAM verification (wrong "
			          "server signature)"
			        : "the server's challenge failed");
			goto out;
		}
		rc = send_b64(c, "", &resp, 0);
		if (rc == -2) {
			code = auth_abort(c, "response too long");
			goto out;
		}
		if (rc == -1) {
			code = -1;
			goto out;
		}
		code = read_reply(c, c->opts.command_timeout_ms);
	}
	if (code == 235 && scram && st != SASL_OK) {
		/*
		 * SCRAM: the server proves itself in its final message, which
		 * may come as "235 <base64>" (RFC 4954 §4 additional data).
		 * Without that proof the server is not authenticated.
		 */
		if (challenge_of(&c->reply, chal, sizeof(chal), &clen) == 0 &&
		    clen > 0) {
			in.data = chal;
			in.len = clen;
			st = sasl_client_step(sc, &in, &resp);
		}
		if (st != SASL_OK) {
			reply_set_local(&c->reply, 421, "4.7.0",
			    "AUTH %s: %s did not prove its identity", name,
			    c->hop);
			smtpc_close(c);
			code = -1;
		}
	}
	if (code != 235)
		c->auth_mech[0] = '\0';
out:
	secret_wipe(chal, sizeof(chal));
	secret_wipe(cb, sizeof(cb));
	buf_free(&resp);
	sasl_client_free(sc);
	return code;
}

/* ------------------------------------------------------------------ */
/* the whole session set-up */

int
smtpc_session(struct smtpc *c, const struct smtpc_session_opts *o)
{
	char said[REPLY_LINE_MAX];
	int code;

	if (o->tls == SMTPC_TLS_IMPLICIT && smtpc_tls_handshake(c, o) == -1)
		return -1;
	code = smtpc_greeting(c);
	if (code < 0 || code / 100 != 2)
		return code;
	code = smtpc_ehlo(c);
	if (code < 0 || code / 100 != 2)
		return code;
	if (c->ssl == NULL &&
	    (o->tls == SMTPC_TLS_REQUIRED ||
	        o->tls == SMTPC_TLS_OPPORTUNISTIC)) {
		if (!c->caps.starttls) {
			if (o->tls == SMTPC_TLS_REQUIRED) {
				reply_set_local(&c->reply, 451, "4.7.4",
				    "TLS is required, but %s does not offer "
				    "STARTTLS",
				    c->hop);
				return c->reply.code;
			}
		} else {
			code = smtpc_starttls(c, o);
			if (code < 0)
				return -1;
			if (code != 220 && o->tls == SMTPC_TLS_REQUIRED) {
				reply_set_local(&c->reply, 451, "4.7.4",
				    "TLS is required, but %s refused "
				    "STARTTLS: %s",
				    c->hop,
				    reply_format(
				        &c->reply, said, sizeof(said)));
				return c->reply.code;
			}
			if (code == 220) {
				code = smtpc_ehlo(c);
				if (code < 0 || code / 100 != 2)
					return code;
			}
		}
	}
	if (o->auth_user != NULL && o->auth_user[0] != '\0') {
		code = smtpc_auth(
		    c, o->auth_user, o->auth_password, o->auth_mechs);
		if (code < 0)
			return -1;
		if (code != 235 && !c->reply.local) {
			/* a refused login is our configuration's problem,
			 * not the message's: defer, keep what was said */
			(void)reply_format(&c->reply, said, sizeof(said));
			reply_set_local(&c->reply, 454, "4.7.0",
			    "AUTH at %s failed: %s", c->hop, said);
		}
		return code == 235 ? 235 : c->reply.code;
	}
	return 250;
}

/* ------------------------------------------------------------------ */
/* DATA encoding */

void
smtpc_dot_init(struct smtpc_dot *d)
{
	d->bol = 1;
	d->cr = 0;
}

size_t
smtpc_dot_feed(struct smtpc_dot *d, const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char ch = in[i];

		if (d->cr) {
			/* CRLF, or a bare CR taken as a line end */
			d->cr = 0;
			out[o++] = '\r';
			out[o++] = '\n';
			d->bol = 1;
			if (ch == '\n')
				continue;
		}
		if (ch == '\r') {
			d->cr = 1;
			continue;
		}
		if (ch == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			d->bol = 1;
			continue;
		}
		if (d->bol && ch == '.')
			out[o++] = '.'; /* RFC 5321 §4.5.2 */
		out[o++] = ch;
		d->bol = 0;
	}
	return o;
}

size_t
smtpc_dot_end(struct smtpc_dot *d, char *out)
{
	size_t o = 0;

	if (d->cr || !d->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	d->cr = 0;
	d->bol = 1;
	/* out is counted by the length returned, never a C string
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* ------------------------------------------------------------------ */
/* the transaction */

static void
rcpt_set(struct smtpc_rcpt *r, const struct smtp_reply *rep)
{
	r->code = rep->code;
	str_copy(r->enh, rep->enh, sizeof(r->enh));
	(void)reply_format(rep, r->text, sizeof(r->text));
	r->local = rep->local;
}

/* rcpts_pending - give every recipient still without an answer rep. */
static void
rcpts_pending(struct smtpc_rcpt *rcpts, size_t n, const struct smtp_reply *rep)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (rcpts[i].code == 0)
			rcpt_set(&rcpts[i], rep);
	}
}

/* path_ok - an address we may put between <> on a command line. */
static int
path_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n > 254)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>' ||
		    ch == ' ')
			return 0;
	}
	return 1;
}

/* mail_line - "MAIL FROM:<...> params" into out; 0, or -1 (reply set). */
static int
mail_line(struct smtpc *c, const struct smtpc_envelope *env, char *out,
    size_t outsize)
{
	char x[600];
	size_t pos;
	int n;

	if (!path_ok(env->mail_from)) {
		reply_set_local(&c->reply, 553, "5.1.7", "bad sender address");
		return -1;
	}
	if (env->smtputf8 && !c->caps.smtputf8) {
		/* RFC 6531 §3.2: no downgrade here */
		reply_set_local(&c->reply, 553, "5.6.7",
		    "%s does not support SMTPUTF8", c->hop);
		return -1;
	}
	n = snprintf(out, outsize, "MAIL FROM:<%s>", env->mail_from);
	if (n < 0 || (size_t)n >= outsize)
		goto too_long;
	pos = (size_t)n;
	if (c->caps.size && env->size > 0) {
		n = snprintf(out + pos, outsize - pos, " SIZE=%llu", env->size);
		if (n < 0 || (size_t)n >= outsize - pos)
			goto too_long;
		pos += (size_t)n;
	}
	if (env->eightbit && c->caps.eightbitmime) {
		if (str_append(out, " BODY=8BITMIME", outsize) >= outsize)
			goto too_long;
		pos = strlen(out);
	}
	if (env->smtputf8) {
		if (str_append(out, " SMTPUTF8", outsize) >= outsize)
			goto too_long;
		pos = strlen(out);
	}
	if (env->auth_param != NULL && c->caps.auth) {
		if (strcmp(env->auth_param, "<>") == 0)
			str_copy(x, "<>", sizeof(x));
		else if (xtext_encode(env->auth_param, strlen(env->auth_param),
		             x, sizeof(x)) < 0)
			goto too_long;
		n = snprintf(out + pos, outsize - pos, " AUTH=%s", x);
		if (n < 0 || (size_t)n >= outsize - pos)
			goto too_long;
	}
	return 0;
too_long:
	reply_set_local(&c->reply, 553, "5.1.7", "MAIL command too long");
	return -1;
}

/* rcpt_line - "RCPT TO:<...> [ORCPT=...]" into out; 0 or -1. */
static int
rcpt_line(
    struct smtpc *c, const struct smtpc_rcpt *r, char *out, size_t outsize)
{
	int n;

	if (!path_ok(r->addr))
		return -1;
	if (c->caps.dsn && r->orcpt != NULL && r->orcpt[0] != '\0' &&
	    strlen(r->orcpt) < 500 &&
	    str_is_printable_ascii(r->orcpt, strlen(r->orcpt)) &&
	    strchr(r->orcpt, ' ') == NULL && strchr(r->orcpt, ';') != NULL)
		n = snprintf(out, outsize, "RCPT TO:<%s> ORCPT=%s\r\n", r->addr,
		    r->orcpt);
	else
		n = snprintf(out, outsize, "RCPT TO:<%s>\r\n", r->addr);
	if (n < 0 || (size_t)n >= outsize)
		return -1;
	return 0;
}

/* send_body - stream fd dot-stuffed, then "."; 0 or -1 (reply set). */
static int
send_body(struct smtpc *c, int fd)
{
	char *in, *out;
	struct smtpc_dot d;
	off_t off = 0;
	ssize_t r;
	size_t o;
	int rc = -1;

	in = malloc(SMTPC_CHUNK);
	out = malloc(2 * SMTPC_CHUNK + 8);
	if (in == NULL || out == NULL) {
		reply_set_local(&c->reply, 451, "4.3.0", "out of memory");
		goto out;
	}
	smtpc_dot_init(&d);
	for (;;) {
		r = pread(fd, in, SMTPC_CHUNK, off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			/* never send "." after a partial message */
			reply_set_local(&c->reply, 451, "4.3.0",
			    "cannot read the message: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		off += r;
		o = smtpc_dot_feed(&d, in, (size_t)r, out);
		if (write_all(
		        c, out, o, now_ms() + c->opts.command_timeout_ms) == -1)
			goto out;
	}
	o = smtpc_dot_end(&d, out);
	if (write_all(c, out, o, now_ms() + c->opts.command_timeout_ms) == -1)
		goto out;
	if (c->opts.trace != NULL) {
		char shown[64];
		int sl = snprintf(shown, sizeof(shown),
		    "<message: %lld octets>", (long long)off);

		if (sl > 0 && (size_t)sl < sizeof(shown))
			c->opts.trace(
			    c->opts.trace_arg, 'C', shown, (size_t)sl);
		c->opts.trace(c->opts.trace_arg, 'C', ".", 1);
	}
	rc = 0;
out:
	free(in);
	free(out);
	return rc;
}

/* finish_data - after 354: body, then the final reply(s). 0 or -1. */
static int
finish_data(struct smtpc *c, int fd, struct smtpc_rcpt *rcpts, size_t n)
{
	size_t i;

	if (send_body(c, fd) == -1) {
		smtpc_close(c);
		rcpts_pending(rcpts, n, &c->reply);
		return -1;
	}
	if (c->opts.proto == SMTPC_SMTP) {
		if (read_reply(c, c->opts.data_timeout_ms) == -1) {
			rcpts_pending(rcpts, n, &c->reply);
			return -1;
		}
		rcpts_pending(rcpts, n, &c->reply);
		return 0;
	}
	/* RFC 2033 §4.2: one reply per successful RCPT, in order */
	for (i = 0; i < n; i++) {
		if (rcpts[i].code != 0)
			continue;
		if (read_reply(c, c->opts.data_timeout_ms) == -1) {
			rcpts_pending(rcpts, n, &c->reply);
			return -1;
		}
		rcpt_set(&rcpts[i], &c->reply);
	}
	return 0;
}

/* after_354_without_rcpts - a server said 354 though no RCPT succeeded. */
static int
end_empty_data(struct smtpc *c)
{
	if (send_raw(c, ".\r\n", 3) == -1)
		return -1;
	return read_reply(c, c->opts.data_timeout_ms) < 0 ? -1 : 0;
}

int
smtpc_transaction(struct smtpc *c, const struct smtpc_envelope *env, int fd,
    struct smtpc_rcpt *rcpts, size_t n)
{
	struct smtp_reply mail_reply;
	char line[1100];
	struct buf batch;
	size_t i, accepted = 0, sent = 0;
	int code, rc = -1, mail_ok;

	for (i = 0; i < n; i++) {
		rcpts[i].code = 0;
		rcpts[i].enh[0] = '\0';
		rcpts[i].text[0] = '\0';
		rcpts[i].local = 0;
	}
	if (mail_line(c, env, line, sizeof(line) - 2) == -1) {
		rcpts_pending(rcpts, n, &c->reply);
		return 0;
	}
	(void)str_append(line, "\r\n", sizeof(line)); /* room kept above */
	buf_init(&batch, 1024 * 1024);

	if (!c->caps.pipelining) {
		/* one command at a time */
		code = send_raw(c, line, strlen(line));
		if (code == 0)
			code = read_reply(c, c->opts.command_timeout_ms);
		if (code < 0) {
			rcpts_pending(rcpts, n, &c->reply);
			goto out;
		}
		if (code / 100 != 2) {
			rcpts_pending(rcpts, n, &c->reply);
			rc = 0;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (rcpt_line(c, &rcpts[i], line, sizeof(line)) == -1) {
				reply_set_local(&mail_reply, 553, "5.1.3",
				    "bad recipient address");
				rcpt_set(&rcpts[i], &mail_reply);
				continue;
			}
			if (send_raw(c, line, strlen(line)) == -1 ||
			    read_reply(c, c->opts.command_timeout_ms) < 0) {
				rcpts_pending(rcpts, n, &c->reply);
				goto out;
			}
			if (c->reply.code / 100 == 2)
				accepted++;
			else
				rcpt_set(&rcpts[i], &c->reply);
		}
		if (accepted == 0) {
			rc = 0;
			goto out;
		}
		code = cmd(c, "DATA");
		if (code < 0) {
			rcpts_pending(rcpts, n, &c->reply);
			goto out;
		}
		if (code != 354) {
			rcpts_pending(rcpts, n, &c->reply);
			rc = 0;
			goto out;
		}
		rc = finish_data(c, fd, rcpts, n);
		goto out;
	}

	/* RFC 2920: MAIL, every RCPT and DATA in one go, then the replies */
	if (buf_appends(&batch, line) < 0)
		goto nomem;
	for (i = 0; i < n; i++) {
		if (rcpt_line(c, &rcpts[i], line, sizeof(line)) == -1) {
			reply_set_local(
			    &mail_reply, 553, "5.1.3", "bad recipient address");
			rcpt_set(&rcpts[i], &mail_reply);
			continue;
		}
		if (buf_appends(&batch, line) < 0)
			goto nomem;
		sent++;
	}
	if (sent == 0) {
		rc = 0;
		goto out;
	}
	if (buf_appends(&batch, "DATA\r\n") < 0)
		goto nomem;
	if (send_raw(c, batch.data, batch.len) == -1 ||
	    read_reply(c, c->opts.command_timeout_ms) < 0) {
		rcpts_pending(rcpts, n, &c->reply);
		goto out;
	}
	mail_reply = c->reply;
	mail_ok = mail_reply.code / 100 == 2;
	for (i = 0; i < n; i++) {
		if (rcpts[i].code != 0)
			continue; /* not sent */
		if (read_reply(c, c->opts.command_timeout_ms) < 0) {
			rcpts_pending(rcpts, n, &c->reply);
			goto out;
		}
		if (!mail_ok)
			rcpt_set(&rcpts[i], &mail_reply);
		else if (c->reply.code / 100 == 2)
			accepted++;
		else
			rcpt_set(&rcpts[i], &c->reply);
	}
	code = read_reply(c, c->opts.command_timeout_ms);
	if (code < 0) {
		rcpts_pending(rcpts, n, &c->reply);
		goto out;
	}
	if (code == 354 && accepted == 0) {
		rc = end_empty_data(c);
		goto out;
	}
	if (code != 354) {
		rcpts_pending(rcpts, n, &c->reply);
		rc = 0;
		goto out;
	}
	rc = finish_data(c, fd, rcpts, n);
	goto out;

nomem:
	reply_set_local(&c->reply, 451, "4.3.0", "too many recipients");
	rcpts_pending(rcpts, n, &c->reply);
	rc = 0;
out:
	buf_free(&batch);
	return rc;
}

void
smtpc_quit(struct smtpc *c)
{
	unsigned int ms = c->opts.command_timeout_ms < SMTPC_QUIT_MS
	    ? c->opts.command_timeout_ms
	    : SMTPC_QUIT_MS;
	struct smtp_reply *keep;

	/* c->reply still tells the caller how the session went */
	keep = malloc(sizeof(*keep));
	if (keep != NULL && c->fd != -1) {
		*keep = c->reply;
		if (send_raw(c, "QUIT\r\n", 6) == 0)
			(void)read_reply(c, ms);
		c->reply = *keep;
	}
	free(keep);
	smtpc_close(c);
}

/* ------------------------------------------------------------------ */
/* accessors */

const struct smtp_reply *
smtpc_reply(const struct smtpc *c)
{
	return &c->reply;
}

const struct smtpc_caps *
smtpc_caps(const struct smtpc *c)
{
	return &c->caps;
}

const char *
smtpc_hop(const struct smtpc *c)
{
	return c->hop;
}

const char *
smtpc_tls_info(const struct smtpc *c)
{
	return c->tls_info;
}

int
smtpc_tls_active(const struct smtpc *c)
{
	return c->ssl != NULL;
}

int
smtpc_tls_verified(const struct smtpc *c)
{
	return c->ssl != NULL && c->verified;
}

const char *
smtpc_auth_mech(const struct smtpc *c)
{
	return c->auth_mech;
}
