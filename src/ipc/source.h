/* source.h - per-source state shared by the whole pool: open TCP
 * connections per client address, and a UDP token bucket per address.
 * IPv6 clients count by /64, the block one subscriber usually gets. */
#ifndef ECHOD_SOURCE_H
#define ECHOD_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Distinct sources with open connections one worker can track: its
 * descriptor limit (it cannot hold more connections than that), rounded up
 * to a power of two, within these bounds.  Each worker's table has twice as
 * many entries; at SOURCE_TCP_MAX that is 4096 slots * 16384 * 16 bytes of
 * address space, reserved but never touched unless used.
 */
#define SOURCE_TCP_MIN		64
#define SOURCE_TCP_MAX		8192
#define SOURCE_UDP_ENTRIES	65536	/* UDP buckets, pool-wide */
#define SOURCE_UDP_PROBE	8	/* a source's window of buckets */

struct source_key {
	uint64_t	 id;		/* IPv4 address, or IPv6 /64 prefix */
	uint8_t		 v6;
};

struct source_shared;

/* Sources one worker tracks under a descriptor limit (the rule above). */
unsigned source_tcp_capacity(uint64_t nofile);
/* Maps the shared tables for `slots` workers that each track up to
 * `sources` distinct sources (before forking); NULL with errno. */
struct source_shared *source_init(unsigned slots, unsigned sources);
/* Unmaps the tables from this process (one that never reads them, such
 * as the metrics process).  Returns 0, or -1 with errno. */
int	source_unmap(struct source_shared *);
/* Forgets a dead worker's connections (the master, at reap). */
void	source_forget_slot(struct source_shared *, int slot);

/* The key of a client address; false if it is not IP. */
bool	source_key(const struct sockaddr *, struct source_key *);

/*
 * TCP: open connections from key across the pool (slots [0, nslots)) into
 * *total; -1 with EAGAIN if a worker was rewriting its table all along
 * (the caller should refuse rather than guess).
 */
int	source_tcp_count(struct source_shared *, const struct source_key *,
	    unsigned nslots, uint64_t *total);
/* Records one more (+1) or one fewer (-1) connection of this worker's.
 * -1 with ENOSPC when the worker already tracks as many sources as it may,
 * or ENOMEM: the connection is not counted. */
int	source_tcp_add(struct source_shared *, int slot,
	    const struct source_key *, int delta);

/*
 * UDP: takes a token from key's bucket (rate per second, burst); false
 * when the bucket is empty.  now_ms may differ between callers (each
 * worker's loop clock) and may even go backwards: the tokens handed out
 * from a source's first datagram to its last never exceed
 * burst + rate * (the newest now_ms - the first now_ms).
 */
bool	source_udp_allow(struct source_shared *, const struct source_key *,
	    uint32_t rate, uint32_t burst, uint64_t now_ms);

/*
 * The same buckets, for other things a source may do at a rate: each kind
 * is a bucket of its own in the UDP table.  One token per interval_ns (see
 * source_interval()), at most burst saved up.
 */
enum source_bucket {
	SOURCE_BUCKET_UDP,	/* datagrams: source_udp_allow() */
	SOURCE_BUCKET_TCP,	/* new connections: tcp_rate_limit */
	SOURCE_BUCKET_LOG,	/* log lines: log_source_rate */
	SOURCE_BUCKET_SUMMARY,	/* the "not logged" line: one per 10 s */
};
bool	source_rate_allow(struct source_shared *, enum source_bucket,
	    const struct source_key *, uint64_t interval_ns, uint32_t burst,
	    uint64_t now_ms);
/* Nanoseconds between tokens at rate per second, rounded up. */
uint64_t source_interval(uint32_t rate);
/* One bucket for the whole pool, whatever the source: log_rate_limit. */
bool	source_pool_allow(struct source_shared *, uint64_t interval_ns,
	    uint32_t burst, uint64_t now_ms);

#endif
