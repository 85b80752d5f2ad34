/*
 * guard_svc.h - the guard, the rate limits and the sender policy as the auth
 * service runs them (DESIGN §2: one process counts for all workers, the
 * lesson of Postfix's anvil). It owns the in-memory guard (guard.c) and
 * rate counters (ratelimit.c), keeps them in <spool>/guard.db, shares bans
 * through Redis when configured, pushes ban changes to the workers through
 * a broadcast callback, and answers the MAIL FROM and after-DATA checks
 * asynchronously (the login's addresses come from the passdb).
 */
#ifndef POSTERN_AUTH_GUARD_SVC_H
#define POSTERN_AUTH_GUARD_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "auth/guard.h"
#include "ipc/proto.h"

struct config;
struct event_base;
struct passdb;
struct guard_svc;

/* set = 1: b is banned now (or longer); 0: the ban on b->key ended. */
typedef void guard_svc_broadcast(void *arg, int set, const struct guard_ban *b);

struct guard_svc *guard_svc_new(struct event_base *base,
    const struct config *cfg, struct passdb *db, guard_svc_broadcast *bc,
    void *bc_arg, char *err, size_t errlen);
void guard_svc_free(struct guard_svc *g);

/* guard_svc_reload - new configuration (SIGHUP); bans and counters stay. cfg must outlive g's use of it. */
void guard_svc_reload(struct guard_svc *g, const struct config *cfg);

/* guard_svc_bans - the current bans for a worker that just connected. */
size_t guard_svc_bans(struct guard_svc *g, struct guard_ban *out, size_t max);

/* guard_svc_banned - 1 if addr may not try AUTH now (454 4.7.0). */
int guard_svc_banned(struct guard_svc *g, const char *addr);

/* guard_svc_hash - the keyed hash of an attempt (password NULL: none shown). */
void guard_svc_hash(struct guard_svc *g, const char *login, const void *pw,
    size_t pwlen, unsigned char out[GUARD_HASH_LEN]);

/*
 * guard_svc_failure - count a failed AUTH (wrong credentials); returns the
 * delay before the 535 in ms. Bans it causes are logged, stored, shared
 * and broadcast here. *counted_r: 0 if it repeated a recent attempt.
 */
unsigned int guard_svc_failure(struct guard_svc *g, const char *session,
    const char *addr, const char *login,
    const unsigned char hash[GUARD_HASH_LEN], int *counted_r);

/* guard_svc_suspended - 1 if login is contained and [policy] contain_suspend is set. */
int guard_svc_suspended(struct guard_svc *g, const char *login);

struct guard_svc_req {
	char session[20];
	char queue_id[32];
	char login[256];
	char mail_from[257];
	char client[64];
	char listener[64];
	uint64_t size;
	uint32_t nrcpts;
	uint8_t header; /* enum proto_header (DATA) */
	/* the session's app password / device credential (auth/credsess.h);
	 * credential "" = the main password, no profile */
	char credential[65];        /* labels are at most 64 */
	char fixed_sender[257];     /* the only sender allowed; "" = any */
	unsigned int cred_rate_cap; /* its messages per hour; 0 = none */
	size_t naddrs;
	struct {
		int sender;
		char addr[257];
	} addrs[16];
};

/* The answer: verdict, recipients still allowed (MAIL), notices to write (DATA), reply text. */
typedef void guard_svc_cb(void *arg, enum proto_policy v, uint32_t budget,
    int notify, const char *text);

/* guard_svc_mail - sender ownership and rates of MAIL FROM; cb runs later, on the loop. */
void guard_svc_mail(struct guard_svc *g, const struct guard_svc_req *req,
    guard_svc_cb *cb, void *arg);

/* guard_svc_data - From:/Sender: ownership and the message count after DATA. */
void guard_svc_data(struct guard_svc *g, const struct guard_svc_req *req,
    guard_svc_cb *cb, void *arg);

#endif
