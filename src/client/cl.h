/*
 * cl.h - what every part of echo-client shares: exit codes, deadlines,
 * durations in words.  Clocks and read and write loops are src/common's.
 */
#ifndef ECHOD_CL_H
#define ECHOD_CL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Exit codes.  The sysexits(3) values where one fits, so that scripts can
 * tell "you called me wrong" from "the server is not there" from "the
 * server answered wrong".
 */
enum cl_status {
	CL_OK = 0,
	CL_MISMATCH = 1,	/* the echo differs from what was sent */
	CL_USAGE = 64,		/* EX_USAGE */
	CL_UNAVAIL = 69,	/* EX_UNAVAILABLE: name or connection */
	CL_IOERR = 74,		/* EX_IOERR: the connection failed after connect */
	CL_TIMEOUT = 75,	/* EX_TEMPFAIL: connect or reply timed out */
};

#define CL_ERRLEN	512

/*
 * Milliseconds left until deadline_ns (now_nsec()'s clock), for poll();
 * -1 when there is none.
 */
int		cl_ms_left(uint64_t deadline_ns, uint64_t now_ns);
/* The deadline timeout_ms from now, or 0 (none) for a timeout of 0. */
uint64_t	cl_deadline(int timeout_ms);
/*
 * Waits until fd has one of events or deadline_ns (0: none) passes, going
 * on after a signal: 1 when ready, 0 at the deadline, -1 with errno.
 */
int		cl_wait(int fd, short events, uint64_t deadline_ns);
/* "10 s", "0.3 s", "250 ms": a duration in milliseconds, for messages. */
const char	*cl_fmt_ms(uint64_t ms, char *buf, size_t buflen);
/*
 * The calling thread's CPU time (user and system) in ns: what tells a load
 * generator that was the limit from one that was not.
 */
uint64_t	cl_thread_cpu_ns(void);

#endif
