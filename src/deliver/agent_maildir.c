/*
 * agent_maildir.c - the maildir agent: each recipient's folder from
 * route->maildir_tmpl (maildir_path refuses parts that could leave the
 * tree), one all-or-nothing maildir_deliver() over the distinct folders.
 * Blocking file I/O on a work-pool thread.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/str.h"
#include "deliver/agent_int.h"
#include "deliver/maildir.h"

int
dlv_maildir(struct dlv_job *job)
{
	char err[512];
	char(*paths)[PATH_MAX];
	const char **uniq;
	size_t *slot; /* rcpt i -> index into uniq, or (size_t)-1 */
	size_t i, j, nuniq = 0;
	struct mailaddr a;
	int rc;

	str_copy(job->hop, "maildir", sizeof(job->hop));
	paths = calloc(job->nrcpts, sizeof(*paths));
	uniq = calloc(job->nrcpts, sizeof(*uniq));
	slot = calloc(job->nrcpts, sizeof(*slot));
	if (paths == NULL || uniq == NULL || slot == NULL) {
		for (i = 0; i < job->nrcpts; i++)
			dlv_rcpt_set(&job->rcpts[i], DLV_TEMP, "4.3.0",
			    "451 4.3.0 out of memory");
		rc = -1;
		goto out;
	}
	for (i = 0; i < job->nrcpts; i++) {
		const char *addr = job->rcpts[i].addr;

		slot[i] = (size_t)-1;
		if (addr == NULL ||
		    addr_parse_mailbox(addr, strlen(addr), ADDR_F_UTF8, &a) ==
		        -1 ||
		    maildir_path(job->route->maildir_tmpl, &a, paths[i],
		        sizeof(paths[i])) == -1) {
			dlv_rcpt_set(&job->rcpts[i], DLV_PERM, "5.1.3",
			    "550 5.1.3 no valid mailbox for this address");
			continue;
		}
		for (j = 0; j < nuniq; j++) {
			if (strcmp(uniq[j], paths[i]) == 0)
				break;
		}
		if (j == nuniq)
			uniq[nuniq++] = paths[i];
		slot[i] = j;
	}
	rc = 0;
	if (nuniq == 0)
		goto out;
	if (maildir_deliver(job->msg_fd, uniq, nuniq, job->helo_name, err,
	        sizeof(err)) == -1) {
		for (i = 0; i < job->nrcpts; i++) {
			if (slot[i] != (size_t)-1)
				dlv_rcpt_set(&job->rcpts[i], DLV_TEMP, "4.3.0",
				    "451 4.3.0 %s", err);
		}
		goto out;
	}
	for (i = 0; i < job->nrcpts; i++) {
		if (slot[i] != (size_t)-1)
			dlv_rcpt_set(&job->rcpts[i], DLV_OK, "2.0.0",
			    "250 2.0.0 delivered to maildir");
	}
out:
	free(paths);
	free(uniq);
	free(slot);
	return rc;
}
