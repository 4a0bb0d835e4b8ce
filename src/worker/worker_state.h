/*
 * worker_state.h - what a worker's own files share, and nobody else: only
 * the worker_*.c files and conn_end.c include it (pool.c and the rest see
 * worker.h).  As master_state.h does for the master, one struct
 * holds the worker's state; it is no global: the one instance is
 * worker_main()'s, and every function below takes it by pointer, so what a
 * function touches is in its signature.  Beside it, the epoll tags; the
 * calls the files make are in each file's own header.
 */
#ifndef ECHOD_WORKER_STATE_H
#define ECHOD_WORKER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admit.h"
#include "channel.h"
#include "conf.h"
#include "conn.h"
#include "udp_batch.h"
#include "fault.h"
#include "gate.h"
#include "handoff_worker.h"
#include "listen.h"
#include "log.h"
#include "logbudget.h"
#include "proxy_conn.h"
#include "pump.h"
#include "source.h"
#include "stats.h"
#include "udp.h"

/* epoll tags: a connection's pointer, or a watch with the top bit set
 * (user-space pointers never have it). */
#define WATCH		(1ULL << 63)
#define WATCH_INDEX	0xffffffffULL	/* the listener's index */
#define WATCH_CMD	(WATCH | WATCH_INDEX)
#define WATCH_OWN	(1ULL << 62)	/* a UDP listener's shard of ours */

struct worker {
	const struct conf	*conf;
	const struct listeners	*ls;
	int			*own;		/* per listener: its UDP shard for
						 * our rank (shard.h), or -1 */
	uint64_t		 unwatched_ms;	/* read_unwatched() last ran */
	struct chan_page	*shared;
	struct source_shared	*sources;
	int			 slot;
	unsigned		 generation;
	struct chan_stats	*stats;		/* its line on the page: heartbeat,
						 * load, serving, ready */
	struct chan_counters	*counters;	/* its counters on the page */
	bool			 resolving;	/* resolve_clients: a thread names clients */
	int			 ep;
	int			 cmd_fd;
	struct gate		 gate;		/* the TCP listeners, open or closed */
	struct pump		 pump;		/* one round's pipe and buffer, shared by all */
	int			 nfirst;	/* last turn's events before the
						 * streams (turn.h) */
	struct udp_batch	 dgram;		/* UDP: one batch's slots */
	bool			 draining;
	bool			 unhealthy;	/* stop_delay: fail health checks */
	uint64_t		 deadline_ms;	/* draining: shut, then close what is left */
	bool			 shut;		/* past the first deadline: conn_shut() */
	uint64_t		 now_ms;
	uint64_t		 nconns, accepted, bytes;
	uint64_t		 adopted;	/* handed to us, since start */
	bool			 handoff;	/* ordered: hand over after the batch */
	bool			 handing;	/* worker_hand_over() runs */
	struct fault_limits	 limits;	/* as the master gave them */
	uint64_t		 limits_ms;	/* when they were last compared */
	struct conn_list	 conns;		/* by last progress, oldest first */
	struct conn_list	 waiting;	/* for their PROXY header, by deadline */
	struct proxy_conn_counters	 px;
	struct udp_counters	 udp;
	struct logbudget	 logs;		/* lines about sources (logbudget.h) */
	struct stats_counts	 count;	/* closes, refusals, fills; the rest
					 * is copied in by publish() */
};

/*
 * The worker's files call each other downward only, in this order (no
 * two need each other): worker_admit.c and worker_log.c, then conn_end.c,
 * then worker_accept.c and worker_drain.c, then worker.c.  Each declares
 * what it offers in its own header (worker_admit.h and so on).
 */

#endif
