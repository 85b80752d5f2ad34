/*
 * privsep.h - dropping root after the listeners are bound.
 */
#ifndef POSTERN_MASTER_PRIVSEP_H
#define POSTERN_MASTER_PRIVSEP_H

/* privsep_drop - when running as root and user is not "", become user (and its groups); 0 or -1. */
int privsep_drop(const char *user);

/* privsep_chown - give path to user when running as root (spool, mail); 0 or -1. */
int privsep_chown(const char *path, const char *user);

#endif
