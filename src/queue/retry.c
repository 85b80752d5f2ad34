/*
 * retry.c - exponential backoff with a cap, expiry and the delay warning
 * (issue 4: default first retry within minutes, give up after 5 days).
 * Deterministic on purpose: tests and `postern queue list` show exactly
 * when the next attempt will be.
 */
#include "core/config.h"
#include "queue/retry.h"

void
retry_policy_from_config(const struct config *cfg, struct retry_policy *p)
{
	p->min_s = (cfg->queue_retry_min_ms + 999) / 1000;
	p->max_s = (cfg->queue_retry_max_ms + 999) / 1000;
	p->lifetime_s = (cfg->queue_lifetime_ms + 999) / 1000;
	p->warn_s = (cfg->queue_delay_warning_ms + 999) / 1000;
	if (p->min_s < 1)
		p->min_s = 1;
	if (p->max_s < p->min_s)
		p->max_s = p->min_s;
}

long long
retry_next(const struct retry_policy *p, unsigned int attempts,
    long long arrival, long long now)
{
	long long delay = p->min_s, expiry = arrival + p->lifetime_s;
	unsigned int i;

	for (i = 1; i < attempts && delay < p->max_s; i++)
		delay *= 2;
	if (delay > p->max_s)
		delay = p->max_s;
	if (now + delay > expiry && expiry > now)
		return expiry;
	return now + delay;
}

int
retry_expired(const struct retry_policy *p, long long arrival, long long now)
{
	return now - arrival >= p->lifetime_s;
}

int
retry_warn_due(
    const struct retry_policy *p, long long arrival, long long now, int warned)
{
	return p->warn_s > 0 && !warned && now - arrival >= p->warn_s &&
	    now - arrival < p->lifetime_s;
}
