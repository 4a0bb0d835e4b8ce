/*
 * cl_bconn.c - one load-generator connection's state machine: connect,
 * send, verify the echo byte by byte, half-close, await the server's close,
 * with a deadline on every wait.  Messages are windows into one
 * pseudo-random block whose length is prime, at an offset that changes with
 * every round trip, so a server that replays, drops or shifts data is caught.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cl_bconn.h"
#include "cl_net.h"
#include "util.h"

#define PRIME	CL_BCONN_PRIME
#define IOBUF	CL_BCONN_IOBUF

void
cl_bconn_block_fill(char *block)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < CL_BCONN_BLOCK_LEN; i++) {
		if (i < PRIME) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			block[i] = (char)(x >> 24);
		} else
			block[i] = block[i - PRIME];
	}
}

static void
note(struct cl_bworker *w, const struct cl_bconn *c, const char *what)
{
	if (w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "connection %u: %s", c->id, what);
}

static uint64_t
deadline_from(const struct cl_bworker *w, uint64_t now)
{
	return w->o->timeout_ms > 0 ? now + (uint64_t)w->o->timeout_ms * 1000000 : 0;
}

static void
set_out(struct cl_bworker *w, struct cl_bconn *c, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
	    .data.ptr = c };

	if (c->out != on && epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->out = on;
}

void
cl_bconn_close(struct cl_bworker *w, struct cl_bconn *c)
{
	if (c->state == C_CONNECTING)
		w->connecting--;
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
	c->out = 0;
	c->deadline = 0;
}

void
cl_bconn_open(struct cl_bworker *w, struct cl_bconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	uint64_t now = now_nsec();

	c->fd = cl_connect_start(w->o->target, SOCK_STREAM);
	if (c->fd == -1 || epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		char msg[128];
		snprintf(msg, sizeof(msg), "connect: %s", strerror(errno));
		note(w, c, msg);
		w->errors++;
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
		c->state = C_FREE;
		return;
	}
	c->state = C_CONNECTING;
	c->out = 1;
	c->rtot = c->wtot = 0;
	c->t_start = now;
	c->deadline = deadline_from(w, now);
	w->connecting++;
}

static void
conn_drain(struct cl_bworker *w, struct cl_bconn *c)
{
	if (shutdown(c->fd, SHUT_WR) == -1) {
		cl_bconn_close(w, c);
		return;
	}
	set_out(w, c, 0);
	c->state = C_DRAIN;
	c->deadline = deadline_from(w, now_nsec());
}

/* Sends what is left of the message or, in bulk, the next window. */
static int
conn_write(struct cl_bworker *w, struct cl_bconn *c)
{
	const char *p;
	size_t len;
	ssize_t n;

	if (w->o->pattern == CL_BULK) {
		uint64_t inflight = c->wtot - c->rtot;

		p = w->sh->block + c->wtot % PRIME;
		len = w->o->size;
		if (w->o->window > 0 && inflight >= w->o->window) {
			/* The window is full: on_stream() opens it again. */
			set_out(w, c, 0);
			return 0;
		}
		if (w->o->window > 0 && len > w->o->window - inflight)
			len = (size_t)(w->o->window - inflight);
	} else {
		p = w->sh->block + c->off + c->wpos;
		len = w->o->size - c->wpos;
	}
	n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		n = 0;
	if (n == -1) {
		char msg[128];
		snprintf(msg, sizeof(msg), "send: %s", strerror(errno));
		note(w, c, msg);
		w->errors++;
		cl_bconn_close(w, c);
		return -1;
	}
	if (w->o->pattern == CL_BULK) {
		c->wtot += (uint64_t)n;
		set_out(w, c, 1);
	} else {
		c->wpos += (size_t)n;
		set_out(w, c, c->wpos < w->o->size);
	}
	return 0;
}

static void
op_start(struct cl_bworker *w, struct cl_bconn *c)
{
	c->seq++;
	c->off = ((uint64_t)c->id * 40503u + (uint64_t)c->seq * 2654435761u) % PRIME;
	c->wpos = c->rpos = 0;
	c->t_start = now_nsec();
	c->deadline = deadline_from(w, c->t_start);
	c->state = C_BUSY;
	conn_write(w, c);
}

/* Counts one operation towards -n; 0 once the count is reached. */
static int
count_toward_n(const struct cl_bworker *w)
{
	if (w->o->count > 0 &&
	    atomic_fetch_add(&w->sh->done_ops, 1) + 1 >= w->o->count) {
		atomic_store(&w->sh->stop_all, 1);
		return 0;
	}
	return 1;
}

static void
count_op(struct cl_bworker *w, struct cl_bconn *c, uint64_t now)
{
	if (!w->running || w->stopping)
		return;
	w->ops++;
	cl_hist_add(&w->lat, now - c->t_start);
	count_toward_n(w);
}

static void
on_connected(struct cl_bworker *w, struct cl_bconn *c)
{
	w->connecting--;
	if (cl_connect_result(c->fd) == -1) {
		char msg[ADDR_STRLEN + 128];
		snprintf(msg, sizeof(msg), "connect %s: %s", w->o->target->name,
		    strerror(errno));
		note(w, c, msg);
		w->errors++;
		c->state = C_OPEN;	/* not connecting any more */
		cl_bconn_close(w, c);
		return;
	}
	w->opened++;
	c->state = C_OPEN;
	c->deadline = 0;
	set_out(w, c, 0);
	if (w->stopping) {
		conn_drain(w, c);
		return;
	}
	switch (w->o->pattern) {
	case CL_CONNECT:
	case CL_IDLE:
		op_start(w, c);
		break;
	case CL_PINGPONG:
		if (w->running)
			op_start(w, c);
		break;
	case CL_BULK:
		if (w->running) {
			c->state = C_BUSY;
			conn_write(w, c);
		}
		break;
	}
}

void
cl_bconn_start(struct cl_bworker *w, struct cl_bconn *c)
{
	if (w->o->pattern == CL_CONNECT)
		cl_bconn_open(w, c);
	else if (c->state == C_OPEN && w->o->pattern == CL_PINGPONG)
		op_start(w, c);
	else if (c->state == C_OPEN && w->o->pattern == CL_BULK) {
		c->state = C_BUSY;
		conn_write(w, c);
	}
}

void
cl_bconn_stop(struct cl_bworker *w, struct cl_bconn *c)
{
	if (c->state == C_OPEN || (c->state == C_BUSY && w->o->pattern == CL_BULK))
		conn_drain(w, c);
}

/* ": 3 of 64 bytes of the message came back", or "" between messages. */
static void
progress(const struct cl_bworker *w, const struct cl_bconn *c, char *buf,
    size_t len)
{
	buf[0] = '\0';
	if (w->o->pattern == CL_BULK && c->wtot > 0)
		snprintf(buf, len, ": %llu of %llu bytes of the stream came back",
		    (unsigned long long)c->rtot, (unsigned long long)c->wtot);
	else if (w->o->pattern != CL_BULK && c->state == C_BUSY)
		snprintf(buf, len, ": %zu of %zu bytes of the message came back",
		    c->rpos, w->o->size);
}

static void
mismatch(struct cl_bworker *w, struct cl_bconn *c, uint64_t at)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "echo differs at byte %llu of the %s",
	    (unsigned long long)at, w->o->pattern == CL_BULK ? "stream" : "message");
	note(w, c, msg);
	w->mismatches++;
	cl_bconn_close(w, c);
}

/* The server reset the connection, or closed it before it was done. */
static void
broken(struct cl_bworker *w, struct cl_bconn *c, int eof)
{
	char msg[160], where[96];

	progress(w, c, where, sizeof(where));
	snprintf(msg, sizeof(msg), "%s%s", eof ?
	    "the server closed the connection" : strerror(errno), where);
	note(w, c, msg);
	w->errors++;
	cl_bconn_close(w, c);
}

/* The server's close after our half-close: a clean end. */
static void
on_closed(struct cl_bworker *w, struct cl_bconn *c, uint64_t now)
{
	if (w->o->pattern == CL_CONNECT)
		count_op(w, c, now);
	if (w->o->pattern == CL_BULK && c->rtot < c->wtot) {
		w->errors++;
		note(w, c, "stream echo ended short");
	}
	cl_bconn_close(w, c);
	if (w->o->pattern == CL_CONNECT && !w->stopping && w->running)
		cl_bconn_open(w, c);
}

/* n bytes of the bulk stream's echo are in w->buf. */
static void
on_stream(struct cl_bworker *w, struct cl_bconn *c, size_t n, uint64_t now)
{
	const char *block = w->sh->block;
	size_t i;

	if (c->rtot + n > c->wtot ||
	    memcmp(w->buf, block + c->rtot % PRIME, n) != 0) {
		for (i = 0; i < n && w->buf[i] == block[(c->rtot + i) % PRIME]; i++)
			;
		mismatch(w, c, c->rtot + i);
		return;
	}
	c->rtot += n;
	c->deadline = c->rtot < c->wtot ? deadline_from(w, now) : 0;
	w->bytes_all += n;
	if (w->running && !w->stopping)
		w->bytes += n;
	if (c->state == C_BUSY && !c->out)
		set_out(w, c, 1);
}

/* A whole message came back: the next one, or the end the pattern wants. */
static void
on_echoed(struct cl_bworker *w, struct cl_bconn *c, uint64_t now)
{
	w->ops_all++;
	switch (w->o->pattern) {
	case CL_PINGPONG:
		count_op(w, c, now);
		if (w->stopping)
			conn_drain(w, c);
		else
			op_start(w, c);
		break;
	case CL_CONNECT:
		conn_drain(w, c);
		break;
	case CL_IDLE:
	case CL_BULK:
		c->state = C_OPEN;
		c->deadline = 0;
		break;
	}
}

/* n bytes of a message's echo are in w->buf. */
static void
on_message(struct cl_bworker *w, struct cl_bconn *c, size_t n, uint64_t now)
{
	const char *block = w->sh->block;
	size_t i;

	if (c->state != C_BUSY || c->rpos + n > c->wpos ||
	    memcmp(w->buf, block + c->off + c->rpos, n) != 0) {
		for (i = 0; c->state == C_BUSY && i < n && c->rpos + i < c->wpos &&
		    w->buf[i] == block[c->off + c->rpos + i]; i++)
			;
		mismatch(w, c, c->rpos + i);
		return;
	}
	c->rpos += n;
	w->bytes_all += n;
	if (w->running && !w->stopping)
		w->bytes += n;
	if (c->rpos >= w->o->size)
		on_echoed(w, c, now);
}

static void
on_readable(struct cl_bworker *w, struct cl_bconn *c)
{
	ssize_t n;

	n = recv(c->fd, w->buf, w->o->rsize > 0 ? w->o->rsize : IOBUF,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 || (n == 0 && c->state != C_DRAIN))
		broken(w, c, n == 0);
	else if (n == 0)
		on_closed(w, c, now_nsec());
	else if (w->o->pattern == CL_BULK)
		on_stream(w, c, (size_t)n, now_nsec());
	else
		on_message(w, c, (size_t)n, now_nsec());
}

void
cl_bconn_dispatch(struct cl_bworker *w, int timeout)
{
	struct epoll_event ev[256];
	int i, n;

	n = epoll_wait(w->ep, ev, (int)nitems(ev), timeout);
	for (i = 0; i < n; i++) {
		struct cl_bconn *c = ev[i].data.ptr;

		if (c->state == C_CONNECTING) {
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				on_connected(w, c);
			continue;
		}
		if (c->state != C_FREE && (ev[i].events & EPOLLOUT) && c->out)
			conn_write(w, c);
		if (c->state != C_FREE && (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			on_readable(w, c);
	}
}

/* What the server still owed when a deadline passed on c. */
static void
overdue(struct cl_bworker *w, const struct cl_bconn *c)
{
	char d[32], msg[160], where[96];

	cl_fmt_ms((uint64_t)w->o->timeout_ms, d, sizeof(d));
	progress(w, c, where, sizeof(where));
	if (c->state == C_CONNECTING)
		snprintf(msg, sizeof(msg), "no connection within %s", d);
	else if (c->state == C_DRAIN && (w->o->pattern != CL_BULK ||
	    c->rtot >= c->wtot))
		snprintf(msg, sizeof(msg), "the whole echo came back, but the "
		    "server did not close the connection within %s of the "
		    "half-close", d);
	else
		snprintf(msg, sizeof(msg), "no echo within %s%s", d, where);
	note(w, c, msg);
}

void
cl_bconn_expire(struct cl_bworker *w, uint64_t now)
{
	int i;

	for (i = 0; i < w->n; i++) {
		struct cl_bconn *c = &w->c[i];

		if (c->state == C_FREE || c->deadline == 0 || now < c->deadline)
			continue;
		w->timeouts++;
		overdue(w, c);
		cl_bconn_close(w, c);
		/*
		 * A connection that timed out was one of the -n made, or a
		 * server that never closes would have it start over for ever.
		 */
		if (w->o->pattern == CL_CONNECT && w->running && !w->stopping &&
		    count_toward_n(w))
			cl_bconn_open(w, c);
	}
}

int
cl_bconn_busy(const struct cl_bworker *w, int opening)
{
	int i;

	for (i = 0; i < w->n; i++) {
		enum cl_bconn_state s = w->c[i].state;
		if (s == C_CONNECTING || (opening ? s == C_BUSY : s != C_FREE))
			return 1;
	}
	return 0;
}
