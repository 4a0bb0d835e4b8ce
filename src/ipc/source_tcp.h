/* source_tcp.h - open TCP connections per source, pool-wide: one table
 * per worker slot, written by its worker alone, read by all. */
#ifndef ECHOD_SOURCE_TCP_H
#define ECHOD_SOURCE_TCP_H

#include <stdint.h>

#include "source_key.h"

struct source_shared;

/*
 * Distinct sources with open connections one worker can track: its
 * descriptor limit (it cannot hold more connections than that), rounded up
 * to a power of two, within these bounds.  Each worker's table has twice as
 * many entries; at SOURCE_TCP_MAX that is 4096 slots * 16384 * 16 bytes of
 * address space, reserved but never touched unless used.
 */
#define SOURCE_TCP_MIN		64
#define SOURCE_TCP_MAX		8192

/* Sources one worker tracks under a descriptor limit (the rule above). */
unsigned source_tcp_capacity(uint64_t nofile);
/* Forgets a dead worker's connections (the master, at reap). */
void	source_forget_slot(struct source_shared *, int slot);

/*
 * Open connections from key across the pool (slots [0, nslots)) into
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

#endif
