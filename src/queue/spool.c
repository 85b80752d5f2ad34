/*
 * spool.c - the spool layout (spool.h) and its durability protocol.
 *
 * Commit order: tmp/<ID>.env written; message and envelope fdatasync'd;
 * tmp/<ID> -> msg/<ID>; fsync msg/; tmp/<ID>.env -> env/<ID>; fsync env/.
 * A crash at any instant leaves one of: nothing in msg/ or env/ (the 250 was
 * not sent; tmp/ leftovers are deleted at start), msg/<ID> without env/<ID>
 * (not sent either: recovery deletes it), or both (committed, whether or
 * not the 250 made it to the client). The renames use RENAME_NOREPLACE so a
 * colliding id can never overwrite a queued message.
 *
 * Group commit: the two directory fsyncs dominate a commit's cost and one
 * fsync of a directory makes every rename done in it before the fsync
 * started durable. So each directory has a ticket counter: a thread that has
 * renamed needs "an fsync that started after my rename" = ticket started+1.
 * If no fsync is running it runs that one itself (for everyone who renamed
 * meanwhile); otherwise it waits for the running one to end and then, if no
 * other waiter has started ticket started+1 yet, starts it. Completed tickets
 * advance one at a time, so "completed >= mine" is exactly "covered". A
 * failed fsync fails every ticket up to it (conservatively also later ones
 * that wait on it): Linux reports a writeback error once, and a commit that
 * cannot prove durability must not be acknowledged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/rand.h"
#include "core/str.h"
#include "queue/envelope.h"
#include "queue/spool.h"

#define DIRSYNC_SLOTS 8

struct dirsync {
	char path[PATH_MAX]; /* "" = free slot */
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	unsigned long long started;   /* tickets handed to fsyncs */
	unsigned long long completed; /* last ticket whose fsync ended */
	unsigned long long failed;    /* last ticket whose fsync failed */
	int failed_errno;
	int running;
};

static pthread_mutex_t dirsync_table_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct dirsync dirsyncs[DIRSYNC_SLOTS];
static int dirsync_ready;
static int crash_after; /* test hook */

void
spool_test_crash_after(int step)
{
	crash_after = step;
}

static int
crashed_at(int step)
{
	return crash_after != 0 && crash_after == step;
}

static int
path2(char *out, size_t outlen, const char *dir, const char *sub,
    const char *name, const char *suffix)
{
	int n = snprintf(out, outlen, "%s/%s%s%s%s", dir, sub,
	    name[0] != '\0' ? "/" : "", name, suffix);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* fsync_dir - fsync a directory by path (open, fsync, close). */
static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, saved;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return rc;
}

static struct dirsync *
dirsync_get(const char *path)
{
	struct dirsync *ds = NULL;
	size_t i;

	pthread_mutex_lock(&dirsync_table_mtx);
	if (!dirsync_ready) {
		for (i = 0; i < DIRSYNC_SLOTS; i++) {
			pthread_mutex_init(&dirsyncs[i].mtx, NULL);
			pthread_cond_init(&dirsyncs[i].cond, NULL);
		}
		dirsync_ready = 1;
	}
	for (i = 0; i < DIRSYNC_SLOTS && ds == NULL; i++)
		if (strcmp(dirsyncs[i].path, path) == 0)
			ds = &dirsyncs[i];
	for (i = 0; i < DIRSYNC_SLOTS && ds == NULL; i++)
		if (dirsyncs[i].path[0] == '\0' &&
		    str_copy(dirsyncs[i].path, path, PATH_MAX) < PATH_MAX)
			ds = &dirsyncs[i];
	pthread_mutex_unlock(&dirsync_table_mtx);
	return ds;
}

/*
 * dir_sync - make every rename done in path before this call durable,
 * sharing the fsync with concurrent callers (see the file header).
 */
static int
dir_sync(const char *path)
{
	struct dirsync *ds = dirsync_get(path);
	unsigned long long mine;
	int rc;

	if (ds == NULL)
		return fsync_dir(path); /* more spools than slots: no sharing */
	pthread_mutex_lock(&ds->mtx);
	mine = ds->started + 1;
	while (ds->completed < mine) {
		if (!ds->running) {
			unsigned long long t = ++ds->started;
			int r, e;

			ds->running = 1;
			pthread_mutex_unlock(&ds->mtx);
			r = fsync_dir(path);
			e = errno;
			pthread_mutex_lock(&ds->mtx);
			ds->running = 0;
			ds->completed = t;
			if (r == -1) {
				ds->failed = t;
				ds->failed_errno = e;
			}
			pthread_cond_broadcast(&ds->cond);
		} else {
			pthread_cond_wait(&ds->cond, &ds->mtx);
		}
	}
	rc = ds->failed >= mine ? -1 : 0;
	if (rc == -1)
		errno = ds->failed_errno;
	pthread_mutex_unlock(&ds->mtx);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* rename_noreplace - rename that fails with EEXIST instead of replacing. */
static int
rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* file system without RENAME_NOREPLACE: link() never replaces */
	if (link(from, to) == -1)
		return -1;
	(void)unlink(from);
	return 0;
}

/* write_env_file - (re)create path with env's text, fdatasync'd if fsync_it; 0 or -1. */
static int
write_env_file(const char *path, const struct envelope *env, int fsync_it,
    char *err, size_t errlen)
{
	char *text;
	size_t len;
	int fd, saved;

	if (env_encode(env, &text, &len, err, errlen) == -1) {
		errno = EINVAL;
		return -1;
	}
	fd = open(
	    path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		str_errf(err, errlen, "create %s: %s", path, strerror(errno));
		free(text);
		return -1;
	}
	if (write_all(fd, text, len) == -1 ||
	    (fsync_it && fdatasync(fd) == -1)) {
		saved = errno;
		str_errf(err, errlen, "write %s: %s", path, strerror(errno));
		(void)close(fd);
		(void)unlink(path);
		free(text);
		errno = saved;
		return -1;
	}
	free(text);
	if (close(fd) == -1) {
		saved = errno;
		str_errf(err, errlen, "close %s: %s", path, strerror(errno));
		(void)unlink(path);
		errno = saved;
		return -1;
	}
	return 0;
}

int
spool_init(const char *spool_dir, char *err, size_t errlen)
{
	static const char *const subs[] = {"", "tmp", "msg", "env", "log"};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s%s%s", spool_dir,
		        subs[i][0] != '\0' ? "/" : "",
		        subs[i]) >= (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			str_errf(err, errlen, "spool path too long");
			return -1;
		}
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			str_errf(
			    err, errlen, "mkdir %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
spool_commit(const char *spool_dir, const char *id, int msg_fd,
    const struct envelope *env, char *err, size_t errlen)
{
	char tmp_msg[PATH_MAX], tmp_env[PATH_MAX], msg[PATH_MAX];
	char envp[PATH_MAX], msgdir[PATH_MAX], envdir[PATH_MAX];
	int saved, step = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!env_valid_id(id) || strcmp(id, env->id) != 0) {
		errno = EINVAL;
		str_errf(err, errlen, "invalid queue id");
		return -1;
	}
	if (path2(tmp_msg, sizeof(tmp_msg), spool_dir, "tmp", id, "") == -1 ||
	    path2(tmp_env, sizeof(tmp_env), spool_dir, "tmp", id, ".env") ==
	        -1 ||
	    path2(msg, sizeof(msg), spool_dir, "msg", id, "") == -1 ||
	    path2(envp, sizeof(envp), spool_dir, "env", id, "") == -1 ||
	    path2(msgdir, sizeof(msgdir), spool_dir, "msg", "", "") == -1 ||
	    path2(envdir, sizeof(envdir), spool_dir, "env", "", "") == -1) {
		str_errf(err, errlen, "spool path too long");
		return -1;
	}

	/* 1: the envelope next to the message, its data on disk */
	if (write_env_file(tmp_env, env, 1, err, errlen) == -1)
		return -1;
	if (crashed_at(++step))
		goto crash;
	/* 2: the message's data on disk before any name points at it */
	if (fdatasync(msg_fd) == -1) {
		str_errf(err, errlen, "fsync message: %s", strerror(errno));
		goto fail_tmp;
	}
	if (crashed_at(++step))
		goto crash;
	/* 3, 4: the message under its final name, durably */
	if (rename_noreplace(tmp_msg, msg) == -1) {
		str_errf(err, errlen, "rename to %s: %s", msg, strerror(errno));
		goto fail_tmp;
	}
	if (crashed_at(++step))
		goto crash;
	if (dir_sync(msgdir) == -1) {
		str_errf(err, errlen, "fsync %s: %s", msgdir, strerror(errno));
		goto fail_msg;
	}
	if (crashed_at(++step))
		goto crash;
	/* 5, 6: the envelope last: from here on the message is committed */
	if (rename_noreplace(tmp_env, envp) == -1) {
		str_errf(
		    err, errlen, "rename to %s: %s", envp, strerror(errno));
		goto fail_msg;
	}
	if (crashed_at(++step))
		goto crash;
	if (dir_sync(envdir) == -1) {
		str_errf(err, errlen, "fsync %s: %s", envdir, strerror(errno));
		saved = errno;
		/* Not provably durable, so not acknowledged: take it back. */
		(void)unlink(envp);
		(void)unlink(msg);
		errno = saved;
		return -1;
	}
	return 0;

fail_msg:
	saved = errno;
	(void)unlink(msg);
	errno = saved;
fail_tmp:
	saved = errno;
	(void)unlink(tmp_env);
	errno = saved;
	return -1;
crash:
	errno = EINTR;
	str_errf(err, errlen, "test crash after step %d", step);
	return -1;
}

int
spool_adopt(const char *spool_dir, const struct envelope *env, int body_fd,
    char *err, size_t errlen)
{
	char tmp[PATH_MAX], msg[PATH_MAX], envp[PATH_MAX];
	char buf[65536];
	off_t off = 0;
	int fd, rc, tries;

	if (!env_valid_id(env->id) ||
	    path2(tmp, sizeof(tmp), spool_dir, "tmp", env->id, "") == -1 ||
	    path2(msg, sizeof(msg), spool_dir, "msg", env->id, "") == -1 ||
	    path2(envp, sizeof(envp), spool_dir, "env", env->id, "") == -1) {
		errno = EINVAL;
		str_errf(err, errlen, "invalid queue id");
		return -1;
	}
	for (tries = 0; tries < 2; tries++) {
		(void)unlink(tmp); /* a leftover of an earlier try */
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1) {
			str_errf(
			    err, errlen, "create %s: %s", tmp, strerror(errno));
			return -1;
		}
		for (;;) {
			ssize_t n = pread(body_fd, buf, sizeof(buf), off);

			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = (int)n;
				break;
			}
			if (write_all(fd, buf, (size_t)n) == -1) {
				rc = -1;
				break;
			}
			off += n;
		}
		if (rc == -1) {
			str_errf(err, errlen, "copy to %s: %s", tmp,
			    strerror(errno));
			(void)close(fd);
			(void)unlink(tmp);
			return -1;
		}
		rc = spool_commit(spool_dir, env->id, fd, env, err, errlen);
		(void)close(fd);
		if (rc == 0)
			return 0;
		(void)unlink(tmp);
		/* msg/<ID> alone is a try that died before its envelope */
		if (errno != EEXIST || access(envp, F_OK) == 0 ||
		    unlink(msg) == -1)
			return -1;
		off = 0;
	}
	return -1;
}

int
spool_space_ok(
    const char *spool_dir, unsigned long long need, unsigned long long min_free)
{
	struct statvfs sv;
	unsigned long long avail;

	if (statvfs(spool_dir, &sv) == -1)
		return 1;
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (need > ULLONG_MAX - min_free)
		return 0;
	return avail >= need + min_free;
}

int
spool_env_write(
    const char *spool_dir, const struct envelope *env, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX];
	int saved;

	if (!env_valid_id(env->id)) {
		errno = EINVAL;
		str_errf(err, errlen, "invalid queue id");
		return -1;
	}
	if (path2(tmp, sizeof(tmp), spool_dir, "tmp", env->id, ".upd") == -1 ||
	    path2(dst, sizeof(dst), spool_dir, "env", env->id, "") == -1 ||
	    path2(dir, sizeof(dir), spool_dir, "env", "", "") == -1) {
		str_errf(err, errlen, "spool path too long");
		return -1;
	}
	if (write_env_file(tmp, env, 1, err, errlen) == -1)
		return -1;
	if (rename(tmp, dst) == -1) {
		saved = errno;
		str_errf(err, errlen, "rename to %s: %s", dst, strerror(errno));
		(void)unlink(tmp);
		errno = saved;
		return -1;
	}
	if (dir_sync(dir) == -1) {
		str_errf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_env_load(const char *spool_dir, const char *id, struct envelope *env,
    char *err, size_t errlen)
{
	char path[PATH_MAX];

	env_init(env);
	if (!env_valid_id(id)) {
		errno = EINVAL;
		str_errf(err, errlen, "invalid queue id");
		return -1;
	}
	if (path2(path, sizeof(path), spool_dir, "env", id, "") == -1) {
		str_errf(err, errlen, "spool path too long");
		return -1;
	}
	if (env_load_file(path, env, err, errlen) == -1)
		return -1;
	if (strcmp(env->id, id) != 0) {
		env_free(env);
		env_init(env);
		errno = EINVAL;
		str_errf(
		    err, errlen, "%s: id does not match the file name", path);
		return -1;
	}
	return 0;
}

int
spool_msg_open(const char *spool_dir, const char *id)
{
	char path[PATH_MAX];

	if (!env_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (path2(path, sizeof(path), spool_dir, "msg", id, "") == -1)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

int
spool_remove(const char *spool_dir, const char *id)
{
	char envp[PATH_MAX], msg[PATH_MAX], dir[PATH_MAX];

	if (!env_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (path2(envp, sizeof(envp), spool_dir, "env", id, "") == -1 ||
	    path2(msg, sizeof(msg), spool_dir, "msg", id, "") == -1 ||
	    path2(dir, sizeof(dir), spool_dir, "env", "", "") == -1)
		return -1;
	if (unlink(envp) == -1 && errno != ENOENT)
		return -1;
	/* The envelope must stay gone before the body goes (else: corrupt/). */
	if (dir_sync(dir) == -1)
		return -1;
	if (unlink(msg) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
spool_create(const char *spool_dir, char *id, size_t idlen)
{
	char path[PATH_MAX], msg[PATH_MAX];
	int tries, fd;

	if (idlen < ENV_ID_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (tries = 0; tries < 16; tries++) {
		uint64_t v =
		    ((uint64_t)time(NULL) << 28) ^ (rand_u64() & 0xfffffffULL);

		/* the worker's ids are 16 hex digits; ours add a 'Q' */
		(void)snprintf(id, idlen, "%016" PRIX64 "Q", v);
		if (path2(path, sizeof(path), spool_dir, "tmp", id, "") == -1 ||
		    path2(msg, sizeof(msg), spool_dir, "msg", id, "") == -1)
			return -1;
		if (access(msg, F_OK) == 0)
			continue;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* is_id_name - a directory entry that is a queue id (not ".", "..", "x.env"). */
static int
is_id_name(const char *name)
{
	return env_valid_id(name);
}

static int
exists_in(const char *spool_dir, const char *sub, const char *id)
{
	char path[PATH_MAX];
	struct stat st;

	if (path2(path, sizeof(path), spool_dir, sub, id, "") == -1)
		return 1; /* cannot tell: keep */
	return lstat(path, &st) == 0 || errno != ENOENT;
}

int
spool_quarantine(const char *spool_dir, const char *id)
{
	char from[PATH_MAX], dir[PATH_MAX], to[PATH_MAX];
	int rc = 0;

	if (!env_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (path2(dir, sizeof(dir), spool_dir, "corrupt", "", "") == -1)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	if (path2(from, sizeof(from), spool_dir, "msg", id, "") == 0 &&
	    path2(to, sizeof(to), spool_dir, "corrupt", id, ".msg") == 0 &&
	    rename(from, to) == -1 && errno != ENOENT)
		rc = -1;
	if (path2(from, sizeof(from), spool_dir, "env", id, "") == -1 ||
	    path2(to, sizeof(to), spool_dir, "corrupt", id, "") == -1 ||
	    (rename(from, to) == -1 && errno != ENOENT))
		rc = -1;
	(void)fsync_dir(dir);
	return rc;
}

int
spool_recover(const char *spool_dir, int clean_tmp, time_t min_age,
    struct spool_recovery *out)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	time_t now = time(NULL);

	memset(out, 0, sizeof(*out));
	if (clean_tmp) {
		if (path2(path, sizeof(path), spool_dir, "tmp", "", "") == -1)
			return -1;
		d = opendir(path);
		if (d == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			char f[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			if (path2(f, sizeof(f), spool_dir, "tmp", de->d_name,
			        "") == 0 &&
			    unlink(f) == 0)
				out->tmp_removed++;
		}
		(void)closedir(d);
	}
	/* msg/ without env/: the commit never finished, nobody got a 250 */
	if (path2(path, sizeof(path), spool_dir, "msg", "", "") == -1)
		return -1;
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char f[PATH_MAX];
		struct stat st;

		if (!is_id_name(de->d_name) ||
		    exists_in(spool_dir, "env", de->d_name))
			continue;
		if (path2(f, sizeof(f), spool_dir, "msg", de->d_name, "") ==
		        -1 ||
		    lstat(f, &st) == -1)
			continue;
		if (min_age > 0 && now - st.st_mtime < min_age)
			continue;
		/* the env/ check again: a commit may have finished meanwhile */
		if (exists_in(spool_dir, "env", de->d_name))
			continue;
		if (unlink(f) == 0)
			out->orphans_removed++;
	}
	(void)closedir(d);
	/* env/ without msg/: cannot be delivered; keep it for a human */
	if (path2(path, sizeof(path), spool_dir, "env", "", "") == -1)
		return -1;
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!is_id_name(de->d_name) ||
		    exists_in(spool_dir, "msg", de->d_name))
			continue;
		(void)spool_quarantine(spool_dir, de->d_name);
		out->damaged++;
	}
	(void)closedir(d);
	return 0;
}

int
spool_list(const char *spool_dir, char (**ids_r)[ENV_ID_MAX], size_t *n_r)
{
	char path[PATH_MAX];
	char(*ids)[ENV_ID_MAX] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*ids_r = NULL;
	*n_r = 0;
	if (path2(path, sizeof(path), spool_dir, "env", "", "") == -1)
		return -1;
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!is_id_name(de->d_name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char(*nids)[ENV_ID_MAX] =
			    realloc(ids, ncap * sizeof(*ids));

			if (nids == NULL) {
				free(ids);
				(void)closedir(d);
				errno = ENOMEM;
				return -1;
			}
			ids = nids;
			cap = ncap;
		}
		str_copy(ids[n++], de->d_name, ENV_ID_MAX);
	}
	(void)closedir(d);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

int
spool_socket_path(const char *spool_dir, char *out, size_t outlen)
{
	return path2(out, outlen, spool_dir, "queue.sock", "", "");
}
