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

struct chan_page;
struct chan_counters;

#define STATS_MAX_WORKERS	4096	/* == CHAN_MAX_SLOTS (asserted) */
#define STATS_VERSION_LEN	32

/* Why a TCP connection closed. */
enum stats_close {
	STATS_CLOSE_EOF,		/* "eof": the client closed, all echoed */
	STATS_CLOSE_IDLE,		/* "idle_timeout" */
	STATS_CLOSE_ERROR,		/* "error": reset, send failure... */
	STATS_CLOSE_DRAINED,		/* "drained": shutdown_timeout at stop
					 * or reload */
	STATS_CLOSE_WORKER_EXIT,	/* "worker_exit": open when its worker
					 * died or quit (counted by the master) */
	STATS_CLOSE_COUNT
};

enum stats_proto {
	STATS_PROTO_TCP,		/* "tcp" */
	STATS_PROTO_UDP,		/* "udp" */
	STATS_PROTO_COUNT
};

/* Why a TCP client was closed at the door, before any byte was echoed. */
enum stats_refuse {
	STATS_REFUSE_DENY,		/* "deny": the allow/deny lists */
	STATS_REFUSE_SOURCE_LIMIT,	/* "source_limit":
					 * max_connections_per_source */
	STATS_REFUSE_SOURCE_TABLE,	/* "source_table": a limit is set and
					 * the source could not be counted */
	STATS_REFUSE_EMFILE,		/* "emfile": shed, out of descriptors */
	STATS_REFUSE_PROXY,		/* "proxy": a bad PROXY header, or none
					 * within proxy_timeout */
	STATS_REFUSE_CONN_RATE,		/* "conn_rate": tcp_rate_limit */
	STATS_REFUSE_COUNT
};

/* Why a datagram was not echoed. */
enum stats_drop {
	STATS_DROP_LOOP_GUARD,		/* "loop_guard": from a service port */
	STATS_DROP_RATE_LIMIT,		/* "rate_limit" */
	STATS_DROP_DENY,		/* "deny" */
	STATS_DROP_TRUNCATED,		/* "truncated": larger than the buffer */
	STATS_DROP_SEND_FAILED,		/* "send_failed" */
	STATS_DROP_COUNT
};

/* How a worker process ended. */
enum stats_exit {
	STATS_EXIT_CLEAN,		/* "exit_0" */
	STATS_EXIT_CODE,		/* "exit_code": exited non-zero */
	STATS_EXIT_CRASH,		/* "crash": SIGSEGV, SIGABRT... */
	STATS_EXIT_SIGNAL,		/* "signal": killed from outside */
	STATS_EXIT_KILLED,		/* "killed_by_master": hung, or still
					 * draining past its deadline */
	STATS_EXIT_COUNT
};

enum stats_reload {
	STATS_RELOAD_OK,		/* "ok" */
	STATS_RELOAD_FAILED,		/* "failed" */
	STATS_RELOAD_COUNT
};

enum stats_wstate {
	STATS_WSTATE_STARTING,		/* "starting": forked, not yet serving */
	STATS_WSTATE_SERVING,		/* "serving" */
	STATS_WSTATE_DRAINING,		/* "draining": finishing, then exits */
	STATS_WSTATE_COUNT
};

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
