/*
 * agent_discard.c - the discard agent ([delivery] local = discard): every
 * recipient is delivered by dropping the message, like Postfix's discard(8)
 * transport. The message was still spooled and fsync'd before its 250;
 * only the final delivery is skipped. Meant for benchmarks and tests.
 */
#include "core/str.h"
#include "deliver/agent_int.h"

int
dlv_discard(struct dlv_job *job)
{
	size_t i;

	str_copy(job->hop, "discard", sizeof(job->hop));
	for (i = 0; i < job->nrcpts; i++)
		dlv_rcpt_set(
		    &job->rcpts[i], DLV_OK, "2.0.0", "250 2.0.0 discarded");
	return 0;
}
