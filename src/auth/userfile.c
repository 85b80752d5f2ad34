/*
 * userfile.c - the Dovecot-compatible passwd-file, read and written:
 *   line  = entry / comment / blank
 *   entry = user ":" password [ ":" rest ]   ; rest = uid:gid:gecos:home:shell:extra
 * Comments and blank lines survive a rewrite. Saving is atomic: a 0600 temp
 * file in the same directory, fsync, rename, fsync of the directory.
 * Password fields are hashes, but they are wiped on free all the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userfile.h"
#include "core/secret.h"
#include "core/str.h"

#define USERFILE_NAME_MAX 255

static void
line_free(struct userfile_line *l)
{
	free(l->raw);
	free(l->user);
	if (l->password != NULL) {
		secret_wipe(l->password, strlen(l->password));
		free(l->password);
	}
	if (l->rest != NULL) {
		/* extra fields may hold SCRAM keys or a CRAM-MD5 context */
		secret_wipe(l->rest, strlen(l->rest));
		free(l->rest);
	}
	memset(l, 0, sizeof(*l));
}

/* uf_grow - room for one more line; 0 or -1. */
static int
uf_grow(struct userfile *uf)
{
	struct userfile_line *nl;
	size_t ncap;

	if (uf->n < uf->cap)
		return 0;
	ncap = uf->cap == 0 ? 16 : uf->cap * 2;
	nl = realloc(uf->lines, ncap * sizeof(*nl));
	if (nl == NULL)
		return -1;
	uf->lines = nl;
	uf->cap = ncap;
	return 0;
}

int
userfile_valid_name(const char *name)
{
	size_t i, n;

	if (name == NULL)
		return 0;
	n = strlen(name);
	if (n == 0 || n > USERFILE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c == 0x7f || c == ':')
			return 0;
	}
	return 1;
}

/* valid_password - a stored value fits in one field: no ':' or control characters. */
static int
valid_password(const char *pw)
{
	const unsigned char *p;

	for (p = (const unsigned char *)pw; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == ':')
			return 0;
	}
	return 1;
}

/* is_comment_or_blank - '#' after optional whitespace, or only whitespace. */
static int
is_comment_or_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '#';
}

/* parse_line - split one entry into uf's next slot; 0, or -1 with what in *what_r. */
static int
parse_line(struct userfile_line *l, char *s, const char **what_r)
{
	char *c1, *c2;

	if (is_comment_or_blank(s)) {
		l->raw = strdup(s);
		if (l->raw == NULL) {
			*what_r = "out of memory";
			return -1;
		}
		return 0;
	}
	c1 = strchr(s, ':');
	if (c1 == NULL) {
		*what_r = "missing ':' after the user name";
		return -1;
	}
	*c1 = '\0';
	if (!userfile_valid_name(s)) {
		*what_r = "invalid user name";
		return -1;
	}
	c2 = strchr(c1 + 1, ':');
	if (c2 != NULL)
		*c2 = '\0';
	l->user = strdup(s);
	l->password = strdup(c1 + 1);
	l->rest = strdup(c2 != NULL ? c2 + 1 : "");
	if (l->user == NULL || l->password == NULL || l->rest == NULL) {
		line_free(l);
		*what_r = "out of memory";
		return -1;
	}
	return 0;
}

int
userfile_load(const char *path, struct userfile *uf, char *err, size_t errlen)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	const char *what = NULL;
	int lineno = 0, rc = 0;

	memset(uf, 0, sizeof(*uf));
	fp = fopen(path, "re");
	if (fp == NULL) {
		if (errno == ENOENT)
			return 0;
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		len = getline(&line, &cap, fp);
		if (len < 0)
			break;
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (memchr(line, '\0', (size_t)len) != NULL) {
			what = "NUL byte in line";
			rc = -1;
			break;
		}
		if (uf_grow(uf) < 0) {
			what = "out of memory";
			rc = -1;
			break;
		}
		memset(&uf->lines[uf->n], 0, sizeof(uf->lines[uf->n]));
		if (parse_line(&uf->lines[uf->n], line, &what) < 0) {
			rc = -1;
			break;
		}
		uf->lines[uf->n].lineno = lineno;
		uf->n++;
	}
	if (rc == 0 && ferror(fp)) {
		(void)snprintf(
		    err, errlen, "%s: read error: %s", path, strerror(errno));
		rc = -2;
	}
	if (line != NULL) {
		secret_wipe(line, cap);
		free(line);
	}
	(void)fclose(fp);
	if (rc == -1)
		(void)snprintf(err, errlen, "%s:%d: %s", path, lineno, what);
	if (rc != 0) {
		userfile_free(uf);
		return -1;
	}
	return 0;
}

/* write_all - write n bytes or fail. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
write_line(int fd, const struct userfile_line *l)
{
	if (l->raw != NULL)
		return write_all(fd, l->raw, strlen(l->raw)) < 0 ||
		        write_all(fd, "\n", 1) < 0
		    ? -1
		    : 0;
	if (write_all(fd, l->user, strlen(l->user)) < 0 ||
	    write_all(fd, ":", 1) < 0 ||
	    write_all(fd, l->password, strlen(l->password)) < 0)
		return -1;
	if (l->rest != NULL && l->rest[0] != '\0' &&
	    (write_all(fd, ":", 1) < 0 ||
	        write_all(fd, l->rest, strlen(l->rest)) < 0))
		return -1;
	return write_all(fd, "\n", 1);
}

/* fsync_dir - make the rename durable. */
static int
fsync_dir(const char *dir)
{
	int fd, rc;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

int
userfile_save(
    const char *path, const struct userfile *uf, char *err, size_t errlen)
{
	char dirbuf[PATH_MAX], basebuf[PATH_MAX], tmp[PATH_MAX];
	const char *dir, *base;
	size_t i;
	int fd, n;

	if (str_copy(dirbuf, path, sizeof(dirbuf)) >= sizeof(dirbuf) ||
	    str_copy(basebuf, path, sizeof(basebuf)) >= sizeof(basebuf)) {
		(void)snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	dir = dirname(dirbuf);
	base = basename(basebuf);
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		(void)snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		(void)snprintf(err, errlen, "%s: cannot create temp file: %s",
		    path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) < 0)
		goto fail;
	for (i = 0; i < uf->n; i++) {
		if (write_line(fd, &uf->lines[i]) < 0)
			goto fail;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	if (fsync_dir(dir) < 0) {
		(void)snprintf(err, errlen, "%s: fsync of directory: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;

fail:
	(void)snprintf(
	    err, errlen, "%s: cannot write: %s", path, strerror(errno));
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(tmp);
	return -1;
}

struct userfile_line *
userfile_find(struct userfile *uf, const char *user)
{
	size_t i;

	if (user == NULL)
		return NULL;
	for (i = 0; i < uf->n; i++) {
		if (uf->lines[i].raw == NULL && uf->lines[i].user != NULL &&
		    str_ieq(uf->lines[i].user, user))
			return &uf->lines[i];
	}
	return NULL;
}

int
userfile_set(struct userfile *uf, const char *user, const char *password)
{
	struct userfile_line *l;
	char *pw;

	if (!userfile_valid_name(user) || password == NULL ||
	    !valid_password(password))
		return -1;
	pw = strdup(password);
	if (pw == NULL)
		return -1;
	l = userfile_find(uf, user);
	if (l != NULL) {
		secret_wipe(l->password, strlen(l->password));
		free(l->password);
		l->password = pw;
		return 0;
	}
	if (uf_grow(uf) < 0)
		goto fail;
	l = &uf->lines[uf->n];
	memset(l, 0, sizeof(*l));
	l->user = strdup(user);
	l->rest = strdup("");
	if (l->user == NULL || l->rest == NULL) {
		free(l->user);
		free(l->rest);
		goto fail;
	}
	l->password = pw;
	uf->n++;
	return 0;

fail:
	secret_wipe(pw, strlen(pw));
	free(pw);
	return -1;
}

/* token_key_is - 1 if token t (length n) is "key" or "key=...", any case. */
static int
token_key_is(const char *t, size_t n, const char *key)
{
	size_t k = strlen(key);

	return n >= k && strncasecmp(t, key, k) == 0 && (n == k || t[k] == '=');
}

int
userfile_set_field(struct userfile_line *l, const char *key, const char *value)
{
	const char *rest = l->rest != NULL ? l->rest : "", *p, *e;
	size_t cap, head, n, i;
	char *out;
	int colons = 0;

	if (l->raw != NULL || key == NULL || key[0] == '\0' ||
	    strpbrk(key, " \t:=") != NULL ||
	    (value != NULL &&
	        (strpbrk(value, " \t:") != NULL || !valid_password(value))))
		return -1;
	/* uid:gid:gecos:home:shell: before the extra fields */
	for (e = rest; colons < 5 && (e = strchr(e, ':')) != NULL; e++)
		colons++;
	head = colons == 5 ? (size_t)(e - rest) : strlen(rest);
	cap = strlen(rest) + 8 + strlen(key) + (value ? strlen(value) : 0);
	out = malloc(cap);
	if (out == NULL)
		return -1;
	memcpy(out, rest, head);
	n = head;
	for (i = (size_t)colons; i < 5; i++)
		out[n++] = ':';
	p = rest + head;
	while (*p != '\0') {
		size_t t;

		while (*p == ' ' || *p == '\t')
			p++;
		t = strcspn(p, " \t");
		if (t > 0 && !token_key_is(p, t, key)) {
			if (n > head + 5 - (size_t)colons)
				out[n++] = ' ';
			memcpy(out + n, p, t);
			n += t;
		}
		p += t;
	}
	if (value != NULL) {
		if (n > head + 5 - (size_t)colons)
			out[n++] = ' ';
		n += (size_t)sprintf(out + n, "%s=%s", key, value);
	}
	out[n] = '\0';
	/* nothing but empty fields left: keep the short form "user:password" */
	if (strspn(out, ":") == n)
		out[0] = '\0';
	if (l->rest != NULL) {
		secret_wipe(l->rest, strlen(l->rest));
		free(l->rest);
	}
	l->rest = out;
	return 0;
}

int
userfile_del(struct userfile *uf, const char *user)
{
	struct userfile_line *l = userfile_find(uf, user);
	size_t i;

	if (l == NULL)
		return -1;
	i = (size_t)(l - uf->lines);
	line_free(l);
	memmove(&uf->lines[i], &uf->lines[i + 1],
	    (uf->n - i - 1) * sizeof(*uf->lines));
	uf->n--;
	return 0;
}

void
userfile_free(struct userfile *uf)
{
	size_t i;

	for (i = 0; i < uf->n; i++)
		line_free(&uf->lines[i]);
	free(uf->lines);
	memset(uf, 0, sizeof(*uf));
}
