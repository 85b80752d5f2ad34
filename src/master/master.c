/*
 * master.c - the supervisor (DESIGN §2). It binds every listener, creates
 * the auth service's socket (an abstract UNIX name, peer uid checked by the
 * service), forks the auth service and the SMTP workers, and then only
 * waits for signals: no event loop of its own, so children start from a
 * clean libevent state. Children that die are restarted with a back-off;
 * SIGHUP is validated here and forwarded; SIGTERM drains the workers first
 * (they finish or refuse in-flight transactions) and the auth service last.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "auth/jwks.h"
#include "auth/service.h"
#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "master/master.h"
#include "master/privsep.h"
#include "net/connlimit.h"
#include "net/tls.h"
#include "queue/service.h"
#include "queue/spool.h"
#include "smtp/worker.h"

#define MAX_WORKERS    64
#define RESTART_WINDOW 60 /* seconds */
#define RESTART_MAX    10 /* crashes per slot per window before giving up */

enum child_kind {
	CHILD_AUTH,
	CHILD_WORKER,
	CHILD_QUEUE,
};

static const char *const child_names[] = {"auth", "worker", "queue"};

struct child {
	enum child_kind kind;
	int index;
	pid_t pid;         /* 0 when not running */
	time_t restart_at; /* when to start again after a crash */
	time_t window_start;
	int crashes;
};

struct master {
	struct config *cfg;
	struct worker_listen_fd fds[CONFIG_MAX_LISTENERS * CONFIG_MAX_ADDRS];
	size_t nfds;
	int auth_fd;
	char auth_name[108]; /* leading NUL: abstract */
	struct connlimit *cl;
	struct child children[MAX_WORKERS + 2];
	size_t nchildren;
	int stopping;
	time_t kill_at;
	sigset_t sigs;
	sigset_t oldmask;
};

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t i, n = str_copy(tmp, path, sizeof(tmp));

	if (n >= sizeof(tmp))
		return -1;
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return -1;
		tmp[i] = (i == n) ? '\0' : '/';
	}
	return 0;
}

/*
 * recover_spool - before any worker runs: tmp/ leftovers and msg/ files
 * without an envelope were never acknowledged (spool.c), so they go.
 */
static int
recover_spool(const struct config *cfg)
{
	static const char *const subs[] = {"tmp", "msg", "env"};
	struct spool_recovery rec;
	char path[PATH_MAX], err[512];
	size_t i;

	if (spool_init(cfg->spool, err, sizeof(err)) == -1) {
		log_err("event=start-failed error=\"%s\"", err);
		return -1;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (snprintf(path, sizeof(path), "%s/%s", cfg->spool, subs[i]) <
		    (int)sizeof(path))
			privsep_chown(path, cfg->run_user);
	if (spool_recover(cfg->spool, 1, 0, &rec) == -1) {
		log_err("event=start-failed spool=%s error=\"recovery: %s\"",
		    cfg->spool, strerror(errno));
		return -1;
	}
	if (rec.tmp_removed > 0 || rec.orphans_removed > 0 || rec.damaged > 0)
		log_info("event=spool-cleanup removed=%u orphans=%u damaged=%u",
		    rec.tmp_removed, rec.orphans_removed, rec.damaged);
	return 0;
}

static int
bind_listeners(struct master *m)
{
	size_t i, j;
	char err[256];

	for (i = 0; i < m->cfg->nlisteners; i++) {
		const struct config_listener *l = &m->cfg->listeners[i];

		for (j = 0; j < l->naddrs; j++) {
			const struct config_addr *a = &l->addrs[j];
			int fd, one = 1;

			fd = socket(a->ss.ss_family,
			    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd == -1)
				goto fail;
			setsockopt(
			    fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (a->ss.ss_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				    sizeof(one));
			if (bind(fd, (const struct sockaddr *)&a->ss, a->len) ==
			        -1 ||
			    listen(fd, 4096) == -1) {
				close(fd);
				goto fail;
			}
			m->fds[m->nfds].fd = fd;
			m->fds[m->nfds].listener = i;
			m->nfds++;
			log_info(
			    "event=listening listener=%s address=%s tls=%s "
			    "auth=%s",
			    l->name, a->text,
			    l->tls == LISTENER_TLS_IMPLICIT       ? "implicit"
			        : l->tls == LISTENER_TLS_STARTTLS ? "starttls"
			                                          : "none",
			    l->auth == LISTENER_AUTH_REQUIRED       ? "required"
			        : l->auth == LISTENER_AUTH_OPTIONAL ? "optional"
			                                            : "off");
			continue;
fail:
			snprintf(err, sizeof(err), "%s", strerror(errno));
			log_err("event=bind-failed listener=%s address=%s "
			        "error=\"%s\"",
			    l->name, a->text, err);
			return -1;
		}
	}
	return 0;
}

static int
make_auth_socket(struct master *m)
{
	struct sockaddr_un sun;
	char name[64];
	size_t n;
	socklen_t len;

	snprintf(name, sizeof(name), "postern-auth-%ld-%016llx", (long)getpid(),
	    (unsigned long long)rand_u64());
	memset(m->auth_name, 0, sizeof(m->auth_name));
	n = strlen(name);
	memcpy(m->auth_name + 1, name, n);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, m->auth_name, n + 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	m->auth_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (m->auth_fd == -1)
		return -1;
	if (bind(m->auth_fd, (struct sockaddr *)&sun, len) == -1 ||
	    listen(m->auth_fd, 256) == -1) {
		close(m->auth_fd);
		return -1;
	}
	return 0;
}

static pid_t
spawn(struct master *m, struct child *ch)
{
	pid_t pid;
	struct config *copy;
	size_t i;
	int rc;

	pid = fork();
	if (pid == -1) {
		log_err("event=fork-failed error=\"%s\"", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		ch->pid = pid;
		log_info("event=child-started kind=%s index=%d pid=%ld",
		    child_names[ch->kind], ch->index, (long)pid);
		return pid;
	}
	/* child: a SIGHUP before the child's loop has its handler must not
	 * kill it (the default action); libevent replaces SIG_IGN. */
	signal(SIGHUP, SIG_IGN);
	sigprocmask(SIG_SETMASK, &m->oldmask, NULL);
	/* No core dumps with keys or passwords in them, and no ptrace from
	 * another process of the same user (a compromised worker). */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGCHLD, SIG_DFL);
	copy = malloc(sizeof(*copy));
	if (copy == NULL)
		_exit(1);
	*copy = *m->cfg;
	if (privsep_drop(m->cfg->run_user) == -1)
		_exit(1);
	if (ch->kind == CHILD_AUTH) {
		for (i = 0; i < m->nfds; i++)
			close(m->fds[i].fd);
		rc = auth_service_main(copy, m->auth_fd);
	} else if (ch->kind == CHILD_QUEUE) {
		for (i = 0; i < m->nfds; i++)
			close(m->fds[i].fd);
		close(m->auth_fd);
		rc = queue_service_main(copy);
	} else {
		close(m->auth_fd);
		rc = smtp_worker_main(
		    copy, ch->index, m->fds, m->nfds, m->cl, m->auth_name);
	}
	_exit(rc);
}

static struct child *
child_by_pid(struct master *m, pid_t pid)
{
	size_t i;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i].pid == pid)
			return &m->children[i];
	return NULL;
}

static size_t
running(const struct master *m, enum child_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i].kind == kind && m->children[i].pid > 0)
			n++;
	return n;
}

static int
reap(struct master *m)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *ch = child_by_pid(m, pid);
		time_t now = time(NULL);

		if (ch == NULL)
			continue;
		ch->pid = 0;
		if (m->stopping) {
			log_info(
			    "event=child-exited kind=%s index=%d status=%d",
			    child_names[ch->kind], ch->index,
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			continue;
		}
		if (WIFSIGNALED(status))
			log_err("event=child-died kind=%s index=%d signal=%d",
			    child_names[ch->kind], ch->index, WTERMSIG(status));
		else
			log_err("event=child-died kind=%s index=%d status=%d",
			    child_names[ch->kind], ch->index,
			    WEXITSTATUS(status));
		if (now - ch->window_start > RESTART_WINDOW) {
			ch->window_start = now;
			ch->crashes = 0;
		}
		if (++ch->crashes > RESTART_MAX) {
			log_err("event=giving-up kind=%s index=%d crashes=%d",
			    child_names[ch->kind], ch->index, ch->crashes);
			return -1;
		}
		/* 0 s for the first crash, then 1, 2, 4 ... capped at 30. */
		ch->restart_at = now +
		    (ch->crashes <= 1 ? 0
		            : (1 << (ch->crashes - 2)) > 30
		            ? 30
		            : (1 << (ch->crashes - 2)));
	}
	return 0;
}

static void
signal_children(struct master *m, enum child_kind kind, int sig)
{
	size_t i;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i].kind == kind && m->children[i].pid > 0)
			kill(m->children[i].pid, sig);
}

/*
 * listeners_differ - 1 if a's and b's listener settings differ. Member by
 * member: memcmp would also see padding, the bytes after each string's
 * NUL, and `line`, which moves when the file is edited above a section.
 */
static int
listeners_differ(const struct config *a, const struct config *b)
{
	const struct config_listener *x, *y;
	size_t i, j;

	if (a->nlisteners != b->nlisteners)
		return 1;
	for (i = 0; i < a->nlisteners; i++) {
		x = &a->listeners[i];
		y = &b->listeners[i];
		if (strcmp(x->name, y->name) != 0 || x->naddrs != y->naddrs ||
		    x->tls != y->tls || x->auth != y->auth ||
		    x->plaintext_without_tls != y->plaintext_without_tls ||
		    x->client_certs != y->client_certs ||
		    strcmp(x->mechanisms, y->mechanisms) != 0)
			return 1;
		for (j = 0; j < x->naddrs && j < CONFIG_MAX_ADDRS; j++) {
			/* zero-filled by config_parse_hostport */
			if (x->addrs[j].len != y->addrs[j].len ||
			    memcmp(&x->addrs[j].ss, &y->addrs[j].ss,
			        x->addrs[j].len) != 0)
				return 1;
		}
	}
	return 0;
}

static void
reload(struct master *m)
{
	struct config *nc = calloc(1, sizeof(*nc));
	char err[4096];

	if (nc == NULL)
		return;
	if (config_load(m->cfg->path, nc, err, sizeof(err)) == -1) {
		log_err("event=reload result=refused error=\"%s\"", err);
		free(nc);
		return;
	}
	if (listeners_differ(nc, m->cfg))
		log_warn("event=reload note=\"listener changes take effect at "
		         "the next restart\"");
	/* Keep the listeners we bound; take everything else. */
	memcpy(nc->listeners, m->cfg->listeners, sizeof(nc->listeners));
	nc->nlisteners = m->cfg->nlisteners;
	free(m->cfg);
	m->cfg = nc;
	log_set_level((enum log_level)nc->log_level);
	log_info("event=reload result=forwarded");
	signal_children(m, CHILD_AUTH, SIGHUP);
	signal_children(m, CHILD_WORKER, SIGHUP);
}

static unsigned int
ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned int)n;
}

int
master_run(struct config *cfg)
{
	struct master m;
	char path[PATH_MAX], err[512];
	unsigned int nworkers, i;
	SSL_CTX *probe;
	int rc = 0;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.auth_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	/* Fail at start, not in every worker: the certificate must load. */
	probe = tls_server_ctx_new(cfg, err, sizeof(err));
	if (probe == NULL) {
		log_err("event=start-failed error=\"%s\"", err);
		goto fail;
	}
	SSL_CTX_free(probe);
	/* Likewise the JWKS: a file the auth service cannot load would make
	 * it die at every restart while the workers take AUTH commands. */
	if (cfg->oauth_jwks[0] != '\0') {
		struct jwks *ks = jwks_load(cfg->oauth_jwks, err, sizeof(err));

		if (ks == NULL) {
			log_err("event=start-failed error=\"[oauth] jwks: %s\"",
			    err);
			goto fail;
		}
		jwks_free(ks);
	}
	if (snprintf(path, sizeof(path), "%s/tmp", cfg->spool) >=
	        (int)sizeof(path) ||
	    mkdir_p(cfg->spool, 0700) == -1 || mkdir_p(path, 0700) == -1) {
		log_err("event=start-failed spool=%s error=\"%s\"", cfg->spool,
		    strerror(errno));
		goto fail;
	}
	privsep_chown(cfg->spool, cfg->run_user);
	privsep_chown(path, cfg->run_user);
	if (recover_spool(cfg) == -1)
		goto fail;
	m.cl = connlimit_new();
	if (m.cl == NULL) {
		log_err(
		    "event=start-failed error=\"cannot map shared memory\"");
		goto fail;
	}
	if (bind_listeners(&m) == -1)
		goto fail;
	if (make_auth_socket(&m) == -1) {
		log_err("event=start-failed error=\"auth socket: %s\"",
		    strerror(errno));
		goto fail;
	}
	sigemptyset(&m.sigs);
	sigaddset(&m.sigs, SIGCHLD);
	sigaddset(&m.sigs, SIGTERM);
	sigaddset(&m.sigs, SIGINT);
	sigaddset(&m.sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &m.sigs, &m.oldmask);

	nworkers = cfg->workers ? cfg->workers : ncpus();
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	m.children[0].kind = CHILD_AUTH;
	m.children[1].kind = CHILD_QUEUE;
	m.nchildren = 2;
	for (i = 0; i < nworkers; i++) {
		m.children[m.nchildren].kind = CHILD_WORKER;
		m.children[m.nchildren].index = (int)i + 1;
		m.nchildren++;
	}
	for (i = 0; i < m.nchildren; i++) {
		m.children[i].window_start = time(NULL);
		if (spawn(&m, &m.children[i]) == -1)
			goto fail;
	}
	log_info(
	    "event=started version=%s workers=%u", POSTERN_VERSION, nworkers);

	for (;;) {
		struct timespec ts = {1, 0};
		siginfo_t si;
		int sig = sigtimedwait(&m.sigs, &si, &ts);
		time_t now = time(NULL);

		if (sig == SIGTERM || sig == SIGINT) {
			if (!m.stopping) {
				log_info("event=stopping signal=%d", sig);
				m.stopping = 1;
				m.kill_at = now +
				    (time_t)(cfg->shutdown_timeout_ms / 1000) +
				    10;
				signal_children(&m, CHILD_WORKER, SIGTERM);
			}
		} else if (sig == SIGHUP && !m.stopping) {
			reload(&m);
			cfg = m.cfg;
		}
		if (reap(&m) == -1) {
			rc = 1;
			if (!m.stopping) {
				m.stopping = 1;
				m.kill_at = now + 10;
				signal_children(&m, CHILD_WORKER, SIGTERM);
			}
		}
		if (m.stopping) {
			/* workers first (they may still commit), then the
			 * queue (it may still spool bounces), then auth */
			if (running(&m, CHILD_WORKER) == 0)
				signal_children(&m, CHILD_QUEUE, SIGTERM);
			if (running(&m, CHILD_WORKER) == 0 &&
			    running(&m, CHILD_QUEUE) == 0)
				signal_children(&m, CHILD_AUTH, SIGTERM);
			if (running(&m, CHILD_WORKER) == 0 &&
			    running(&m, CHILD_QUEUE) == 0 &&
			    running(&m, CHILD_AUTH) == 0)
				break;
			if (now >= m.kill_at) {
				log_err("event=stop-timeout action=kill");
				signal_children(&m, CHILD_WORKER, SIGKILL);
				signal_children(&m, CHILD_QUEUE, SIGKILL);
				signal_children(&m, CHILD_AUTH, SIGKILL);
			}
			continue;
		}
		for (i = 0; i < m.nchildren; i++) {
			struct child *ch = &m.children[i];

			if (ch->pid == 0 && now >= ch->restart_at)
				spawn(&m, ch);
		}
	}
	for (i = 0; i < m.nfds; i++)
		close(m.fds[i].fd);
	close(m.auth_fd);
	log_info("event=stopped");
	free(m.cfg);
	return rc;
fail:
	for (i = 0; i < m.nfds; i++)
		close(m.fds[i].fd);
	if (m.auth_fd >= 0)
		close(m.auth_fd);
	free(m.cfg);
	return 1;
}
