/*
 * service.h - the queue service process (DESIGN §2): owns the spool once a
 * worker has committed a message, schedules and runs deliveries with
 * retries, writes bounces, and answers `postern queue` on <spool>/queue.sock.
 */
#ifndef POSTERN_QUEUE_SERVICE_H
#define POSTERN_QUEUE_SERVICE_H

struct config;

/*
 * queue_service_main - run until SIGTERM/SIGINT. cfg is this process's
 * copy (taken over). Returns the process exit code.
 */
int queue_service_main(struct config *cfg);

#endif
