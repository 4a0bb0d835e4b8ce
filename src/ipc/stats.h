/*
 * stats.h - echod's counters: what the workers count, what the master
 * keeps of the dead ones, and one consistent snapshot of both for anyone
 * who maps the page (channel.h), read-only or not.
 *
 * The label sets are enums with name tables: formatters (STATUS, the
 * control socket, Prometheus) loop to *_COUNT and print stats_*_name(),
 * never a list of their own.  A new reason goes before its *_COUNT, with
 * its name added to the table in stats.c; nothing else changes.
 */
#ifndef ECHOD_STATS_H
#define ECHOD_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "stats_labels.h"

struct chan_page;
struct chan_counters;

const char *stats_close_name(enum stats_close);
const char *stats_proto_name(enum stats_proto);
const char *stats_refuse_name(enum stats_refuse);
const char *stats_drop_name(enum stats_drop);
const char *stats_exit_name(enum stats_exit);
const char *stats_reload_name(enum stats_reload);
const char *stats_wstate_name(enum stats_wstate);

/* Counters of the traffic, one worker's or the pool's since start. */
struct stats_counts {
	uint64_t	accepted;		/* TCP connections admitted */
	uint64_t	open;			/* open now */
	uint64_t	closed[STATS_CLOSE_COUNT];
	uint64_t	bytes[STATS_PROTO_COUNT];	/* echoed */
	uint64_t	datagrams;		/* echoed */
	uint64_t	refused[STATS_REFUSE_COUNT];
	uint64_t	dropped[STATS_DROP_COUNT];
	/* Times a worker reached max_connections and stopped accepting.  Not
	 * a refusal: its clients wait in the listen queue for a worker with
	 * room, and none is closed. */
	uint64_t	full;
	/* Log lines about a source not written: over its log budget or the
	 * pool's (logbudget.h), said in summaries instead. */
	uint64_t	log_suppressed;
};

struct stats_worker {
	pid_t			pid;
	int			slot;
	unsigned		generation;
	enum stats_wstate	state;
	int64_t			start_ms;	/* CLOCK_REALTIME, ms */
	uint64_t		heartbeat_age_ms;
	uint64_t		open, accepted;
	uint64_t		bytes;		/* TCP and UDP */
};

/* About 230 KB: allocate it (static or malloc), not on the stack. */
struct stats_snapshot {
	char			version[STATS_VERSION_LEN];	/* or "invalid" */
	pid_t			master_pid;
	unsigned		generation;	/* the current one */
	int64_t			start_ms;	/* CLOCK_REALTIME, ms */
	/* Since start, live workers' and dead ones' alike: never go down. */
	struct stats_counts	totals;
	uint64_t		reloads[STATS_RELOAD_COUNT];
	uint64_t		exits[STATS_EXIT_COUNT];
	uint64_t		respawns;	/* workers started after a death */
	bool			fallback;	/* the stored configuration serves */
	unsigned		workers[STATS_WSTATE_COUNT];	/* by state */
	int			nworkers;	/* worker[0, nworkers) */
	struct stats_worker	worker[STATS_MAX_WORKERS];	/* by slot */
};

/*
 * One consistent snapshot of the page: no total ever lower than in an
 * earlier snapshot, even while the master folds a dead worker's counts into
 * its own (a sequence lock; the reader retries).  Writes nothing, so any
 * process that maps the page read-only can call it.  Returns 0, or -1 with
 * errno EAGAIN when the master kept writing through every retry.  What
 * workers wrote is believed: it is for reporting, never for decisions.
 * But no bound is taken from the page, and a version other than letters,
 * digits and ".+-~_" ended within its field reads as "invalid".
 */
int	stats_read(const struct chan_page *, struct stats_snapshot *);
/* The total of a labelled counter: v[0] + ... + v[n - 1]. */
uint64_t stats_sum(const uint64_t *v, size_t n);

/* ---- the writers ------------------------------------------------------- */

/* A worker, once a turn: its counts to its own slot (relaxed stores). */
void	stats_publish(struct chan_counters *, const struct stats_counts *);

/* The master's own record: a private copy, written to the page after each
 * change and never read back from it (any worker can write the page). */
struct stats_book {
	pid_t			pid;
	unsigned		generation;
	int64_t			start_ms;
	struct stats_counts	retired;	/* dead workers' final counts */
	uint64_t		reloads[STATS_RELOAD_COUNT];
	uint64_t		exits[STATS_EXIT_COUNT];
	uint64_t		respawns;
	bool			fallback;
};

void	stats_start(struct stats_book *, struct chan_page *, unsigned generation);
/* A worker forked into slot; respawn: after one that died there. */
void	stats_worker_started(struct stats_book *, struct chan_page *, int slot,
	    pid_t, unsigned generation, bool respawn);
void	stats_worker_draining(struct chan_page *, int slot);
/* A worker reaped: its counts are folded into the retired totals, its open
 * connections counted closed by STATS_CLOSE_WORKER_EXIT, its slot cleared. */
void	stats_worker_gone(struct stats_book *, struct chan_page *, int slot,
	    enum stats_exit);
/* A reload that succeeds also ends a fallback: its file was accepted. */
void	stats_reloaded(struct stats_book *, struct chan_page *, bool ok,
	    unsigned generation);
/* Serving the stored configuration because the file was refused (main.c). */
void	stats_fallback(struct stats_book *, struct chan_page *, bool);

#endif
