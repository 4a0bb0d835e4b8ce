/* worker_drain.h - drain, hand over, adopt, shut at shutdown_timeout
 * (worker_drain.c). */
#ifndef ECHOD_WORKER_DRAIN_H
#define ECHOD_WORKER_DRAIN_H

#include <stddef.h>

#include "handoff_worker.h"

struct worker;

void	worker_begin_drain(struct worker *);
void	worker_adopt(struct worker *, int *fds, size_t nfds);
/* on_message: what comes on the channel while a batch waits (worker.c's) */
void	worker_hand_over(struct worker *, handoff_worker_other_fn *on_message);
void	worker_shut_all(struct worker *);

#endif
