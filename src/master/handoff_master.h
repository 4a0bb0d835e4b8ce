/*
 * handoff_master.h - the master's side of the handoff: connections from an old
 * worker to the current generation on reload, from the workers to
 * systemd's descriptor store on a restart ("parking"), and from the store
 * to the first generation on start.  The master trusts no worker's bytes:
 * every batch is checked (handoff_decode(), handoff_check_socket()) before
 * it goes on, and a bad one is refused (the worker drains it as before).
 */
#ifndef ECHOD_HANDOFF_MASTER_H
#define ECHOD_HANDOFF_MASTER_H

#include <stdbool.h>
#include <stdint.h>

#include "fdstore.h"
#include "handoff_wire.h"
#include "pool.h"

/* A batch taken before any worker of the newest generation was ready:
 * it waits in the master, until_ms at most (shutdown_timeout). */
struct handoff_master_held {
	struct handoff_batch	 b;
	int			 fds[HANDOFF_MAX_CONNS];
	int			 from;		/* the slot that sent it */
	uint64_t		 since_ms;	/* its records' idle_ms were as of then */
	uint64_t		 until_ms;
};

struct handoff_master {
	struct pool		*pool;
	struct handoff_master_held	*held;
	size_t			 nheld;
	uint64_t		 hold_ms;	/* the running shutdown_timeout */
	unsigned		 cursor;	/* round robin over the targets */
	bool			 parking;	/* stopping for a restart */
	struct fdstore_set	 stored;	/* from the store, not yet given */
	uint64_t		 moved, parked, ended;	/* connections, since start */
};

void	handoff_master_init(struct handoff_master *, struct pool *);
/* Messages read from one worker's channel per call: the master's loop
 * comes back for the rest, after its other work. */
#define HANDOFF_MASTER_MSGS_PER_TURN	16

/* Messages on slot i's channel, up to HANDOFF_MASTER_MSGS_PER_TURN.  generation: the
 * current one, whose ready workers take what comes.  A worker that sends
 * what it was not asked is killed (handoff_master.c). */
void	handoff_master_on_channel(struct handoff_master *, int i, unsigned generation);
/*
 * Each turn: slots waiting to hand over are ordered to once a worker of
 * generation is ready; batches held for it, and connections taken from the
 * store, are given to the ready workers (and removed from the store).
 * Batches held past their hold_ms are ended gracefully.
 */
void	handoff_master_tick(struct handoff_master *, unsigned generation, uint64_t deadline_ms);
/* A worker of generation is ready to take connections. */
bool	handoff_master_can_take(const struct handoff_master *, unsigned generation);
/* Stopping for a restart: true when the store can take connections
 * ($FDSTORE) and systemd's job on the unit is a restart. */
bool	handoff_master_should_park(void);
/* Stopping: the held batches are parked if parking, else ended
 * gracefully (no new worker will come for them). */
void	handoff_master_release_held(struct handoff_master *);
/* Start failed or stopped before the store's connections were given:
 * each one is flushed, shut down and removed from the store; so are the
 * held batches (handoff_master_release_held()). */
void	handoff_master_abandon(struct handoff_master *);

#endif
