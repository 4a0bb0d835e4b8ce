/*
 * stats_labels.h - the label sets of echod's counters, as enums that end
 * in *_COUNT, and the page's fixed sizes.  The page's layout (channel.h)
 * and the counters' code (stats.h) both use them; a new reason goes
 * before its *_COUNT here, with its name in stats.c's table.
 */
#ifndef ECHOD_STATS_LABELS_H
#define ECHOD_STATS_LABELS_H

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

#endif
