/*
 * cl_bench_opts.h - what a load generator run is asked for and what it
 * found: the types cl_bench.c shares with the connections (cl_bconn.c)
 * and the datagram sources (cl_bdgram.c) it runs, so that their headers
 * need not include cl_bench.h.
 */
#ifndef ECHOD_CL_BENCH_OPTS_H
#define ECHOD_CL_BENCH_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cl_hist.h"
#include "cl_net.h"

enum cl_pattern {
	CL_PINGPONG,	/* send a message, await its echo, again */
	CL_CONNECT,	/* connect, echo one message, half-close, await EOF */
	CL_BULK,	/* stream both ways at once, as fast as it goes */
	CL_IDLE,	/* connect, echo one message, then hold the connection */
};

#define CL_BENCH_MAXSIZE	(1024 * 1024)

struct cl_bench_opts {
	const struct cl_target	*target;
	enum cl_pattern		 pattern;
	int			 conns;		/* concurrent connections */
	size_t			 size;		/* bytes per message, or per write (bulk) */
	size_t			 rsize;		/* the most one recv takes; 0: all
						   of CL_BCONN_IOBUF */
	size_t			 window;	/* bulk: most bytes sent and not yet
						   echoed; 0: what the socket takes */
	int			 udp;		/* datagrams: conns are sources, each
						   with one datagram in flight */
	uint64_t		 duration_ms;	/* or ... */
	uint64_t		 count;		/* ... this many operations */
	int			 threads;
	int			 timeout_ms;	/* connect and each reply; 0: none.
						   udp: a datagram is lost after it */
	FILE			*ready;		/* CL_IDLE: told when all are open */
};

struct cl_bench_result {
	uint64_t	elapsed_ns;
	uint64_t	ops;		/* round trips, or connections */
	uint64_t	bytes;		/* echoed bytes received and verified */
	/* What the server did over the whole run, the opening and the drain
	 * included: what a count of its system calls is divided by. */
	uint64_t	ops_all, bytes_all;
	uint64_t	cpu_ns;		/* the threads' CPU time while measuring */
	int		threads;
	uint64_t	opened;		/* connections established */
	uint64_t	errors;		/* failed connects, resets, early EOFs */
	uint64_t	timeouts;
	uint64_t	mismatches;
	uint64_t	lost;		/* udp: no echo within the timeout */
	uint64_t	late;		/* udp: an echo after its datagram was lost */
	struct cl_hist	lat;		/* nanoseconds */
};

#endif
