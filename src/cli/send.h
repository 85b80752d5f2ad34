/*
 * send.h - helpers of postern send that postern sendmail shares.
 */
#ifndef POSTERN_CLI_SEND_H
#define POSTERN_CLI_SEND_H

#include <stddef.h>

#include "cli/submit.h"

struct account;
struct buf;

/* send_exit_code - postern send's exit code for st. */
int send_exit_code(enum submit_status st);

/*
 * send_read_all - all of fd into b; with stop_at_dot a line of only "."
 * ends the message (sendmail without -i). 0, or -1 with err.
 */
int send_read_all(
    int fd, struct buf *b, int stop_at_dot, char *err, size_t errlen);

/* send_to_fd - b in an anonymous file (memfd) for the client; fd or -1. */
int send_to_fd(const struct buf *b, char *err, size_t errlen);

/* send_hostname - this host's name (gethostname, else "localhost"). */
void send_hostname(char *out, size_t outlen);

/*
 * send_load_account - account name (NULL: the default) of file (NULL: the
 * default accounts file). When not required, a missing file or account is
 * 0. 1 loaded, 0 none, -1 error with err.
 */
int send_load_account(const char *file, const char *name, int required,
    struct account *a, char *err, size_t errlen);

#endif
