/*
 * workpool.h - a bounded thread pool attached to a libevent loop.
 * work() runs on a pool thread; done() runs afterwards on the loop thread.
 * This is how password hashing, blocking backends and fsync stay off the loop.
 */
#ifndef POSTERN_NET_WORKPOOL_H
#define POSTERN_NET_WORKPOOL_H

#include <stddef.h>

struct event_base;
struct workpool;

typedef void workpool_fn(void *arg);

/* workpool_new - nthreads threads (0 = one per core) and a queue of at most max_queue jobs. */
struct workpool *workpool_new(
    struct event_base *base, unsigned int nthreads, size_t max_queue);

/* workpool_submit - queue work(arg) then done(arg) on the loop; 0, or -1 if the queue is full. */
int workpool_submit(
    struct workpool *p, workpool_fn *work, workpool_fn *done, void *arg);

/* workpool_pending - jobs queued or running. */
size_t workpool_pending(const struct workpool *p);

/* workpool_free - finish queued jobs, join threads, free. Call from the loop thread. */
void workpool_free(struct workpool *p);

#endif
