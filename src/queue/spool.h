/*
 * spool.h - the on-disk queue and its durability protocol.
 *
 *   <spool>/tmp/<ID>      message being received (worker), then committed
 *   <spool>/tmp/<ID>.env  envelope being committed or rewritten
 *   <spool>/msg/<ID>      committed message body (never changes)
 *   <spool>/env/<ID>      envelope; its presence means "committed"
 *   <spool>/log/          the commit log of small messages (journal.h);
 *                         tmp/<N>.s are its zero-filled spare segments
 *   <spool>/queue.sock    the queue service's control socket
 *
 * Everything here blocks (fsync): call it from a work-pool thread or a
 * command-line tool, never from an event loop.
 */
#ifndef POSTERN_QUEUE_SPOOL_H
#define POSTERN_QUEUE_SPOOL_H

#include <stddef.h>
#include <time.h>

#include "queue/envelope.h"

/* spool_init - create <spool>, tmp/, msg/ and env/ (mode 0700) if missing; 0 or -1. */
int spool_init(const char *spool_dir, char *err, size_t errlen);

/*
 * spool_commit - make the message in msg_fd (the open tmp/<id>, complete)
 * and env durable, in this order: write tmp/<id>.env; fsync both files;
 * rename tmp/<id> -> msg/<id>; fsync msg/; rename tmp/<id>.env ->
 * env/<id>; fsync env/. Only after it returns 0 may the 250 be sent.
 * Returns -1 with errno kept (ENOSPC/EDQUOT: answer 452 4.3.1; EEXIST: the
 * id is taken) and err set; then nothing of id is left in msg/ or env/
 * (tmp/<id> itself stays: the caller unlinks it as it does today).
 * env->id must equal id. Safe to call from several threads at once: the
 * directory fsyncs are shared between concurrent commits (group commit).
 */
int spool_commit(const char *spool_dir, const char *id, int msg_fd,
    const struct envelope *env, char *err, size_t errlen);

/*
 * spool_adopt - commit a copy of body_fd's bytes (from offset 0) as
 * msg/<env->id> with env, by spool_commit; used for a message the queue
 * service takes out of the journal. A msg/<ID> without env/<ID> (an earlier
 * try cut short) is replaced. 0 or -1 with err set.
 */
int spool_adopt(const char *spool_dir, const struct envelope *env, int body_fd,
    char *err, size_t errlen);

/*
 * spool_space_ok - 1 if the spool's file system has at least need +
 * min_free bytes available to us (statvfs f_bavail), else 0. An error
 * from statvfs counts as "enough": the commit will still fail cleanly.
 */
int spool_space_ok(const char *spool_dir, unsigned long long need,
    unsigned long long min_free);

/* spool_env_write - atomically replace env/<env->id> (tmp, fsync, rename, fsync env/); 0 or -1. */
int spool_env_write(const char *spool_dir, const struct envelope *env,
    char *err, size_t errlen);

/* spool_env_load - read env/<id>; 0 or -1 (errno ENOENT if gone, EINVAL if damaged). */
int spool_env_load(const char *spool_dir, const char *id, struct envelope *env,
    char *err, size_t errlen);

/* spool_msg_open - open msg/<id> read-only; fd or -1. */
int spool_msg_open(const char *spool_dir, const char *id);

/*
 * spool_remove - forget a message: unlink env/<id> (then fsync env/, so it
 * cannot come back and be delivered again), then msg/<id>. 0 or -1.
 */
int spool_remove(const char *spool_dir, const char *id);

/*
 * spool_create - a new message file tmp/<ID> with a fresh unique id (for
 * bounces and local submission); fd (O_RDWR) or -1. id gets ENV_ID_MAX.
 */
int spool_create(const char *spool_dir, char *id, size_t idlen);

/* Recovery counts. */
struct spool_recovery {
	unsigned int tmp_removed; /* leftovers in tmp/ */
	unsigned int
	    orphans_removed; /* msg/ without env/: never acknowledged */
	unsigned int
	    damaged; /* env/ without msg/ or unreadable: moved to corrupt/ */
};

/*
 * spool_recover - clean up after a crash. With clean_tmp, empties tmp/
 * (only safe while no worker is receiving: the master at start). Deletes
 * msg/<ID> without env/<ID> whose mtime is older than min_age seconds (a
 * commit in flight has a young msg/ for a moment; 0 = all). Moves env/<ID>
 * without msg/<ID> to corrupt/. 0 or -1.
 */
int spool_recover(const char *spool_dir, int clean_tmp, time_t min_age,
    struct spool_recovery *out);

/*
 * spool_list - the ids in env/ (committed messages), malloc'd array of
 * ENV_ID_MAX strings in *ids_r, count in *n_r; 0 or -1. Free with free().
 */
int spool_list(const char *spool_dir, char (**ids_r)[ENV_ID_MAX], size_t *n_r);

/*
 * spool_quarantine - move a message whose envelope cannot be read (env/<id>
 * and msg/<id>, as <id> and <id>.msg) to <spool>/corrupt/ for a human to
 * look at; it is never delivered. 0 or -1.
 */
int spool_quarantine(const char *spool_dir, const char *id);

/* spool_socket_path - "<spool>/queue.sock" into out; 0 or -1 if too long. */
int spool_socket_path(const char *spool_dir, char *out, size_t outlen);

/*
 * Test hook (unit tests only): make spool_commit stop, as if the process
 * died, right after step n (1 = tmp env written, 2 = files fsync'd, 3 =
 * message renamed, 4 = msg/ fsync'd, 5 = envelope renamed); 0 = off.
 */
void spool_test_crash_after(int step);

#endif
