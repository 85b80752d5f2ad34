/*
 * maildir.h - durable delivery into Maildir folders (tmp -> new).
 * Blocking file I/O: call from a work-pool thread, never from the loop.
 */
#ifndef POSTERN_DELIVER_MAILDIR_H
#define POSTERN_DELIVER_MAILDIR_H

#include <stddef.h>

struct mailaddr;

/*
 * maildir_path - expand template ("%d" = domain lower-cased, "%n" = local
 * part, "%u" = local@domain, "%%") for rcpt into out. Refuses (-1) parts
 * that could escape the tree: empty, ".", "..", leading '.', '/', NUL or
 * control characters. 0 on success.
 */
int maildir_path(
    const char *tmpl, const struct mailaddr *rcpt, char *out, size_t outsize);

/* maildir_create - make dir/{tmp,new,cur} (and missing parents) with mode 0700; 0 or -1. */
int maildir_create(const char *dir);

/*
 * maildir_deliver - deliver the message in file fd (complete; read from
 * offset 0) to each of the n maildirs: write a copy (or hard link) into
 * <dir>/tmp, fsync it, rename into <dir>/new, fsync <dir>/new. All or
 * nothing: on any failure the copies already made are removed, err says
 * what failed, and -1 is returned. hostname goes into the file names.
 */
int maildir_deliver(int fd, const char *const *maildirs, size_t n,
    const char *hostname, char *err, size_t errlen);

#endif
