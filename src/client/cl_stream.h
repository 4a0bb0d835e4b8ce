/*
 * cl_stream.h - one TCP conversation driven by standard input: the pipe
 * mode (binary, full duplex, half-close at EOF) and the interactive mode
 * (a line, its echo, the next line).
 */
#ifndef ECHOD_CL_STREAM_H
#define ECHOD_CL_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct cl_io {
	int	sock;		/* connected, blocking */
	int	in;		/* what to send */
	int	out;		/* where the echo goes, or -1 */
	int	check;		/* compare the echo with what was sent */
	int	timeout_ms;	/* for each reply; 0: wait for ever */
	size_t	dgram_max;	/* UDP: the largest datagram to send */
};

struct cl_tally {
	uint64_t	sent;
	uint64_t	received;
	uint64_t	mismatch_at;	/* offset of the first difference */
};

/*
 * Both return an enum cl_status; anything but CL_OK comes with a message
 * in err.  CL_MISMATCH sets t->mismatch_at.
 */
int	cl_stream_pipe(const struct cl_io *io, struct cl_tally *t, char *err,
	    size_t errlen);
int	cl_stream_lines(const struct cl_io *io, struct cl_tally *t, char *err,
	    size_t errlen);

#endif
