/*
 * cl_dgram.c - echo over UDP, stop and wait.  The socket is connected, so
 * only the server's datagrams arrive and an ICMP "port unreachable" comes
 * back as ECONNREFUSED instead of a silent timeout.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cl.h"
#include "cl_dgram.h"
#include "util.h"

#define DGRAM_BUF	65536

/* Reads one line (with its newline) of at most len bytes; -1 with errno. */
static ssize_t
read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	/* A byte at a time: a terminal hands over a line per read anyway. */
	while (got < len) {
		n = read(fd, buf + got, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		if (buf[got++] == '\n')
			break;
	}
	return (ssize_t)got;
}

/* Sends msg as one datagram, waits for its echo into echo, checks it (with
 * io->check) and copies it to io->out; a CL_ exit code, err says why. */
static int
echo_datagram(const struct cl_io *io, const char *msg, size_t len, char *echo,
    struct cl_tally *t, char *err, size_t errlen)
{
	uint64_t deadline;
	ssize_t n;
	size_t i;
	int rc;

	if (send(io->sock, msg, len, 0) != (ssize_t)len) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return errno == ECONNREFUSED ? CL_UNAVAIL : CL_IOERR;
	}
	t->sent += len;
	deadline = cl_deadline(io->timeout_ms);
	for (;;) {
		rc = cl_wait(io->sock, POLLIN, deadline);
		if (rc == -1) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return CL_IOERR;
		}
		if (rc == 0) {
			char d[32];
			snprintf(err, errlen, "no echo within %s of the datagram of "
			    "%zu bytes sent at byte %llu; %llu bytes came back before it",
			    cl_fmt_ms((uint64_t)io->timeout_ms, d, sizeof(d)), len,
			    (unsigned long long)(t->sent - len),
			    (unsigned long long)t->received);
			return CL_TIMEOUT;
		}
		n = recv(io->sock, echo, DGRAM_BUF, MSG_TRUNC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "receive: %s", strerror(errno));
			return errno == ECONNREFUSED ? CL_UNAVAIL : CL_IOERR;
		}
		break;
	}
	if (io->check && ((size_t)n != len || memcmp(msg, echo, len) != 0)) {
		for (i = 0; i < len && i < (size_t)n && msg[i] == echo[i]; i++)
			;
		t->mismatch_at = t->received + i;
		snprintf(err, errlen, "echo differs at byte %llu (datagram of "
		    "%zu bytes came back as %zd)",
		    (unsigned long long)t->mismatch_at, len, n);
		return CL_MISMATCH;
	}
	if (n > DGRAM_BUF)
		n = DGRAM_BUF;
	t->received += (uint64_t)n;
	if (io->out >= 0 && write_all(io->out, echo, (size_t)n) == -1) {
		snprintf(err, errlen, "write standard output: %s", strerror(errno));
		return CL_IOERR;
	}
	return CL_OK;
}

int
cl_dgram_run(const struct cl_io *io, int lines, struct cl_tally *t, char *err,
    size_t errlen)
{
	char *msg, *echo;
	size_t max = io->dgram_max;
	ssize_t len;
	int rc = CL_OK;

	memset(t, 0, sizeof(*t));
	if (max == 0 || max > DGRAM_BUF)
		max = DGRAM_BUF;
	msg = malloc(DGRAM_BUF);
	echo = malloc(DGRAM_BUF);
	if (msg == NULL || echo == NULL) {
		snprintf(err, errlen, "memory: %s", strerror(errno));
		rc = CL_IOERR;
		goto out;
	}
	for (;;) {
		len = lines ? read_line(io->in, msg, max) : read_full(io->in, msg, max);
		if (len == -1) {
			snprintf(err, errlen, "read standard input: %s", strerror(errno));
			rc = CL_IOERR;
			break;
		}
		if (len == 0)
			break;
		rc = echo_datagram(io, msg, (size_t)len, echo, t, err, errlen);
		if (rc != CL_OK)
			break;
	}
out:
	free(msg);
	free(echo);
	return rc;
}
