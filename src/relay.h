/*
 * relay.h - the master's side of the handoff: connections from an old
 * worker to the current generation on reload, from the workers to
 * systemd's descriptor store on a restart ("parking"), and from the store
 * to the first generation on start.  The master trusts no worker's bytes:
 * every batch is checked (handoff_decode(), handoff_check_socket()) before
 * it goes on, and a bad one is refused (the worker drains it as before).
 */
#ifndef ECHOD_RELAY_H
#define ECHOD_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "fdstore.h"
#include "pool.h"

struct relay {
	struct pool		*pool;
	unsigned		 cursor;	/* round robin over the targets */
	bool			 parking;	/* stopping for a restart */
	struct fdstore_set	 stored;	/* from the store, not yet given */
	uint64_t		 moved, parked, ended;	/* connections, since start */
};

void	relay_init(struct relay *, struct pool *);
/* Messages read from one worker's channel per call: the master's loop
 * comes back for the rest, after its other work. */
#define RELAY_MSGS_PER_TURN	16

/* Messages on slot i's channel, up to RELAY_MSGS_PER_TURN.  generation: the
 * current one, whose ready workers take what comes.  A worker that sends
 * what it was not asked is killed (relay.c). */
void	relay_on_channel(struct relay *, int i, unsigned generation);
/*
 * Each turn: slots waiting to hand over are ordered to once a worker of
 * generation is ready; connections taken from the store are given to the
 * ready workers (and removed from the store).
 */
void	relay_tick(struct relay *, unsigned generation, uint64_t deadline_ms);
/* A worker of generation is ready to take connections. */
bool	relay_can_take(const struct relay *, unsigned generation);
/* Stopping for a restart: true when the store can take connections
 * ($FDSTORE) and systemd's job on the unit is a restart. */
bool	relay_should_park(void);
/* Start failed or stopped before the store's connections were given:
 * each one is flushed, shut down and removed from the store. */
void	relay_abandon(struct relay *);

#endif
