/* source_udp.h - rate buckets per source, pool-wide (GCRA): datagrams,
 * and anything else a source may do at a rate. */
#ifndef ECHOD_SOURCE_UDP_H
#define ECHOD_SOURCE_UDP_H

#include <stdbool.h>
#include <stdint.h>

struct source_shared;

#include "source_key.h"


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
