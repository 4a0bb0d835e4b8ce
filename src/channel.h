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

/* Slots in the page: (1 + POOL_MAX_DRAINING) * CONF_MAX_WORKERS. */
#define CHAN_MAX_SLOTS		4096

/* Orders, one-byte messages on the channel (a SOCK_SEQPACKET socketpair)
 * from master to worker.  EOF means the master is gone: exit now.  The
 * messages that carry connections both ways are handoff.h's. */
#define CHAN_CMD_DRAIN		'D'	/* stop accepting, finish, exit */
#define CHAN_CMD_QUIT		'Q'	/* exit now */
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

/*
 * The shared mapping.  The master writes hw and, before each fork, the
 * slot's entry; afterwards only that slot's worker writes its entry.
 * Workers can write the whole page, so the master never takes a bound or a
 * decision from it that could make it misbehave: it keeps its own copy of hw.
 */
struct chan_page {
	_Atomic uint32_t	hw;		/* slots used so far: [0, hw) */
	char			pad[60];
	struct chan_stats	stats[CHAN_MAX_SLOTS];
};

#endif
