/*
 * notice.c - containment notices into the spool (see notice.h). The text
 * names the login, the client address and the held queue id, and what an
 * operator runs next; it carries no message content.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/rand.h"
#include "core/str.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "smtp/notice.h"

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* clean - s without control characters (it goes into a header). */
static void
clean(char *out, size_t outlen, const char *s)
{
	size_t i, o = 0;

	for (i = 0; s != NULL && s[i] != '\0' && o + 1 < outlen; i++)
		if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
			out[o++] = s[i];
	out[o] = '\0';
}

int
smtp_notice_write(const struct notice_info *n, const char *rcpt, int to_user,
    char *err, size_t errlen)
{
	char id[ENV_ID_MAX], date[64], login[256], token[17];
	struct envelope env;
	struct buf b;
	struct tm tm;
	time_t now = time(NULL);
	int fd, rc = -1;

	fd = spool_create(n->spool, id, sizeof(id));
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a spool file");
		return -1;
	}
	clean(login, sizeof(login), n->login);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		date[0] = '\0';
	rand_token(token, sizeof(token) - 1);
	buf_init(&b, 8192);
	buf_printf(&b,
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: Outgoing mail of %s held (sending limit exceeded)\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%s.%s@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n",
	    n->hostname, rcpt, login, date, id, token, n->hostname);
	if (to_user)
		buf_printf(&b,
		    "Your account %s sent far more mail than its limit "
		    "allows,\r\n"
		    "which is what a stolen password looks like. Mail from it "
		    "is\r\n"
		    "now accepted but held, not delivered, until the "
		    "postmaster\r\n"
		    "has checked it. If this was not you, change your "
		    "password.\r\n",
		    login);
	else
		buf_printf(&b,
		    "The login %s exceeded its hard sending cap (last "
		    "client\r\n"
		    "address %s); its mail is held from queue id %s on.\r\n"
		    "\r\n"
		    "  postern queue list                 see the held "
		    "messages\r\n"
		    "  postern queue release ID           deliver one\r\n"
		    "  postern queue delete ID            drop one\r\n"
		    "  postern guard unban %s   lift the containment\r\n",
		    login, n->client_addr, n->held_id, login);
	env_init(&env);
	str_copy(env.id, id, sizeof(env.id));
	env.arrival = (long long)now;
	env.is_bounce = 1; /* null sender: never bounced */
	str_copy(env.client_addr, "127.0.0.1", sizeof(env.client_addr));
	str_copy(env.helo, n->hostname, sizeof(env.helo));
	str_copy(env.listener, "internal", sizeof(env.listener));
	if (b.data == NULL || env_add_rcpt(&env, rcpt, NULL) == NULL ||
	    write_all(fd, b.data, b.len) == -1) {
		snprintf(err, errlen, "cannot write the notice");
	} else if (spool_commit(n->spool, id, fd, &env, err, errlen) == 0) {
		rc = 0;
	}
	if (rc == -1) {
		char path[4096];

		if (snprintf(path, sizeof(path), "%s/tmp/%s", n->spool, id) <
		    (int)sizeof(path))
			unlink(path);
	}
	close(fd);
	env_free(&env);
	buf_free(&b);
	return rc;
}
