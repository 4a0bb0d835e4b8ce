/*
 * channel.h - the contract between the master and its workers, as nginx's
 * ngx_channel.h: the orders on the channel from master to worker, and the page
 * of per-slot statistics both map.  Both sides include this header and
 * neither includes the other's: a change here is a change of protocol.
 */
#ifndef ECHOD_CHANNEL_H
#define ECHOD_CHANNEL_H

#include <stdatomic.h>
#include <stdint.h>

#include "stats_labels.h"

/* Slots in the page: (1 + POOL_MAX_DRAINING) * CONF_MAX_WORKERS. */
#define CHAN_MAX_SLOTS		4096

/* Orders, one-byte messages on the channel (a SOCK_SEQPACKET socketpair)
 * from master to worker.  EOF means the master is gone: exit now.  The
 * messages that carry connections both ways are handoff_wire.h's. */
#define CHAN_CMD_DRAIN		'D'	/* stop accepting, finish, exit */
#define CHAN_CMD_QUIT		'Q'	/* exit now */
#define CHAN_CMD_UNHEALTHY	'U'	/* stopping soon: fail balancer health checks */
#define CHAN_CMD_HANDOFF	'H'	/* stop accepting, hand every connection
					 * to the master, exit */

/* What a worker publishes: written by its event loop, read by the master
 * and by its peers (balancing).  One cache line per slot. */
struct chan_stats {
	_Atomic uint64_t	heartbeat_ms;	/* now_coarse_ms() of its last loop */
	_Atomic uint64_t	connections;	/* open now */
	_Atomic uint64_t	accepted;	/* since start */
	_Atomic uint64_t	bytes;		/* echoed since start */
	_Atomic uint32_t	ready;		/* set up and serving */
	_Atomic uint32_t	serving;	/* a peer for balancing: not draining */
	_Atomic uint32_t	armed;		/* accepting right now */
	char			pad[64 - 4 * 8 - 3 * 4];
};

/* A worker's counts (stats.h's struct stats_counts but for open, which is
 * connections above): written by its worker only, once a turn. */
struct chan_counters {
	_Atomic uint64_t	accepted;
	_Atomic uint64_t	closed[STATS_CLOSE_COUNT];
	_Atomic uint64_t	bytes[STATS_PROTO_COUNT];
	_Atomic uint64_t	datagrams;
	_Atomic uint64_t	refused[STATS_REFUSE_COUNT];
	_Atomic uint64_t	dropped[STATS_DROP_COUNT];
	_Atomic uint64_t	full;
	_Atomic uint64_t	log_suppressed;
};

/* What the master says of a slot, for reports. */
#define CHAN_SLOT_NONE		0
#define CHAN_SLOT_RUNNING	1
#define CHAN_SLOT_DRAINING	2
struct chan_slotinfo {
	_Atomic int32_t		pid;
	_Atomic uint32_t	generation;
	_Atomic uint32_t	state;		/* CHAN_SLOT_* */
	_Atomic int64_t		start_ms;	/* CLOCK_REALTIME */
};

/* The master's area, written by the master only (stats.c), under seq: odd
 * while it writes, so that a reader retries rather than see a dead worker's
 * counts in neither place or in both. */
struct chan_master {
	_Atomic uint32_t	seq;
	_Atomic int32_t		pid;
	_Atomic uint32_t	generation;
	_Atomic int64_t		start_ms;	/* CLOCK_REALTIME */
	char			version[STATS_VERSION_LEN];	/* set before any fork */
	struct chan_counters	retired;	/* dead workers' final counts */
	_Atomic uint64_t	reloads[STATS_RELOAD_COUNT];
	_Atomic uint64_t	exits[STATS_EXIT_COUNT];
	_Atomic uint64_t	respawns;
	_Atomic uint32_t	fallback;	/* 1: the stored configuration
						 * serves, the file was refused */
	struct chan_slotinfo	slot[CHAN_MAX_SLOTS];
};

/*
 * The shared mapping.  The master writes hw, master and, before each fork,
 * the slot's entries; afterwards only that slot's worker writes its stats
 * and counters.
 * Workers can write the whole page, so the master never takes a bound or a
 * decision from it that could make it misbehave: it keeps its own copy of hw.
 */
struct chan_page {
	_Atomic uint32_t	hw;		/* slots used so far: [0, hw) */
	char			pad[60];
	struct chan_stats	stats[CHAN_MAX_SLOTS];
	struct chan_master	master;
	struct chan_counters	counters[CHAN_MAX_SLOTS];	/* one per slot */
};

#endif
