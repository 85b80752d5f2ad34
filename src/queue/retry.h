/*
 * retry.h - when to try a deferred recipient again, when to give up, when
 * to warn the sender. Pure arithmetic on unix times: no clock, no I/O.
 */
#ifndef POSTERN_QUEUE_RETRY_H
#define POSTERN_QUEUE_RETRY_H

struct config;

struct retry_policy {
	long long min_s;      /* first retry after this */
	long long max_s;      /* the backoff doubles up to this */
	long long lifetime_s; /* then the message expires (bounce) */
	long long warn_s;     /* delay warning after this; 0 = never */
};

/* retry_policy_from_config - [queue] retry_min, retry_max, lifetime, delay_warning. */
void retry_policy_from_config(const struct config *cfg, struct retry_policy *p);

/*
 * retry_next - the time of the next attempt after the attempts-th failed
 * one (attempts >= 1) at now: min_s * 2^(attempts-1), capped at max_s, and
 * never later than the expiry (arrival + lifetime_s) so that the last try
 * happens right when the message expires.
 */
long long retry_next(const struct retry_policy *p, unsigned int attempts,
    long long arrival, long long now);

/* retry_expired - 1 if a message that arrived at arrival is too old to retry at now. */
int retry_expired(
    const struct retry_policy *p, long long arrival, long long now);

/* retry_warn_due - 1 if a delay warning is due (and none was sent: warned == 0). */
int retry_warn_due(
    const struct retry_policy *p, long long arrival, long long now, int warned);

#endif
