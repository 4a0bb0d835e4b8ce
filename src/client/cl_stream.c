/*
 * cl_stream.c - a TCP conversation with the echo server, fed from a file
 * descriptor.  The pipe mode never blocks on the socket: it reads the echo
 * while it sends, so a server that stops reading until its echo is read
 * (every echo server, once its buffers are full) cannot deadlock it.
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
#include "cl_stream.h"
#include "util.h"

/*
 * What was read from the input and not yet verified.  Bounded, so that
 * --check keeps at most this much of the stream in memory.
 */
#define UP_CAP		(1024 * 1024)
#define DOWN_CAP	(64 * 1024)

struct up {
	char	*buf;
	size_t	 v;	/* [0, v) done with: verified, or sent when not checking */
	size_t	 s;	/* [v, s) sent, awaiting its echo */
	size_t	 f;	/* [s, f) read from the input, not sent yet */
};

static void
up_compact(struct up *u)
{
	if (u->v == 0)
		return;
	memmove(u->buf, u->buf + u->v, u->f - u->v);
	u->s -= u->v;
	u->f -= u->v;
	u->v = 0;
}

/* Returns 0, or -1 with the offset of the first difference in *at. */
static int
verify(struct up *u, const char *p, size_t n, uint64_t base, uint64_t *at)
{
	size_t i, have = u->s - u->v;

	if (memcmp(u->buf + u->v, p, n < have ? n : have) != 0 || n > have) {
		for (i = 0; i < n && i < have; i++)
			if (u->buf[u->v + i] != p[i])
				break;
		*at = base + i;
		return -1;
	}
	u->v += n;
	return 0;
}

static int
fail(char *err, size_t errlen, int status, const char *fmt, const char *what)
{
	snprintf(err, errlen, fmt, what, strerror(errno));
	return status;
}

/* A failed send or receive, with how far the conversation had come. */
static int
lost(char *err, size_t errlen, const char *what, const struct cl_tally *t)
{
	snprintf(err, errlen, "%s: %s, after %llu of %llu bytes sent came back",
	    what, strerror(errno), (unsigned long long)t->received,
	    (unsigned long long)t->sent);
	return CL_IOERR;
}

/*
 * What the server still owed when the time ran out: the rest of the echo,
 * or, with every byte back, only the close that ends it.  "6 of 6 bytes
 * back" read like success.
 */
static int
timed_out(char *err, size_t errlen, int timeout_ms, const struct cl_tally *t,
    int not_taking)
{
	char d[32];

	cl_fmt_ms((uint64_t)timeout_ms, d, sizeof(d));
	if (t->received == t->sent)
		snprintf(err, errlen, "all %llu bytes came back, but the server "
		    "did not close the connection within %s",
		    (unsigned long long)t->sent, d);
	else if (t->received > t->sent)
		snprintf(err, errlen, "%llu bytes came back for %llu sent (more "
		    "than was sent), and the server did not stop within %s",
		    (unsigned long long)t->received, (unsigned long long)t->sent, d);
	else
		snprintf(err, errlen, "no echo within %s: %llu of %llu bytes sent "
		    "came back%s", d, (unsigned long long)t->received,
		    (unsigned long long)t->sent, not_taking ?
		    ", and the server takes no more of the input" : "");
	return CL_TIMEOUT;
}

int
cl_stream_pipe(const struct cl_io *io, struct cl_tally *t, char *err, size_t errlen)
{
	struct up u = { 0 };
	char *down = NULL;
	size_t dlen = 0, doff = 0;
	int in_eof = 0, wr_shut = 0, sock_eof = 0, rc = CL_OK;
	uint64_t deadline = 0, excess_deadline = 0, now;
	int excess;
	ssize_t n;

	memset(t, 0, sizeof(*t));
	u.buf = malloc(UP_CAP);
	down = malloc(DOWN_CAP);
	if (u.buf == NULL || down == NULL) {
		rc = fail(err, errlen, CL_IOERR, "%s: %s", "memory");
		goto out;
	}
	while (!sock_eof || dlen > 0) {
		struct pollfd p[3];
		int ip = -1, is = -1, io_ = -1, np = 0, waiting;

		if (!in_eof && u.v > UP_CAP / 2)
			up_compact(&u);
		if (!in_eof && u.f < UP_CAP) {
			p[ip = np++] = (struct pollfd){ .fd = io->in, .events = POLLIN };
		}
		p[is = np++] = (struct pollfd){ .fd = io->sock };
		if (u.s < u.f && !wr_shut && !sock_eof)
			p[is].events |= POLLOUT;
		if (!sock_eof && dlen == 0)
			p[is].events |= POLLIN;
		if (dlen > 0)
			p[io_ = np++] = (struct pollfd){ .fd = io->out, .events = POLLOUT };

		/* The reply timeout runs only while an echo is owed to us... */
		waiting = (p[is].events & POLLIN) && (t->sent > t->received || wr_shut);
		excess = t->received > t->sent;
		now = now_nsec();
		if (excess && io->timeout_ms > 0) {
			/* ...or once more came back than was sent: no echo, so
			 * what keeps coming must not re-arm it (a server sending
			 * for ever kept the client for ever). */
			if (excess_deadline == 0)
				excess_deadline = now + (uint64_t)io->timeout_ms * 1000000;
			deadline = excess_deadline;
		} else if (!waiting || io->timeout_ms == 0)
			deadline = 0;
		else if (deadline == 0)
			deadline = now + (uint64_t)io->timeout_ms * 1000000;
		if (poll(p, np, cl_ms_left(deadline, now)) == -1) {
			if (errno == EINTR)
				continue;
			rc = fail(err, errlen, CL_IOERR, "%s: %s", "poll");
			goto out;
		}
		if (deadline != 0 && now_nsec() >= deadline && (excess ||
		    !(p[is].revents & (POLLIN | POLLHUP | POLLERR)))) {
			rc = timed_out(err, errlen, io->timeout_ms, t,
			    (p[is].events & POLLOUT) && !(p[is].revents & POLLOUT));
			goto out;
		}

		if (ip >= 0 && p[ip].revents) {
			n = read(io->in, u.buf + u.f, UP_CAP - u.f);
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				rc = fail(err, errlen, CL_IOERR, "%s: %s", "read standard input");
				goto out;
			}
			if (n == 0)
				in_eof = 1;
			if (n > 0)
				u.f += (size_t)n;
		}
		if (p[is].revents & POLLOUT) {
			n = send(io->sock, u.buf + u.s, u.f - u.s, MSG_NOSIGNAL);
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				rc = lost(err, errlen, "send", t);
				goto out;
			}
			if (n > 0) {
				u.s += (size_t)n;
				t->sent += (uint64_t)n;
				if (!io->check)
					u.v = u.s;
			}
		}
		if (p[is].revents & (POLLIN | POLLHUP | POLLERR) && !sock_eof && dlen == 0) {
			n = recv(io->sock, down, DOWN_CAP, MSG_DONTWAIT);
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				rc = lost(err, errlen, "receive", t);
				goto out;
			}
			if (n == 0)
				sock_eof = 1;
			if (n > 0) {
				deadline = 0;
				if (io->check && verify(&u, down, (size_t)n, t->received,
				    &t->mismatch_at) == -1) {
					snprintf(err, errlen, "echo differs at byte %llu",
					    (unsigned long long)t->mismatch_at);
					rc = CL_MISMATCH;
					goto out;
				}
				t->received += (uint64_t)n;
				if (io->out >= 0) {
					dlen = (size_t)n;
					doff = 0;
				}
			}
		}
		if (io_ >= 0 && p[io_].revents) {
			n = write(io->out, down + doff, dlen);
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				rc = fail(err, errlen, CL_IOERR, "%s: %s", "write standard output");
				goto out;
			}
			if (n > 0) {
				doff += (size_t)n;
				dlen -= (size_t)n;
			}
		}
		if (in_eof && u.s == u.f && !wr_shut && !sock_eof) {
			/* Half-close: the server sees our EOF and ends its echo. */
			if (shutdown(io->sock, SHUT_WR) == -1) {
				rc = fail(err, errlen, CL_IOERR, "%s: %s", "shutdown");
				goto out;
			}
			wr_shut = 1;
		}
	}
	if (!in_eof || u.s < u.f) {
		snprintf(err, errlen, "the server closed the connection before "
		    "the end of the input, after %llu of %llu bytes sent came back",
		    (unsigned long long)t->received, (unsigned long long)t->sent);
		t->mismatch_at = t->received;
		rc = io->check ? CL_MISMATCH : CL_IOERR;
	} else if (io->check && t->received < t->sent) {
		t->mismatch_at = t->received;
		snprintf(err, errlen, "the server closed the connection after "
		    "%llu of %llu bytes sent came back: the echo ends at byte %llu",
		    (unsigned long long)t->received, (unsigned long long)t->sent,
		    (unsigned long long)t->received);
		rc = CL_MISMATCH;
	}
out:
	free(u.buf);
	free(down);
	return rc;
}

/* Reads until want bytes came back or the server closed; echoes to io->out. */
static int
read_echo(const struct cl_io *io, const char *line, size_t want, int to_eof,
    struct cl_tally *t, char *err, size_t errlen)
{
	char buf[16384];
	size_t got = 0, i;
	uint64_t deadline = 0;
	ssize_t n;
	int rc;

	if (io->timeout_ms > 0)
		deadline = now_nsec() + (uint64_t)io->timeout_ms * 1000000;
	while (got < want || to_eof) {
		struct pollfd p = { .fd = io->sock, .events = POLLIN };

		rc = poll(&p, 1, cl_ms_left(deadline, now_nsec()));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return fail(err, errlen, CL_IOERR, "%s: %s", "poll");
		if (rc == 0)
			return timed_out(err, errlen, io->timeout_ms, t, 0);
		n = recv(io->sock, buf, to_eof ? sizeof(buf) :
		    (want - got < sizeof(buf) ? want - got : sizeof(buf)), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return lost(err, errlen, "receive", t);
		if (n == 0)
			break;
		if (io->check) {
			for (i = 0; i < (size_t)n; i++) {
				if (got + i >= want || buf[i] != line[got + i]) {
					t->mismatch_at = t->received + i;
					snprintf(err, errlen, "echo differs at byte %llu",
					    (unsigned long long)t->mismatch_at);
					return CL_MISMATCH;
				}
			}
		}
		got += (size_t)n;
		t->received += (uint64_t)n;
		if (io->out >= 0 && write_all(io->out, buf, (size_t)n) == -1)
			return fail(err, errlen, CL_IOERR, "%s: %s", "write standard output");
	}
	if (got < want) {
		t->mismatch_at = t->received;
		snprintf(err, errlen, "the server closed the connection after "
		    "%llu of %llu bytes sent came back",
		    (unsigned long long)t->received, (unsigned long long)t->sent);
		return io->check ? CL_MISMATCH : CL_IOERR;
	}
	return CL_OK;
}

int
cl_stream_lines(const struct cl_io *io, struct cl_tally *t, char *err, size_t errlen)
{
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = CL_OK;

	memset(t, 0, sizeof(*t));
	/* A dup, so that closing the stream leaves the caller's fd alone. */
	int fd = dup(io->in);
	if (fd == -1 || (in = fdopen(fd, "r")) == NULL) {
		if (fd != -1)
			close(fd);
		return fail(err, errlen, CL_IOERR, "%s: %s", "standard input");
	}
	while ((len = getline(&line, &cap, in)) > 0) {
		if (send(io->sock, line, (size_t)len, MSG_NOSIGNAL) != len) {
			rc = lost(err, errlen, "send", t);
			goto out;
		}
		t->sent += (uint64_t)len;
		rc = read_echo(io, line, (size_t)len, 0, t, err, errlen);
		if (rc != CL_OK)
			goto out;
	}
	if (ferror(in)) {
		rc = fail(err, errlen, CL_IOERR, "%s: %s", "read standard input");
		goto out;
	}
	if (shutdown(io->sock, SHUT_WR) == -1) {
		rc = fail(err, errlen, CL_IOERR, "%s: %s", "shutdown");
		goto out;
	}
	/* Whatever else the server has to say, until it closes. */
	rc = read_echo(io, "", 0, 1, t, err, errlen);
	if (rc == CL_MISMATCH)
		snprintf(err, errlen, "%llu bytes more than were sent came back",
		    (unsigned long long)(t->received - t->sent));
out:
	free(line);
	fclose(in);
	return rc;
}
