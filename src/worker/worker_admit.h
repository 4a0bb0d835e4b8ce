/* worker_admit.h - the worker as admission and its gate see it
 * (worker_admit.c). */
#ifndef ECHOD_WORKER_ADMIT_H
#define ECHOD_WORKER_ADMIT_H

#include "admit.h"
#include "gate.h"

struct conn;
struct worker;

struct gate_load	worker_load(const struct worker *);
struct admit_policy	worker_policy(struct worker *);
/* c's source counted out, if it was counted in */
void	worker_uncount(struct worker *, struct conn *);

#endif
