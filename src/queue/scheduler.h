/*
 * scheduler.h - the queue service's in-memory view of the spool: one entry
 * per committed message (its envelope), looked up by id, plus in-flight
 * counters per destination so that no destination gets more than
 * [queue] per_destination deliveries at once. No I/O: the service loads
 * and writes envelopes; this only decides what is due.
 */
#ifndef POSTERN_QUEUE_SCHEDULER_H
#define POSTERN_QUEUE_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "deliver/agent.h"
#include "queue/envelope.h"

#define SCHED_BUCKETS    4096
#define SCHED_KEY_MAX    300
#define SCHED_MAX_GROUPS 32 /* destinations per attempt of one message */

struct config;

struct qmsg {
	struct envelope env; /* owned by a pool thread while busy */
	int busy;            /* an attempt is running */
	int delete_req;      /* postern queue delete while busy */
	int hold_req;        /* 1 hold, -1 release, while busy */
	int gone;            /* removed from the spool by the attempt */
	/* From the journal (journal.h): its record, the body in a memfd. */
	struct journal_seg *jseg; /* NULL: msg/ + env/ files */
	uint64_t joff;
	int body_fd;        /* -1 unless jseg; closed by sched_remove */
	int jretired;       /* the attempt retired the record */
	int jmoved;         /* the attempt moved it to msg/ + env/ */
	struct qmsg *hnext; /* hash chain */
};

struct sched_dest {
	char key[SCHED_KEY_MAX];
	unsigned int inflight;
	struct sched_dest *next;
};

struct sched {
	struct qmsg *table[SCHED_BUCKETS];
	size_t nmsgs;
	struct sched_dest *dests;
	unsigned int inflight;     /* attempts running */
	unsigned int max_inflight; /* [queue] max_deliveries */
	unsigned int per_dest;     /* [queue] per_destination */
};

/* One destination's share of an attempt: recipients with the same route. */
struct sched_group {
	char key[SCHED_KEY_MAX];
	char domain[256];
	struct dlv_route route;
	size_t idx[64]; /* indices into env.rcpts */
	size_t n;
};

void sched_init(
    struct sched *s, unsigned int max_inflight, unsigned int per_dest);

/* sched_free - drop every entry (their envelopes too) and destination. */
void sched_free(struct sched *s);

struct qmsg *sched_find(struct sched *s, const char *id);

/* sched_add - take ownership of *env (moved; *env is reset). NULL if memory is short or the id is known. */
struct qmsg *sched_add(struct sched *s, struct envelope *env);

/* sched_remove - forget m (must not be busy) and free it. */
void sched_remove(struct sched *s, struct qmsg *m);

/* sched_due - earliest next_attempt of m's pending recipients; LLONG_MAX if none, held or busy. */
long long sched_due(const struct qmsg *m);

/*
 * sched_plan - group m's recipients due at now by destination, keeping only
 * destinations below the per-destination limit (and at most max groups,
 * 64 recipients each; the rest wait for the next pass). Returns the number
 * of groups written to out (0: nothing can start now).
 */
size_t sched_plan(struct sched *s, const struct config *cfg,
    const struct qmsg *m, long long now, struct sched_group *out, size_t max);

/* sched_dest_acquire / sched_dest_release - count an attempt in and out of key. */
void sched_dest_acquire(struct sched *s, const char *key);
void sched_dest_release(struct sched *s, const char *key);

/* sched_dest_inflight - attempts running to key. */
unsigned int sched_dest_inflight(const struct sched *s, const char *key);

/* sched_foreach - call fn for every entry (fn must not add or remove). */
void sched_foreach(
    struct sched *s, void (*fn)(struct qmsg *m, void *arg), void *arg);

#endif
