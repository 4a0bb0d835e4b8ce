/*
 * cl_bdgram.h - the load generator's datagram mode (echo-client -b -u):
 * many sources, each a connected UDP socket of its own (so its own source
 * port), each with one datagram in flight, every echo checked.  A datagram
 * carries its source and number, then a window of the bench's block that
 * both select, so an echo that is cut, altered, swapped between sources
 * or replayed is caught.
 */
#ifndef ECHOD_CL_BDGRAM_H
#define ECHOD_CL_BDGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "cl_bench_opts.h"
#include "cl_net.h"

#define CL_BDGRAM_HDR	8	/* source and number, big-endian */
#define CL_BDGRAM_MAX	65507

/* What cl_bdgram_check() makes of an echo. */
enum cl_bdgram_verdict {
	CL_BDG_OK,	/* the datagram in flight, whole and unchanged */
	CL_BDG_LATE,	/* one of this source's earlier datagrams, unchanged */
	CL_BDG_BAD,	/* anything else */
};

/* Datagram number seq of source id, size bytes (>= CL_BDGRAM_HDR), to buf. */
void	cl_bdgram_fill(char *buf, size_t size, const char *block, unsigned id,
	    uint32_t seq);
/*
 * Judges the n bytes in buf against datagram seq of source id, of size
 * bytes; for CL_BDG_BAD, *at is the first byte that differs (n when the
 * echo is only cut short).
 */
enum cl_bdgram_verdict cl_bdgram_check(const char *buf, size_t n, size_t size,
	    const char *block, unsigned id, uint32_t seq, size_t *at);

/*
 * Source id's connected, non-blocking UDP socket to t.  Against an address
 * in 127.0.0.0/8 it binds 127.1.0.1 + id first: each source is a client
 * address of its own, as a server's per-address limits count them.
 * -1 with errno.
 */
int	cl_bdgram_socket(const struct cl_target *t, unsigned id);

/* echod's default per-source answer rate, udp_rate_limit: echod.conf(5). */
#define CL_BDGRAM_SERVER_LIMIT	100

/*
 * A note for the user when a run's losses look like a server's per-source
 * limit rather than the network: datagrams were lost while each source
 * address could send more than CL_BDGRAM_SERVER_LIMIT a second (its
 * datagrams in flight over the median round trip).  0 with the note in
 * buf, or -1: nothing to say.
 */
int	cl_bdgram_hint(const struct cl_bench_opts *o,
	    const struct cl_bench_result *r, char *buf, size_t len);

/*
 * cl_bench_run() with o->udp: o->conns sources over o->threads threads,
 * o->timeout_ms before a datagram counts as lost and the next one goes.
 * Lost datagrams are counted, not failures; CL_TIMEOUT when every one was
 * lost, CL_MISMATCH when any echo was wrong.
 */
int	cl_bdgram_run(const struct cl_bench_opts *o, struct cl_bench_result *r,
	    char *err, size_t errlen);

#endif
