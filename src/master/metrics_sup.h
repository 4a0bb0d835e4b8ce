/*
 * metrics_sup.h - the master's supervision of the metrics process
 * (metrics.h serves; this keeps it running).  It is supervised as a worker
 * is, beside pool.c and health.c: forked when its sockets want one, killed
 * when its heartbeats stop (SIGABRT, then SIGKILL HEALTH_ABORT_GRACE_MS
 * later), replaced after a backoff when it dies.  It ends when its
 * channel reaches EOF.
 */
#ifndef ECHOD_METRICS_SUP_H
#define ECHOD_METRICS_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "metrics.h"
#include "pool.h"

#define METRICS_BACKOFF_MIN_MS	100
#define METRICS_BACKOFF_MAX_MS	5000
/* Heartbeats the master reads in one turn, at most: a flood of them costs
 * it nothing. */
#define METRICS_BEATS_READ	16
/* metrics_sup_fds() writes at most this many. */
#define METRICS_SUP_MAX_FDS	1

struct metrics_sup {
	pid_t		 pid;		/* the metrics process; 0: none */
	int		 chan;		/* the master's end of its channel; -1 */
	enum slot_kill	 kill;		/* what the master sent it */
	uint64_t	 started_ms, respawn_at_ms, backoff_ms;
	uint64_t	 heard_ms;	/* its last heartbeat read */
	uint64_t	 abort_at_ms;	/* SLOT_KILL_ABORT: when */
	unsigned	 serial;	/* the sockets' serial it was forked with */
};

void	metrics_sup_init(struct metrics_sup *);
/* Starts the metrics process if the sockets want one and it is due. */
void	metrics_sup_respawn(struct metrics_sup *, const struct metrics *socks,
	    const struct metrics_args *, uint64_t now_ms);
/*
 * Once a turn: reads its heartbeats, and kills a metrics process that has
 * sent none for timeout_ms (worker_timeout) as a hung worker is killed:
 * SIGABRT (and SIGCONT), then SIGKILL HEALTH_ABORT_GRACE_MS later.
 */
void	metrics_sup_check(struct metrics_sup *, uint64_t timeout_ms,
	    uint64_t now_ms);
/* Was pid the metrics process?  Then it is forgotten, the death logged,
 * and the next one due after a backoff (at once if the master killed it
 * or asked it to end). */
bool	metrics_sup_reaped(struct metrics_sup *, pid_t pid, int status,
	    uint64_t now_ms);
/* The backoff after a death of its own, lived_ms after its start, the
 * last one prev_ms: the workers' rule (pool.h) within the bounds above. */
uint64_t metrics_sup_backoff(uint64_t prev_ms, uint64_t lived_ms);
/* Tells the metrics process to end (its channel closes); a new one starts
 * from metrics_sup_respawn() once it is reaped.  For a reload, the stop
 * and the end. */
void	metrics_sup_restart(struct metrics_sup *);
/* A process forked for sockets or a user since changed (a reload's
 * observe_commit()) is told to end, as metrics_sup_restart() does.  Before
 * metrics_sup_fds(): a channel closed later would stay on that list. */
void	metrics_sup_sync(struct metrics_sup *, const struct metrics *socks);
/* Its channel, for the workers to close: appends, returns how many. */
size_t	metrics_sup_fds(const struct metrics_sup *, int *out);
/* When the next respawn is due; UINT64_MAX if none waits. */
uint64_t metrics_sup_next_respawn(const struct metrics_sup *,
	    const struct metrics *socks);

#endif
