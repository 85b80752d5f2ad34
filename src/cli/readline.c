/*
 * readline.c - one line from a descriptor, for passwords and tokens read by
 * postern user, hash, send and sendmail. Byte by byte so that what follows
 * the line (a message on the same stdin) stays for the caller; every copy
 * of the secret is wiped.
 */
#include <errno.h>
#include <unistd.h>

#include "cli/readline.h"
#include "core/secret.h"

long
cli_read_line(int fd, char *buf, size_t bufsize)
{
	size_t n = 0;
	ssize_t r;
	char ch;
	int too_long = 0;

	if (bufsize == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			secret_wipe(buf, bufsize);
			return -1;
		}
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= bufsize) {
			too_long = 1;
			continue;
		}
		buf[n++] = ch;
	}
	secret_wipe(&ch, sizeof(ch));
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (too_long) {
		secret_wipe(buf, bufsize);
		errno = EMSGSIZE;
		return -1;
	}
	return (long)n;
}
