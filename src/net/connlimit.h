/*
 * connlimit.h - connection counts shared by all worker processes: one total
 * and per client address (IPv6 per /64), in an anonymous shared mapping the
 * master creates before forking. Buckets are keyed by SipHash with a random
 * key, so clients cannot aim collisions at someone else's bucket.
 */
#ifndef POSTERN_NET_CONNLIMIT_H
#define POSTERN_NET_CONNLIMIT_H

#include <sys/socket.h>

struct connlimit;

/* connlimit_new - a shared table (call before fork); NULL on failure. */
struct connlimit *connlimit_new(void);

/*
 * connlimit_acquire - count a new connection from sa unless that would pass
 * max_total or max_per_ip (0 = no limit). 1 counted, 0 refused (-1 with
 * *which_r = "total" or "per-ip").
 */
int connlimit_acquire(struct connlimit *cl, const struct sockaddr *sa,
    unsigned int max_total, unsigned int max_per_ip, const char **which_r);

/* connlimit_release - forget a connection counted by connlimit_acquire. */
void connlimit_release(struct connlimit *cl, const struct sockaddr *sa);

/*
 * connlimit_rate - count a connection from sa (IPv6 per /64) in minute (a
 * minute number, e.g. time / 60); 1 if it is within max_per_minute (0 = no
 * limit), 0 if over.
 */
int connlimit_rate(struct connlimit *cl, const struct sockaddr *sa,
    unsigned int max_per_minute, unsigned int minute);

/* connlimit_reset - zero every count (after all workers were restarted). */
void connlimit_reset(struct connlimit *cl);

#endif
