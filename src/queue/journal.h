/*
 * journal.h - the spool's commit log: the fast path for small messages.
 *
 *   <spool>/log/<SEG>.j   segment: records appended by one SMTP worker
 *   <spool>/log/<SEG>.d   offsets of the segment's records the queue
 *                         service has retired (delivered, or moved to
 *                         msg/ + env/), 8 bytes each
 *
 * A record is the message's envelope and body, with a BLAKE2b tag over both.
 * Concurrent commits of one worker share one fdatasync of the segment
 * (group commit): a message costs an append, not a file, a rename and two
 * directory fsyncs. Segments are zero-filled to JOURNAL_SEG_MAX before use
 * (a thread of the writer keeps a spare in tmp/), so an append does not
 * grow the file. A worker holds an exclusive flock(2) on the segment it
 * writes; a segment nobody holds is sealed: the queue service deletes it
 * once every record in it is retired. Messages bigger than JOURNAL_BODY_MAX
 * keep the per-file protocol of spool.h.
 */
#ifndef POSTERN_QUEUE_JOURNAL_H
#define POSTERN_QUEUE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "queue/envelope.h"

#define JOURNAL_BODY_MAX (256u << 10) /* bigger bodies go to tmp/ files */
#define JOURNAL_SEG_MAX  (4u << 20)   /* a writer starts a new segment */

/* ---------- writer (an SMTP worker; thread-safe) ---------- */

struct journal_writer;

/* journal_writer_new - a writer for <spool>/log (segments made on demand); NULL on ENOMEM. */
struct journal_writer *journal_writer_new(const char *spool_dir);

/*
 * journal_append - append env and the body (body_fd's bytes [0, body_len))
 * and return once they are durable (one fdatasync shared with concurrent
 * callers). 0, or -1 with errno (ENOSPC/EDQUOT: no room) and err set; then
 * the message must not be acknowledged.
 */
int journal_append(struct journal_writer *jw, const struct envelope *env,
    int body_fd, size_t body_len, char *err, size_t errlen);

/* journal_writer_free - close (seal) the current segment and free. */
void journal_writer_free(struct journal_writer *jw);

/* ---------- reader (the queue service) ---------- */

struct journal_reader;
struct journal_seg;

struct journal_rec {
	struct journal_seg *seg;
	uint64_t off;        /* the record's offset in its segment */
	struct envelope env; /* decoded; the caller owns it */
	int body_fd;         /* memfd holding the body; the caller owns it */
};

/*
 * journal_reader_new - watch <spool>/log (inotify) and open the segments
 * there; NULL with err set. Loop thread only, like everything below except
 * journal_retire.
 */
struct journal_reader *journal_reader_new(
    const char *spool_dir, char *err, size_t errlen);

/* journal_reader_fd - the inotify descriptor to watch for EV_READ; -1 if none. */
int journal_reader_fd(const struct journal_reader *jr);

/* journal_reader_events - drain the inotify descriptor, noting new and closed segments. */
void journal_reader_events(struct journal_reader *jr);

/*
 * journal_reader_next - the next complete record not yet handed out nor
 * retired. 1 (rec filled), 0 (none ready now), -1 (out of memory).
 */
int journal_reader_next(struct journal_reader *jr, struct journal_rec *rec);

/*
 * journal_retire - note that the record at off is done (delivered, or moved
 * to msg/ + env/): it is not handed out again. Any thread. Written at once
 * (a killed process loses nothing), made durable by the next flush: a power
 * failure before it delivers those messages again (duplicates, never loss).
 * 0, or -1 with err set.
 */
int journal_retire(
    struct journal_seg *seg, uint64_t off, char *err, size_t errlen);

struct journal_flush;

/*
 * journal_flush_prepare - what the retires since the last flush need
 * synced (loop thread); NULL if nothing. Run it with journal_flush_run on
 * any thread (it owns its descriptors), which frees it; 0 or -1.
 */
struct journal_flush *journal_flush_prepare(struct journal_reader *jr);
int journal_flush_run(struct journal_flush *f);

/*
 * journal_release - the caller is done with a record it got from
 * journal_reader_next (retired, or to be handed out again at the next
 * start). A sealed segment whose records are all retired is deleted.
 */
void journal_release(
    struct journal_reader *jr, struct journal_seg *seg, int retired);

/*
 * journal_body_put - give back a record's body_fd once nothing reads it any
 * more (instead of close): the reader empties it and uses it again.
 */
void journal_body_put(struct journal_reader *jr, int fd);

/* journal_reader_outstanding - records handed out and not yet released. */
size_t journal_reader_outstanding(const struct journal_reader *jr);

/*
 * journal_drain - with the server stopped: move every record not retired
 * to msg/ + env/ (spool_adopt) and retire it, so that tools that read the
 * spool files see every queued message. The number moved in *moved; 0, or
 * -1 with err set (what could be moved was).
 */
int journal_drain(
    const char *spool_dir, unsigned int *moved, char *err, size_t errlen);

/*
 * journal_pending - how many records in <spool>/log are not retired yet
 * (accepted messages the queue service has not finished with). Reads only;
 * any process, server running or not. 0, or -1 with errno.
 */
int journal_pending(const char *spool_dir, unsigned long *count);

/* journal_reader_free - close everything (segments stay on disk). */
void journal_reader_free(struct journal_reader *jr);

#endif
