/* balance.h - the fair share of connections between workers: when one
 * steps back from accepting, as a pure rule over plain numbers. */
#ifndef ECHOD_BALANCE_H
#define ECHOD_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

/* A worker holding more than BALANCE_HIGH percent of the average (plus a
 * little slack) steps back from accepting while a peer accepts, and comes
 * back under BALANCE_LOW percent, like nginx's accept_disabled. */
#define BALANCE_HIGH		120
#define BALANCE_LOW		110
#define BALANCE_SLACK		4
#define BALANCE_RECHECK_MS	5	/* first look after stepping back */
#define BALANCE_RECHECK_MAX_MS	200

/* The pool as one worker sees it: itself and its serving peers. */
struct balance {
	uint64_t	 total;		/* open connections, its own included */
	uint64_t	 workers;	/* serving workers, itself included */
	uint64_t	 own_load;	/* its own open connections */
	bool		 other_armed;	/* a peer accepts right now */
};

/* Starts the view of a worker holding own_load connections. */
void	balance_init(struct balance *, uint64_t own_load);
/* Adds a serving peer holding `connections`, accepting now if armed. */
void	balance_add_peer(struct balance *, uint64_t connections, bool armed);
/*
 * Should the worker stand back?  Only while a peer accepts and only over
 * its share: over BALANCE_HIGH while it accepts (out = false), still over
 * BALANCE_LOW while it stands back (out = true).
 */
bool	balance_over_share(const struct balance *, bool out);
/* How long a worker that stands back waits before it looks again: short at
 * first (it was in), then twice as long each time up to the cap. */
uint64_t balance_recheck_ms(uint64_t prev_ms, bool was_out);

#endif
