/* pool.h - the fixed table of worker slots, the fork helper, and the rules
 * that decide when a dead worker comes back. */
#ifndef ECHOD_POOL_H
#define ECHOD_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel.h"

#define POOL_MAX_SLOTS		CHAN_MAX_SLOTS
#define POOL_MAX_DRAINING	3	/* generations draining at once */

/* Respawn backoff per slot, and the give-up rule (echod(8) documents them). */
#define POOL_BACKOFF_MIN_MS	100
#define POOL_BACKOFF_MAX_MS	5000
/* Killed from outside (SIGKILL): paced, but never long enough to empty the
 * pool under a kill now and then. */
#define POOL_EXTERNAL_BACKOFF_MAX_MS 500
#define POOL_EARLY_DEATH_MS	10000	/* died this soon after start: "early" */
#define POOL_GIVEUP_COUNT	5	/* K early deaths ... */
#define POOL_GIVEUP_WINDOW_MS	30000	/* ... within W: the master gives up */

enum slot_state {
	SLOT_FREE,
	SLOT_RUNNING,	/* serving the current generation */
	SLOT_DRAINING,	/* told to stop accepting and finish */
	SLOT_WAITING,	/* dead; respawns at respawn_at */
};

struct slot {
	enum slot_state	 state;
	pid_t		 pid;
	unsigned	 generation;
	int		 cmd_fd;	/* master's end of the order pipe */
	uint64_t	 started_ms;
	uint64_t	 respawn_at_ms;
	uint64_t	 backoff_ms;
	uint64_t	 deadline_ms;	/* draining: SIGKILL after this */
	uint64_t	 abort_sent_ms;	/* hung: SIGABRT sent at, 0 if not */
	bool		 killed;	/* by the master: not a crash */
};

struct crashwin {
	uint64_t	 t[POOL_GIVEUP_COUNT];
	size_t		 n;
};

struct pool {
	struct slot		 slot[POOL_MAX_SLOTS];
	struct chan_page	*shared;
	struct chan_stats	*stats;		/* shared->stats, one per slot */
};

int	pool_init(struct pool *);
void	pool_free(struct pool *);
/* Index of a free slot, or -1. */
int	pool_free_slot(const struct pool *);
int	pool_find_pid(const struct pool *, pid_t);
/*
 * Forks a worker into slot i.  In the child, closes every other slot's
 * order pipe and calls child(i, cmd_read_fd, arg), which must not return.
 * Signals must be blocked by the caller.  Returns the pid or -1 with errno.
 */
pid_t	pool_spawn(struct pool *, int i, unsigned generation, uint64_t now_ms,
	    void (*child)(int, int, void *), void *arg);
/* Sends an order; a full or broken pipe is not an error worth more. */
void	pool_order(struct pool *, int i, char cmd);

/* The table's bookkeeping. */
bool	pool_current(const struct slot *, unsigned generation);	/* serving it */
int	pool_count_current(const struct pool *, unsigned generation);
int	pool_count_alive(const struct pool *);	/* running or draining */
/* Tells slot i to drain (SIGKILL due at deadline_ms); a slot waiting to
 * respawn is freed instead. */
void	pool_drain(struct pool *, int i, uint64_t deadline_ms);
/* More than POOL_MAX_DRAINING generations draining?  Then *oldest is the
 * one to stop.  Slots already killed do not count. */
bool	pool_excess_generation(const struct pool *, unsigned *oldest);

/* Pure rules, unit-tested. */
void	pool_describe_status(int status, char *buf, size_t len);
bool	pool_is_crash(int status);
/* Killed by a signal that is not a crash: someone outside did it. */
bool	pool_is_external(int status);
uint64_t pool_next_backoff(uint64_t prev_ms, uint64_t lived_ms);
/*
 * The delay before a dead worker's slot starts another: none for one the
 * master killed (hung), the backoff for an early death, capped at
 * POOL_EXTERNAL_BACKOFF_MAX_MS for one killed from outside, so a loop
 * killing workers cannot make the master fork as fast as it kills.
 */
uint64_t pool_respawn_delay(uint64_t prev_ms, uint64_t lived_ms, int status,
	    bool killed_by_master);
/* Records an early death at now; true when the give-up rule fires. */
bool	crashwin_add(struct crashwin *, uint64_t now_ms);

#endif
