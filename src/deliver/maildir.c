/*
 * maildir.c - durable delivery into Maildir folders: write into tmp/,
 * fsync, rename into new/, fsync new/ (the maildir(5) protocol, with
 * Dovecot's file names). All or nothing across the recipients of one
 * message. Blocking I/O: runs in a work-pool thread, never on the loop.
 * Paths come from a trusted template; the parts taken from the envelope
 * are re-validated here so they cannot leave the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/rand.h"
#include "deliver/maildir.h"

#define MAILDIR_NAME_MAX 256

/* path_part_ok - 1 if s[0..n) is safe as one path component (or inside one). */
static int
path_part_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.') /* also rejects "." and ".." */
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* out_append - append s[0..n) at out[*pos]; -1 if it does not fit. */
static int
out_append(char *out, size_t outsize, size_t *pos, const char *s, size_t n)
{
	if (n >= outsize - *pos)
		return -1;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
	return 0;
}

/* local_part - the local part without the quotes of a quoted string. */
static void
local_part(const struct mailaddr *a, const char **s_r, size_t *n_r)
{
	size_t n = strlen(a->local);

	*s_r = a->local;
	*n_r = n;
	if (n >= 2 && a->local[0] == '"' && a->local[n - 1] == '"') {
		*s_r = a->local + 1;
		*n_r = n - 2;
	}
}

int
maildir_path(
    const char *tmpl, const struct mailaddr *rcpt, char *out, size_t outsize)
{
	char domain[ADDR_DOMAIN_MAX + 1];
	const char *local, *p;
	size_t llen, dlen, i, pos = 0;

	if (outsize == 0)
		return -1;
	out[0] = '\0';
	local_part(rcpt, &local, &llen);
	dlen = strnlen(rcpt->domain, sizeof(rcpt->domain));
	if (dlen >= sizeof(domain))
		return -1;
	for (i = 0; i < dlen; i++) {
		char c = rcpt->domain[i];

		domain[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	domain[dlen] = '\0';

	for (p = tmpl; *p != '\0'; p++) {
		int rc;

		if (*p != '%') {
			rc = out_append(out, outsize, &pos, p, 1);
		} else if (p[1] == '%') {
			rc = out_append(out, outsize, &pos, "%", 1);
			p++;
		} else if (p[1] == 'd') {
			if (!path_part_ok(domain, dlen))
				return -1;
			rc = out_append(out, outsize, &pos, domain, dlen);
			p++;
		} else if (p[1] == 'n') {
			if (!path_part_ok(local, llen))
				return -1;
			rc = out_append(out, outsize, &pos, local, llen);
			p++;
		} else if (p[1] == 'u') {
			if (!path_part_ok(local, llen) ||
			    !path_part_ok(domain, dlen))
				return -1;
			rc = out_append(out, outsize, &pos, local, llen);
			if (rc == 0)
				rc = out_append(out, outsize, &pos, "@", 1);
			if (rc == 0)
				rc = out_append(
				    out, outsize, &pos, domain, dlen);
			p++;
		} else {
			return -1; /* unknown escape or lone '%' */
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* mkdir_one - mkdir that accepts an existing directory. */
static int
mkdir_one(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
maildir_create(const char *dir)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char path[PATH_MAX];
	size_t len, i;
	int n;

	len = strlen(dir);
	if (len == 0 || len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	/* each parent, then dir itself */
	for (i = 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		if (i < len && path[i - 1] == '/')
			continue; /* "//" */
		path[i] = '\0';
		if (mkdir_one(path) == -1)
			return -1;
		if (i < len)
			path[i] = '/';
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		n = snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir_one(path) == -1)
			return -1;
	}
	return 0;
}

/*
 * host_sanitize - hostname for file names: '/' and ':' become "\057" and
 * "\072" as Dovecot writes them; control characters become '_'.
 */
static void
host_sanitize(const char *host, char *out, size_t outsize)
{
	size_t pos = 0;

	if (host == NULL || *host == '\0')
		host = "localhost";
	for (; *host != '\0' && pos + 5 < outsize; host++) {
		unsigned char c = (unsigned char)*host;

		if (c == '/' || c == ':') {
			out[pos++] = '\\';
			out[pos++] = (char)('0' + ((c >> 6) & 7));
			out[pos++] = (char)('0' + ((c >> 3) & 7));
			out[pos++] = (char)('0' + (c & 7));
		} else if (c < 0x20 || c == 0x7f) {
			out[pos++] = '_';
		} else {
			out[pos++] = (char)c;
		}
	}
	out[pos] = '\0';
}

/* maildir_name - "<sec>.M<usec>P<pid>Q<counter>R<random hex>.<host>". */
static int
maildir_name(const char *host, char *out, size_t outsize)
{
	static atomic_ulong counter;
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	struct timespec ts;
	size_t i;
	int n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	rand_bytes(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		hex[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
	}
	hex[2 * sizeof(rnd)] = '\0';
	n = snprintf(out, outsize, "%lld.M%ldP%ldQ%luR%s.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	    atomic_fetch_add(&counter, 1) + 1, hex, host);
	if (n < 0 || (size_t)n >= outsize)
		return -1;
	return 0;
}

/* copy_fd - copy all of in (from offset 0) to out. */
static int
copy_fd(int in, int out)
{
	char buf[65536];
	off_t off = 0;
	ssize_t r, w;
	size_t done;

	for (;;) {
		r = pread(in, buf, sizeof(buf), off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			return 0;
		off += r;
		for (done = 0; done < (size_t)r; done += (size_t)w) {
			w = write(out, buf + done, (size_t)r - done);
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w == -1)
				return -1;
		}
	}
}

/* fsync_dir - make a rename in dir durable. */
static int
fsync_dir(const char *dir)
{
	int fd, rc;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

/* join - out = a "/" b "/" c (c may be NULL); -1 if too long. */
static int
join(char *out, size_t outsize, const char *a, const char *b, const char *c)
{
	int n;

	if (c != NULL)
		n = snprintf(out, outsize, "%s/%s/%s", a, b, c);
	else
		n = snprintf(out, outsize, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= outsize) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * deliver_one - tmp/NAME, fsync, rename to new/NAME, fsync new/. On
 * failure nothing of this delivery is left behind; errors go to err.
 */
static int
deliver_one(int fd, const char *dir, const char *name, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dst[PATH_MAX], newdir[PATH_MAX];
	const char *what;
	int out, saved;

	if (join(tmp, sizeof(tmp), dir, "tmp", name) == -1 ||
	    join(dst, sizeof(dst), dir, "new", name) == -1 ||
	    join(newdir, sizeof(newdir), dir, "new", NULL) == -1) {
		snprintf(err, errlen, "maildir %s: path too long", dir);
		return -1;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1 && errno == ENOENT) {
		if (maildir_create(dir) == -1) {
			snprintf(err, errlen, "maildir %s: create: %s", dir,
			    strerror(errno));
			return -1;
		}
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (out == -1) {
		snprintf(err, errlen, "maildir %s: open %s: %s", dir, tmp,
		    strerror(errno));
		return -1;
	}
	what = NULL;
	if (copy_fd(fd, out) == -1)
		what = "write";
	else if (fsync(out) == -1)
		what = "fsync";
	saved = errno;
	if (close(out) == -1 && what == NULL) {
		what = "close";
		saved = errno;
	}
	if (what == NULL && rename(tmp, dst) == -1) {
		what = "rename";
		saved = errno;
	}
	if (what != NULL) {
		(void)unlink(tmp);
		snprintf(err, errlen, "maildir %s: %s %s: %s", dir, what, tmp,
		    strerror(saved));
		return -1;
	}
	if (fsync_dir(newdir) == -1) {
		saved = errno;
		(void)unlink(dst);
		snprintf(err, errlen, "maildir %s: fsync %s: %s", dir, newdir,
		    strerror(saved));
		return -1;
	}
	return 0;
}

int
maildir_deliver(int fd, const char *const *maildirs, size_t n,
    const char *hostname, char *err, size_t errlen)
{
	char host[MAILDIR_NAME_MAX / 2];
	char(*names)[MAILDIR_NAME_MAX];
	char path[PATH_MAX];
	size_t i, done;

	if (errlen > 0)
		err[0] = '\0';
	if (n == 0)
		return 0;
	names = calloc(n, sizeof(*names));
	if (names == NULL) {
		snprintf(err, errlen, "maildir: out of memory");
		return -1;
	}
	host_sanitize(hostname, host, sizeof(host));
	for (done = 0; done < n; done++) {
		if (maildir_name(host, names[done], sizeof(names[done])) ==
		    -1) {
			snprintf(err, errlen, "maildir: cannot make a name");
			break;
		}
		if (deliver_one(fd, maildirs[done], names[done], err, errlen) ==
		    -1)
			break;
	}
	if (done < n) {
		/* all or nothing: take back what already reached new/ */
		for (i = 0; i < done; i++) {
			if (join(path, sizeof(path), maildirs[i], "new",
			        names[i]) == 0)
				(void)unlink(path);
		}
		free(names);
		return -1;
	}
	free(names);
	return 0;
}
