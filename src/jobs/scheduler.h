/* scheduler.h — the server's scheduler: one thread that runs the store's
 * due tasks (store_tasks_due / store_task_run), catching up at start on
 * every task whose time passed while the server was down. It sleeps until
 * the next task is due (at most a second) or until kicked — the test clock
 * kicks it when moved, so a test that jumps 48 hours sees due tasks run
 * within a fraction of a second. */
#ifndef PROMO_JOBS_SCHEDULER_H
#define PROMO_JOBS_SCHEDULER_H

#include "store/store.h"

struct scheduler;

/* Starts the thread on `st` (borrowed until scheduler_stop). NULL on
 * failure. */
struct scheduler *scheduler_start(struct store *st);
/* Wakes the thread to look for due tasks now. NULL is ignored. */
void scheduler_kick(struct scheduler *s);
/* Stops and joins the thread, then frees s (NULL is ignored). A task in
 * progress finishes first. */
void scheduler_stop(struct scheduler *s);

#endif
