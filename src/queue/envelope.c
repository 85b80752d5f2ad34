/*
 * envelope.c - encode and decode the queue's envelope files.
 *
 *   file   = magic *( field / rcpt ) "end" LF          ; nothing after "end"
 *   magic  = "postern-envelope" SP version LF          ; version = 1
 *   field  = key SP value LF                           ; each key at most once
 *   rcpt   = "rcpt" 1*( SP rkey "=" value ) LF         ; one per recipient
 *   value  = "-"                                       ; the empty string
 *          / 1*( %x21-24 / %x26-7E / "%" 2HEXDIG )      ; percent-escaped
 *
 * Decoded values never hold control characters (CR/LF injection into the
 * file, the logs or `postern queue show`); the encoder refuses them too, so
 * whatever we write we can read back. The "end" line lets the loader tell a
 * complete file from a damaged one even though files only ever appear by
 * rename (spool.c). Unknown keys are errors: a newer format bumps version.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/str.h"
#include "queue/envelope.h"

#define ENV_MAGIC "postern-envelope"

void
env_init(struct envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->version = ENV_VERSION;
}

void
env_free(struct envelope *e)
{
	free(e->rcpts);
	e->rcpts = NULL;
	e->nrcpts = 0;
	e->rcpt_cap = 0;
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

int
env_valid_id(const char *id)
{
	size_t n;

	for (n = 0; id[n] != '\0'; n++) {
		char ch = id[n];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= 'a' && ch <= 'z')))
			return 0;
	}
	return n > 0 && n < ENV_ID_MAX;
}

static struct env_rcpt *
rcpt_new(struct envelope *e)
{
	struct env_rcpt *r;

	if (e->nrcpts >= ENV_MAX_RCPTS)
		return NULL;
	if (e->nrcpts == e->rcpt_cap) {
		size_t cap = e->rcpt_cap ? e->rcpt_cap * 2 : 4;

		if (cap > ENV_MAX_RCPTS)
			cap = ENV_MAX_RCPTS;
		r = realloc(e->rcpts, cap * sizeof(*r));
		if (r == NULL)
			return NULL;
		e->rcpts = r;
		e->rcpt_cap = cap;
	}
	r = &e->rcpts[e->nrcpts++];
	memset(r, 0, sizeof(*r));
	return r;
}

struct env_rcpt *
env_add_rcpt(struct envelope *e, const char *addr, const char *orcpt)
{
	struct env_rcpt *r;

	if (addr == NULL || addr[0] == '\0' || has_control(addr) ||
	    strlen(addr) >= ENV_ADDR_MAX)
		return NULL;
	if (orcpt != NULL &&
	    (has_control(orcpt) || strlen(orcpt) >= ENV_ADDR_MAX))
		return NULL;
	r = rcpt_new(e);
	if (r == NULL)
		return NULL;
	str_copy(r->addr, addr, sizeof(r->addr));
	if (orcpt != NULL)
		str_copy(r->orcpt, orcpt, sizeof(r->orcpt));
	r->state = ENV_RCPT_PENDING;
	return r;
}

size_t
env_pending(const struct envelope *e)
{
	size_t i, n = 0;

	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == ENV_RCPT_PENDING)
			n++;
	return n;
}

const char *
env_state_name(enum env_rcpt_state s)
{
	switch (s) {
	case ENV_RCPT_PENDING:
		return "pending";
	case ENV_RCPT_DELIVERED:
		return "delivered";
	case ENV_RCPT_FAILED:
		return "failed";
	}
	return "?";
}

/* ---------- encoding ---------- */

/* put_value - append v percent-escaped ("-" for empty); -1 on a control character. */
static int
put_value(struct buf *b, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)v;

	if (*p == '\0')
		return buf_append(b, "-", 1);
	if (strcmp(v, "-") == 0)
		return buf_append(b, "%2D", 3);
	for (; *p != '\0'; p++) {
		char esc[3];

		if (*p < 0x20 || *p == 0x7f)
			return -1;
		if (*p > 0x20 && *p < 0x7f && *p != '%') {
			if (buf_append(b, p, 1) == -1)
				return -1;
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[*p >> 4];
		esc[2] = hex[*p & 0xf];
		if (buf_append(b, esc, 3) == -1)
			return -1;
	}
	return 0;
}

static int
put_field(struct buf *b, const char *key, const char *v)
{
	if (buf_appends(b, key) == -1 || buf_append(b, " ", 1) == -1 ||
	    put_value(b, v) == -1 || buf_append(b, "\n", 1) == -1)
		return -1;
	return 0;
}

static int
put_num(struct buf *b, const char *key, unsigned long long v)
{
	return buf_printf(b, "%s %llu\n", key, v);
}

static int
put_rfield(struct buf *b, const char *key, const char *v)
{
	if (buf_printf(b, " %s=", key) == -1 || put_value(b, v) == -1)
		return -1;
	return 0;
}

static const char *
ret_name(enum env_ret r)
{
	return r == ENV_RET_FULL ? "full" : r == ENV_RET_HDRS ? "hdrs" : "";
}

int
env_encode(
    const struct envelope *e, char **out, size_t *len, char *err, size_t errlen)
{
	struct buf b;
	size_t i;
	int rc = 0;

	*out = NULL;
	*len = 0;
	if (!env_valid_id(e->id)) {
		str_errf(err, errlen, "invalid queue id");
		return -1;
	}
	if (e->arrival < 0) {
		str_errf(err, errlen, "negative arrival time");
		return -1;
	}
	buf_init(&b, ENV_FILE_MAX);
	rc |= buf_printf(&b, "%s %u\n", ENV_MAGIC, ENV_VERSION);
	rc |= put_field(&b, "id", e->id);
	rc |= put_num(&b, "arrival", (unsigned long long)e->arrival);
	rc |= put_field(&b, "from", e->mail_from);
	rc |= put_field(&b, "auth", e->auth_param);
	rc |= put_field(&b, "login", e->login);
	rc |= put_field(&b, "client", e->client_addr);
	rc |= put_field(&b, "helo", e->helo);
	rc |= put_field(&b, "listener", e->listener);
	rc |= put_field(&b, "tls", e->tls);
	rc |= put_num(&b, "smtputf8", e->smtputf8 != 0);
	rc |= put_num(&b, "8bitmime", e->eightbit != 0);
	rc |= put_num(&b, "bounce", e->is_bounce != 0);
	rc |= put_num(&b, "held", e->held != 0);
	rc |= put_num(&b, "warned", e->warned != 0);
	rc |= put_field(&b, "envid", e->envid);
	rc |= put_field(&b, "ret", ret_name(e->ret));
	for (i = 0; i < e->nrcpts && rc == 0; i++) {
		const struct env_rcpt *r = &e->rcpts[i];

		if (r->next_attempt < 0) {
			rc = -1;
			break;
		}
		rc |= buf_appends(&b, "rcpt");
		rc |= put_rfield(&b, "addr", r->addr);
		rc |= put_rfield(&b, "orcpt", r->orcpt);
		rc |= buf_printf(&b, " notify=%u", r->notify & 0xf);
		rc |= buf_printf(&b, " state=%s", env_state_name(r->state));
		rc |= buf_printf(&b, " attempts=%u", r->attempts);
		rc |= buf_printf(&b, " next=%lld", r->next_attempt);
		rc |= put_rfield(&b, "dsn", r->dsn_code);
		rc |= put_rfield(&b, "hop", r->hop);
		rc |= put_rfield(&b, "error", r->last_error);
		rc |= buf_append(&b, "\n", 1);
	}
	rc |= buf_append(&b, "end\n", 4);
	if (rc != 0) {
		str_errf(err, errlen,
		    "cannot encode the envelope (control character, bad "
		    "number, or too large)");
		buf_free(&b);
		return -1;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

/* ---------- decoding ---------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * get_value - decode the escaped value s[0..n) into out (size outsize);
 * 0, or -1 if malformed, too long, or decoding to a control character.
 */
static int
get_value(const char *s, size_t n, char *out, size_t outsize)
{
	size_t i, o = 0;

	if (n == 0 || outsize == 0)
		return -1;
	if (n == 1 && s[0] == '-') {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (ch <= 0x20 || ch >= 0x7f) {
			return -1;
		}
		if (ch < 0x20 || ch == 0x7f)
			return -1;
		if (o + 1 >= outsize)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/*
 * get_number - a decimal in [0, max] from s[0..n); 0 or -1. (Our own loop:
 * no sign, no leading space, no overflow, whatever strtoull would allow.)
 */
static int
get_number(
    const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned int)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
get_flag(const char *s, size_t n, int *out)
{
	unsigned long long v;

	if (get_number(s, n, 1, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

/* The envelope keys; bit i of "seen" marks keys[i] as already set. */
static const char *const env_keys[] = {
    "id",
    "arrival",
    "from",
    "auth",
    "login",
    "client",
    "helo",
    "listener",
    "tls",
    "smtputf8",
    "8bitmime",
    "bounce",
    "held",
    "warned",
    "envid",
    "ret",
};

#define NENV_KEYS (sizeof(env_keys) / sizeof(env_keys[0]))

static int
set_key(struct envelope *e, size_t k, const char *v, size_t n)
{
	unsigned long long num;
	char tmp[8];

	switch (k) {
	case 0:
		if (get_value(v, n, e->id, sizeof(e->id)) == -1 ||
		    !env_valid_id(e->id))
			return -1;
		return 0;
	case 1:
		if (get_number(v, n, (unsigned long long)LLONG_MAX, &num) == -1)
			return -1;
		e->arrival = (long long)num;
		return 0;
	case 2:
		return get_value(v, n, e->mail_from, sizeof(e->mail_from));
	case 3:
		return get_value(v, n, e->auth_param, sizeof(e->auth_param));
	case 4:
		return get_value(v, n, e->login, sizeof(e->login));
	case 5:
		return get_value(v, n, e->client_addr, sizeof(e->client_addr));
	case 6:
		return get_value(v, n, e->helo, sizeof(e->helo));
	case 7:
		return get_value(v, n, e->listener, sizeof(e->listener));
	case 8:
		return get_value(v, n, e->tls, sizeof(e->tls));
	case 9:
		return get_flag(v, n, &e->smtputf8);
	case 10:
		return get_flag(v, n, &e->eightbit);
	case 11:
		return get_flag(v, n, &e->is_bounce);
	case 12:
		return get_flag(v, n, &e->held);
	case 13:
		return get_flag(v, n, &e->warned);
	case 14:
		return get_value(v, n, e->envid, sizeof(e->envid));
	case 15:
		if (get_value(v, n, tmp, sizeof(tmp)) == -1)
			return -1;
		if (strcmp(tmp, "") == 0)
			e->ret = ENV_RET_DEFAULT;
		else if (strcmp(tmp, "full") == 0)
			e->ret = ENV_RET_FULL;
		else if (strcmp(tmp, "hdrs") == 0)
			e->ret = ENV_RET_HDRS;
		else
			return -1;
		return 0;
	default:
		return -1;
	}
}

static const char *const rcpt_keys[] = {
    "addr",
    "orcpt",
    "notify",
    "state",
    "attempts",
    "next",
    "dsn",
    "hop",
    "error",
};

#define NRCPT_KEYS (sizeof(rcpt_keys) / sizeof(rcpt_keys[0]))

static int
set_rkey(struct env_rcpt *r, size_t k, const char *v, size_t n)
{
	unsigned long long num;
	char tmp[16];

	switch (k) {
	case 0:
		if (get_value(v, n, r->addr, sizeof(r->addr)) == -1 ||
		    r->addr[0] == '\0')
			return -1;
		return 0;
	case 1:
		return get_value(v, n, r->orcpt, sizeof(r->orcpt));
	case 2:
		if (get_number(v, n, 0xf, &num) == -1)
			return -1;
		r->notify = (unsigned int)num;
		return 0;
	case 3:
		if (get_value(v, n, tmp, sizeof(tmp)) == -1)
			return -1;
		if (strcmp(tmp, "pending") == 0)
			r->state = ENV_RCPT_PENDING;
		else if (strcmp(tmp, "delivered") == 0)
			r->state = ENV_RCPT_DELIVERED;
		else if (strcmp(tmp, "failed") == 0)
			r->state = ENV_RCPT_FAILED;
		else
			return -1;
		return 0;
	case 4:
		if (get_number(v, n, 1000000, &num) == -1)
			return -1;
		r->attempts = (unsigned int)num;
		return 0;
	case 5:
		if (get_number(v, n, (unsigned long long)LLONG_MAX, &num) == -1)
			return -1;
		r->next_attempt = (long long)num;
		return 0;
	case 6:
		return get_value(v, n, r->dsn_code, sizeof(r->dsn_code));
	case 7:
		return get_value(v, n, r->hop, sizeof(r->hop));
	case 8:
		return get_value(v, n, r->last_error, sizeof(r->last_error));
	default:
		return -1;
	}
}

/* parse_rcpt - the part of a "rcpt" line after the keyword: 1*(SP k=v). */
static int
parse_rcpt(struct envelope *e, const char *s, size_t n)
{
	struct env_rcpt *r = rcpt_new(e);
	unsigned int seen = 0;
	size_t i = 0, k;

	if (r == NULL)
		return -1;
	if (n == 0)
		return -1;
	while (i < n) {
		const char *key, *eq, *val;
		size_t klen, vlen, end;

		if (s[i] != ' ')
			return -1;
		i++;
		end = i;
		while (end < n && s[end] != ' ')
			end++;
		key = s + i;
		eq = memchr(key, '=', end - i);
		if (eq == NULL)
			return -1;
		klen = (size_t)(eq - key);
		val = eq + 1;
		vlen = (size_t)(s + end - val);
		for (k = 0; k < NRCPT_KEYS; k++)
			if (strlen(rcpt_keys[k]) == klen &&
			    memcmp(rcpt_keys[k], key, klen) == 0)
				break;
		if (k == NRCPT_KEYS || (seen & (1u << k)) != 0)
			return -1;
		seen |= 1u << k;
		if (set_rkey(r, k, val, vlen) == -1)
			return -1;
		i = end;
	}
	/* addr is required; the rest default to zero/empty */
	return (seen & 1u) ? 0 : -1;
}

int
env_decode(
    const char *data, size_t len, struct envelope *e, char *err, size_t errlen)
{
	size_t pos = 0, k;
	unsigned long long ver;
	unsigned int seen = 0;
	int line = 0, ended = 0;

	env_init(e);
	if (len > ENV_FILE_MAX) {
		str_errf(err, errlen, "file too large");
		return -1;
	}
	while (pos < len) {
		const char *s = data + pos, *nl, *sp;
		size_t n, klen;

		line++;
		nl = memchr(s, '\n', len - pos);
		if (nl == NULL) {
			str_errf(err, errlen, "line %d: no line end", line);
			goto fail;
		}
		n = (size_t)(nl - s);
		pos += n + 1;
		if (ended) {
			str_errf(
			    err, errlen, "line %d: data after 'end'", line);
			goto fail;
		}
		if (memchr(s, '\0', n) != NULL) {
			str_errf(err, errlen, "line %d: NUL byte", line);
			goto fail;
		}
		if (line == 1) {
			size_t m = sizeof(ENV_MAGIC) - 1;

			if (n <= m + 1 || memcmp(s, ENV_MAGIC, m) != 0 ||
			    s[m] != ' ' ||
			    get_number(s + m + 1, n - m - 1, 1000, &ver) ==
			        -1) {
				str_errf(err, errlen,
				    "line 1: not a postern envelope");
				goto fail;
			}
			if (ver != ENV_VERSION) {
				str_errf(err, errlen,
				    "line 1: unsupported version %llu", ver);
				goto fail;
			}
			continue;
		}
		if (n == 3 && memcmp(s, "end", 3) == 0) {
			ended = 1;
			continue;
		}
		if (n > 4 && memcmp(s, "rcpt ", 5) == 0) {
			if (parse_rcpt(e, s + 4, n - 4) == -1) {
				str_errf(err, errlen,
				    "line %d: bad recipient line", line);
				goto fail;
			}
			continue;
		}
		sp = memchr(s, ' ', n);
		if (sp == NULL) {
			str_errf(
			    err, errlen, "line %d: expected 'key value'", line);
			goto fail;
		}
		klen = (size_t)(sp - s);
		for (k = 0; k < NENV_KEYS; k++)
			if (strlen(env_keys[k]) == klen &&
			    memcmp(env_keys[k], s, klen) == 0)
				break;
		if (k == NENV_KEYS) {
			str_errf(err, errlen, "line %d: unknown key", line);
			goto fail;
		}
		if ((seen & (1u << k)) != 0) {
			str_errf(err, errlen, "line %d: repeated key %s", line,
			    env_keys[k]);
			goto fail;
		}
		seen |= 1u << k;
		if (set_key(e, k, sp + 1, n - klen - 1) == -1) {
			str_errf(err, errlen, "line %d: bad value for %s", line,
			    env_keys[k]);
			goto fail;
		}
	}
	if (line == 0) {
		str_errf(err, errlen, "empty file");
		goto fail;
	}
	if (!ended) {
		str_errf(err, errlen, "truncated: no 'end' line");
		goto fail;
	}
	/* id, arrival and from are required */
	if ((seen & 0x7u) != 0x7u) {
		str_errf(err, errlen, "missing id, arrival or from");
		goto fail;
	}
	if (e->nrcpts == 0) {
		str_errf(err, errlen, "no recipient");
		goto fail;
	}
	return 0;
fail:
	env_free(e);
	env_init(e);
	return -1;
}

int
env_load_file(const char *path, struct envelope *e, char *err, size_t errlen)
{
	struct stat st;
	char *data;
	size_t got = 0;
	int fd, rc, saved;

	env_init(e);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		saved = errno;
		str_errf(err, errlen, "open %s: %s", path, strerror(errno));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)ENV_FILE_MAX) {
		saved = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		str_errf(
		    err, errlen, "%s: not a regular file of sane size", path);
		(void)close(fd);
		errno = saved;
		return -1;
	}
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		(void)close(fd);
		str_errf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			saved = r == 0 ? EIO : errno;
			str_errf(
			    err, errlen, "read %s: %s", path, strerror(saved));
			free(data);
			(void)close(fd);
			errno = saved;
			return -1;
		}
		got += (size_t)r;
	}
	(void)close(fd);
	rc = env_decode(data, got, e, err, errlen);
	free(data);
	if (rc == -1)
		errno = EINVAL;
	return rc;
}
