/*
 * cl_bench.h - the load generator: many non-blocking connections (or, with
 * udp, connected datagram sockets: one source port each) per thread on one
 * epoll each, every echoed byte verified.
 */
#ifndef ECHOD_CL_BENCH_H
#define ECHOD_CL_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cl_bench_opts.h"

const char	*cl_pattern_name(enum cl_pattern p);
int		 cl_pattern_parse(const char *s, enum cl_pattern *p);

/*
 * Runs the load (o->udp: cl_bdgram.c's); returns an enum cl_status
 * (CL_MISMATCH if any byte came back wrong, CL_IOERR if any connection
 * failed, CL_UNAVAIL if none could be opened) with the first problem
 * described in err.
 */
int	cl_bench_run(const struct cl_bench_opts *o, struct cl_bench_result *r,
	    char *err, size_t errlen);
void	cl_bench_print(FILE *f, const struct cl_bench_opts *o,
	    const struct cl_bench_result *r);

#endif
