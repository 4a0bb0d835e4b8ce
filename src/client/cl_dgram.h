/*
 * cl_dgram.h - the UDP conversation: each chunk of input (a line on a
 * terminal, up to io->dgram_max bytes from a pipe) goes out as one
 * datagram, and its echo is awaited before the next one is sent.
 */
#ifndef ECHOD_CL_DGRAM_H
#define ECHOD_CL_DGRAM_H

#include "cl_stream.h"

/* io->sock is a connected UDP socket; lines: one datagram per line. */
int	cl_dgram_run(const struct cl_io *io, int lines, struct cl_tally *t,
	    char *err, size_t errlen);

#endif
