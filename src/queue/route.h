/*
 * route.h - which delivery agent and next hop a recipient domain goes to:
 * local domains -> [delivery] local (maildir or LMTP), everything else ->
 * [delivery] relay (the domain's MX, or a smarthost). No I/O.
 */
#ifndef POSTERN_QUEUE_ROUTE_H
#define POSTERN_QUEUE_ROUTE_H

#include <stddef.h>

#include "deliver/agent.h"

struct config;

/*
 * queue_route - fill out for domain and write the destination key into key
 * (recipients with equal keys share one delivery, and the per-destination
 * concurrency limit counts keys): "maildir", "lmtp:SPEC", "smtp:HOST:PORT",
 * "mx:DOMAIN". 0, or -1 if the key does not fit.
 */
int queue_route(const struct config *cfg, const char *domain,
    struct dlv_route *out, char *key, size_t keylen);

#endif
