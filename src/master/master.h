/*
 * master.h - the supervisor behind `postern serve`: binds the listeners,
 * starts the auth service and one SMTP worker per core, restarts children
 * that die, forwards SIGHUP (reload) and drains everything on SIGTERM.
 */
#ifndef POSTERN_MASTER_MASTER_H
#define POSTERN_MASTER_MASTER_H

struct config;

/* master_run - serve until SIGTERM/SIGINT; returns the exit code (0 clean, 1 runtime error). */
int master_run(struct config *cfg);

#endif
