/* health.h - is every worker alive and well (hung and overdue workers,
 * whether a generation is up), and what is said about it: READY=1, STATUS,
 * the watchdog. */
#ifndef ECHOD_HEALTH_H
#define ECHOD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;
struct stats_snapshot;

/* What has been said, to systemd and to the waiting parent (detach.h). */
struct health {
	bool		 ready;		/* READY=1 for the current generation */
	bool		 started;	/* ... and for some generation once */
	uint64_t	 next_status_ms;
	uint64_t	 next_watchdog_ms;
};

/* Where the master stands this turn, for health_report(). */
struct health_goal {
	unsigned	 generation;	/* the current one ... */
	int		 target;	/* ... and the workers it should have */
	uint64_t	 worker_timeout_ms;
	bool		 stopping;
	uint64_t	 stop_deadline_ms;	/* stopping: SIGKILL at */
	const char	*refused;	/* set: this file was refused at start,
					 * the stored configuration serves */
};

#define HEALTH_STATUS_EVERY_MS	5000
#define HEALTH_STATUS_LEN	256
#define HEALTH_ABORT_GRACE_MS	500	/* SIGABRT, then SIGKILL */
/* A heartbeat this fresh counts as healthy for the watchdog: half of
 * worker_timeout, kept between these (a worker's loop ticks every second). */
#define HEALTH_FRESH_MIN_MS	1500
#define HEALTH_FRESH_MAX_MS	3000

/*
 * Kills the workers that must go, and logs why: one still draining past its
 * deadline (SIGKILL), one whose heartbeat is older than timeout_ms (SIGABRT
 * for a core, and SIGKILL HEALTH_ABORT_GRACE_MS later).  A worker already
 * sent SIGKILL is left alone.
 */
void	health_check(struct pool *, uint64_t timeout_ms, uint64_t now_ms);
/* How fresh a heartbeat must be for the watchdog, for this worker_timeout. */
uint64_t health_fresh_ms(uint64_t worker_timeout_ms);
/* The generation is up: target workers, each running and set up, and with
 * fresh_ms not 0, each with a heartbeat at most that old. */
bool	health_up(const struct pool *, unsigned generation, int target,
	    uint64_t fresh_ms, uint64_t now_ms);

/*
 * Once a turn: READY=1 (and the waiting parent released) when the goal's
 * generation is first up; STATUS every HEALTH_STATUS_EVERY_MS, with more
 * time asked for while stopping; WATCHDOG=1 while every heartbeat is fresh.
 */
void	health_report(struct health *, const struct pool *,
	    const struct health_goal *, uint64_t now_ms);
/* The STATUS= text, from the counters' snapshot. */
void	health_status_text(const struct stats_snapshot *, bool stopping,
	    char *, size_t);
/* A new generation: READY=1 again once it is up. */
void	health_new_generation(struct health *);
/* STATUS at the next report, whenever it was due. */
void	health_status_now(struct health *);

#endif
