/* source.h - per-source state shared by the whole pool: open TCP
 * connections per client address, and a UDP token bucket per address.
 * IPv6 clients count by /64, the block one subscriber usually gets. */
#ifndef ECHOD_SOURCE_H
#define ECHOD_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define SOURCE_SLOT_ENTRIES	1024	/* distinct sources one worker tracks */
#define SOURCE_UDP_ENTRIES	65536	/* UDP buckets, pool-wide */
#define SOURCE_UDP_PROBE	8

struct source_key {
	uint64_t	 hi, lo;
};

struct source_shared;

/* Maps the shared tables (before forking); NULL with errno. */
struct source_shared *source_init(unsigned slots);
/* Forgets a dead worker's connections (the master, at reap). */
void	source_forget_slot(struct source_shared *, int slot);

/* The key of a client address; false if it is not IP. */
bool	source_key(const struct sockaddr *, struct source_key *);

/* TCP: open connections from key across the pool (slots [0, nslots)). */
uint64_t source_tcp_count(struct source_shared *, const struct source_key *,
	    unsigned nslots);
/* Records one more (+1) or one fewer (-1) connection of this worker's;
 * false if its table is full (the connection goes uncounted). */
bool	source_tcp_add(struct source_shared *, int slot,
	    const struct source_key *, int delta);

/* UDP: takes a token from key's bucket (rate per second, burst); false
 * when the bucket is empty. */
bool	source_udp_allow(struct source_shared *, const struct source_key *,
	    uint32_t rate, uint32_t burst, uint64_t now_ms);

#endif
