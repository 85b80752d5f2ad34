/*
 * worker.h - the SMTP worker process: an event loop serving connections on
 * the listening sockets it inherited, talking to the auth service over a
 * UNIX socket, committing messages on a small thread pool. No secrets.
 */
#ifndef POSTERN_SMTP_WORKER_H
#define POSTERN_SMTP_WORKER_H

#include <stddef.h>

struct config;
struct connlimit;

struct worker_listen_fd {
	int fd;
	size_t listener; /* index into config.listeners */
};

/*
 * smtp_worker_main - run worker number index until SIGTERM has drained
 * every session. cfg is this process's copy (the worker takes ownership).
 * Returns the process exit code.
 */
int smtp_worker_main(struct config *cfg, int index,
    const struct worker_listen_fd *fds, size_t nfds, struct connlimit *cl,
    const char *auth_socket);

#endif
