/*
 * pump.c - the bulk path of the TCP echo.  A worker owns one pump: a
 * scratch buffer and one pipe, both of buffer_size, shared by all its
 * connections.  A round splices what the client sent into the pipe and
 * from the pipe back to the socket, so the bytes are never copied to user
 * space; what the socket does not take is read out of the pipe into a
 * buffer of the connection's own, so that the pipe is empty for the next
 * connection and no connection holds more than one round (buffer_size).
 * One pipe per worker, not per connection: pipes cost two descriptors and
 * pages from one budget all the workers' user shares
 * (/proc/sys/fs/pipe-user-pages-soft).  Without a pipe (descriptors or
 * budget exhausted) the pump copies through the scratch buffer and tries
 * for a pipe again later.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pump.h"

static void
pipe_close(struct pump *p)
{
	if (p->pipe[0] != -1) {
		close(p->pipe[0]);
		close(p->pipe[1]);
	}
	p->pipe[0] = p->pipe[1] = -1;
	p->retry = PUMP_RETRY;
}

/*
 * A pipe that holds a whole round.  One that the budget keeps smaller
 * (F_SETPIPE_SZ fails past pipe-user-pages-soft, and new pipes get two
 * pages) would move a round in slivers: the copy path does better then.
 */
static void
pipe_open(struct pump *p)
{
	int sz;

	if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		p->pipe[0] = p->pipe[1] = -1;
		p->retry = PUMP_RETRY;
		return;
	}
	sz = fcntl(p->pipe[1], F_SETPIPE_SZ, (int)p->size);
	if (sz == -1)
		sz = fcntl(p->pipe[1], F_GETPIPE_SZ);
	if (sz == -1 || (size_t)sz < p->size)
		pipe_close(p);
}

int
pump_init(struct pump *p, size_t size)
{
	memset(p, 0, sizeof(*p));
	p->size = size;
	p->pipe[0] = p->pipe[1] = -1;
	if ((p->scratch = malloc(size)) == NULL)
		return -1;
	pipe_open(p);
	return 0;
}

void
pump_free(struct pump *p)
{
	pipe_close(p);
	free(p->scratch);
	p->scratch = NULL;
}

bool
pump_spliced(const struct pump *p)
{
	return p->pipe[0] != -1;
}

static bool
transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* splice() itself is not allowed here (a seccomp policy, a kernel or a
 * socket without it): the copy path can do the same. */
static bool
refused(int e)
{
	return e == EPERM || e == ENOSYS || e == EINVAL || e == EOPNOTSUPP;
}

/* Reads exactly len bytes out of the pipe (it holds them); -1 if it did
 * not, and then the pipe is closed: a pipe with stray bytes in it would
 * hand them to the next connection. */
static int
pipe_take(struct pump *p, char *dst, size_t len)
{
	while (len > 0) {
		ssize_t r = read(p->pipe[0], dst, len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			pipe_close(p);
			errno = EIO;
			return -1;
		}
		dst += r;
		len -= (size_t)r;
	}
	return 0;
}

/* The unsent part, into a buffer of the connection's own. */
static int
keep_rest(struct pump *p, const char *from_scratch, size_t len, char **rest,
    size_t *restlen)
{
	char *b = malloc(len);

	if (b == NULL) {
		if (from_scratch == NULL && pipe_take(p, p->scratch, len) == 0)
			errno = ENOMEM;
		return -1;
	}
	if (from_scratch != NULL)
		memcpy(b, from_scratch, len);
	else if (pipe_take(p, b, len) == -1) {
		free(b);
		return -1;
	}
	*rest = b;
	*restlen = len;
	return 0;
}

static ssize_t
echo_copied(struct pump *p, int fd, size_t max, size_t *sent, char **rest,
    size_t *restlen)
{
	ssize_t n, w;

	n = recv(fd, p->scratch, max, 0);
	if (n <= 0)
		return n;
	w = send(fd, p->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w == -1) {
		if (!transient(errno))
			return -1;
		w = 0;
	}
	*sent = (size_t)w;
	if (w < n && keep_rest(p, p->scratch + w, (size_t)(n - w), rest,
	    restlen) == -1)
		return -1;
	return n;
}

static ssize_t
echo_spliced(struct pump *p, int fd, size_t max, size_t *sent, char **rest,
    size_t *restlen)
{
	ssize_t n, w;

	n = splice(fd, NULL, p->pipe[1], NULL, max,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n == -1 && refused(errno)) {
		/* nothing was read: copy this round, and later ones a while */
		pipe_close(p);
		return echo_copied(p, fd, max, sent, rest, restlen);
	}
	if (n <= 0)
		return n;
	do
		w = splice(p->pipe[0], NULL, fd, NULL, (size_t)n,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (w == -1 && errno == EINTR);
	if (w == -1) {
		int e = errno;
		if (!transient(e)) {
			/* the connection is lost; the pipe must still be emptied */
			if (pipe_take(p, p->scratch, (size_t)n) == 0)
				errno = e;
			return -1;
		}
		w = 0;
	}
	*sent = (size_t)w;
	if (w < n && keep_rest(p, NULL, (size_t)(n - w), rest, restlen) == -1)
		return -1;
	return n;
}

ssize_t
pump_echo(struct pump *p, int fd, bool zerocopy, size_t *sent, char **rest,
    size_t *restlen)
{
	return pump_echo_upto(p, fd, zerocopy, p->size, sent, rest, restlen);
}

ssize_t
pump_echo_upto(struct pump *p, int fd, bool zerocopy, size_t max, size_t *sent,
    char **rest, size_t *restlen)
{
	if (max == 0 || max > p->size)
		max = p->size;
	*sent = 0;
	*rest = NULL;
	*restlen = 0;
	if (zerocopy && p->pipe[0] == -1 && --p->retry == 0)
		pipe_open(p);
	if (zerocopy && p->pipe[0] != -1)
		return echo_spliced(p, fd, max, sent, rest, restlen);
	return echo_copied(p, fd, max, sent, rest, restlen);
}
