/* pool.h - the fixed table of worker slots and their state machine, the
 * fork helper, and the rules that decide when a dead worker comes back. */
#ifndef ECHOD_POOL_H
#define ECHOD_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel.h"
#include "stats.h"

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

/*
 * A slot's life.  pool.c makes every transition; the master decides when:
 *
 *   FREE, WAITING  --pool_spawn-->          RUNNING
 *   FREE, WAITING  --pool_spawn_failed-->   WAITING
 *   RUNNING        --pool_drain-->          DRAINING
 *   RUNNING, DRAINING --pool_quit-->        DRAINING
 *   RUNNING        --pool_died-->           WAITING
 *   RUNNING, DRAINING --pool_finished-->    FREE
 *   WAITING        --pool_drain, pool_quit--> FREE
 *
 * pool_abort() and pool_kill() record in kill what was sent.  A slot that
 * turns free forgets everything, its backoff too.
 */
enum slot_state {
	SLOT_FREE,
	SLOT_RUNNING,	/* serving its generation */
	SLOT_DRAINING,	/* told to stop accepting and finish */
	SLOT_WAITING,	/* dead; respawns at respawn_at */
};

/* How far the master has gone killing a slot's worker.  Any of it means a
 * death that follows is the master's doing, not a crash. */
enum slot_kill {
	SLOT_KILL_NONE,
	SLOT_KILL_ABORT,	/* hung: SIGABRT sent at abort_at_ms, for a core */
	SLOT_KILL_FINAL,	/* SIGKILL sent */
};

/* Handing connections over instead of draining them (handoff_wire.h). */
enum slot_handoff {
	SLOT_HANDOFF_NONE,
	SLOT_HANDOFF_WANTED,	/* draining; ordered once a new worker is ready */
	SLOT_HANDOFF_ORDERED,	/* CHAN_CMD_HANDOFF sent */
};

struct slot {
	enum slot_state	 state;
	enum slot_kill	 kill;
	pid_t		 pid;
	unsigned	 generation;
	int		 cmd_fd;	/* master's end of the channel */
	int		 rank;		/* 0.. within its generation: which UDP
					 * shards it reads (shard.h) */
	enum slot_handoff handoff;
	uint64_t	 started_ms;
	uint64_t	 respawn_at_ms;
	uint64_t	 backoff_ms;
	uint64_t	 deadline_ms;	/* draining: SIGKILL after this */
	uint64_t	 abort_at_ms;	/* SLOT_KILL_ABORT: when */
};

struct pool_crashwin {
	uint64_t	 t[POOL_GIVEUP_COUNT];
	size_t		 n;
};

struct pool {
	struct slot		 slot[POOL_MAX_SLOTS];
	/* Slots used so far: every one not free is below.  The master's own
	 * copy: the page's can be written by any worker. */
	int			 hw;
	struct chan_page	*shared;
	int			 page_fd;	/* shared's sealed memfd */
	struct chan_stats	*stats;		/* shared->stats, one per slot */
	struct stats_book	 book;		/* the counters the master keeps */
};

int	pool_init(struct pool *);
void	pool_free(struct pool *);
/* Maps the page of page_fd (a pool's) again, read-only: no mprotect() can
 * make this mapping writable.  NULL with errno. */
const struct chan_page *pool_page_readonly(int page_fd);

/* Reading the table.  A slot's fields are the pool's to write. */
bool	pool_alive(const struct slot *);	/* a process: running or draining */
bool	pool_killed(const struct slot *);	/* the master has sent a kill */
bool	pool_current(const struct slot *, unsigned generation);	/* serving it */
int	pool_count_current(const struct pool *, unsigned generation);
int	pool_count_alive(const struct pool *);
/* The rank a worker forked into slot i for generation takes: a slot
 * waiting to respawn keeps its own, another the lowest no current slot
 * of generation holds. */
int	pool_rank_for(const struct pool *, int i, unsigned generation);
/* The current slot of generation with the highest rank, or -1. */
int	pool_highest_rank(const struct pool *, unsigned generation);
/* Index of a free slot, or -1. */
int	pool_free_slot(const struct pool *);
int	pool_find_pid(const struct pool *, pid_t);
/* The earliest respawn_at_ms of a waiting slot; UINT64_MAX if none. */
uint64_t pool_next_respawn(const struct pool *);
/* More than POOL_MAX_DRAINING generations draining?  Then *oldest is the
 * one to stop.  Slots already killed, or handing over, do not count. */
bool	pool_excess_generation(const struct pool *, unsigned *oldest);

/*
 * Forks a worker of rank (pool_rank_for()) into slot i (free or waiting).
 * In the child, closes every other slot's channel and calls child(i,
 * cmd_read_fd, arg), which must not return.  Signals must be blocked by
 * the caller.  Returns the pid or -1 with errno; then the slot is as it
 * was: see pool_spawn_failed().
 */
pid_t	pool_spawn(struct pool *, int i, unsigned generation, int rank,
	    uint64_t now_ms, void (*child)(int, int, void *), void *arg);
/* A worker of rank for generation could not be started in slot i: the
 * slot waits with that rank, as long as after a worker that died at once.
 * Returns the delay. */
uint64_t pool_spawn_failed(struct pool *, int i, unsigned generation,
	    int rank, uint64_t now_ms);
/* Sends an order; a full or broken channel is not an error worth more. */
void	pool_order(struct pool *, int i, char cmd);
/* Tells slot i to drain, SIGKILL due at deadline_ms; a slot waiting to
 * respawn is freed instead.  Others are left alone. */
void	pool_drain(struct pool *, int i, uint64_t deadline_ms);
/* Tells slot i (running or draining) to hand its connections to the
 * master (CHAN_CMD_HANDOFF), SIGKILL due at deadline_ms if it does not
 * exit; a slot waiting to respawn is freed instead. */
void	pool_handoff(struct pool *, int i, uint64_t deadline_ms);
/* Slot i drains, and hands over once a new worker is ready (WANTED); or
 * its handoff was refused, and it drains as it would have (NONE). */
void	pool_handoff_mark(struct pool *, int i, enum slot_handoff);
/* Tells slot i (running or draining) to quit now, SIGKILL due at
 * deadline_ms; a slot waiting to respawn is freed instead. */
void	pool_quit(struct pool *, int i, uint64_t deadline_ms);
/* Hung: SIGABRT (and SIGCONT, so a stopped worker sees it), once. */
int	pool_abort(struct pool *, int i, uint64_t now_ms);
/* SIGKILL.  Both return -1 with errno; a process already gone is no error. */
int	pool_kill(struct pool *, int i);
/* Slot i's worker was reaped.  Either way its channel closes and what it
 * published is cleared, its counters folded into the book (stats.h) with
 * status's cause.  Finished: the slot is free.  Died: it waits
 * pool_respawn_delay(), which is returned. */
void	pool_finished(struct pool *, int i, int status);
uint64_t pool_died(struct pool *, int i, int status, uint64_t now_ms);

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
bool	pool_crashwin_add(struct pool_crashwin *, uint64_t now_ms);

#endif
