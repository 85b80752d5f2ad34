/*
 * service.c - the queue service main: loads env/ at start, notices new
 * messages through inotify (IN_MOVED_TO on env/, which is how a commit
 * ends) with a periodic rescan as a backup, runs one delivery attempt per
 * message at a time on the work pool (dlv_run blocks), records every
 * result in the envelope (atomic rewrite) before anything else happens,
 * bounces and warns, and serves the control socket for `postern queue`.
 * The loop itself never waits on the network; envelope rewrites asked for
 * by an operator (hold/release/delete) are the one small exception.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "deliver/agent.h"
#include "net/workpool.h"
#include "queue/bounce.h"
#include "queue/retry.h"
#include "queue/scheduler.h"
#include "queue/journal.h"
#include "queue/service.h"
#include "queue/spool.h"

#define RESCAN_SECONDS   60
#define ORPHAN_MIN_AGE   600 /* a msg/ younger may be a commit in flight */
#define CONTROL_LINE_MAX 256
#define DSN_MAX          (BOUNCE_FULL_MAX + (1u << 20))
#define INTAKE_MAX       1024 /* journal records in memory at once */
#define FLUSH_MS         100  /* journal retires are made durable this often */

struct qsvc {
	struct config *cfg;
	struct event_base *base;
	struct workpool *pool;
	struct sched sched;
	struct retry_policy policy;
	char env_dir[PATH_MAX];
	int ino_fd;
	struct event *ino_ev;
	struct journal_reader *jr;
	struct event *jr_ev;
	struct event *flush_ev;
	int flushing;
	struct event *kick_ev;  /* run a scheduling pass soon */
	struct event *timer_ev; /* next due attempt or rescan */
	struct evconnlistener *ctl;
	time_t last_rescan;
	int stopping;
	unsigned long sent, deferred, bounced;
};

/* One attempt: the due recipients of one message, grouped by destination. */
struct attempt {
	struct qsvc *svc;
	struct qmsg *m;
	struct sched_group *groups;
	size_t ngroups;
	long long now;
};

static void kick(struct qsvc *svc);
static int submit_attempt(struct qsvc *svc, struct qmsg *m,
    const struct sched_group *groups, size_t n, long long now);

/* ---------- loading ---------- */

/* load_one - read env/<id> into the table (new messages: due now). */
static void
load_one(struct qsvc *svc, const char *id)
{
	struct envelope env;
	char err[256], q[600];

	if (!env_valid_id(id) || sched_find(&svc->sched, id) != NULL)
		return;
	if (spool_env_load(svc->cfg->spool, id, &env, err, sizeof(err)) == -1) {
		if (errno == ENOENT)
			return; /* delivered or deleted meanwhile */
		log_err("id=%s event=envelope-damaged error=%s action=corrupt",
		    id, log_q(q, sizeof(q), err, (size_t)-1));
		(void)spool_quarantine(svc->cfg->spool, id);
		return;
	}
	if (sched_add(&svc->sched, &env) == NULL) {
		log_err("id=%s event=queue-error error=out-of-memory", id);
		env_free(&env);
		return;
	}
}

static void
rescan(struct qsvc *svc)
{
	char(*ids)[ENV_ID_MAX];
	size_t n, i;

	svc->last_rescan = time(NULL);
	if (spool_list(svc->cfg->spool, &ids, &n) == -1) {
		log_err("event=rescan-failed error=\"%s\"", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++)
		load_one(svc, ids[i]);
	free(ids);
	kick(svc);
}

/* ---------- the journal (journal.h) ---------- */

/*
 * same_message - env (from the journal) is the message the spool already
 * has under its id: the queue service moved it to msg/ + env/ and died
 * before retiring its record. Anything else is an id collision.
 */
static int
same_message(const struct envelope *a, const struct envelope *b)
{
	return a->arrival == b->arrival &&
	    strcmp(a->mail_from, b->mail_from) == 0 && a->nrcpts == b->nrcpts &&
	    strcmp(a->client_addr, b->client_addr) == 0;
}

/* intake_one - a journal record into the table (due now). */
static void
intake_one(struct qsvc *svc, struct journal_rec *rec)
{
	struct qmsg *m = sched_find(&svc->sched, rec->env.id);
	char err[256];

	if (m != NULL && same_message(&m->env, &rec->env)) {
		/* after a crash: already in msg/ + env/, only retire */
		int ok =
		    journal_retire(rec->seg, rec->off, err, sizeof(err)) == 0;

		if (!ok)
			log_err(
			    "id=%s event=journal-retire-failed error=\"%s\"",
			    rec->env.id, err);
		journal_release(svc->jr, rec->seg, ok);
		journal_body_put(svc->jr, rec->body_fd);
		env_free(&rec->env);
		return;
	}
	if (m != NULL) {
		/* a different message with the same id: give it another */
		size_t n = strlen(rec->env.id);

		if (n + 2 >= sizeof(rec->env.id))
			n = sizeof(rec->env.id) - 3;
		rec->env.id[n] = 'J';
		rec->env.id[n + 1] = '\0';
		log_warn(
		    "id=%s event=id-collision action=renamed", rec->env.id);
	}
	m = sched_add(&svc->sched, &rec->env);
	if (m == NULL) {
		log_err(
		    "id=%s event=queue-error error=out-of-memory", rec->env.id);
		journal_release(svc->jr, rec->seg, 0);
		journal_body_put(svc->jr, rec->body_fd);
		env_free(&rec->env);
		return;
	}
	m->jseg = rec->seg;
	m->joff = rec->off;
	m->body_fd = rec->body_fd;
	/* held (containment): to msg/ + env/ now, postern queue decides */
	if (m->env.held)
		(void)submit_attempt(svc, m, NULL, 0, (long long)time(NULL));
}

/* intake - take new journal records, at most INTAKE_MAX in memory. */
static void
intake(struct qsvc *svc)
{
	struct journal_rec rec;
	int took = 0;

	if (svc->jr == NULL)
		return;
	while (journal_reader_outstanding(svc->jr) < INTAKE_MAX &&
	    journal_reader_next(svc->jr, &rec) == 1) {
		intake_one(svc, &rec);
		took = 1;
	}
	if (took)
		kick(svc);
}

/* journal_leave - the message no longer needs its journal record (loop). */
static void
journal_leave(struct qsvc *svc, struct qmsg *m, int retired)
{
	if (m->jseg == NULL)
		return;
	journal_release(svc->jr, m->jseg, retired);
	m->jseg = NULL;
	/* no attempt reads it now: attempts close their copy before done */
	journal_body_put(svc->jr, m->body_fd);
	m->body_fd = -1;
}

/*
 * msg_forget - the message leaves the queue (postern queue delete): its
 * files, or its journal record. 0 or -1.
 */
static int
msg_forget(struct qsvc *svc, struct qmsg *m)
{
	char err[256];

	if (m->jseg == NULL)
		return spool_remove(svc->cfg->spool, m->env.id);
	if (journal_retire(m->jseg, m->joff, err, sizeof(err)) == -1) {
		log_err("id=%s event=journal-retire-failed error=\"%s\"",
		    m->env.id, err);
		return -1;
	}
	journal_leave(svc, m, 1);
	return 0;
}

/*
 * msg_persist - write the envelope's new state: rewrite env/<ID>, or move
 * a journal message to msg/ + env/ (then retire its record). 0 or -1.
 * Blocking. From a pool thread the loop's part (journal_leave) is left to
 * attempt_done through m->jmoved.
 */
static int
msg_persist(struct qsvc *svc, struct qmsg *m, const struct envelope *env,
    char *err, size_t errlen)
{
	char rerr[256];

	if (m->jseg == NULL)
		return spool_env_write(svc->cfg->spool, env, err, errlen);
	if (spool_adopt(svc->cfg->spool, env, m->body_fd, err, errlen) == -1)
		return -1;
	m->jmoved = 1;
	/* if this fails the next start sees both and only retires */
	m->jretired = journal_retire(m->jseg, m->joff, rerr, sizeof(rerr)) == 0;
	if (!m->jretired)
		log_err("id=%s event=journal-retire-failed error=\"%s\"",
		    env->id, rerr);
	return 0;
}

struct flush_job {
	struct qsvc *svc;
	struct journal_flush *f;
};

static void
flush_work(void *arg)
{
	struct flush_job *job = arg;

	if (journal_flush_run(job->f) == -1)
		log_err("event=journal-flush-failed error=\"%s\" "
		        "note=\"a power failure could repeat deliveries\"",
		    strerror(errno));
	job->f = NULL;
}

static void
flush_done(void *arg)
{
	struct flush_job *job = arg;

	job->svc->flushing = 0;
	free(job);
}

/* flush_cb - the retires of the last FLUSH_MS to disk, off the loop. */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qsvc *svc = arg;
	struct flush_job *job;

	(void)fd;
	(void)what;
	if (svc->flushing || (job = calloc(1, sizeof(*job))) == NULL)
		return;
	job->svc = svc;
	job->f = journal_flush_prepare(svc->jr);
	if (job->f == NULL) {
		free(job);
		return;
	}
	svc->flushing = 1;
	if (workpool_submit(svc->pool, flush_work, flush_done, job) == -1) {
		flush_work(job); /* the pool is full: here, once */
		flush_done(job);
	}
}

static void
journal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qsvc *svc = arg;

	(void)fd;
	(void)what;
	journal_reader_events(svc->jr);
	intake(svc);
}

static void
inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qsvc *svc = arg;
	char buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int overflow = 0;

	(void)what;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		char *p;

		if (n <= 0)
			break;
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				overflow = 1;
			else if (ev->len > 0)
				load_one(svc, ev->name);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (overflow)
		rescan(svc);
	kick(svc);
}

/* ---------- one attempt (pool thread) ---------- */

/* spool_dsn - spool text as a new message from <> to to; 0 or -1. */
static int
spool_dsn(const struct config *cfg, const struct envelope *orig,
    const struct buf *text, const char *what)
{
	struct envelope env;
	char id[ENV_ID_MAX], err[256], path[PATH_MAX];
	size_t off = 0;
	int fd, rc = -1;

	fd = spool_create(cfg->spool, id, sizeof(id));
	if (fd == -1) {
		log_err("id=%s event=dsn-failed kind=%s error=\"%s\"", orig->id,
		    what, strerror(errno));
		return -1;
	}
	while (off < text->len) {
		ssize_t w = write(fd, text->data + off, text->len - off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	env_init(&env);
	str_copy(env.id, id, sizeof(env.id));
	env.arrival = (long long)time(NULL);
	env.is_bounce = 1;
	env.eightbit = orig->eightbit || orig->smtputf8;
	env.smtputf8 = orig->smtputf8;
	str_copy(env.listener, "queue", sizeof(env.listener));
	if (env_add_rcpt(&env, orig->mail_from, NULL) != NULL &&
	    spool_commit(cfg->spool, id, fd, &env, err, sizeof(err)) == 0) {
		log_info("id=%s event=dsn kind=%s dsn_id=%s to=<%s>", orig->id,
		    what, id, orig->mail_from);
		rc = 0;
	} else {
		log_err("id=%s event=dsn-failed kind=%s error=\"%s\"", orig->id,
		    what, err);
	}
	env_free(&env);
out:
	(void)close(fd);
	if (snprintf(path, sizeof(path), "%s/tmp/%s", cfg->spool, id) <
	    (int)sizeof(path))
		(void)unlink(
		    path); /* gone after a commit; the leftover otherwise */
	return rc;
}

/* send_dsn - compose and spool a DSN about the recipients in sel; 0 or -1. */
static int
send_dsn(const struct qsvc *svc, const struct envelope *env,
    const unsigned char *sel, enum bounce_kind kind, int msg_fd, long long now)
{
	struct buf text;
	char err[256];
	int rc;

	buf_init(&text, DSN_MAX);
	if (bounce_compose(env, sel, kind, msg_fd, svc->cfg->hostname, now,
	        env->arrival + svc->policy.lifetime_s, &text, err,
	        sizeof(err)) == -1) {
		log_err("id=%s event=dsn-failed error=\"%s\"", env->id, err);
		buf_free(&text);
		return -1;
	}
	rc = spool_dsn(
	    svc->cfg, env, &text, kind == BOUNCE_FAILED ? "failure" : "delay");
	buf_free(&text);
	return rc;
}

static void
set_error(struct env_rcpt *r, const char *text)
{
	size_t i;

	str_copy(r->last_error, text, sizeof(r->last_error));
	for (i = 0; r->last_error[i] != '\0'; i++)
		if ((unsigned char)r->last_error[i] < 0x20 ||
		    (unsigned char)r->last_error[i] == 0x7f)
			r->last_error[i] = ' ';
}

static void
log_attempt(const struct envelope *env, const struct env_rcpt *r,
    const char *hop, const char *tls, const char *result, long long now)
{
	char qr[600], qh[400], qt[200], qe[700];

	log_info("id=%s rcpt=%s hop=%s tls=%s result=%s delay=%llds "
	         "attempts=%u reply=%s",
	    env->id, log_q(qr, sizeof(qr), r->addr, (size_t)-1),
	    log_q(qh, sizeof(qh), hop, (size_t)-1),
	    log_q(qt, sizeof(qt), tls, (size_t)-1), result, now - env->arrival,
	    r->attempts, log_q(qe, sizeof(qe), r->last_error, (size_t)-1));
}

/* run_group - one dlv_run() and its per-recipient bookkeeping. */
static void
run_group(struct attempt *a, struct sched_group *g, int fd, off_t size,
    unsigned char *failed)
{
	struct envelope *env = &a->m->env;
	struct dlv_rcpt rc[64];
	struct dlv_job job;
	size_t i;
	long long now;

	memset(&job, 0, sizeof(job));
	memset(rc, 0, sizeof(rc));
	for (i = 0; i < g->n; i++) {
		struct env_rcpt *r = &env->rcpts[g->idx[i]];

		rc[i].addr = r->addr;
		rc[i].orcpt = r->orcpt[0] != '\0' ? r->orcpt : NULL;
		rc[i].status = DLV_TEMP;
	}
	job.id = env->id;
	job.msg_fd = fd;
	job.msg_size = size;
	job.mail_from = env->mail_from;
	job.auth_param = env->auth_param[0] != '\0' ? env->auth_param : NULL;
	job.smtputf8 = env->smtputf8;
	job.eightbit = env->eightbit;
	job.domain = g->domain;
	job.helo_name = a->svc->cfg->hostname;
	job.route = &g->route;
	job.rcpts = rc;
	job.nrcpts = g->n;
	if (fd == -1) {
		for (i = 0; i < g->n; i++)
			str_copy(rc[i].reply, "cannot open the spooled message",
			    sizeof(rc[i].reply));
	} else {
		(void)dlv_run(&job);
	}
	if (job.tls_info[0] == '\0')
		str_copy(job.tls_info, "none", sizeof(job.tls_info));
	now = (long long)time(NULL);
	for (i = 0; i < g->n; i++) {
		struct env_rcpt *r = &env->rcpts[g->idx[i]];
		const char *result;

		r->attempts++;
		set_error(r, rc[i].reply);
		str_copy(r->dsn_code, rc[i].dsn_code, sizeof(r->dsn_code));
		str_copy(
		    r->hop, job.hop, sizeof(r->hop)); /* "" = none reached */
		switch (rc[i].status) {
		case DLV_OK:
			r->state = ENV_RCPT_DELIVERED;
			result = "sent";
			break;
		case DLV_PERM:
			r->state = ENV_RCPT_FAILED;
			failed[g->idx[i]] = 1;
			result = "bounced";
			break;
		case DLV_TEMP:
		default:
			if (retry_expired(&a->svc->policy, env->arrival, now)) {
				char why[ENV_ERROR_MAX + 64];

				(void)snprintf(why, sizeof(why),
				    "delivery time expired; last error: %s",
				    r->last_error);
				set_error(r, why);
				str_copy(
				    r->dsn_code, "5.4.7", sizeof(r->dsn_code));
				r->state = ENV_RCPT_FAILED;
				failed[g->idx[i]] = 1;
				result = "bounced";
				break;
			}
			r->next_attempt = retry_next(
			    &a->svc->policy, r->attempts, env->arrival, now);
			result = "deferred";
			break;
		}
		log_attempt(env, r, job.hop[0] != '\0' ? job.hop : g->key,
		    job.tls_info, result, now);
	}
}

/*
 * attempt_work - deliver, then record. Order matters for kill -9: a DSN is
 * spooled before the envelope says "failed" (a crash in between repeats the
 * attempt and at worst the DSN: never loses it), and the envelope is
 * rewritten before the message leaves the spool.
 */
static void
attempt_work(void *arg)
{
	struct attempt *a = arg;
	struct qsvc *svc = a->svc;
	struct envelope *env = &a->m->env;
	unsigned char *failed, *sel;
	char err[256];
	struct stat st;
	size_t i, nfail = 0, nwarn = 0;
	off_t size = 0;
	int fd;

	failed = calloc(env->nrcpts, 2);
	if (failed == NULL)
		return; /* done() sees nothing changed; retried later */
	sel = failed + env->nrcpts;
	fd = a->m->body_fd >= 0 ? dup(a->m->body_fd)
	                        : spool_msg_open(svc->cfg->spool, env->id);
	if (fd != -1 && fstat(fd, &st) == 0)
		size = st.st_size;
	for (i = 0; i < a->ngroups; i++)
		run_group(a, &a->groups[i], fd, size, failed);

	/* bounces: never for a bounce, never to <> */
	for (i = 0; i < env->nrcpts; i++)
		if (failed[i]) {
			sel[i] = bounce_wanted(&env->rcpts[i], BOUNCE_FAILED);
			nfail += sel[i];
		}
	if (nfail > 0 && fd != -1) {
		if (env->is_bounce || env->mail_from[0] == '\0')
			log_info("id=%s event=dsn-dropped reason=%s", env->id,
			    env->is_bounce ? "bounce-of-a-bounce"
			                   : "null-sender");
		else
			(void)send_dsn(
			    svc, env, sel, BOUNCE_FAILED, fd, a->now);
	}
	/* the optional delay warning, once */
	if (fd != -1 && !env->is_bounce && env->mail_from[0] != '\0' &&
	    retry_warn_due(&svc->policy, env->arrival, a->now, env->warned)) {
		for (i = 0; i < env->nrcpts; i++) {
			const struct env_rcpt *r = &env->rcpts[i];

			sel[i] = r->state == ENV_RCPT_PENDING &&
			    r->attempts > 0 && bounce_wanted(r, BOUNCE_DELAYED);
			nwarn += sel[i];
		}
		if (nwarn > 0 &&
		    send_dsn(svc, env, sel, BOUNCE_DELAYED, fd, a->now) == 0)
			env->warned = 1;
		else if (nwarn == 0)
			env->warned =
			    1; /* nothing to warn about: don't look again */
	}
	if (fd != -1)
		(void)close(fd);
	free(failed);

	if (env_pending(env) == 0 && a->m->jseg != NULL) {
		/* from the journal: done with it is retiring its record */
		a->m->gone = 1;
		a->m->jretired = journal_retire(a->m->jseg, a->m->joff, err,
		                     sizeof(err)) == 0;
		if (a->m->jretired)
			log_info("id=%s event=removed", env->id);
		else
			log_err(
			    "id=%s event=journal-retire-failed error=\"%s\" "
			    "note=\"delivered again after a restart\"",
			    env->id, err);
	} else if (env_pending(env) == 0) {
		if (spool_remove(svc->cfg->spool, env->id) == 0) {
			a->m->gone = 1;
			log_info("id=%s event=removed", env->id);
		} else {
			log_err("id=%s event=remove-failed error=\"%s\"",
			    env->id, strerror(errno));
			(void)spool_env_write(
			    svc->cfg->spool, env, err, sizeof(err));
		}
	} else if (msg_persist(svc, a->m, env, err, sizeof(err)) == -1) {
		/* results not recorded: they will be tried again (duplicates) */
		log_err("id=%s event=envelope-write-failed error=\"%s\"",
		    env->id, err);
	}
}

static void
apply_hold(struct qsvc *svc, struct qmsg *m, int hold)
{
	char err[256];
	size_t i;

	m->env.held = hold;
	if (!hold)
		for (i = 0; i < m->env.nrcpts; i++)
			m->env.rcpts[i].next_attempt = 0;
	if (msg_persist(svc, m, &m->env, err, sizeof(err)) == -1)
		log_err("id=%s event=envelope-write-failed error=\"%s\"",
		    m->env.id, err);
	if (m->jmoved) {
		journal_leave(svc, m, m->jretired);
		m->jmoved = 0;
	}
	log_info("id=%s event=%s", m->env.id, hold ? "held" : "released");
}

static void
attempt_done(void *arg)
{
	struct attempt *a = arg;
	struct qsvc *svc = a->svc;
	struct qmsg *m = a->m;
	size_t i;

	for (i = 0; i < a->ngroups; i++)
		sched_dest_release(&svc->sched, a->groups[i].key);
	svc->sched.inflight--;
	m->busy = 0;
	if (m->gone || m->jmoved) {
		/* retired, or now in msg/ + env/: the record can go */
		journal_leave(svc, m, m->jretired);
		m->jmoved = 0;
	}
	if (m->gone) {
		sched_remove(&svc->sched, m);
	} else if (m->delete_req) {
		if (msg_forget(svc, m) == 0)
			log_info("id=%s event=deleted", m->env.id);
		sched_remove(&svc->sched, m);
	} else if (m->hold_req != 0) {
		apply_hold(svc, m, m->hold_req > 0);
		m->hold_req = 0;
	}
	free(a->groups);
	free(a);
	intake(svc);
	kick(svc);
	if (svc->stopping && svc->sched.inflight == 0)
		event_base_loopexit(svc->base, NULL);
}

/* ---------- scheduling (loop) ---------- */

struct pass {
	struct qsvc *svc;
	long long now;
	long long next;             /* earliest future due time seen */
	struct sched_group *groups; /* scratch, SCHED_MAX_GROUPS */
};

static void
pass_one(struct qmsg *m, void *arg)
{
	struct pass *p = arg;
	struct qsvc *svc = p->svc;
	long long due = sched_due(m);
	size_t n;

	if (due == LLONG_MAX)
		return;
	if (due > p->now) {
		if (due < p->next)
			p->next = due;
		return;
	}
	if (svc->stopping || svc->sched.inflight >= svc->sched.max_inflight)
		return;
	n = sched_plan(
	    &svc->sched, svc->cfg, m, p->now, p->groups, SCHED_MAX_GROUPS);
	if (n == 0)
		return; /* destinations busy: a completion kicks again */
	(void)submit_attempt(svc, m, p->groups, n, p->now);
}

/*
 * submit_attempt - run an attempt for groups[0..n) of m on the pool (n = 0:
 * only record the envelope's state, e.g. move a held journal message to
 * msg/ + env/). 0, or -1 (out of memory, pool full: tried again later).
 */
static int
submit_attempt(struct qsvc *svc, struct qmsg *m,
    const struct sched_group *groups, size_t n, long long now)
{
	struct attempt *a;
	size_t i;

	a = calloc(1, sizeof(*a));
	if (a != NULL && n > 0)
		a->groups = calloc(n, sizeof(*a->groups));
	if (a == NULL || (n > 0 && a->groups == NULL)) {
		free(a);
		return -1;
	}
	if (n > 0)
		memcpy(a->groups, groups, n * sizeof(*a->groups));
	a->ngroups = n;
	a->svc = svc;
	a->m = m;
	a->now = now;
	m->busy = 1;
	if (workpool_submit(svc->pool, attempt_work, attempt_done, a) == -1) {
		m->busy = 0;
		free(a->groups);
		free(a);
		return -1;
	}
	svc->sched.inflight++;
	for (i = 0; i < n; i++)
		sched_dest_acquire(&svc->sched, a->groups[i].key);
	return 0;
}

static void
pass_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qsvc *svc = arg;
	struct pass p;
	struct timeval tv;
	long long wait;

	(void)fd;
	(void)what;
	if (time(NULL) - svc->last_rescan >= RESCAN_SECONDS)
		rescan(svc); /* re-kicks; this pass covers it */
	p.svc = svc;
	p.now = (long long)time(NULL);
	p.next = LLONG_MAX;
	p.groups = calloc(SCHED_MAX_GROUPS, sizeof(*p.groups));
	if (p.groups == NULL)
		return;
	sched_foreach(&svc->sched, pass_one, &p);
	free(p.groups);
	wait = p.next == LLONG_MAX ? RESCAN_SECONDS : p.next - p.now;
	if (wait > RESCAN_SECONDS)
		wait = RESCAN_SECONDS;
	if (wait < 1)
		wait = 1;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = 0;
	evtimer_add(svc->timer_ev, &tv);
}

static void
kick(struct qsvc *svc)
{
	event_active(svc->kick_ev, EV_TIMEOUT, 0);
}

/* ---------- control socket ---------- */

static void ctl_reply(struct bufferevent *bev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ctl_reply(struct bufferevent *bev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)evbuffer_add_vprintf(bufferevent_get_output(bev), fmt, ap);
	va_end(ap);
	(void)evbuffer_add(bufferevent_get_output(bev), "\n", 1);
}

static void
flush_one(struct qmsg *m, void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < m->env.nrcpts; i++)
		m->env.rcpts[i].next_attempt = 0;
}

/* ctl_command - one line: flush [ID] | hold ID | release ID | delete ID. */
static void
ctl_command(struct qsvc *svc, struct bufferevent *bev, char *line)
{
	char *verb = line, *id = strchr(line, ' ');
	struct qmsg *m;

	if (id != NULL)
		*id++ = '\0';
	if (strcmp(verb, "flush") == 0 && id == NULL) {
		sched_foreach(&svc->sched, flush_one, NULL);
		kick(svc);
		log_info("event=flush messages=%zu", svc->sched.nmsgs);
		ctl_reply(bev, "ok flushing %zu messages", svc->sched.nmsgs);
		return;
	}
	if (id == NULL || !env_valid_id(id) ||
	    (strcmp(verb, "flush") != 0 && strcmp(verb, "hold") != 0 &&
	        strcmp(verb, "release") != 0 && strcmp(verb, "delete") != 0)) {
		ctl_reply(bev,
		    "error usage: flush [ID] | hold ID | release ID "
		    "| delete ID");
		return;
	}
	load_one(svc, id); /* committed a moment ago, not yet seen */
	m = sched_find(&svc->sched, id);
	if (m == NULL) {
		ctl_reply(bev, "error no such message: %s", id);
		return;
	}
	if (strcmp(verb, "flush") == 0) {
		if (!m->busy)
			flush_one(m, NULL);
		kick(svc);
		ctl_reply(bev, "ok flushing %s", id);
	} else if (strcmp(verb, "delete") == 0) {
		if (m->busy) {
			m->delete_req = 1;
			ctl_reply(bev,
			    "ok %s will be deleted after the "
			    "delivery attempt in progress",
			    id);
			return;
		}
		if (msg_forget(svc, m) == -1) {
			ctl_reply(bev, "error %s: %s", id, strerror(errno));
			return;
		}
		log_info("id=%s event=deleted", id);
		sched_remove(&svc->sched, m);
		ctl_reply(bev, "ok deleted %s", id);
	} else {
		int hold = strcmp(verb, "hold") == 0;

		if (m->busy)
			m->hold_req = hold ? 1 : -1;
		else
			apply_hold(svc, m, hold);
		kick(svc);
		ctl_reply(bev, "ok %s %s", hold ? "held" : "released", id);
	}
}

static void
ctl_write_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
ctl_read_cb(struct bufferevent *bev, void *arg)
{
	struct qsvc *svc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
			ctl_reply(bev, "error line too long");
			bufferevent_disable(bev, EV_READ);
		}
		return;
	}
	bufferevent_disable(bev, EV_READ);
	if (n > CONTROL_LINE_MAX || !str_is_printable_ascii(line, n))
		ctl_reply(bev, "error bad command");
	else
		ctl_command(svc, bev, line);
	free(line);
}

static void
ctl_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct qsvc *svc = arg;
	struct bufferevent *bev;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct timeval tv = {10, 0};

	(void)l;
	(void)sa;
	(void)salen;
	/* The socket is 0600 already; the uid check also covers a chmod. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		log_warn("event=control-refused uid=%ld",
		    (long)(len == sizeof(cred) ? (long)cred.uid : -1));
		(void)close(fd);
		return;
	}
	bev = bufferevent_socket_new(svc->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		(void)close(fd);
		return;
	}
	bufferevent_setcb(bev, ctl_read_cb, ctl_write_cb, ctl_event_cb, svc);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/*
 * ctl_listen - bind <spool>/queue.sock. The service's working directory is
 * the spool, so a relative name dodges the 108-byte sun_path limit.
 */
static int
ctl_listen(struct qsvc *svc)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, "queue.sock", sizeof(sun.sun_path));
	(void)unlink("queue.sock");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 64) == -1) {
		umask(old);
		(void)close(fd);
		return -1;
	}
	umask(old);
	(void)chmod("queue.sock", 0600);
	svc->ctl = evconnlistener_new(svc->base, ctl_accept_cb, svc,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (svc->ctl == NULL) {
		(void)close(fd);
		return -1;
	}
	return 0;
}

/* ---------- main ---------- */

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct qsvc *svc = arg;

	(void)sig;
	(void)what;
	if (svc->stopping)
		return;
	svc->stopping = 1;
	log_info("event=stopping inflight=%u", svc->sched.inflight);
	if (svc->sched.inflight == 0)
		event_base_loopexit(svc->base, NULL);
}

int
queue_service_main(struct config *cfg)
{
	static const int signums[2] = {SIGTERM, SIGINT};
	struct event *sigs[2];
	struct spool_recovery rec;
	struct qsvc *svc;
	char err[512];
	size_t i;

	log_init("queue", (enum log_level)cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	svc = calloc(1, sizeof(*svc));
	if (svc == NULL)
		fatal("out of memory");
	svc->cfg = cfg;
	retry_policy_from_config(cfg, &svc->policy);
	sched_init(
	    &svc->sched, cfg->queue_max_deliveries, cfg->queue_per_destination);
	if (spool_init(cfg->spool, err, sizeof(err)) == -1)
		fatal("spool: %s", err);
	if (chdir(cfg->spool) == -1)
		fatal("chdir %s: %s", cfg->spool, strerror(errno));
	/* tmp/ belongs to the workers now; only old orphans in msg/ go */
	if (spool_recover(cfg->spool, 0, ORPHAN_MIN_AGE, &rec) == 0 &&
	    (rec.orphans_removed > 0 || rec.damaged > 0))
		log_info("event=spool-recovery orphans=%u damaged=%u",
		    rec.orphans_removed, rec.damaged);
	if (snprintf(svc->env_dir, sizeof(svc->env_dir), "%s/env",
	        cfg->spool) >= (int)sizeof(svc->env_dir))
		fatal("spool path too long");

	svc->base = event_base_new();
	if (svc->base == NULL)
		fatal("event_base_new failed");
	svc->pool = workpool_new(svc->base, cfg->queue_max_deliveries,
	    (size_t)cfg->queue_max_deliveries * 2 + 16);
	if (svc->pool == NULL)
		fatal("cannot start the delivery pool");
	svc->kick_ev = event_new(svc->base, -1, 0, pass_cb, svc);
	svc->timer_ev = evtimer_new(svc->base, pass_cb, svc);
	if (svc->kick_ev == NULL || svc->timer_ev == NULL)
		fatal("cannot create events");
	/* watch before the first scan so nothing slips between the two */
	svc->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (svc->ino_fd == -1 ||
	    inotify_add_watch(svc->ino_fd, svc->env_dir, IN_MOVED_TO) == -1) {
		log_warn("event=inotify-unavailable error=\"%s\" "
		         "note=\"new mail is found by the %ds rescan\"",
		    strerror(errno), RESCAN_SECONDS);
	} else {
		svc->ino_ev = event_new(svc->base, svc->ino_fd,
		    EV_READ | EV_PERSIST, inotify_cb, svc);
		if (svc->ino_ev == NULL || event_add(svc->ino_ev, NULL) == -1)
			fatal("cannot watch the spool");
	}
	svc->jr = journal_reader_new(cfg->spool, err, sizeof(err));
	if (svc->jr == NULL)
		fatal("%s", err);
	svc->jr_ev = event_new(svc->base, journal_reader_fd(svc->jr),
	    EV_READ | EV_PERSIST, journal_cb, svc);
	if (svc->jr_ev == NULL || event_add(svc->jr_ev, NULL) == -1)
		fatal("cannot watch the journal");
	svc->flush_ev = event_new(svc->base, -1, EV_PERSIST, flush_cb, svc);
	{
		struct timeval tv = {0, FLUSH_MS * 1000};

		if (svc->flush_ev == NULL ||
		    event_add(svc->flush_ev, &tv) == -1)
			fatal("cannot start the journal flush timer");
	}
	if (ctl_listen(svc) == -1)
		log_err("event=control-socket-failed path=%s/queue.sock "
		        "error=\"%s\"",
		    cfg->spool, strerror(errno));
	for (i = 0; i < 2; i++) {
		sigs[i] = evsignal_new(svc->base, signums[i], signal_cb, svc);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatal("cannot install signal handlers");
	}
	rescan(svc);
	intake(svc); /* after the files: a moved record is only retired */
	log_info("event=started messages=%zu max_deliveries=%u "
	         "per_destination=%u",
	    svc->sched.nmsgs, cfg->queue_max_deliveries,
	    cfg->queue_per_destination);
	event_base_dispatch(svc->base);
	log_info("event=stopped messages=%zu", svc->sched.nmsgs);

	for (i = 0; i < 2; i++)
		event_free(sigs[i]);
	if (svc->ctl != NULL) {
		evconnlistener_free(svc->ctl);
		(void)unlink("queue.sock");
	}
	workpool_free(svc->pool);
	if (svc->ino_ev != NULL)
		event_free(svc->ino_ev);
	if (svc->ino_fd != -1)
		(void)close(svc->ino_fd);
	event_free(svc->kick_ev);
	event_free(svc->timer_ev);
	if (svc->jr_ev != NULL)
		event_free(svc->jr_ev);
	event_free(svc->flush_ev);
	{
		/* the last retires, before we go */
		struct journal_flush *f = journal_flush_prepare(svc->jr);

		if (f != NULL)
			(void)journal_flush_run(f);
	}
	sched_free(&svc->sched);
	journal_reader_free(svc->jr);
	event_base_free(svc->base);
	free(svc->cfg);
	free(svc);
	return 0;
}
