/*
 * cl_bconn.h - private to the load generator (cl_bench.c, cl_bconn.c): one
 * thread's connections and what the threads share.  cl_bconn.c moves each
 * connection through its states and checks every byte of its echo;
 * cl_bench.c runs the threads through their phases and adds up the result.
 */
#ifndef ECHOD_CL_BCONN_H
#define ECHOD_CL_BCONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cl.h"
#include "cl_bench_opts.h"
#include "cl_hist.h"

#define CL_BCONN_PRIME		65521		/* the block's period */
#define CL_BCONN_IOBUF		262144	/* one read; bulk's reads cost the
					   generator less than the server's */
#define CL_BCONN_BLOCK_LEN	(CL_BCONN_PRIME + CL_BENCH_MAXSIZE + CL_BCONN_IOBUF)

enum cl_bconn_state { C_FREE, C_CONNECTING, C_OPEN, C_BUSY, C_DRAIN };

struct cl_bconn {
	int			 fd;
	enum cl_bconn_state	 state;
	unsigned		 id;
	uint32_t		 seq;
	int			 out;		/* EPOLLOUT is registered */
	size_t			 off;		/* the message's offset in the block */
	size_t			 wpos, rpos;	/* within the message */
	uint64_t		 wtot, rtot;	/* within the stream (bulk) */
	uint64_t		 t_start;	/* when the connection or message began */
	uint64_t		 deadline;	/* for a reply or a connect; 0: none */
};

/* One run's, shared by every thread. */
struct cl_bshared {
	const char		*block;		/* what is sent; CL_BCONN_BLOCK_LEN */
	atomic_uint_least64_t	 done_ops;	/* towards -n */
	atomic_int		 stop_all;	/* any thread: the clock stops */
};

/* One thread: its connections on its own epoll, and its figures. */
struct cl_bworker {
	pthread_t		 th;
	const struct cl_bench_opts *o;
	struct cl_bshared	*sh;
	int			 ep;
	struct cl_bconn		*c;
	int			 n;
	int			 connecting;
	int			 running;	/* measuring */
	int			 stopping;
	uint64_t		 t_end;
	uint64_t		 ops, bytes, opened, errors, timeouts, mismatches;
	uint64_t		 ops_all, bytes_all;	/* measured or not */
	uint64_t		 cpu_ns;	/* the thread's, while measuring */
	struct cl_hist		 lat;
	char			 err[CL_ERRLEN];
	char			 buf[CL_BCONN_IOBUF];
};

/* Fills block (CL_BCONN_BLOCK_LEN bytes): pseudo-random, period PRIME. */
void	cl_bconn_block_fill(char *block);
/* Starts a non-blocking connect on c; a failure is counted and noted. */
void	cl_bconn_open(struct cl_bworker *, struct cl_bconn *);
void	cl_bconn_close(struct cl_bworker *, struct cl_bconn *);
/* The clock starts: c begins its pattern (connect, or its first message). */
void	cl_bconn_start(struct cl_bworker *, struct cl_bconn *);
/* The clock stopped: c half-closes if idle; busy, it ends its round trip. */
void	cl_bconn_stop(struct cl_bworker *, struct cl_bconn *);
/* Waits up to timeout ms on the thread's epoll and moves what is ready. */
void	cl_bconn_dispatch(struct cl_bworker *, int timeout);
/* Closes (and notes) every connection whose deadline is before now. */
void	cl_bconn_expire(struct cl_bworker *, uint64_t now);
/* Any connect in flight, or any round trip (opening) / connection open. */
int	cl_bconn_busy(const struct cl_bworker *, int opening);

#endif
