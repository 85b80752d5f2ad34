/*
 * test_journal.c - the spool's commit log: append/read round trip, retire
 * and restart, sealing and deletion of segments, torn tails, damage in the
 * middle of a sealed segment, concurrent appends (group commit), segment
 * rotation, the body size limit and the .d flush.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "queue/envelope.h"
#include "queue/journal.h"
#include "queue/spool.h"
#include "testutil.h"

#define REC_MAGIC 0x31524a50u /* "PJR1", as journal.c */
#define REC_HDR   32u

static char root[128];

static int
setup(void **state)
{
	char err[256];

	(void)state;
	strcpy(root, "/tmp/postern-journal-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	return spool_init(root, err, sizeof(err));
}

static int
teardown(void **state)
{
	(void)state;
	test_rm_tree(root);
	return 0;
}

/* ---------- helpers ---------- */

/* count_log - files in log/ whose name ends in suffix (".j", ".d"). */
static int
count_log(const char *suffix)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *de;
	size_t sl = strlen(suffix);
	int n = 0;

	snprintf(p, sizeof(p), "%s/log", root);
	d = opendir(p);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* only_seg - the path of the one .j in log/ (the test fails otherwise). */
static void
only_seg(char *out, size_t outlen)
{
	char p[sizeof(root) + 8];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/log", root);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 2 && strcmp(de->d_name + l - 2, ".j") == 0) {
			snprintf(out, outlen, "%s/%s", p, de->d_name);
			n++;
		}
	}
	closedir(d);
	assert_int_equal(n, 1);
}

/* max_seg_size - the size of the biggest .j in log/. */
static off_t
max_seg_size(void)
{
	char p[sizeof(root) + 8], f[PATH_MAX];
	DIR *d;
	struct dirent *de;
	struct stat st;
	off_t max = 0;

	snprintf(p, sizeof(p), "%s/log", root);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 2 && strcmp(de->d_name + l - 2, ".j") == 0) {
			snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
			assert_int_equal(stat(f, &st), 0);
			if (st.st_size > max)
				max = st.st_size;
		}
	}
	closedir(d);
	return max;
}

/* fill_body - deterministic bytes for (seed, i). */
static void
fill_body(unsigned char *b, size_t len, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 12345u;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (unsigned char)(x >> 16);
	}
}

/* body_memfd - a memfd holding b[0..len), positioned at its end (append reads with pread). */
static int
body_memfd(const void *b, size_t len)
{
	int fd = memfd_create("test-body", MFD_CLOEXEC);

	assert_true(fd >= 0);
	if (len > 0)
		assert_int_equal(write(fd, b, len), (ssize_t)len);
	return fd;
}

/* body_tmpfile - the same in a regular file under the spool. */
static int
body_tmpfile(const void *b, size_t len)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/tmp/bodyXXXXXX", root);
	fd = mkstemp(p);
	assert_true(fd >= 0);
	unlink(p);
	if (len > 0)
		assert_int_equal(write(fd, b, len), (ssize_t)len);
	return fd;
}

static void
mk_env(struct envelope *e, const char *id, const char *from, const char *rcpt1,
    const char *rcpt2)
{
	env_init(e);
	strcpy(e->id, id);
	e->arrival = 1700000000;
	strcpy(e->mail_from, from);
	strcpy(e->client_addr, "192.0.2.7");
	strcpy(e->helo, "client.example");
	strcpy(e->listener, "submission");
	assert_non_null(env_add_rcpt(e, rcpt1, NULL));
	if (rcpt2 != NULL)
		assert_non_null(env_add_rcpt(e, rcpt2, "rfc822;x@y"));
}

static void
assert_env_equal(const struct envelope *got, const struct envelope *want)
{
	size_t i;

	assert_string_equal(got->id, want->id);
	assert_int_equal(got->arrival, want->arrival);
	assert_string_equal(got->mail_from, want->mail_from);
	assert_string_equal(got->auth_param, want->auth_param);
	assert_string_equal(got->login, want->login);
	assert_string_equal(got->client_addr, want->client_addr);
	assert_string_equal(got->helo, want->helo);
	assert_string_equal(got->listener, want->listener);
	assert_string_equal(got->tls, want->tls);
	assert_int_equal(got->smtputf8, want->smtputf8);
	assert_int_equal(got->eightbit, want->eightbit);
	assert_string_equal(got->envid, want->envid);
	assert_int_equal(got->ret, want->ret);
	assert_int_equal(got->nrcpts, want->nrcpts);
	for (i = 0; i < want->nrcpts; i++) {
		assert_string_equal(got->rcpts[i].addr, want->rcpts[i].addr);
		assert_string_equal(got->rcpts[i].orcpt, want->rcpts[i].orcpt);
		assert_int_equal(got->rcpts[i].state, want->rcpts[i].state);
	}
}

/* read_all - the whole content of fd (by pread from 0); malloc'd, *len set. */
static unsigned char *
read_all(int fd, size_t *len)
{
	struct stat st;
	unsigned char *b;
	size_t got = 0;

	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	while (got < (size_t)st.st_size) {
		ssize_t r =
		    pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	*len = got;
	return b;
}

static void
assert_body(int fd, const unsigned char *want, size_t want_len)
{
	size_t len;
	unsigned char *b = read_all(fd, &len);

	assert_int_equal(len, want_len);
	if (want_len > 0)
		assert_memory_equal(b, want, want_len);
	free(b);
}

static struct journal_reader *
reader(void)
{
	char err[256];
	struct journal_reader *jr = journal_reader_new(root, err, sizeof(err));

	if (jr == NULL)
		fail_msg("journal_reader_new: %s", err);
	return jr;
}

static void
append(struct journal_writer *jw, const struct envelope *e, int fd, size_t len)
{
	char err[256];

	if (journal_append(jw, e, fd, len, err, sizeof(err)) != 0)
		fail_msg("journal_append %s: %s", e->id, err);
}

/* append_simple - a record with id and body = fill_body(len, seed). */
static void
append_simple(
    struct journal_writer *jw, const char *id, size_t len, unsigned int seed)
{
	struct envelope e;
	unsigned char *b = malloc(len + 1);
	int fd;

	assert_non_null(b);
	fill_body(b, len, seed);
	mk_env(&e, id, "a@b", "c@d", NULL);
	fd = body_memfd(b, len);
	append(jw, &e, fd, len);
	close(fd);
	env_free(&e);
	free(b);
}

static void
retire(struct journal_rec *r)
{
	char err[256];

	if (journal_retire(r->seg, r->off, err, sizeof(err)) != 0)
		fail_msg("journal_retire: %s", err);
}

static void
rec_done(struct journal_rec *r)
{
	close(r->body_fd);
	env_free(&r->env);
}

/* ---------- tests ---------- */

#define LIT(s) s, sizeof(s) - 1 /* a literal and its length (NULs too) */

static const struct {
	const char *id, *from, *rcpt1, *rcpt2;
	const char *body;
	size_t len;
	int use_file; /* body from a temp file rather than a memfd */
} msgs[] = {
    {"AAA1", "alice@example.test", "bob@example.test", NULL,
        LIT("Subject: one\r\n\r\nfirst body\r\n"), 0},
    {"BBB2", "", "carol@example.net", "dave@example.org",
        LIT("Subject: two\r\n\r\nsecond, a bit longer body\r\n.\r\n"), 1},
    {"ccc3", "eve@example.test", "frank@example.test", NULL,
        LIT("Subject: three\r\n\r\n\x00\xff binary\r\n"), 0},
};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))

static size_t
msg_len(size_t i)
{
	return msgs[i].len;
}

/* write_msgs - append msgs[] with a fresh writer; the writer is returned (open). */
static struct journal_writer *
write_msgs(void)
{
	struct journal_writer *jw = journal_writer_new(root);
	size_t i;

	assert_non_null(jw);
	for (i = 0; i < NMSGS; i++) {
		struct envelope e;
		size_t len = msg_len(i);
		int fd = msgs[i].use_file ? body_tmpfile(msgs[i].body, len)
		                          : body_memfd(msgs[i].body, len);

		mk_env(
		    &e, msgs[i].id, msgs[i].from, msgs[i].rcpt1, msgs[i].rcpt2);
		append(jw, &e, fd, len);
		close(fd);
		env_free(&e);
	}
	return jw;
}

/* 1. Three records come back in order, envelopes and bodies intact. */
static void
test_round_trip(void **state)
{
	struct journal_writer *jw;
	struct journal_reader *jr;
	struct journal_rec rec;
	size_t i;

	(void)state;
	jw = write_msgs();
	assert_int_equal(count_log(".j"), 1);
	jr = reader();
	for (i = 0; i < NMSGS; i++) {
		struct envelope want;

		assert_int_equal(journal_reader_next(jr, &rec), 1);
		mk_env(&want, msgs[i].id, msgs[i].from, msgs[i].rcpt1,
		    msgs[i].rcpt2);
		assert_env_equal(&rec.env, &want);
		env_free(&want);
		assert_body(rec.body_fd, (const unsigned char *)msgs[i].body,
		    msg_len(i));
		assert_non_null(rec.seg);
		assert_int_equal(rec.off % 8, 0);
		assert_int_equal(journal_reader_outstanding(jr), 1);
		journal_release(jr, rec.seg, 0);
		assert_int_equal(journal_reader_outstanding(jr), 0);
		rec_done(&rec);
	}
	assert_int_equal(journal_reader_next(jr, &rec), 0);
	assert_int_equal(journal_reader_next(jr, &rec), 0);
	assert_int_equal(journal_reader_outstanding(jr), 0);
	journal_reader_free(jr);
	journal_writer_free(jw);
	/* nothing retired: all of it is still there */
	assert_int_equal(count_log(".j"), 1);
}

/* 2. Retired records are not handed out again after a restart. */
static void
test_retire_restart(void **state)
{
	struct journal_reader *jr;
	struct journal_rec rec[NMSGS], r;
	unsigned long pending;
	size_t i;

	(void)state;
	journal_writer_free(write_msgs());
	assert_int_equal(journal_pending(root, &pending), 0);
	assert_int_equal(pending, NMSGS);
	jr = reader();
	for (i = 0; i < NMSGS; i++)
		assert_int_equal(journal_reader_next(jr, &rec[i]), 1);
	assert_int_equal(journal_reader_next(jr, &r), 0);
	/* retire the first and the third, keep the second */
	retire(&rec[0]);
	retire(&rec[2]);
	/* what postern queue counts, read-only, while the server runs */
	assert_int_equal(journal_pending(root, &pending), 0);
	assert_int_equal(pending, NMSGS - 2);
	journal_release(jr, rec[0].seg, 1);
	journal_release(jr, rec[1].seg, 0);
	journal_release(jr, rec[2].seg, 1);
	for (i = 0; i < NMSGS; i++)
		rec_done(&rec[i]);
	assert_int_equal(journal_reader_next(jr, &r), 0);
	journal_reader_free(jr);
	/* one record not retired: the segment must stay */
	assert_int_equal(count_log(".j"), 1);

	jr = reader();
	assert_int_equal(journal_reader_next(jr, &r), 1);
	assert_string_equal(r.env.id, msgs[1].id);
	assert_body(r.body_fd, (const unsigned char *)msgs[1].body, msg_len(1));
	assert_int_equal(journal_reader_next(jr, &rec[0]), 0);
	/* now the last one too: the sealed segment goes */
	retire(&r);
	journal_release(jr, r.seg, 1);
	rec_done(&r);
	assert_int_equal(journal_reader_next(jr, &r), 0);
	assert_int_equal(count_log(".j"), 0);
	assert_int_equal(count_log(".d"), 0);
	journal_reader_free(jr);
}

/* 3. A live segment is never deleted; a sealed, fully retired one is. */
static void
test_seal_delete(void **state)
{
	struct journal_writer *jw;
	struct journal_reader *jr;
	struct journal_rec rec[NMSGS], r;
	size_t i;

	(void)state;
	/* a: the writer still holds the segment */
	jw = write_msgs();
	jr = reader();
	for (i = 0; i < NMSGS; i++)
		assert_int_equal(journal_reader_next(jr, &rec[i]), 1);
	for (i = 0; i < NMSGS; i++) {
		retire(&rec[i]);
		journal_release(jr, rec[i].seg, 1);
		rec_done(&rec[i]);
	}
	assert_int_equal(journal_reader_next(jr, &r), 0);
	assert_int_equal(count_log(".j"), 1);
	journal_reader_events(jr);
	assert_int_equal(journal_reader_next(jr, &r), 0);
	assert_int_equal(count_log(".j"), 1);

	/*
	 * the writer closes the segment: the reader learns it from inotify
	 * (journal_reader_events), then deletes it at its next look
	 */
	journal_writer_free(jw);
	journal_reader_events(jr);
	assert_int_equal(journal_reader_next(jr, &r), 0);
	assert_int_equal(count_log(".j"), 0);
	assert_int_equal(count_log(".d"), 0);
	journal_reader_free(jr);

	/* b: sealed before the reader starts; the last release deletes it */
	journal_writer_free(write_msgs());
	jr = reader();
	for (i = 0; i < NMSGS; i++)
		assert_int_equal(journal_reader_next(jr, &rec[i]), 1);
	assert_int_equal(journal_reader_next(jr, &r), 0);
	for (i = 0; i < NMSGS; i++) {
		retire(&rec[i]);
		journal_release(jr, rec[i].seg, 1);
		rec_done(&rec[i]);
		assert_int_equal(count_log(".j"), i + 1 < NMSGS ? 1 : 0);
	}
	assert_int_equal(journal_reader_next(jr, &r), 0);
	assert_int_equal(count_log(".j"), 0);
	assert_int_equal(count_log(".d"), 0);
	journal_reader_free(jr);
}

/*
 * 4. A torn tail of a sealed segment is skipped; the segment still goes.
 * Segments are zero-filled to JOURNAL_SEG_MAX, so "the end" is where the
 * records stop (the last non-zero byte, rounded up to 8), not the file size.
 */
enum tail_kind {
	TAIL_HDR_PREFIX,
	TAIL_FULL_HDR,
	TAIL_RANDOM,
	TAIL_ZEROED,
	TAIL_TRUNCATE
};

/* data_end - where the records of the segment at fd stop. */
static off_t
data_end(int fd, off_t size)
{
	static unsigned char buf[65536];
	off_t off = size;

	while (off > 0) {
		size_t n = off < (off_t)sizeof(buf) ? (size_t)off : sizeof(buf);
		size_t i;

		assert_int_equal(pread(fd, buf, n, off - (off_t)n), (ssize_t)n);
		for (i = n; i > 0; i--)
			if (buf[i - 1] != 0)
				return ((off - (off_t)n + (off_t)i) + 7) &
				    ~(off_t)7;
		off -= (off_t)n;
	}
	return 0;
}

static void
test_torn_tail(void **state)
{
	static const struct {
		const char *name;
		enum tail_kind kind;
		size_t want; /* complete records the reader returns */
	} cases[] = {
	    {"20 bytes of a header", TAIL_HDR_PREFIX, 2},
	    {"a whole header, nothing after", TAIL_FULL_HDR, 2},
	    {"random bytes", TAIL_RANDOM, 2},
	    {"last record's end never written", TAIL_ZEROED, 1},
	    {"last record cut in its middle", TAIL_TRUNCATE, 1},
	};
	size_t c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct journal_writer *jw = journal_writer_new(root);
		struct journal_reader *jr;
		struct journal_rec rec[2], r;
		char path[PATH_MAX];
		unsigned char tail[300];
		struct stat st;
		size_t got = 0, i;
		off_t end;
		int fd;

		assert_non_null(jw);
		append_simple(jw, "TORN1", 1000, 1);
		append_simple(jw, "TORN2", 3000, 2);
		journal_writer_free(jw);
		only_seg(path, sizeof(path));
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_size, JOURNAL_SEG_MAX);
		end = data_end(fd, st.st_size);
		if (end < 4000 || end > 5000)
			fail_msg("records end at %lld", (long long)end);
		switch (cases[c].kind) {
		case TAIL_HDR_PREFIX:
		case TAIL_FULL_HDR:
			/* a copy of the first record's header: right magic, sizes */
			assert_int_equal(pread(fd, tail, REC_HDR, 0), REC_HDR);
			{
				uint32_t magic;

				memcpy(&magic, tail, 4);
				assert_int_equal(magic, REC_MAGIC);
			}
			assert_int_equal(
			    pwrite(fd, tail,
			        cases[c].kind == TAIL_HDR_PREFIX ? 20 : REC_HDR,
			        end),
			    cases[c].kind == TAIL_HDR_PREFIX ? 20 : REC_HDR);
			break;
		case TAIL_RANDOM:
			fill_body(tail, sizeof(tail), 99);
			assert_int_equal(pwrite(fd, tail, sizeof(tail), end),
			    (ssize_t)sizeof(tail));
			break;
		case TAIL_ZEROED: {
			/* the second record is ~3000 bytes at the end: ~1500 lost */
			static const unsigned char zeros[1500];

			assert_int_equal(pwrite(fd, zeros, sizeof(zeros),
			                     end - (off_t)sizeof(zeros)),
			    (ssize_t)sizeof(zeros));
			break;
		}
		case TAIL_TRUNCATE:
			assert_int_equal(ftruncate(fd, end - 1500), 0);
			break;
		}
		close(fd);

		jr = reader();
		while (got < 2 && journal_reader_next(jr, &rec[got]) == 1)
			got++;
		if (got != cases[c].want)
			fail_msg("%s: %zu records, want %zu", cases[c].name,
			    got, cases[c].want);
		assert_string_equal(rec[0].env.id, "TORN1");
		if (got == 2)
			assert_string_equal(rec[1].env.id, "TORN2");
		assert_int_equal(journal_reader_next(jr, &r), 0);
		for (i = 0; i < got; i++) {
			unsigned char want[3000];

			fill_body(
			    want, i == 0 ? 1000 : 3000, (unsigned int)i + 1);
			assert_body(rec[i].body_fd, want, i == 0 ? 1000 : 3000);
			retire(&rec[i]);
			journal_release(jr, rec[i].seg, 1);
			rec_done(&rec[i]);
		}
		assert_int_equal(journal_reader_next(jr, &r), 0);
		if (count_log(".j") != 0 || count_log(".d") != 0)
			fail_msg("%s: segment not deleted (%d .j, %d .d)",
			    cases[c].name, count_log(".j"), count_log(".d"));
		journal_reader_free(jr);
	}
}

/* 5. A damaged record in the middle of a sealed segment is skipped, the rest read. */
static void
test_damage_middle(void **state)
{
	struct journal_writer *jw;
	struct journal_reader *jr;
	struct journal_rec r1, r3, r;
	char path[PATH_MAX];
	uint32_t hdr[4];
	uint64_t off2, body2;
	unsigned char b;
	int fd;

	(void)state;
	jw = journal_writer_new(root);
	assert_non_null(jw);
	append_simple(jw, "DMG1", 500, 11);
	append_simple(jw, "DMG2", 700, 12);
	append_simple(jw, "DMG3", 900, 13);
	journal_writer_free(jw);

	only_seg(path, sizeof(path));
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	/* header: magic, env_len, body_len, flags (host order, as written) */
	assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
	assert_int_equal(hdr[0], REC_MAGIC);
	off2 = (REC_HDR + (uint64_t)hdr[1] + hdr[2] + 7u) & ~(uint64_t)7u;
	assert_int_equal(pread(fd, hdr, sizeof(hdr), (off_t)off2), sizeof(hdr));
	assert_int_equal(hdr[0], REC_MAGIC);
	assert_int_equal(hdr[2], 700);
	body2 = off2 + REC_HDR + hdr[1];
	assert_int_equal(pread(fd, &b, 1, (off_t)(body2 + 350)), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)(body2 + 350)), 1);
	close(fd);

	jr = reader();
	assert_int_equal(journal_reader_next(jr, &r1), 1);
	assert_string_equal(r1.env.id, "DMG1");
	assert_int_equal(journal_reader_next(jr, &r3), 1);
	assert_string_equal(r3.env.id, "DMG3");
	{
		unsigned char want[900];

		fill_body(want, 900, 13);
		assert_body(r3.body_fd, want, 900);
	}
	assert_int_equal(journal_reader_next(jr, &r), 0);
	journal_release(jr, r1.seg, 0);
	journal_release(jr, r3.seg, 0);
	rec_done(&r1);
	rec_done(&r3);
	journal_reader_free(jr);
}

/* 6. Concurrent appends to one writer (group commit). */
#define THREADS    8
#define PER_THREAD 50

static struct journal_writer *shared_jw;

static size_t
thread_body(unsigned char *b, int t, int n)
{
	size_t len = 64 + (size_t)((t * 131 + n * 17) % 900);

	fill_body(b, len, (unsigned int)(t * 1000 + n));
	return len;
}

static void *
appender(void *arg)
{
	int t = (int)(intptr_t)arg, i;
	unsigned char b[1024];
	int fd = memfd_create("test-body", MFD_CLOEXEC);

	if (fd < 0)
		return (void *)1;
	for (i = 0; i < PER_THREAD; i++) {
		struct envelope e;
		char id[32], err[256];
		size_t len = thread_body(b, t, i);

		snprintf(id, sizeof(id), "T%dN%d", t, i);
		if (ftruncate(fd, 0) != 0 ||
		    pwrite(fd, b, len, 0) != (ssize_t)len)
			return (void *)1;
		env_init(&e);
		strcpy(e.id, id);
		e.arrival = 1;
		strcpy(e.mail_from, "a@b");
		if (env_add_rcpt(&e, "c@d", NULL) == NULL ||
		    journal_append(shared_jw, &e, fd, len, err, sizeof(err)) !=
		        0) {
			env_free(&e);
			close(fd);
			return (void *)1;
		}
		env_free(&e);
	}
	close(fd);
	return NULL;
}

static void
test_concurrent(void **state)
{
	pthread_t th[THREADS];
	struct journal_reader *jr;
	struct journal_rec r;
	static unsigned char seen[THREADS][PER_THREAD];
	int last[THREADS];
	size_t total = 0;
	int i;

	(void)state;
	memset(seen, 0, sizeof(seen));
	shared_jw = journal_writer_new(root);
	assert_non_null(shared_jw);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, appender, (void *)(intptr_t)i),
		    0);
	for (i = 0; i < THREADS; i++) {
		void *rv;

		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	journal_writer_free(shared_jw);
	shared_jw = NULL;

	for (i = 0; i < THREADS; i++)
		last[i] = -1;
	jr = reader();
	while (journal_reader_next(jr, &r) == 1) {
		unsigned char want[1024];
		size_t len;
		int t, n;

		assert_int_equal(sscanf(r.env.id, "T%dN%d", &t, &n), 2);
		assert_true(t >= 0 && t < THREADS && n >= 0 && n < PER_THREAD);
		if (seen[t][n])
			fail_msg("%s handed out twice", r.env.id);
		seen[t][n] = 1;
		/* one thread's appends are sequential: in order in the log */
		assert_true(n > last[t]);
		last[t] = n;
		len = thread_body(want, t, n);
		assert_body(r.body_fd, want, len);
		total++;
		retire(&r);
		journal_release(jr, r.seg, 1);
		rec_done(&r);
	}
	assert_int_equal(total, THREADS * PER_THREAD);
	assert_int_equal(journal_reader_outstanding(jr), 0);
	assert_int_equal(count_log(".j"), 0);
	journal_reader_free(jr);
}

/*
 * 7. Segment rotation: the writer starts a new segment past
 * JOURNAL_SEG_MAX; the reader returns every record exactly once, in
 * append order. Segments are named by creation time in nanoseconds, so
 * name order is creation order.
 */
#define ROT_SEGS 8

static void
test_rotation(void **state)
{
	struct journal_writer *jw;
	struct journal_reader *jr;
	struct journal_rec r;
	const size_t blen = JOURNAL_BODY_MAX - 512;
	unsigned char *want;
	size_t n = 0, got = 0, bytes = 0, out_of_order = 0;
	int segs, prev = -1;
	char id[32];

	(void)state;
	want = malloc(blen);
	assert_non_null(want);
	jw = journal_writer_new(root);
	assert_non_null(jw);
	/*
	 * one segment holds JOURNAL_SEG_MAX / blen records at most; append
	 * until ROT_SEGS segments exist (bounded: rotation must happen)
	 */
	while (count_log(".j") < ROT_SEGS &&
	    n < (size_t)ROT_SEGS * (JOURNAL_SEG_MAX / blen + 1)) {
		snprintf(id, sizeof(id), "R%zu", n);
		append_simple(jw, id, blen, (unsigned int)n);
		bytes += blen;
		n++;
		if (bytes > JOURNAL_SEG_MAX)
			assert_true(count_log(".j") > 1);
	}
	/* two more into the last segment */
	for (segs = 0; segs < 2; segs++, n++) {
		snprintf(id, sizeof(id), "R%zu", n);
		append_simple(jw, id, blen, (unsigned int)n);
	}
	journal_writer_free(jw);
	segs = count_log(".j");
	if (segs < ROT_SEGS)
		fail_msg("%zu records of %zu bytes: %d segments, want >= %d", n,
		    blen, segs, ROT_SEGS);
	assert_true(max_seg_size() <= JOURNAL_SEG_MAX);

	jr = reader();
	{
		unsigned char *seen = calloc(n, 1);

		assert_non_null(seen);
		while (journal_reader_next(jr, &r) == 1) {
			int k;

			assert_int_equal(sscanf(r.env.id, "R%d", &k), 1);
			assert_true(k >= 0 && (size_t)k < n);
			if (seen[k])
				fail_msg("%s handed out twice", r.env.id);
			seen[k] = 1;
			if (k < prev)
				out_of_order++;
			prev = k;
			fill_body(want, blen, (unsigned int)k);
			assert_body(r.body_fd, want, blen);
			got++;
			retire(&r);
			journal_release(jr, r.seg, 1);
			rec_done(&r);
		}
		free(seen);
	}
	assert_int_equal(got, n);
	assert_int_equal(count_log(".j"), 0);
	assert_int_equal(count_log(".d"), 0);
	journal_reader_free(jr);
	free(want);
	if (out_of_order > 0)
		fail_msg("records not in append order (%zu steps back, %d "
		         "segments)",
		    out_of_order, segs);
}

/* 8. The body limit: JOURNAL_BODY_MAX is taken, one byte more is not. */
static void
test_body_too_big(void **state)
{
	struct journal_writer *jw;
	struct journal_reader *jr;
	struct journal_rec r;
	struct envelope e;
	unsigned char *b;
	char err[256];
	int fd;

	(void)state;
	b = malloc(JOURNAL_BODY_MAX + 1);
	assert_non_null(b);
	fill_body(b, JOURNAL_BODY_MAX + 1, 7);
	fd = body_memfd(b, JOURNAL_BODY_MAX + 1);
	jw = journal_writer_new(root);
	assert_non_null(jw);
	mk_env(&e, "BIG", "a@b", "c@d", NULL);
	err[0] = '\0';
	errno = 0;
	assert_int_equal(journal_append(jw, &e, fd,
	                     (size_t)JOURNAL_BODY_MAX + 1, err, sizeof(err)),
	    -1);
	assert_int_equal(errno, EFBIG);
	assert_true(err[0] != '\0');
	assert_int_equal(count_log(".j"), 0);
	/* exactly the limit is fine */
	append(jw, &e, fd, JOURNAL_BODY_MAX);
	journal_writer_free(jw);
	close(fd);
	env_free(&e);

	jr = reader();
	assert_int_equal(journal_reader_next(jr, &r), 1);
	assert_string_equal(r.env.id, "BIG");
	assert_body(r.body_fd, b, JOURNAL_BODY_MAX);
	journal_release(jr, r.seg, 0);
	rec_done(&r);
	assert_int_equal(journal_reader_next(jr, &r), 0);
	journal_reader_free(jr);
	free(b);
}

/* 9. Flushing the .d files: only when something was retired since the last flush. */
static void
test_flush(void **state)
{
	struct journal_reader *jr;
	struct journal_rec rec[NMSGS], r;
	struct journal_flush *f;
	size_t i;

	(void)state;
	journal_writer_free(write_msgs());
	jr = reader();
	assert_null(journal_flush_prepare(jr)); /* nothing retired yet */
	for (i = 0; i < NMSGS; i++)
		assert_int_equal(journal_reader_next(jr, &rec[i]), 1);
	retire(&rec[0]);
	retire(&rec[1]);
	f = journal_flush_prepare(jr);
	assert_non_null(f);
	assert_int_equal(journal_flush_run(f), 0);
	assert_null(journal_flush_prepare(jr)); /* nothing new */
	retire(&rec[2]);
	f = journal_flush_prepare(jr);
	assert_non_null(f);
	assert_int_equal(journal_flush_run(f), 0);
	assert_null(journal_flush_prepare(jr));
	for (i = 0; i < NMSGS; i++) {
		journal_release(jr, rec[i].seg, 1);
		rec_done(&rec[i]);
	}
	assert_int_equal(journal_reader_next(jr, &r), 0);
	assert_int_equal(count_log(".j"), 0);
	journal_reader_free(jr);
}

/*
 * 10. Spares of dead writers (tmp/NAME.s, old and unlocked) are swept by a
 * new writer; a locked one (a live writer's) and a young one stay.
 */
static void
test_spare_sweep(void **state)
{
	static const char *const names[] = {
	    "0000000000000001.s", "0000000000000002.s", "0000000000000003.s"};
	struct timeval old[2] = {{1000000000, 0}, {1000000000, 0}};
	struct journal_writer *jw;
	char path[PATH_MAX];
	int fds[3], i, tries;

	(void)state;
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/tmp/%s", root, names[i]);
		fds[i] = open(path, O_RDWR | O_CREAT, 0600);
		assert_true(fds[i] >= 0);
		if (i < 2)
			assert_int_equal(utimes(path, old), 0);
	}
	/* 0: old and dead (closed below); 1: old but locked; 2: young */
	assert_int_equal(flock(fds[1], LOCK_EX), 0);
	close(fds[0]);
	close(fds[2]);
	jw = journal_writer_new(root);
	assert_non_null(jw);
	snprintf(path, sizeof(path), "%s/tmp/%s", root, names[0]);
	for (tries = 0; tries < 200 && access(path, F_OK) == 0; tries++)
		usleep(10000);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/tmp/%s", root, names[1]);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/tmp/%s", root, names[2]);
	assert_int_equal(access(path, F_OK), 0);
	journal_writer_free(jw);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_retire_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seal_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_damage_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_too_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spare_sweep, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
