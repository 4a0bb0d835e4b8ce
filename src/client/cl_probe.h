/*
 * cl_probe.h - check_echo's probe: a few echoes over one connected socket,
 * judged against round-trip and loss thresholds the way the monitoring
 * plugins judge (check_ping's "RTT,LOSS%"), and the one line with
 * performance data those systems read.
 */
#ifndef ECHOD_CL_PROBE_H
#define ECHOD_CL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cl.h"

/* The monitoring plugins' exit codes. */
enum cl_probe_state {
	PROBE_OK = 0,
	PROBE_WARNING = 1,
	PROBE_CRITICAL = 2,
	PROBE_UNKNOWN = 3,
};

#define PROBE_MAX_COUNT	1000
#define PROBE_MIN_SIZE	24	/* room for the probe's number and tag */
#define PROBE_MAX_SIZE	65507

/* A threshold: the average round trip in ms and the share lost in %. */
struct cl_probe_limit {
	double	rtt_ms;
	double	loss_pct;
};

/*
 * Reads "RTT,LOSS%" (e.g. "100,20%" or "0.5,0%"); the % is optional.
 * Returns 0, or -1 with the reason in why.
 */
int	cl_probe_limit_parse(const char *s, struct cl_probe_limit *l,
	    char *why, size_t whylen);

struct cl_probe_opts {
	int		 sock;		/* connected; blocking or not */
	bool		 udp;
	int		 count;		/* probes, 1..PROBE_MAX_COUNT */
	size_t		 size;		/* bytes per probe */
	int		 wait_ms;	/* the longest wait for one echo */
	uint64_t	 deadline_ns;	/* now_nsec() clock; the whole run */
};

struct cl_probe_result {
	int	 sent, echoed;
	double	 rtt_sum_ms, rtt_max_ms;
	bool	 wrong;		/* an echo differed: critical whatever else */
	bool	 timed_out;	/* the whole run's deadline came first */
	char	 err[CL_ERRLEN];	/* the first failure, if any */
};

/* Sends the probes one after the other, each waiting for its echo. */
void	cl_probe_run(const struct cl_probe_opts *, struct cl_probe_result *);

/* Lost probes in %, of count (those never sent count as lost). */
double	cl_probe_loss(const struct cl_probe_result *, int count);

/* The verdict: critical first, then warning, else ok. */
enum cl_probe_state cl_probe_judge(const struct cl_probe_result *, int count,
	    const struct cl_probe_limit *warn, const struct cl_probe_limit *crit);

/*
 * "ECHO OK - 127.0.0.1 port 7/udp: 5 of 5 echoed, loss 0%, rtt avg 0.081 ms
 * |rtt=0.081ms;100;500;0 loss=0%;20;60;0;100"
 */
void	cl_probe_print(FILE *, enum cl_probe_state, const char *target,
	    const struct cl_probe_opts *, const struct cl_probe_result *,
	    int count, const struct cl_probe_limit *warn,
	    const struct cl_probe_limit *crit);

#endif
