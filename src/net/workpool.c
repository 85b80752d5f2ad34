/*
 * workpool.c - bounded pthread pool whose completions run on the libevent
 * loop. Workers take jobs from a mutex-protected FIFO, run work(), move the
 * job to a done queue and poke an eventfd the loop watches; the loop thread
 * then runs done(). Workers never touch libevent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/workpool.h"

#define WORKPOOL_MAX_THREADS 256

struct wp_job {
	workpool_fn *work;
	workpool_fn *done;
	void *arg;
	struct wp_job *next;
};

struct wp_queue {
	struct wp_job *head;
	struct wp_job *tail;
};

struct workpool {
	struct event_base *base;
	struct event *ev;
	int efd;

	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct wp_queue todo; /* waiting for a worker */
	struct wp_queue done; /* waiting for the loop */
	size_t ntodo;
	size_t pending; /* submitted, done() not yet run */
	size_t max_queue;
	int stop;

	pthread_t *threads;
	unsigned int nthreads;
};

static void
wp_push(struct wp_queue *q, struct wp_job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct wp_job *
wp_pop(struct wp_queue *q)
{
	struct wp_job *j = q->head;

	if (j == NULL)
		return NULL;
	q->head = j->next;
	if (q->head == NULL)
		q->tail = NULL;
	j->next = NULL;
	return j;
}

/* wp_notify - wake the loop; a full counter already means "wake". */
static void
wp_notify(struct workpool *p)
{
	uint64_t one = 1;
	ssize_t n;

	do {
		n = write(p->efd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

static void *
wp_thread(void *arg)
{
	struct workpool *p = arg;
	struct wp_job *j;
	int was_empty;

	for (;;) {
		if (pthread_mutex_lock(&p->mtx) != 0)
			abort();
		while (p->todo.head == NULL && !p->stop)
			(void)pthread_cond_wait(&p->cond, &p->mtx);
		j = wp_pop(&p->todo);
		if (j == NULL) {
			/* stop requested and nothing left to run */
			(void)pthread_mutex_unlock(&p->mtx);
			return NULL;
		}
		p->ntodo--;
		(void)pthread_mutex_unlock(&p->mtx);

		if (j->work != NULL)
			j->work(j->arg);

		if (pthread_mutex_lock(&p->mtx) != 0)
			abort();
		/*
		 * The loop takes the whole done queue each time it wakes, so
		 * only the job that finds it empty needs to wake it: a group
		 * commit finishing 8 jobs at once costs one eventfd write.
		 */
		was_empty = p->done.head == NULL;
		wp_push(&p->done, j);
		(void)pthread_mutex_unlock(&p->mtx);
		if (was_empty)
			wp_notify(p);
	}
}

/* wp_run_done - run done() of every finished job; loop thread only. */
static void
wp_run_done(struct workpool *p)
{
	struct wp_queue q;
	struct wp_job *j;

	if (pthread_mutex_lock(&p->mtx) != 0)
		abort();
	q = p->done;
	p->done.head = p->done.tail = NULL;
	(void)pthread_mutex_unlock(&p->mtx);

	for (j = wp_pop(&q); j != NULL; j = wp_pop(&q)) {
		if (pthread_mutex_lock(&p->mtx) != 0)
			abort();
		p->pending--;
		(void)pthread_mutex_unlock(&p->mtx);
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static void
wp_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *p = arg;
	uint64_t v;
	ssize_t n;

	(void)what;
	do {
		n = read(fd, &v, sizeof(v));
	} while (n < 0 && errno == EINTR);
	wp_run_done(p);
}

struct workpool *
workpool_new(struct event_base *base, unsigned int nthreads, size_t max_queue)
{
	struct workpool *p;
	unsigned int i;
	long ncpu;

	if (base == NULL || max_queue == 0)
		return NULL;
	if (nthreads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = ncpu > 0 ? (unsigned int)ncpu : 1;
	}
	if (nthreads > WORKPOOL_MAX_THREADS)
		nthreads = WORKPOOL_MAX_THREADS;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->base = base;
	p->max_queue = max_queue;
	p->efd = -1;
	if (pthread_mutex_init(&p->mtx, NULL) != 0) {
		free(p);
		return NULL;
	}
	if (pthread_cond_init(&p->cond, NULL) != 0)
		goto fail_mtx;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		goto fail_cond;
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, wp_on_event, p);
	if (p->ev == NULL || event_add(p->ev, NULL) != 0)
		goto fail_fd;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (p->threads == NULL)
		goto fail_fd;
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, wp_thread, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0)
		goto fail_threads;
	return p;

fail_threads:
	free(p->threads);
fail_fd:
	if (p->ev != NULL)
		event_free(p->ev);
	(void)close(p->efd);
fail_cond:
	(void)pthread_cond_destroy(&p->cond);
fail_mtx:
	(void)pthread_mutex_destroy(&p->mtx);
	free(p);
	return NULL;
}

int
workpool_submit(
    struct workpool *p, workpool_fn *work, workpool_fn *done, void *arg)
{
	struct wp_job *j;

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;

	if (pthread_mutex_lock(&p->mtx) != 0)
		abort();
	if (p->stop || p->ntodo >= p->max_queue) {
		(void)pthread_mutex_unlock(&p->mtx);
		free(j);
		return -1;
	}
	wp_push(&p->todo, j);
	p->ntodo++;
	p->pending++;
	(void)pthread_cond_signal(&p->cond);
	(void)pthread_mutex_unlock(&p->mtx);
	return 0;
}

size_t
workpool_pending(const struct workpool *p)
{
	struct workpool *mp = (struct workpool *)(uintptr_t)p;
	size_t n;

	if (pthread_mutex_lock(&mp->mtx) != 0)
		abort();
	n = mp->pending;
	(void)pthread_mutex_unlock(&mp->mtx);
	return n;
}

void
workpool_free(struct workpool *p)
{
	unsigned int i;

	if (p == NULL)
		return;
	if (pthread_mutex_lock(&p->mtx) != 0)
		abort();
	p->stop = 1;
	(void)pthread_cond_broadcast(&p->cond);
	(void)pthread_mutex_unlock(&p->mtx);

	/* Workers drain the queue before they exit. */
	for (i = 0; i < p->nthreads; i++)
		(void)pthread_join(p->threads[i], NULL);

	/* Completions not yet seen by the loop run here, on the loop thread. */
	wp_run_done(p);

	event_free(p->ev);
	(void)close(p->efd);
	(void)pthread_cond_destroy(&p->cond);
	(void)pthread_mutex_destroy(&p->mtx);
	free(p->threads);
	free(p);
}
