/* source.h - per-source state shared by the whole pool: the mapping both
 * tables live in, and the key a client address counts under.  IPv6 clients
 * count by /64, the block one subscriber usually gets.  The tables are in
 * source_tcp.h (open connections) and source_udp.h (rate buckets). */
#ifndef ECHOD_SOURCE_H
#define ECHOD_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "source_key.h"


struct source_shared;

/* Maps the shared tables for `slots` workers that each track up to
 * `sources` distinct sources (before forking); NULL with errno. */
struct source_shared *source_init(unsigned slots, unsigned sources);
/* Unmaps the tables from this process (one that never reads them, such
 * as the metrics process).  Returns 0, or -1 with errno. */
int	source_unmap(struct source_shared *);

/* The key of a client address; false if it is not IP. */
bool	source_key(const struct sockaddr *, struct source_key *);

#endif
