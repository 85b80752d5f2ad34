/*
 * journal.c - the spool's commit log (journal.h).
 *
 * Record: a 32-byte header (magic, envelope length, body length, flags,
 * 16-byte BLAKE2b tag over header-with-zero-tag, envelope and body), the
 * envelope text (envelope.c's format), the body, zero padding to 8 bytes.
 *
 * Why an append log: on an fsync-bound disk, the per-file commit costs a
 * file creation, two renames and four ordered flushes per message; here a
 * burst of concurrent commits of one worker costs one pwrite each and one
 * shared fdatasync. The tag, not the order of writes, decides what is a
 * record: a crash can leave the blocks of an unsynced tail in any state, and
 * none of those records was acknowledged (each 250 waits for an fdatasync
 * that started after its write ended).
 *
 * Writers append under a mutex, so the file is always a sequence of whole
 * records followed by at most one being written; a failed write is cut off
 * again (ftruncate) and the segment is sealed. Group commit: every append
 * takes a ticket; one thread at a time runs fdatasync for all tickets
 * written before it started; the others wait for one that covers theirs. A
 * failed fdatasync fails every ticket it covered (Linux reports a writeback
 * error once) and seals the segment.
 *
 * Sealing: the writer holds flock(LOCK_EX) on its segment from before the
 * segment has its name in log/ until it closes it, so the reader can tell a
 * live segment (wait for the rest of a record) from a dead one (a bad tail
 * is a crash's leftover: skip it).
 *
 * The reader hands records out; the queue service retires each (appends its
 * offset to <SEG>.d) once the message is delivered or moved to msg/ + env/,
 * and flushes the .d files every QUEUE_FLUSH_MS: a retire only prevents a
 * repeat delivery, so it need not hold up the next one. A sealed segment
 * whose records are all retired is deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "queue/journal.h"
#include "queue/spool.h"

#define REC_MAGIC 0x31524a50u /* "PJR1" */
#define REC_HDR   32u
#define REC_TAG   16u
#define SEG_NAME  24 /* 16 hex digits + NUL, with room */
#define INO_BUF   4096
#define REC_MAX   (JOURNAL_SEG_MAX / 4) /* bigger: the per-file path */

struct rec_hdr {
	uint32_t magic;
	uint32_t env_len;
	uint32_t body_len;
	uint32_t flags; /* 0 */
	unsigned char tag[REC_TAG];
};

_Static_assert(sizeof(struct rec_hdr) == REC_HDR, "record header layout");

#define GSYNC_FAILS 8

/*
 * Group fdatasync of one file: tickets, see the file header. fdatasyncs
 * run one at a time, so each covers the tickets (done at its start, its
 * target]; a failed one's range is remembered, because a later success
 * says nothing about pages a failed writeback dropped.
 */
struct gsync {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	uint64_t written; /* tickets handed out (one per write) */
	uint64_t done;    /* every ticket <= done had an fdatasync finish */
	struct {
		uint64_t lo, hi; /* (lo, hi] */
		int err;
	} fails[GSYNC_FAILS];
	size_t nfails;
	int running;
};

struct journal_writer {
	struct gsync gs; /* its mutex guards everything below too */
	char spool[PATH_MAX];
	int fd;       /* current segment, -1 = none yet */
	uint64_t end; /* where its next record goes */
	int broken;   /* a write or sync failed: start a new one */
	/* the spare segment, made ahead by spare_main */
	pthread_t spare_thread;
	int spare_started;
	pthread_cond_t spare_cond;
	int spare_fd; /* -1 = none ready */
	char spare_path[PATH_MAX];
	uint64_t last_name;   /* of the last segment started */
	time_t nospace_until; /* no room for a segment: refuse until then */
	int stopping;
};

struct journal_seg {
	struct journal_seg *next;
	char name[SEG_NAME];
	int fd;  /* <SEG>.j, read-only */
	int dfd; /* <SEG>.d, append */
	uint64_t cursor;
	size_t outstanding;
	int sealed;
	int check_seal; /* its writer closed it: try the lock */
	int pinned;     /* a record could not be retired: keep it */
	uint64_t *done; /* retired when opened, sorted */
	size_t ndone;
	pthread_mutex_t rmtx; /* retire writes */
	uint64_t rwritten, rsynced;
	int dir_synced; /* the .d's name is durable */
};

#define SPARE_BODIES 64

struct journal_reader {
	int bodies[SPARE_BODIES]; /* emptied memfds for the next records */
	size_t nbodies;
	char spool[PATH_MAX];
	char logdir[PATH_MAX];
	int ino;
	int logfd; /* log/, for fsync */
	int rescan;
	struct journal_seg *segs;
	size_t outstanding;
};

/* ---------- helpers ---------- */

static size_t
pad8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

static void
gsync_init(struct gsync *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mtx, NULL);
	pthread_cond_init(&g->cond, NULL);
}

static void
gsync_destroy(struct gsync *g)
{
	pthread_mutex_destroy(&g->mtx);
	pthread_cond_destroy(&g->cond);
}

/* gsync_finish - with g->mtx held: the fdatasync of (g->done, target] ended with r. */
static void
gsync_finish(struct gsync *g, uint64_t target, int r, int e)
{
	if (r == -1) {
		if (g->nfails < GSYNC_FAILS) {
			g->fails[g->nfails].lo = g->done;
			g->nfails++;
		}
		/* out of slots, the last range grows: more fails, never fewer */
		g->fails[g->nfails - 1].hi = target;
		g->fails[g->nfails - 1].err = e != 0 ? e : EIO;
	}
	g->done = target;
	pthread_cond_broadcast(&g->cond);
}

/*
 * gsync_wait - with g->mtx held and ticket mine written to fd: return once
 * an fdatasync that started after the write ended has finished; 0, or -1
 * (errno) if the one covering mine failed. Drops and retakes the mutex.
 */
static int
gsync_wait(struct gsync *g, int fd, uint64_t mine)
{
	size_t i;

	while (g->done < mine) {
		if (!g->running) {
			uint64_t target = g->written;
			int r, e;

			g->running = 1;
			pthread_mutex_unlock(&g->mtx);
			r = fdatasync(fd);
			e = errno;
			pthread_mutex_lock(&g->mtx);
			g->running = 0;
			gsync_finish(g, target, r, e);
		} else {
			pthread_cond_wait(&g->cond, &g->mtx);
		}
	}
	for (i = 0; i < g->nfails; i++)
		if (g->fails[i].lo < mine && mine <= g->fails[i].hi) {
			errno = g->fails[i].err;
			return -1;
		}
	return 0;
}

static int
pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, c, n, (off_t)off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		c += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* pread_all - n bytes at off; the count read (short at end of file) or -1. */
static ssize_t
pread_all(int fd, void *p, size_t n, uint64_t off)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, c + got, n - got, (off_t)(off + got));

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void
rec_tag(const unsigned char *rec, size_t len, unsigned char *tag)
{
	crypto_generichash(tag, REC_TAG, rec, len, NULL, 0);
}

/* rec_check - hdr is a plausible header; 0 or -1. */
static int
rec_check(const struct rec_hdr *h)
{
	return h->magic == REC_MAGIC && h->flags == 0 && h->env_len > 0 &&
	        h->env_len <= ENV_FILE_MAX && h->body_len <= JOURNAL_BODY_MAX
	    ? 0
	    : -1;
}

/* rec_valid - buf[0..len) (header included) carries the right tag. */
static int
rec_valid(unsigned char *buf, size_t len)
{
	unsigned char want[REC_TAG], got[REC_TAG];

	memcpy(want, buf + offsetof(struct rec_hdr, tag), REC_TAG);
	memset(buf + offsetof(struct rec_hdr, tag), 0, REC_TAG);
	rec_tag(buf, len, got);
	memcpy(buf + offsetof(struct rec_hdr, tag), want, REC_TAG);
	return sodium_memcmp(want, got, REC_TAG) == 0;
}

static int
logdir_path(char *out, size_t outlen, const char *spool)
{
	return snprintf(out, outlen, "%s/log", spool) < (int)outlen ? 0 : -1;
}

static int is_seg_name(const char *name, const char *suffix);

/* ---------- writer ---------- */

/*
 * Segments are zero-filled to JOURNAL_SEG_MAX and flushed before they get
 * their name: a commit then overwrites blocks that are already allocated
 * within the file's size, so its fdatasync writes the data and flushes,
 * without the inode update a growing file needs first (written
 * synchronously: one more ordered write per commit). PostgreSQL fills its
 * WAL segments for the same reason. A thread keeps one spare ready in tmp/,
 * so a rotation only renames it.
 */

static uint64_t
seg_stamp(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* spare_make - a new tmp/<N>.s zero-filled to JOURNAL_SEG_MAX, fdatasync'd and locked; fd or -1. */
static int
spare_make(
    const char *spool, char *path, size_t pathlen, char *err, size_t errlen)
{
	static const char zeros[65536];
	int tries, fd, saved = 0;

	for (tries = 0; tries < 8; tries++) {
		uint64_t v = seg_stamp() + (uint64_t)tries, off;

		if (snprintf(path, pathlen, "%s/tmp/%016" PRIX64 ".s", spool,
		        v) >= (int)pathlen) {
			saved = ENAMETOOLONG;
			break;
		}
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1 && errno == EEXIST)
			continue;
		if (fd == -1) {
			saved = errno;
			break;
		}
		/* locked from the start: spare_sweep leaves it alone */
		if (flock(fd, LOCK_EX) == -1)
			off = 0;
		else
			for (off = 0; off < JOURNAL_SEG_MAX;
			     off += sizeof(zeros))
				if (pwrite_all(fd, zeros, sizeof(zeros), off) ==
				    -1)
					break;
		if (off < JOURNAL_SEG_MAX || fdatasync(fd) == -1) {
			saved = errno;
			(void)close(fd);
			(void)unlink(path);
			break;
		}
		return fd;
	}
	str_errf(err, errlen, "journal: new segment in %s/tmp: %s", spool,
	    strerror(saved != 0 ? saved : EEXIST));
	errno = saved != 0 ? saved : EEXIST;
	return -1;
}

/*
 * seg_publish - the spare at tmp under log/<NAME>.j, the name durable; 0 or
 * -1 (spare removed). NAME is the time in ns, above the writer's last one:
 * names sort in the order segments start, and the reader goes oldest first.
 */
static int
seg_publish(
    struct journal_writer *jw, const char *tmp, char *err, size_t errlen)
{
	const char *spool = jw->spool;
	char dst[PATH_MAX], dir[PATH_MAX];
	uint64_t name = seg_stamp();
	int dfd, saved;

	if (name <= jw->last_name)
		name = jw->last_name + 1;
	jw->last_name = name;
	if (logdir_path(dir, sizeof(dir), spool) == -1 ||
	    snprintf(dst, sizeof(dst), "%s/%016" PRIX64 ".j", dir, name) >=
	        (int)sizeof(dst)) {
		(void)unlink(tmp);
		errno = ENAMETOOLONG;
		str_errf(
		    err, errlen, "journal: %s: %s", spool, strerror(errno));
		return -1;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == -1) {
		saved = errno;
		(void)unlink(tmp);
		str_errf(err, errlen, "journal: rename to %s: %s", dst,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fsync(dfd) == -1) {
		saved = errno;
		if (dfd != -1)
			(void)close(dfd);
		(void)unlink(dst);
		str_errf(
		    err, errlen, "journal: fsync %s: %s", dir, strerror(saved));
		errno = saved;
		return -1;
	}
	(void)close(dfd);
	return 0;
}

/*
 * spare_sweep - delete the spares (tmp/NAME.s) of writers that died (a spare is
 * locked by its writer for as long as it lives), so a restarted worker does
 * not leave 4 MiB behind each time.
 */
static void
spare_sweep(const char *spool)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (snprintf(dir, sizeof(dir), "%s/tmp", spool) >= (int)sizeof(dir) ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int fd;
		struct stat st;

		if (!is_seg_name(de->d_name, ".s") ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		        (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			continue;
		/* a young one may be being made: not yet locked */
		if (fstat(fd, &st) == 0 && st.st_mtime < time(NULL) - 60 &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0)
			(void)unlink(path);
		(void)close(fd);
	}
	(void)closedir(d);
}

/* spare_main - keep one spare segment ready (the writer's own thread). */
static void *
spare_main(void *arg)
{
	struct journal_writer *jw = arg;
	struct gsync *g = &jw->gs;

	spare_sweep(jw->spool);
	unsigned int backoff = 1;

	pthread_mutex_lock(&g->mtx);
	while (!jw->stopping) {
		char path[PATH_MAX], err[256];
		int fd;

		if (jw->spare_fd != -1) {
			pthread_cond_wait(&jw->spare_cond, &g->mtx);
			continue;
		}
		pthread_mutex_unlock(&g->mtx);
		fd =
		    spare_make(jw->spool, path, sizeof(path), err, sizeof(err));
		pthread_mutex_lock(&g->mtx);
		if (fd == -1) {
			struct timespec ts;

			log_warn("event=journal-spare-failed error=\"%s\" "
			         "retry_in=%us",
			    err, backoff);
			(void)clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)backoff;
			if (backoff < 60)
				backoff *= 2;
			(void)pthread_cond_timedwait(
			    &jw->spare_cond, &g->mtx, &ts);
			continue;
		}
		backoff = 1;
		if (jw->stopping || jw->spare_fd != -1) {
			(void)close(fd);
			(void)unlink(path);
			continue;
		}
		jw->spare_fd = fd;
		(void)str_copy(jw->spare_path, path, sizeof(jw->spare_path));
	}
	pthread_mutex_unlock(&g->mtx);
	return NULL;
}

struct journal_writer *
journal_writer_new(const char *spool_dir)
{
	struct journal_writer *jw = calloc(1, sizeof(*jw));

	if (jw == NULL)
		return NULL;
	if (str_copy(jw->spool, spool_dir, sizeof(jw->spool)) >=
	    sizeof(jw->spool)) {
		free(jw);
		errno = ENAMETOOLONG;
		return NULL;
	}
	gsync_init(&jw->gs);
	pthread_cond_init(&jw->spare_cond, NULL);
	jw->fd = -1;
	jw->spare_fd = -1;
	/* without the thread, rotations make their segment themselves */
	jw->spare_started =
	    pthread_create(&jw->spare_thread, NULL, spare_main, jw) == 0;
	return jw;
}

/* writer_rotate - with the mutex held: seal the current segment, start a new one; 0 or -1. */
static int
writer_rotate(struct journal_writer *jw, char *err, size_t errlen)
{
	struct gsync *g = &jw->gs;
	char path[PATH_MAX];
	int fd;

	while (g->running)
		pthread_cond_wait(&g->cond, &g->mtx);
	if (jw->fd != -1) {
		/* whoever still waits on this segment is answered first */
		if (g->done < g->written) {
			int r = fdatasync(jw->fd);

			gsync_finish(g, g->written, r, errno);
		}
		(void)close(jw->fd); /* drops the lock: sealed */
		jw->fd = -1;
	}
	if (jw->spare_fd != -1) {
		fd = jw->spare_fd;
		(void)str_copy(path, jw->spare_path, sizeof(path));
		jw->spare_fd = -1;
		pthread_cond_signal(&jw->spare_cond); /* the next one */
	} else if (time(NULL) < jw->nospace_until) {
		/* no room for a segment a moment ago: do not write 4 MiB again */
		errno = ENOSPC;
		str_errf(
		    err, errlen, "journal: %s", "no room for a new segment");
		return -1;
	} else {
		fd = spare_make(jw->spool, path, sizeof(path), err, errlen);
		if (fd == -1) {
			if (errno == ENOSPC || errno == EDQUOT)
				jw->nospace_until = time(NULL) + 10;
			return -1;
		}
	}
	if (seg_publish(jw, path, err, errlen) == -1) {
		(void)close(fd);
		return -1;
	}
	jw->fd = fd;
	jw->end = 0;
	jw->broken = 0;
	return 0;
}

int
journal_append(struct journal_writer *jw, const struct envelope *env,
    int body_fd, size_t body_len, char *err, size_t errlen)
{
	struct gsync *g = &jw->gs;
	struct rec_hdr h;
	unsigned char *buf;
	char *text = NULL;
	size_t tlen = 0, len, total;
	uint64_t mine;
	ssize_t n;
	int rc, saved;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (body_len > JOURNAL_BODY_MAX) {
		errno = EFBIG;
		str_errf(
		    err, errlen, "journal: %s: %s", "body", strerror(errno));
		return -1;
	}
	if (env_encode(env, &text, &tlen, err, errlen) == -1)
		return -1;
	len = REC_HDR + tlen + body_len;
	total = pad8(len);
	if (tlen == 0 || total > REC_MAX) {
		free(text);
		errno = EFBIG;
		str_errf(err, errlen, "journal: %s: %s", "envelope",
		    strerror(errno));
		return -1;
	}
	buf = calloc(1, total);
	if (buf == NULL) {
		free(text);
		str_errf(
		    err, errlen, "journal: %s: %s", "record", strerror(ENOMEM));
		errno = ENOMEM;
		return -1;
	}
	memcpy(buf + REC_HDR, text, tlen);
	free(text);
	n = pread_all(body_fd, buf + REC_HDR + tlen, body_len, 0);
	if (n < 0 || (size_t)n != body_len) {
		saved = n < 0 ? errno : EIO;
		free(buf);
		str_errf(err, errlen, "journal: read %s: %s", "body",
		    strerror(saved));
		errno = saved;
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.magic = REC_MAGIC;
	h.env_len = (uint32_t)tlen;
	h.body_len = (uint32_t)body_len;
	memcpy(buf, &h, sizeof(h));
	rec_tag(buf, len, h.tag);
	memcpy(buf + offsetof(struct rec_hdr, tag), h.tag, REC_TAG);

	pthread_mutex_lock(&g->mtx);
	if ((jw->fd == -1 || jw->broken || jw->end + total > JOURNAL_SEG_MAX) &&
	    writer_rotate(jw, err, errlen) == -1) {
		saved = errno;
		pthread_mutex_unlock(&g->mtx);
		free(buf);
		errno = saved;
		return -1;
	}
	if (pwrite_all(jw->fd, buf, total, jw->end) == -1) {
		saved = errno;
		/* the tag rejects what was written; the next append rotates */
		jw->broken = 1;
		pthread_mutex_unlock(&g->mtx);
		free(buf);
		str_errf(
		    err, errlen, "journal: %s: %s", "write", strerror(saved));
		errno = saved;
		return -1;
	}
	jw->end += total;
	mine = ++g->written;
	rc = gsync_wait(g, jw->fd, mine);
	saved = errno;
	if (rc == -1) {
		jw->broken = 1;
		str_errf(err, errlen, "journal: %s: %s", "fdatasync",
		    strerror(saved));
	}
	pthread_mutex_unlock(&g->mtx);
	free(buf);
	errno = saved;
	return rc;
}

void
journal_writer_free(struct journal_writer *jw)
{
	if (jw == NULL)
		return;
	pthread_mutex_lock(&jw->gs.mtx);
	jw->stopping = 1;
	pthread_cond_signal(&jw->spare_cond);
	pthread_mutex_unlock(&jw->gs.mtx);
	if (jw->spare_started)
		(void)pthread_join(jw->spare_thread, NULL);
	pthread_mutex_lock(&jw->gs.mtx);
	while (jw->gs.running)
		pthread_cond_wait(&jw->gs.cond, &jw->gs.mtx);
	if (jw->fd != -1)
		(void)close(jw->fd);
	jw->fd = -1;
	if (jw->spare_fd != -1) {
		(void)close(jw->spare_fd);
		(void)unlink(jw->spare_path);
	}
	pthread_mutex_unlock(&jw->gs.mtx);
	pthread_cond_destroy(&jw->spare_cond);
	gsync_destroy(&jw->gs);
	free(jw);
}

/* ---------- reader ---------- */

static int
is_seg_name(const char *name, const char *suffix)
{
	size_t n = strlen(name), i;

	if (n != 16 + strlen(suffix) || strcmp(name + 16, suffix) != 0)
		return 0;
	for (i = 0; i < 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		        (name[i] >= 'A' && name[i] <= 'F')))
			return 0;
	return 1;
}

static int
seg_path(char *out, size_t outlen, const struct journal_reader *jr,
    const char *name, const char *suffix)
{
	return snprintf(out, outlen, "%s/%s%s", jr->logdir, name, suffix) <
	        (int)outlen
	    ? 0
	    : -1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* seg_load_done - read <SEG>.d into seg->done (sorted); 0 or -1. */
static int
seg_load_done(struct journal_seg *seg)
{
	struct stat st;
	size_t n;
	ssize_t got;

	if (fstat(seg->dfd, &st) == -1)
		return -1;
	n = (size_t)st.st_size / 8;
	/* a torn last entry: cut it off, or every later append is misaligned */
	if ((size_t)st.st_size % 8 != 0 &&
	    ftruncate(seg->dfd, (off_t)(n * 8)) == -1 && errno != EBADF &&
	    errno != EINVAL)
		return -1; /* (journal_pending reads only: it cannot cut) */
	if (n == 0)
		return 0;
	seg->done = calloc(n, sizeof(*seg->done));
	if (seg->done == NULL)
		return -1;
	got = pread_all(seg->dfd, seg->done, n * 8, 0);
	if (got < 0)
		return -1;
	seg->ndone = (size_t)got / 8;
	qsort(seg->done, seg->ndone, sizeof(*seg->done), cmp_u64);
	return 0;
}

static void
seg_free(struct journal_seg *seg)
{
	if (seg->fd != -1)
		(void)close(seg->fd);
	if (seg->dfd != -1)
		(void)close(seg->dfd);
	free(seg->done);
	pthread_mutex_destroy(&seg->rmtx);
	free(seg);
}

static void
seg_try_seal(struct journal_seg *seg)
{
	seg->check_seal = 0;
	if (!seg->sealed && flock(seg->fd, LOCK_EX | LOCK_NB) == 0)
		seg->sealed = 1;
}

/* seg_open - start reading log/<name>.j; appended to the list. */
static void
seg_open(struct journal_reader *jr, const char *name)
{
	struct journal_seg *seg, **tail;
	char path[PATH_MAX];

	for (seg = jr->segs; seg != NULL; seg = seg->next)
		if (strcmp(seg->name, name) == 0)
			return;
	seg = calloc(1, sizeof(*seg));
	if (seg == NULL) {
		jr->rescan = 1; /* try again later */
		return;
	}
	str_copy(seg->name, name, sizeof(seg->name));
	pthread_mutex_init(&seg->rmtx, NULL);
	seg->dfd = -1;
	if (seg_path(path, sizeof(path), jr, name, ".j") == -1 ||
	    (seg->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_err(
			    "event=journal-open-failed segment=%s error=\"%s\"",
			    name, strerror(errno));
		seg->fd = -1;
		seg_free(seg);
		return;
	}
	if (seg_path(path, sizeof(path), jr, name, ".d") == -1 ||
	    (seg->dfd = open(
	         path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) == -1 ||
	    seg_load_done(seg) == -1) {
		log_err("event=journal-open-failed segment=%s.d error=\"%s\"",
		    name, strerror(errno));
		seg_free(seg);
		jr->rescan = 1;
		return;
	}
	seg_try_seal(seg);
	for (tail = &jr->segs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = seg;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* scan_dir - open every segment in log/ not open yet (oldest first); drop orphan .d files. */
static void
scan_dir(struct journal_reader *jr)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;

	jr->rescan = 0;
	/* a lost close event must not keep a sealed segment forever */
	for (struct journal_seg *s = jr->segs; s != NULL; s = s->next)
		s->check_seal = 1;
	d = opendir(jr->logdir);
	if (d == NULL) {
		log_err("event=journal-scan-failed dir=%s error=\"%s\"",
		    jr->logdir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX], j[SEG_NAME];

		if (is_seg_name(de->d_name, ".d")) {
			/* a .d without its .j: the segment was deleted */
			memcpy(j, de->d_name, 16);
			j[16] = '\0';
			if (seg_path(path, sizeof(path), jr, j, ".j") == 0 &&
			    access(path, F_OK) == -1 && errno == ENOENT &&
			    seg_path(path, sizeof(path), jr, j, ".d") == 0)
				(void)unlink(path);
			continue;
		}
		if (!is_seg_name(de->d_name, ".j"))
			continue;
		if (n == cap) {
			size_t nc = cap == 0 ? 16 : cap * 2;
			char **nn = realloc(names, nc * sizeof(*nn));

			if (nn == NULL)
				break;
			names = nn;
			cap = nc;
		}
		names[n] = strndup(de->d_name, 16);
		if (names[n] != NULL)
			n++;
	}
	(void)closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		seg_open(jr, names[i]);
		free(names[i]);
	}
	free(names);
}

struct journal_reader *
journal_reader_new(const char *spool_dir, char *err, size_t errlen)
{
	struct journal_reader *jr = calloc(1, sizeof(*jr));

	if (jr == NULL) {
		str_errf(
		    err, errlen, "journal: %s: %s", "reader", strerror(ENOMEM));
		return NULL;
	}
	jr->ino = -1;
	jr->logfd = -1;
	if (str_copy(jr->spool, spool_dir, sizeof(jr->spool)) >=
	        sizeof(jr->spool) ||
	    logdir_path(jr->logdir, sizeof(jr->logdir), spool_dir) == -1) {
		str_errf(err, errlen, "journal: %s: %s", spool_dir,
		    strerror(ENAMETOOLONG));
		free(jr);
		return NULL;
	}
	if (mkdir(jr->logdir, 0700) == -1 && errno != EEXIST) {
		str_errf(err, errlen, "journal: mkdir %s: %s", jr->logdir,
		    strerror(errno));
		free(jr);
		return NULL;
	}
	jr->logfd = open(jr->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (jr->logfd == -1) {
		str_errf(err, errlen, "journal: open %s: %s", jr->logdir,
		    strerror(errno));
		free(jr);
		return NULL;
	}
	jr->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (jr->ino == -1 ||
	    inotify_add_watch(jr->ino, jr->logdir,
	        IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE) == -1) {
		str_errf(err, errlen, "journal: inotify %s: %s", jr->logdir,
		    strerror(errno));
		journal_reader_free(jr);
		return NULL;
	}
	scan_dir(jr);
	return jr;
}

int
journal_reader_fd(const struct journal_reader *jr)
{
	return jr->ino;
}

void
journal_reader_events(struct journal_reader *jr)
{
	char buf[INO_BUF]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(jr->ino, buf, sizeof(buf));
		char *p;

		if (n <= 0)
			break;
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(void *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				jr->rescan = 1;
				continue;
			}
			if (ev->len == 0 || !is_seg_name(ev->name, ".j"))
				continue;
			if (ev->mask & IN_MOVED_TO) {
				char name[SEG_NAME];

				memcpy(name, ev->name, 16);
				name[16] = '\0';
				seg_open(jr, name);
			}
			if (ev->mask & IN_CLOSE_WRITE) {
				struct journal_seg *s;

				for (s = jr->segs; s != NULL; s = s->next)
					if (strncmp(s->name, ev->name, 16) == 0)
						s->check_seal = 1;
			}
		}
	}
}

static int
seg_is_done(const struct journal_seg *seg, uint64_t off)
{
	size_t lo = 0, hi = seg->ndone;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (seg->done[mid] == off)
			return 1;
		if (seg->done[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* seg_maybe_delete - a sealed, fully read segment with nothing out: delete it; 1 if gone. */
static int
seg_maybe_delete(struct journal_reader *jr, struct journal_seg *seg)
{
	struct journal_seg **pp;
	struct stat st;
	char path[PATH_MAX];

	if (!seg->sealed || seg->outstanding > 0 || seg->pinned ||
	    fstat(seg->fd, &st) == -1 || seg->cursor < (uint64_t)st.st_size)
		return 0;
	/* .j first: a .d alone is an orphan the next scan deletes */
	if (seg_path(path, sizeof(path), jr, seg->name, ".j") == -1 ||
	    (unlink(path) == -1 && errno != ENOENT)) {
		log_err("event=journal-delete-failed segment=%s error=\"%s\"",
		    seg->name, strerror(errno));
		seg->pinned = 1;
		return 0;
	}
	if (seg_path(path, sizeof(path), jr, seg->name, ".d") == 0)
		(void)unlink(path);
	for (pp = &jr->segs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == seg) {
			*pp = seg->next;
			break;
		}
	seg_free(seg);
	return 1;
}

/*
 * seg_resync - in a sealed segment, the offset of the next valid record
 * after a damaged one at seg->cursor (or the end of the file). Reads the
 * rest of the segment once and looks at every 8-byte boundary.
 */
static uint64_t
seg_resync(struct journal_seg *seg, uint64_t size)
{
	uint64_t start = seg->cursor + 8, off;
	unsigned char *buf;
	size_t n;

	if (start >= size || size - start > 4 * (uint64_t)JOURNAL_SEG_MAX)
		return size;
	n = (size_t)(size - start);
	buf = malloc(n);
	if (buf == NULL || pread_all(seg->fd, buf, n, start) != (ssize_t)n) {
		free(buf);
		return size;
	}
	for (off = 0; off + REC_HDR <= n; off += 8) {
		struct rec_hdr h;
		size_t len;

		memcpy(&h, buf + off, sizeof(h));
		if (rec_check(&h) == -1)
			continue;
		len = REC_HDR + (size_t)h.env_len + h.body_len;
		if (len <= n - off && rec_valid(buf + off, len)) {
			free(buf);
			return start + off;
		}
	}
	free(buf);
	return size;
}

/* rec_body_fd - a memfd holding body[0..n) (a used one if there is); fd or -1. */
static int
rec_body_fd(struct journal_reader *jr, const unsigned char *body, size_t n)
{
	int fd = jr->nbodies > 0 ? jr->bodies[--jr->nbodies]
	                         : memfd_create("postern-body", MFD_CLOEXEC);

	if (fd == -1)
		return -1;
	if (pwrite_all(fd, body, n, 0) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* seg_next - as journal_reader_next, for one segment. */
static int
seg_next(
    struct journal_reader *jr, struct journal_seg *seg, struct journal_rec *rec)
{
	for (;;) {
		struct rec_hdr h;
		struct stat st;
		unsigned char *buf;
		size_t len;
		uint64_t off = seg->cursor;
		ssize_t n;
		char err[256];

		if (seg->check_seal)
			seg_try_seal(seg);
		if (fstat(seg->fd, &st) == -1)
			return 0;
		if (off >= (uint64_t)st.st_size) {
			(void)seg_maybe_delete(jr, seg);
			return 0;
		}
		n = pread_all(seg->fd, &h, REC_HDR, off);
		if (n >= 0 &&
		    (n < (ssize_t)REC_HDR ||
		        (h.magic == 0 && h.env_len == 0 && h.body_len == 0 &&
		            h.flags == 0))) {
			/* nothing written here (yet): segments are zero-filled */
			if (!seg->sealed)
				return 0;
			/* the rest was never acknowledged (see the header) */
			seg->cursor = (uint64_t)st.st_size;
			continue;
		}
		if (n == (ssize_t)REC_HDR && rec_check(&h) == -1)
			n = -2; /* damaged */
		len = n == (ssize_t)REC_HDR
		    ? REC_HDR + (size_t)h.env_len + h.body_len
		    : 0;
		buf = len > 0 ? malloc(len) : NULL;
		if (len > 0 && buf == NULL)
			return -1;
		if (len > 0 &&
		    (pread_all(seg->fd, buf, len, off) != (ssize_t)len ||
		        !rec_valid(buf, len))) {
			free(buf);
			buf = NULL; /* damaged, or not all there yet */
		}
		if (buf == NULL) {
			uint64_t next;

			if (!seg->sealed)
				return 0; /* its writer is still at it */
			next = seg_resync(seg, (uint64_t)st.st_size);
			log_warn(
			    "event=journal-damaged segment=%s offset=%" PRIu64
			    " skipped=%" PRIu64 "%s",
			    seg->name, off, next - off,
			    next == (uint64_t)st.st_size
			        ? " (an unfinished tail: never acknowledged)"
			        : "");
			seg->cursor = next;
			continue;
		}
		seg->cursor = off + pad8(len);
		if (seg_is_done(seg, off)) {
			free(buf);
			continue;
		}
		if (env_decode((const char *)buf + REC_HDR, h.env_len,
		        &rec->env, err, sizeof(err)) == -1) {
			/* tagged yet unreadable: a format mismatch, keep it */
			log_err("event=journal-record-unreadable segment=%s "
			        "offset=%" PRIu64 " error=\"%s\"",
			    seg->name, off, err);
			seg->pinned = 1;
			free(buf);
			continue;
		}
		rec->body_fd =
		    rec_body_fd(jr, buf + REC_HDR + h.env_len, h.body_len);
		free(buf);
		if (rec->body_fd == -1) {
			env_free(&rec->env);
			seg->cursor = off; /* again later */
			return -1;
		}
		rec->seg = seg;
		rec->off = off;
		seg->outstanding++;
		jr->outstanding++;
		return 1;
	}
}

int
journal_reader_next(struct journal_reader *jr, struct journal_rec *rec)
{
	struct journal_seg *seg, *next;

	if (jr->rescan)
		scan_dir(jr);
	for (seg = jr->segs; seg != NULL; seg = next) {
		int r;

		next = seg->next; /* seg may be deleted */
		r = seg_next(jr, seg, rec);
		if (r != 0)
			return r;
	}
	return 0;
}

int
journal_retire(struct journal_seg *seg, uint64_t off, char *err, size_t errlen)
{
	int saved;

	pthread_mutex_lock(&seg->rmtx);
	for (;;) {
		ssize_t w = write(seg->dfd, &off, sizeof(off));

		if (w == (ssize_t)sizeof(off))
			break;
		if (w == -1 && errno == EINTR)
			continue;
		saved = w == -1 ? errno : ENOSPC;
		pthread_mutex_unlock(&seg->rmtx);
		str_errf(err, errlen, "journal: write %s.d: %s", seg->name,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	seg->rwritten++;
	pthread_mutex_unlock(&seg->rmtx);
	return 0;
}

struct journal_flush {
	size_t n;
	int fds[]; /* dup'd .d descriptors, and log/ first if needed */
};

struct journal_flush *
journal_flush_prepare(struct journal_reader *jr)
{
	struct journal_seg *seg;
	struct journal_flush *f;
	size_t n = 0;

	for (seg = jr->segs; seg != NULL; seg = seg->next)
		n += 2;
	f = malloc(sizeof(*f) + n * sizeof(int));
	if (f == NULL)
		return NULL;
	f->n = 0;
	for (seg = jr->segs; seg != NULL; seg = seg->next) {
		int fd;

		pthread_mutex_lock(&seg->rmtx);
		if (seg->rwritten != seg->rsynced) {
			/* counted as synced now: a failure is only logged */
			seg->rsynced = seg->rwritten;
			if (!seg->dir_synced) {
				/* the .d's name must survive too */
				seg->dir_synced = 1;
				fd = dup(jr->logfd);
				if (fd != -1)
					f->fds[f->n++] = fd;
			}
			fd = dup(seg->dfd);
			if (fd != -1)
				f->fds[f->n++] = fd;
		}
		pthread_mutex_unlock(&seg->rmtx);
	}
	if (f->n == 0) {
		free(f);
		return NULL;
	}
	return f;
}

int
journal_flush_run(struct journal_flush *f)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < f->n; i++) {
		if (fdatasync(f->fds[i]) == -1)
			rc = -1;
		(void)close(f->fds[i]);
	}
	free(f);
	return rc;
}

void
journal_body_put(struct journal_reader *jr, int fd)
{
	if (fd < 0)
		return;
	/* emptied, ready for another body: a new memfd per message costs */
	if (jr->nbodies < SPARE_BODIES && ftruncate(fd, 0) == 0)
		jr->bodies[jr->nbodies++] = fd;
	else
		(void)close(fd);
}

void
journal_release(struct journal_reader *jr, struct journal_seg *seg, int retired)
{
	if (seg->outstanding > 0)
		seg->outstanding--;
	if (jr->outstanding > 0)
		jr->outstanding--;
	if (!retired)
		seg->pinned = 1; /* handed out again at the next start */
	(void)seg_maybe_delete(jr, seg);
}

size_t
journal_reader_outstanding(const struct journal_reader *jr)
{
	return jr->outstanding;
}

/* adopted_before - env/<id> exists: an earlier adopt finished, only its retire was lost. */
static int
adopted_before(const char *spool, const char *id)
{
	char path[PATH_MAX];

	return snprintf(path, sizeof(path), "%s/env/%s", spool, id) <
	    (int)sizeof(path) &&
	    access(path, F_OK) == 0;
}

int
journal_drain(
    const char *spool_dir, unsigned int *moved, char *err, size_t errlen)
{
	struct journal_reader *jr;
	struct journal_flush *f;
	struct journal_rec rec;
	int rc = 0, r;

	*moved = 0;
	jr = journal_reader_new(spool_dir, err, errlen);
	if (jr == NULL)
		return -1;
	while ((r = journal_reader_next(jr, &rec)) == 1) {
		char aerr[256];
		int ok = spool_adopt(spool_dir, &rec.env, rec.body_fd, aerr,
		             sizeof(aerr)) == 0 ||
		    (errno == EEXIST && adopted_before(spool_dir, rec.env.id));

		if (ok &&
		    journal_retire(rec.seg, rec.off, aerr, sizeof(aerr)) == -1)
			ok = 0;
		if (ok)
			(*moved)++;
		else if (rc == 0) {
			str_errf(err, errlen, "%s: %s", rec.env.id, aerr);
			rc = -1;
		}
		journal_release(jr, rec.seg, ok);
		journal_body_put(jr, rec.body_fd);
		env_free(&rec.env);
	}
	if (r == -1 && rc == 0) {
		str_errf(err, errlen, "journal: %s", strerror(ENOMEM));
		rc = -1;
	}
	f = journal_flush_prepare(jr);
	if (f != NULL && journal_flush_run(f) == -1 && rc == 0) {
		str_errf(err, errlen, "journal: flush: %s", strerror(errno));
		rc = -1;
	}
	journal_reader_free(jr);
	return rc;
}

/* seg_count - records of one segment not in its .d (dirfd: log/); 0 or -1. */
static int
seg_count(int logfd, const char *name, unsigned long *count)
{
	struct journal_seg seg;
	char path[SEG_NAME + 4];
	struct stat st;
	uint64_t off = 0;
	int rc = 0;

	memset(&seg, 0, sizeof(seg));
	(void)snprintf(path, sizeof(path), "%.16s.j", name);
	seg.fd = openat(logfd, path, O_RDONLY | O_CLOEXEC);
	if (seg.fd == -1)
		return errno == ENOENT ? 0 : -1;
	(void)snprintf(path, sizeof(path), "%.16s.d", name);
	seg.dfd = openat(logfd, path, O_RDONLY | O_CLOEXEC);
	if ((seg.dfd != -1 && seg_load_done(&seg) == -1) ||
	    fstat(seg.fd, &st) == -1)
		rc = -1;
	/* whole, tagged records from the start; the first gap ends it */
	while (rc == 0 && off + REC_HDR <= (uint64_t)st.st_size) {
		struct rec_hdr h;
		unsigned char *buf;
		size_t len;
		int ok;

		if (pread_all(seg.fd, &h, REC_HDR, off) != (ssize_t)REC_HDR ||
		    rec_check(&h) == -1)
			break;
		len = REC_HDR + (size_t)h.env_len + h.body_len;
		buf = malloc(len);
		if (buf == NULL) {
			rc = -1;
			break;
		}
		ok = pread_all(seg.fd, buf, len, off) == (ssize_t)len &&
		    rec_valid(buf, len);
		free(buf);
		if (!ok)
			break;
		if (!seg_is_done(&seg, off))
			(*count)++;
		off += pad8(len);
	}
	(void)close(seg.fd);
	if (seg.dfd != -1)
		(void)close(seg.dfd);
	free(seg.done);
	return rc;
}

int
journal_pending(const char *spool_dir, unsigned long *count)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;

	*count = 0;
	if (logdir_path(dir, sizeof(dir), spool_dir) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (is_seg_name(de->d_name, ".j") &&
		    seg_count(dfd, de->d_name, count) == -1)
			rc = -1;
	(void)closedir(d);
	return rc;
}

void
journal_reader_free(struct journal_reader *jr)
{
	struct journal_seg *seg, *next;

	if (jr == NULL)
		return;
	for (seg = jr->segs; seg != NULL; seg = next) {
		next = seg->next;
		seg_free(seg);
	}
	while (jr->nbodies > 0)
		(void)close(jr->bodies[--jr->nbodies]);
	if (jr->ino != -1)
		(void)close(jr->ino);
	if (jr->logfd != -1)
		(void)close(jr->logfd);
	free(jr);
}
