/*
 * worker_admit.c - the worker's state as admission (admit.c) and its
 * accept gate (gate.c) judge it: the pool's slots from the shared page,
 * this worker's table of sources, its load.  accept, adoption and
 * conn_end.c all ask here, so each sees the same policy.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>

#include "admit.h"
#include "channel.h"
#include "conn.h"
#include "gate.h"
#include "worker_admit.h"
#include "worker_state.h"

/* Slots in use, from the master's stats page: bounded, since any worker
 * can write the page. */
static unsigned
pool_slots(const struct worker *w)
{
	uint32_t hw = atomic_load(&w->shared->hw);

	return hw < CHAN_MAX_SLOTS ? hw : CHAN_MAX_SLOTS;
}

/* The worker's load, as its accept gate judges it. */
struct gate_load
worker_load(const struct worker *w)
{
	return (struct gate_load){ .nconns = w->nconns,
	    .max = (uint64_t)w->conf->max_connections, .now_ms = w->now_ms,
	    .draining = w->draining };
}

/* Admission as this worker sees it now. */
struct admit_policy
worker_policy(struct worker *w)
{
	return (struct admit_policy){ .conf = w->conf, .sources = w->sources,
	    .slot = w->slot, .nslots = pool_slots(w), .now_ms = w->now_ms,
	    .logs = &w->logs };
}

void
worker_uncount(struct worker *w, struct conn *c)
{
	struct admit_policy p = worker_policy(w);

	if (c->counted)
		admit_release(&p, &c->peer.sa);
	c->counted = false;
}
