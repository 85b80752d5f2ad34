/*
 * queue.c - "postern queue list|show|flush|delete|hold|release": look at
 * and control the queue. list and show read the spool directly, so they
 * work whether the server runs or not. The others go through the queue
 * service's control socket (<spool>/queue.sock) when it answers, so its
 * in-memory schedule stays right; with the server stopped, hold, release
 * and delete edit the spool files themselves (the same atomic rewrite the
 * service uses) and flush has nothing to flush.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/str.h"
#include "queue/envelope.h"
#include "queue/journal.h"
#include "queue/spool.h"

#define SHOW_HEADERS_MAX (64 * 1024)

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern queue list    -c CONF\n"
	    "       postern queue show    -c CONF ID\n"
	    "       postern queue flush   -c CONF [ID]\n"
	    "       postern queue delete  -c CONF ID\n"
	    "       postern queue hold    -c CONF ID\n"
	    "       postern queue release -c CONF ID\n"
	    "\n"
	    "Look at and control the mail queue in [server] spool.\n"
	    "  list     every queued message: id, age, sender, recipients,\n"
	    "           next attempt and last error\n"
	    "  show     one message: its envelope, recipients and headers\n"
	    "  flush    try now (all messages, or ID); needs the server\n"
	    "  delete   remove ID from the queue without a bounce\n"
	    "  hold     keep ID in the queue without trying it\n"
	    "  release  undo hold and try ID now\n"
	    "\n"
	    "  -c, --config CONF    the configuration file\n"
	    "  -h, --help           this text\n");
}

/* age - "42s", "5m", "3h", "2d" */
static void
age(long long secs, char *out, size_t outlen)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		(void)snprintf(out, outlen, "%llds", secs);
	else if (secs < 7200)
		(void)snprintf(out, outlen, "%lldm", secs / 60);
	else if (secs < 2 * 86400)
		(void)snprintf(out, outlen, "%lldh", secs / 3600);
	else
		(void)snprintf(out, outlen, "%lldd", secs / 86400);
}

static void
next_text(const struct envelope *e, const struct env_rcpt *r, long long now,
    char *out, size_t outlen)
{
	char a[24];

	if (r->state != ENV_RCPT_PENDING) {
		str_copy(out, "-", outlen);
		return;
	}
	if (e->held) {
		str_copy(out, "held", outlen);
		return;
	}
	if (r->next_attempt <= now) {
		str_copy(out, "now", outlen);
		return;
	}
	age(r->next_attempt - now, a, sizeof(a));
	(void)snprintf(out, outlen, "in %s", a);
}

/* ctl_send - one command to the running queue service; 1 answered, 0 not running, -1 error. */
static int
ctl_send(const struct config *c, const char *cmd, char *reply, size_t replylen)
{
	struct sockaddr_un sun;
	struct timeval tv = {30, 0};
	size_t n = 0;
	int fd;

	if (chdir(c->spool) == -1)
		return errno == ENOENT ? 0 : -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, "queue.sock", sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		(void)close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return 0;
		errno = e;
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) ||
	    write(fd, "\n", 1) != 1) {
		(void)close(fd);
		return -1;
	}
	while (n + 1 < replylen) {
		ssize_t r = read(fd, reply + n, replylen - 1 - n);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(reply, '\n', n) != NULL)
			break;
	}
	(void)close(fd);
	reply[n] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	if (n == 0) {
		errno = ECONNRESET;
		return -1;
	}
	return 1;
}

/*
 * become_spool_owner - run as root: act as the spool's owner (the server's
 * [server] user), so that the files written here (an envelope on hold, a
 * message moved out of the commit log) stay readable by the server. 0 or -1.
 */
static int
become_spool_owner(const struct config *c)
{
	struct stat sb;

	if (geteuid() != 0 || stat(c->spool, &sb) == -1 || sb.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) == -1 ||
	    setresgid(sb.st_gid, sb.st_gid, sb.st_gid) == -1 ||
	    setresuid(sb.st_uid, sb.st_uid, sb.st_uid) == -1) {
		fprintf(stderr,
		    "postern queue: cannot become the spool owner: %s\n",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * drain_if_stopped - with the server stopped, messages still in the commit
 * log (accepted just before a crash) move to msg/ + env/ first, so that
 * every action here sees them; the server would do the same at start. 0, or
 * -1 after a message (running: nothing to do, the queue service has them).
 */
static int
drain_if_stopped(const struct config *c)
{
	struct sockaddr_un sun;
	char path[PATH_MAX], err[512];
	unsigned int moved = 0;
	int fd, running;

	if (snprintf(path, sizeof(path), "%s/log", c->spool) >=
	        (int)sizeof(path) ||
	    access(path, F_OK) == -1)
		return 0; /* no log: nothing to move */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/queue.sock",
	        c->spool) >= (int)sizeof(sun.sun_path))
		return 0; /* cannot tell: leave the log alone */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	running = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    (errno != ENOENT && errno != ECONNREFUSED);
	(void)close(fd);
	if (running)
		return 0;
	if (journal_drain(c->spool, &moved, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern queue: commit log: %s\n", err);
		return -1;
	}
	if (moved > 0)
		fprintf(stderr,
		    "postern queue: %u message%s moved from the commit log to "
		    "the queue files\n",
		    moved, moved == 1 ? "" : "s");
	return 0;
}

/* log_note - the commit log's share, which the list below does not show. */
static void
log_note(const struct config *c)
{
	unsigned long n = 0;

	if (journal_pending(c->spool, &n) == 0 && n > 0)
		printf("%lu message%s in the commit log, not attempted yet "
		       "(not listed)\n",
		    n, n == 1 ? "" : "s");
}

static int
cmd_list(const struct config *c)
{
	char(*ids)[ENV_ID_MAX];
	size_t n, i, j, shown = 0;
	long long now = (long long)time(NULL);

	log_note(c);
	if (spool_list(c->spool, &ids, &n) == -1) {
		if (errno == ENOENT) {
			printf("the queue is empty\n");
			return CLI_EXIT_OK;
		}
		fprintf(stderr, "postern queue: %s/env: %s\n", c->spool,
		    strerror(errno));
		return CLI_EXIT_RUNTIME;
	}
	for (i = 0; i < n; i++) {
		struct envelope e;
		char err[256], a[32];

		if (spool_env_load(c->spool, ids[i], &e, err, sizeof(err)) ==
		    -1) {
			if (errno != ENOENT)
				printf("%-18s (unreadable: %s)\n", ids[i], err);
			continue;
		}
		if (shown++ == 0)
			printf("%-18s %5s  %s\n", "ID", "AGE",
			    "SENDER / RECIPIENTS  (STATE, ATTEMPTS, NEXT, LAST "
			    "ERROR)");
		age(now - e.arrival, a, sizeof(a));
		printf("%-18s %5s  <%s>%s%s (%zu of %zu pending)\n", e.id, a,
		    e.mail_from, e.held ? " HELD" : "",
		    e.is_bounce ? " BOUNCE" : "", env_pending(&e), e.nrcpts);
		for (j = 0; j < e.nrcpts; j++) {
			const struct env_rcpt *r = &e.rcpts[j];
			char nx[40];

			next_text(&e, r, now, nx, sizeof(nx));
			printf("%26s<%s> %s, %u, next %s%s%s\n", "", r->addr,
			    env_state_name(r->state), r->attempts, nx,
			    r->last_error[0] != '\0' ? ", " : "",
			    r->last_error);
		}
		env_free(&e);
	}
	free(ids);
	if (shown == 0)
		printf("the queue is empty\n");
	else
		printf("%zu message%s\n", shown, shown == 1 ? "" : "s");
	return CLI_EXIT_OK;
}

static int
cmd_show(const struct config *c, const char *id)
{
	struct envelope e;
	char err[256], a[32], buf[4096];
	long long now = (long long)time(NULL);
	size_t j, total = 0;
	int fd, last_nl = 1;

	if (spool_env_load(c->spool, id, &e, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern queue: %s: %s\n", id,
		    errno == ENOENT ? "no such message" : err);
		return CLI_EXIT_RUNTIME;
	}
	age(now - e.arrival, a, sizeof(a));
	printf("id:        %s\n", e.id);
	printf("arrival:   %lld (%s ago)\n", e.arrival, a);
	printf("sender:    <%s>\n", e.mail_from);
	printf("login:     %s\n", e.login[0] ? e.login : "-");
	printf("auth:      %s\n", e.auth_param[0] ? e.auth_param : "-");
	printf("client:    %s (helo %s) on %s\n",
	    e.client_addr[0] ? e.client_addr : "-", e.helo[0] ? e.helo : "-",
	    e.listener[0] ? e.listener : "-");
	printf("tls:       %s\n", e.tls[0] ? e.tls : "none");
	printf("flags:    %s%s%s%s%s\n", e.held ? " held" : "",
	    e.is_bounce ? " bounce" : "", e.smtputf8 ? " smtputf8" : "",
	    e.eightbit ? " 8bitmime" : "", e.warned ? " warned" : "");
	for (j = 0; j < e.nrcpts; j++) {
		const struct env_rcpt *r = &e.rcpts[j];
		char nx[40];

		next_text(&e, r, now, nx, sizeof(nx));
		printf("recipient: <%s> state=%s attempts=%u next=%s%s%s%s%s\n",
		    r->addr, env_state_name(r->state), r->attempts, nx,
		    r->hop[0] ? " hop=" : "", r->hop,
		    r->last_error[0] ? " last-error=" : "", r->last_error);
	}
	env_free(&e);
	printf("\n");
	fd = spool_msg_open(c->spool, id);
	if (fd == -1) {
		fprintf(stderr, "postern queue: %s: message body: %s\n", id,
		    strerror(errno));
		return CLI_EXIT_RUNTIME;
	}
	/* the header block only: bodies are the sender's business */
	while (total < SHOW_HEADERS_MAX) {
		ssize_t r = read(fd, buf, sizeof(buf));
		ssize_t i;

		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			char ch = buf[i];

			if (ch == '\n' && last_nl) {
				(void)close(fd);
				return CLI_EXIT_OK;
			}
			if (ch == '\n')
				last_nl = 1;
			else if (ch != '\r')
				last_nl = 0;
			if (ch != '\r')
				putchar((unsigned char)ch >= 0x20 ||
				            ch == '\n' || ch == '\t'
				        ? ch
				        : '?');
		}
		total += (size_t)r;
	}
	(void)close(fd);
	return CLI_EXIT_OK;
}

/* offline - hold/release/delete with the server stopped: edit the spool. */
static int
offline(const struct config *c, const char *verb, const char *id)
{
	struct envelope e;
	char err[256];
	size_t i;

	if (spool_env_load(c->spool, id, &e, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern queue: %s: %s\n", id,
		    errno == ENOENT ? "no such message" : err);
		return CLI_EXIT_RUNTIME;
	}
	if (strcmp(verb, "delete") == 0) {
		env_free(&e);
		if (spool_remove(c->spool, id) == -1) {
			fprintf(stderr, "postern queue: %s: %s\n", id,
			    strerror(errno));
			return CLI_EXIT_RUNTIME;
		}
		printf("deleted %s\n", id);
		return CLI_EXIT_OK;
	}
	e.held = strcmp(verb, "hold") == 0;
	if (!e.held)
		for (i = 0; i < e.nrcpts; i++)
			e.rcpts[i].next_attempt = 0;
	if (spool_env_write(c->spool, &e, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern queue: %s: %s\n", id, err);
		env_free(&e);
		return CLI_EXIT_RUNTIME;
	}
	env_free(&e);
	printf(
	    "%s %s (server not running)\n", e.held ? "held" : "released", id);
	return CLI_EXIT_OK;
}

static int
cmd_control(const struct config *c, const char *verb, const char *id)
{
	char cmd[128], reply[512];
	int rc;

	(void)snprintf(
	    cmd, sizeof(cmd), "%s%s%s", verb, id ? " " : "", id ? id : "");
	rc = ctl_send(c, cmd, reply, sizeof(reply));
	if (rc == -1) {
		fprintf(stderr, "postern queue: %s/queue.sock: %s\n", c->spool,
		    strerror(errno));
		return CLI_EXIT_RUNTIME;
	}
	if (rc == 1) {
		if (strncmp(reply, "ok", 2) == 0) {
			printf("%s\n", reply[2] == ' ' ? reply + 3 : reply);
			return CLI_EXIT_OK;
		}
		fprintf(stderr, "postern queue: %s\n",
		    strncmp(reply, "error ", 6) == 0 ? reply + 6 : reply);
		return CLI_EXIT_RUNTIME;
	}
	if (strcmp(verb, "flush") == 0) {
		fprintf(stderr,
		    "postern queue: the server is not running: nothing to "
		    "flush (queued mail is tried when it starts)\n");
		return CLI_EXIT_RUNTIME;
	}
	return offline(c, verb, id);
}

int
cli_queue(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const verbs[] = {
	    "list",
	    "show",
	    "flush",
	    "delete",
	    "hold",
	    "release",
	};
	const char *conf = NULL, *verb, *id = NULL;
	struct config *c;
	char err[4096];
	size_t i;
	int ch, rc;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	for (i = 0; argc >= 2 && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i]) == 0)
			break;
	if (argc < 2 || i == sizeof(verbs) / sizeof(verbs[0])) {
		if (argc >= 2)
			fprintf(stderr, "postern queue: unknown action '%s'\n",
			    argv[1]);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	verb = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (conf == NULL || optind != argc ||
	    (strcmp(verb, "list") == 0 && id != NULL) ||
	    (strcmp(verb, "list") != 0 && strcmp(verb, "flush") != 0 &&
	        id == NULL)) {
		fprintf(stderr, "postern queue: %s\n",
		    conf == NULL ? "-c CONF is required"
		                 : "wrong arguments for this action");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (id != NULL && !env_valid_id(id)) {
		fprintf(stderr, "postern queue: '%s' is not a queue id\n", id);
		return CLI_EXIT_USAGE;
	}
	c = malloc(sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "postern queue: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	if (config_load(conf, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return CLI_EXIT_USAGE;
	}
	if (become_spool_owner(c) == -1 || drain_if_stopped(c) == -1)
		rc = CLI_EXIT_RUNTIME;
	else if (strcmp(verb, "list") == 0)
		rc = cmd_list(c);
	else if (strcmp(verb, "show") == 0)
		rc = cmd_show(c, id);
	else
		rc = cmd_control(c, verb, id);
	explicit_bzero(c->relay_password, sizeof(c->relay_password));
	free(c);
	return rc;
}
