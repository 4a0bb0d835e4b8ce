/*
 * cl_bench.h - the load generator: many non-blocking connections per
 * thread on one epoll each, every echoed byte verified.
 */
#ifndef ECHOD_CL_BENCH_H
#define ECHOD_CL_BENCH_H

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
	size_t			 size;		/* bytes per message */
	uint64_t		 duration_ms;	/* or ... */
	uint64_t		 count;		/* ... this many operations */
	int			 threads;
	int			 timeout_ms;	/* connect and each reply; 0: none */
	FILE			*ready;		/* CL_IDLE: told when all are open */
};

struct cl_bench_result {
	uint64_t	elapsed_ns;
	uint64_t	ops;		/* round trips, or connections */
	uint64_t	bytes;		/* echoed bytes received and verified */
	uint64_t	opened;		/* connections established */
	uint64_t	errors;		/* failed connects, resets, early EOFs */
	uint64_t	timeouts;
	uint64_t	mismatches;
	struct cl_hist	lat;		/* nanoseconds */
};

const char	*cl_pattern_name(enum cl_pattern p);
int		 cl_pattern_parse(const char *s, enum cl_pattern *p);

/*
 * Runs the load; returns an enum cl_status (CL_MISMATCH if any byte came
 * back wrong, CL_IOERR if any connection failed, CL_UNAVAIL if none
 * could be opened) with the first problem described in err.
 */
int	cl_bench_run(const struct cl_bench_opts *o, struct cl_bench_result *r,
	    char *err, size_t errlen);
void	cl_bench_print(FILE *f, const struct cl_bench_opts *o,
	    const struct cl_bench_result *r);

#endif
