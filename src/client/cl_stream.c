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

/*
 * The pipe mode's conversation: the input on its way up, the echo on its
 * way down to the output, and which of the three descriptors this round
 * of poll() watches (their index in p, or -1).
 */
struct duplex {
	const struct cl_io	*io;
	struct cl_tally		*t;
	char			*err;
	size_t			 errlen;
	struct up		 u;
	char			*down;		/* an echo received, */
	size_t			 dlen, doff;	/* what of it is left to write */
	int			 in_eof, wr_shut, sock_eof;
	uint64_t		 deadline, excess_deadline;
	struct pollfd		 p[3];
	int			 np, ip, is, io_;
};

/* What to wait for: input while there is room, the socket, the output. */
static void
duplex_events(struct duplex *d)
{
	const struct cl_io *io = d->io;

	if (!d->in_eof && d->u.v > UP_CAP / 2)
		up_compact(&d->u);
	d->np = 0;
	d->ip = d->io_ = -1;
	if (!d->in_eof && d->u.f < UP_CAP)
		d->p[d->ip = d->np++] = (struct pollfd){ .fd = io->in, .events = POLLIN };
	d->p[d->is = d->np++] = (struct pollfd){ .fd = io->sock };
	if (d->u.s < d->u.f && !d->wr_shut && !d->sock_eof)
		d->p[d->is].events |= POLLOUT;
	if (!d->sock_eof && d->dlen == 0)
		d->p[d->is].events |= POLLIN;
	if (d->dlen > 0)
		d->p[d->io_ = d->np++] = (struct pollfd){ .fd = io->out, .events = POLLOUT };
}

/*
 * The reply timeout runs only while an echo is owed to us, or once more
 * came back than was sent: no echo, so what keeps coming must not re-arm
 * it (a server sending for ever kept the client for ever).  Returns
 * whether more came back than was sent.
 */
static int
duplex_deadline(struct duplex *d, uint64_t now)
{
	const struct cl_tally *t = d->t;
	uint64_t timeout_ns = (uint64_t)d->io->timeout_ms * 1000000;
	int waiting = (d->p[d->is].events & POLLIN) &&
	    (t->sent > t->received || d->wr_shut);
	int excess = t->received > t->sent;

	if (excess && d->io->timeout_ms > 0) {
		if (d->excess_deadline == 0)
			d->excess_deadline = now + timeout_ns;
		d->deadline = d->excess_deadline;
	} else if (!waiting || d->io->timeout_ms == 0)
		d->deadline = 0;
	else if (d->deadline == 0)
		d->deadline = now + timeout_ns;
	return excess;
}

static int
duplex_read_input(struct duplex *d)
{
	ssize_t n;

	if (d->ip < 0 || !d->p[d->ip].revents)
		return CL_OK;
	n = read(d->io->in, d->u.buf + d->u.f, UP_CAP - d->u.f);
	if (n == -1 && errno != EINTR && errno != EAGAIN)
		return fail(d->err, d->errlen, CL_IOERR, "%s: %s", "read standard input");
	if (n == 0)
		d->in_eof = 1;
	if (n > 0)
		d->u.f += (size_t)n;
	return CL_OK;
}

static int
duplex_send(struct duplex *d)
{
	ssize_t n;

	if (!(d->p[d->is].revents & POLLOUT))
		return CL_OK;
	n = send(d->io->sock, d->u.buf + d->u.s, d->u.f - d->u.s, MSG_NOSIGNAL);
	if (n == -1 && errno != EINTR && errno != EAGAIN)
		return lost(d->err, d->errlen, "send", d->t);
	if (n > 0) {
		d->u.s += (size_t)n;
		d->t->sent += (uint64_t)n;
		if (!d->io->check)
			d->u.v = d->u.s;
	}
	return CL_OK;
}

/* Takes in an echo, when the output has written the last one. */
static int
duplex_receive(struct duplex *d)
{
	struct cl_tally *t = d->t;
	ssize_t n;

	if (!(d->p[d->is].revents & (POLLIN | POLLHUP | POLLERR)) ||
	    d->sock_eof || d->dlen > 0)
		return CL_OK;
	n = recv(d->io->sock, d->down, DOWN_CAP, MSG_DONTWAIT);
	if (n == -1 && errno != EINTR && errno != EAGAIN)
		return lost(d->err, d->errlen, "receive", t);
	if (n == 0)
		d->sock_eof = 1;
	if (n <= 0)
		return CL_OK;
	d->deadline = 0;
	if (d->io->check && verify(&d->u, d->down, (size_t)n, t->received,
	    &t->mismatch_at) == -1) {
		snprintf(d->err, d->errlen, "echo differs at byte %llu",
		    (unsigned long long)t->mismatch_at);
		return CL_MISMATCH;
	}
	t->received += (uint64_t)n;
	if (d->io->out >= 0) {
		d->dlen = (size_t)n;
		d->doff = 0;
	}
	return CL_OK;
}

static int
duplex_write_output(struct duplex *d)
{
	ssize_t n;

	if (d->io_ < 0 || !d->p[d->io_].revents)
		return CL_OK;
	n = write(d->io->out, d->down + d->doff, d->dlen);
	if (n == -1 && errno != EINTR && errno != EAGAIN)
		return fail(d->err, d->errlen, CL_IOERR, "%s: %s", "write standard output");
	if (n > 0) {
		d->doff += (size_t)n;
		d->dlen -= (size_t)n;
	}
	return CL_OK;
}

/* Once all the input is sent: the server sees our EOF and ends its echo. */
static int
duplex_half_close(struct duplex *d)
{
	if (!d->in_eof || d->u.s != d->u.f || d->wr_shut || d->sock_eof)
		return CL_OK;
	if (shutdown(d->io->sock, SHUT_WR) == -1)
		return fail(d->err, d->errlen, CL_IOERR, "%s: %s", "shutdown");
	d->wr_shut = 1;
	return CL_OK;
}

/* One round: wait, then serve every side that is ready.  CL_OK goes on. */
static int
duplex_round(struct duplex *d)
{
	uint64_t now = now_nsec();
	const struct pollfd *ps;
	int excess, rc;

	duplex_events(d);
	excess = duplex_deadline(d, now);
	if (poll(d->p, (nfds_t)d->np, cl_ms_left(d->deadline, now)) == -1)
		return errno == EINTR ? CL_OK :
		    fail(d->err, d->errlen, CL_IOERR, "%s: %s", "poll");
	ps = &d->p[d->is];
	if (d->deadline != 0 && now_nsec() >= d->deadline && (excess ||
	    !(ps->revents & (POLLIN | POLLHUP | POLLERR))))
		return timed_out(d->err, d->errlen, d->io->timeout_ms, d->t,
		    (ps->events & POLLOUT) && !(ps->revents & POLLOUT));
	if ((rc = duplex_read_input(d)) != CL_OK ||
	    (rc = duplex_send(d)) != CL_OK ||
	    (rc = duplex_receive(d)) != CL_OK ||
	    (rc = duplex_write_output(d)) != CL_OK)
		return rc;
	return duplex_half_close(d);
}

/* Once the server has closed: did all the input go out, and come back? */
static int
duplex_verdict(struct duplex *d)
{
	struct cl_tally *t = d->t;

	if (!d->in_eof || d->u.s < d->u.f) {
		snprintf(d->err, d->errlen, "the server closed the connection before "
		    "the end of the input, after %llu of %llu bytes sent came back",
		    (unsigned long long)t->received, (unsigned long long)t->sent);
		t->mismatch_at = t->received;
		return d->io->check ? CL_MISMATCH : CL_IOERR;
	}
	if (d->io->check && t->received < t->sent) {
		t->mismatch_at = t->received;
		snprintf(d->err, d->errlen, "the server closed the connection after "
		    "%llu of %llu bytes sent came back: the echo ends at byte %llu",
		    (unsigned long long)t->received, (unsigned long long)t->sent,
		    (unsigned long long)t->received);
		return CL_MISMATCH;
	}
	return CL_OK;
}

int
cl_stream_pipe(const struct cl_io *io, struct cl_tally *t, char *err, size_t errlen)
{
	struct duplex d = { .io = io, .t = t, .err = err, .errlen = errlen };
	int rc = CL_OK;

	memset(t, 0, sizeof(*t));
	d.u.buf = malloc(UP_CAP);
	d.down = malloc(DOWN_CAP);
	if (d.u.buf == NULL || d.down == NULL)
		rc = fail(err, errlen, CL_IOERR, "%s: %s", "memory");
	while (rc == CL_OK && (!d.sock_eof || d.dlen > 0))
		rc = duplex_round(&d);
	if (rc == CL_OK)
		rc = duplex_verdict(&d);
	free(d.u.buf);
	free(d.down);
	return rc;
}

/* Reads until want bytes came back or the server closed; echoes to io->out. */
static int
read_echo(const struct cl_io *io, const char *line, size_t want, int to_eof,
    struct cl_tally *t, char *err, size_t errlen)
{
	char buf[16384];
	size_t got = 0, i;
	uint64_t deadline = cl_deadline(io->timeout_ms);
	ssize_t n;
	int rc;

	while (got < want || to_eof) {
		rc = cl_wait(io->sock, POLLIN, deadline);
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
