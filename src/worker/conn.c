/*
 * conn.c - the echo state machine of one TCP connection.  It owns no
 * descriptor policy (the worker accepts, watches and closes); it only moves
 * bytes, in order, and keeps memory bounded: a connection holds a buffer
 * (at most buffer_size) only while the client is not reading its echo.
 * How a round moves the bytes is pump.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "pump.h"

uint32_t
conn_events(const struct conn *c)
{
	if (c->shut)
		return EPOLLIN;
	if (c->pend_len > 0)
		return EPOLLOUT;
	return c->rd_eof ? 0 : EPOLLIN;
}

static bool
transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/*
 * A read that fills half of what was asked (of a round, or of a share cut
 * short by the turn) says the client streams; one under CONN_STREAM_LOW
 * says it sends small messages, cheaper copied than spliced.  Between the
 * two, a stream stays one: its read came short because it had sent no
 * more yet, and copying its next round would cost two copies of it.
 */
static void
stream_judge(struct conn *c, size_t n, size_t want)
{
	if (n >= want / 2)
		c->streaming = true;
	else if (n < CONN_STREAM_LOW)
		c->streaming = false;
}

/*
 * Whether this stream is spliced.  Splicing spares echod both copies of
 * every byte, but the pages it sends back are the ones the peer sent: a
 * peer on this host (loopback, or this host's own address) cannot reuse
 * them until it has read the echo, and its copies and its check of the
 * echo cost it more than echod saved (HACKING.md, "Benchmarks").  So a
 * stream from this host is copied; the question costs one getsockname()
 * per connection that streams, asked once.
 */
static bool
splices(struct conn *c)
{
	union sockaddr_any local;
	socklen_t len = sizeof(local);
	const struct sockaddr *peer = c->vialen > 0 ? &c->via.sa : &c->peer.sa;

	if (!c->streaming)
		return false;
	if (c->host == CONN_HOST_UNKNOWN)
		c->host = getsockname(c->fd, &local.sa, &len) == 0 &&
		    addr_same_host(peer, &local.sa) ?
		    CONN_HOST_SAME : CONN_HOST_OTHER;
	return c->host == CONN_HOST_OTHER;
}

enum conn_step
conn_readable(struct conn *c, struct pump *p, size_t budget)
{
	if (budget == 0)
		budget = CONN_ROUNDS * p->size;
	while (budget > 0) {
		size_t sent, restlen, want = budget < p->size ? budget : p->size;
		char *rest;
		ssize_t n;

		if (c->pend_len > 0 || c->rd_eof)
			return CONN_KEEP;
		n = pump_echo_upto(p, c->fd, splices(c), want, &sent, &rest,
		    &restlen);
		if (n == -1)
			return transient(errno) ? CONN_KEEP : CONN_FAIL;
		if (n == 0) {
			c->rd_eof = true;
			return CONN_DONE; /* nothing is pending: we never read ahead */
		}
		c->bytes += (uint64_t)sent;
		budget -= (size_t)n;
		stream_judge(c, (size_t)n, want);
		if (rest != NULL) {
			c->pend = rest;
			c->pend_off = 0;
			c->pend_len = (uint32_t)restlen;
		}
		if ((size_t)n < want / 2)
			break;	/* the queue is drained: epoll says when more comes */
	}
	return CONN_KEEP;
}

enum conn_step
conn_writable(struct conn *c)
{
	ssize_t w;

	if (c->pend_len == 0)
		return c->rd_eof ? CONN_DONE : CONN_KEEP;
	w = send(c->fd, c->pend + c->pend_off, c->pend_len,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w == -1)
		return transient(errno) ? CONN_KEEP : CONN_FAIL;
	c->bytes += (uint64_t)w;
	c->pend_off += (uint32_t)w;
	c->pend_len -= (uint32_t)w;
	if (c->pend_len == 0) {
		conn_release(c);
		if (c->rd_eof)
			return CONN_DONE;
	}
	return CONN_KEEP;
}

int
conn_shut(struct conn *c)
{
	(void)conn_writable(c);	/* one last send of the unsent echo */
	conn_release(c);	/* what the socket did not take: never sent */
	c->shut = true;
	return shutdown(c->fd, SHUT_WR);
}

/* Rounds of reading per readiness event: a client that floods a shut
 * connection is dropped at the end of the worker's grace, not served. */
#define DISCARD_ROUNDS	4

enum conn_step
conn_discard(struct conn *c, char *scratch, size_t len)
{
	for (int round = 0; round < DISCARD_ROUNDS; round++) {
		ssize_t n = recv(c->fd, scratch, len, MSG_DONTWAIT);

		if (n == 0)
			return CONN_DONE;
		if (n == -1)
			return transient(errno) ? CONN_KEEP : CONN_FAIL;
	}
	return CONN_KEEP;
}

void
conn_release(struct conn *c)
{
	free(c->pend);
	c->pend = NULL;
	c->pend_off = c->pend_len = 0;
}

void
conn_list_merge(struct conn_list *l, struct conn **v, size_t n)
{
	struct conn *at = l->tail;

	/* Insertion sort: a batch comes in its sender's order, sorted. */
	for (size_t i = 1; i < n; i++) {
		struct conn *c = v[i];
		size_t k = i;
		for (; k > 0 && v[k - 1]->last_ms > c->last_ms; k--)
			v[k] = v[k - 1];
		v[k] = c;
	}
	/* Newest first, each right after the last one no newer than it. */
	for (size_t i = n; i-- > 0;) {
		struct conn *c = v[i];
		c->list = l;
		while (at != NULL && at->last_ms > c->last_ms)
			at = at->prev;
		c->prev = at;
		c->next = at != NULL ? at->next : l->head;
		if (c->next != NULL)
			c->next->prev = c;
		else
			l->tail = c;
		if (at != NULL)
			at->next = c;
		else
			l->head = c;
	}
}
