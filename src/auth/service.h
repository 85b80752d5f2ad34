/*
 * service.h - the auth service process: the only process that holds
 * credentials. It runs SASL server steps for the SMTP workers, verifies
 * passwords on a thread pool and answers recipient lookups.
 */
#ifndef POSTERN_AUTH_SERVICE_H
#define POSTERN_AUTH_SERVICE_H

struct config;

/*
 * auth_service_main - serve workers connecting to the listening UNIX socket
 * listen_fd until SIGTERM. cfg is this process's copy (taken over).
 * Returns the process exit code.
 */
int auth_service_main(struct config *cfg, int listen_fd);

#endif
