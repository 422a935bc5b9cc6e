/* delivery.h — the outbox's delivery workers: threads that claim due
 * messages, send them (SMTP or a signed webhook POST, with timeouts),
 * record every attempt, back off exponentially with jitter and dead-letter
 * a message after [delivery] max_attempts. They run beside the server and
 * touch the store only through store.h, so a slow or dead receiver holds up
 * at most the worker sending to it, never a request. */
#ifndef PROMO_JOBS_DELIVERY_H
#define PROMO_JOBS_DELIVERY_H

#include "store/store.h"
#include "util/config.h"

struct delivery;

/* Starts cfg->dlv_workers threads. `st` and `cfg` are borrowed until
 * delivery_stop. NULL when a thread cannot start. */
struct delivery *delivery_start(struct store *st, const struct config *cfg);
/* Abandons attempts in flight (their messages are claimed again once the
 * claim lapses, after a restart too) and joins the threads. NULL is fine. */
void delivery_stop(struct delivery *d);

#endif
