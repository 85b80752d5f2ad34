/*
 * fuzz_journal.c - the commit log reader on arbitrary segment contents (a
 * damaged or torn segment must not crash the queue service). Each input is
 * written as a sealed segment of a scratch spool; every record the reader
 * hands out must carry a valid envelope and a readable body, and the
 * reader must stop.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/journal.h"
#include "queue/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static void
cleanup(void)
{
	char cmd[128];

	if (root[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		(void)system(cmd);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_reader *jr;
	struct journal_rec rec;
	char path[160], err[256], buf[512];
	size_t n = 0;
	int fd, r;

	if (size > JOURNAL_SEG_MAX)
		return 0;
	if (root[0] == '\0') {
		snprintf(root, sizeof(root), "/tmp/fuzz-journal-XXXXXX");
		if (mkdtemp(root) == NULL ||
		    spool_init(root, err, sizeof(err)) == -1)
			abort();
		atexit(cleanup);
	}
	snprintf(path, sizeof(path), "%s/log/0000000000000001.j", root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	snprintf(path, sizeof(path), "%s/log/0000000000000001.d", root);
	(void)unlink(path);

	jr = journal_reader_new(root, err, sizeof(err));
	if (jr == NULL)
		abort();
	while ((r = journal_reader_next(jr, &rec)) == 1) {
		if (!env_valid_id(rec.env.id) || rec.env.nrcpts == 0 ||
		    pread(rec.body_fd, buf, sizeof(buf), 0) < 0)
			abort();
		if (++n > size / 32 + 1) /* a record takes at least 32 bytes */
			abort();
		if (journal_retire(rec.seg, rec.off, err, sizeof(err)) == -1)
			abort();
		journal_release(jr, rec.seg, 1);
		close(rec.body_fd);
		env_free(&rec.env);
	}
	if (r == -1)
		abort();
	journal_reader_free(jr);
	/* whatever is left for the next input: the segment, its .d */
	snprintf(path, sizeof(path), "%s/log/0000000000000001.j", root);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/log/0000000000000001.d", root);
	(void)unlink(path);
	return 0;
}
