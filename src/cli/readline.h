/*
 * readline.h - reading one line (a password, a token) from a descriptor.
 */
#ifndef POSTERN_CLI_READLINE_H
#define POSTERN_CLI_READLINE_H

#include <stddef.h>

/*
 * cli_read_line - read one line from fd into buf (size bufsize) one byte at
 * a time, so nothing after the line is consumed; CR/LF stripped, NUL
 * terminated. Returns the length, or -1: errno EMSGSIZE when the line does
 * not fit (buf is wiped), or the read error.
 */
long cli_read_line(int fd, char *buf, size_t bufsize);

#endif
