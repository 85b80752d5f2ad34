/*
 * ratelimit.h - per-login sending limits for authenticated submission, and
 * compromised-account containment. Windows are sliding, kept as 60 slots
 * each (an hour limit counts in one-minute slots). Counted per login:
 *   - MAIL attempts (refused ones too: a spam run hammers on a 452),
 *   - accepted messages (messages_per_hour),
 *   - accepted recipients (recipients_per_day).
 * When attempts exceed hard_cap_factor x the message limit, or recipients
 * exceed hard_cap_factor x the recipient limit, the login is contained:
 * its mail is accepted but held, until an operator decides. Time is
 * passed in (mock clock in the unit tests). No I/O.
 */
#ifndef POSTERN_AUTH_RATELIMIT_H
#define POSTERN_AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RL_SLOTS       60
#define RL_MAX_ENTRIES 65536
#define RL_LOGIN_MAX   256

struct rl_config {
	unsigned int messages_per_hour;  /* 0 = no limit */
	unsigned int recipients_per_day; /* 0 = no limit */
	unsigned int message_window_s;   /* 3600 */
	unsigned int recipient_window_s; /* 86400 */
	unsigned int hard_cap_factor;    /* 0 = no containment */
};

enum rl_verdict {
	RL_OK,
	RL_OVER_MESSAGES,   /* 452 4.7.1: try later */
	RL_OVER_RECIPIENTS, /* 452 4.7.1 */
	RL_CONTAINED,       /* accept, hold */
};

struct rl_limits {
	unsigned int messages; /* effective per-window limits (0 = none) */
	unsigned int recipients;
};

struct ratelimit;

struct ratelimit *rl_new(void);
void rl_free(struct ratelimit *r);

/*
 * rl_mail - a MAIL FROM attempt by login (counted). lim: the login's
 * limits (per-user values from the passdb, else the configuration's).
 * *budget_r: recipients still allowed in the window (UINT32_MAX = no
 * limit). *newly_r = 1 when this attempt crossed the hard cap.
 */
enum rl_verdict rl_mail(struct ratelimit *r, const struct rl_config *cfg,
    const struct rl_limits *lim, const char *login, int64_t now,
    uint32_t *budget_r, int *newly_r);

/*
 * rl_accept - a message with nrcpts recipients passed DATA. Returns
 * RL_CONTAINED if the recipient hard cap is crossed now (*newly_r = 1)
 * or the login was contained already, else RL_OK.
 */
enum rl_verdict rl_accept(struct ratelimit *r, const struct rl_config *cfg,
    const struct rl_limits *lim, const char *login, unsigned int nrcpts,
    int64_t now, int *newly_r);

/* rl_contained - 1 if login is contained. */
int rl_contained(const struct ratelimit *r, const char *login);

/* rl_contain / rl_release - set or lift containment (restore, operator). */
void rl_contain(struct ratelimit *r, const char *login, int64_t now);
int rl_release(struct ratelimit *r, const char *login);

/* rl_counts - messages and recipients of login in their windows (tests, user show). */
void rl_counts(struct ratelimit *r, const struct rl_config *cfg,
    const char *login, int64_t now, unsigned int *messages_r,
    unsigned int *recipients_r, unsigned int *attempts_r);

/* rl_expire - forget logins idle for longer than both windows (and not contained). */
void rl_expire(struct ratelimit *r, const struct rl_config *cfg, int64_t now);

#endif
