/* byteclient.c - see byteclient.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "byteclient.h"
#include "harness.h"

void
cl_open(struct cl *c, int port, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(AF_INET, port, &ss);

	memset(c, 0, sizeof(*c));
	c->x = (uint32_t)random() | 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(c->fd, -1);
	if (rcvbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&ss, len) == 0,
	    "connect: %s", strerror(errno));
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

void
cl_close(struct cl *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->sent);
	c->fd = -1;
	c->sent = NULL;
}

static uint8_t
next_byte(struct cl *c)
{
	c->x ^= c->x << 13;
	c->x ^= c->x >> 17;
	c->x ^= c->x << 5;
	return (uint8_t)c->x;
}

/* Sends up to len more bytes, as many as the socket takes now. */
size_t
cl_send(struct cl *c, size_t len)
{
	uint8_t buf[16384];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		if (c->cap < c->nsent + n) {
			c->cap = (c->nsent + n) * 2;
			c->sent = realloc(c->sent, c->cap);
			ck_assert_ptr_nonnull(c->sent);
		}
		uint32_t save = c->x;
		for (size_t i = 0; i < n; i++)
			buf[i] = next_byte(c);
		ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0) {
			c->x = save;	/* not sent: the pattern goes back */
			break;
		}
		if ((size_t)w < n) {	/* redo the pattern for what went */
			c->x = save;
			for (ssize_t i = 0; i < w; i++)
				next_byte(c);
		}
		memcpy(c->sent + c->nsent, buf, (size_t)w);
		c->nsent += (size_t)w;
		done += (size_t)w;
	}
	return done;
}

/* Reads what is there and checks it against what was sent; false on a
 * wrong byte or more bytes than sent. */
bool
cl_recv(struct cl *c)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
		if (c->nrecv + (size_t)n > c->nsent ||
		    memcmp(buf, c->sent + c->nrecv, (size_t)n) != 0)
			return false;
		c->nrecv += (size_t)n;
	}
	if (n == 0)
		c->eof = true;
	return true;
}

/* One round trip of len bytes, within timeout_ms. */
bool
cl_pingpong(struct cl *c, size_t len, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	size_t want = c->nsent + len;

	cl_send(c, len);
	while (c->nrecv < want && h_now_ms() < end && !c->eof) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (c->nsent < want)
			cl_send(c, want - c->nsent);
		poll(&p, 1, 50);
		if (!cl_recv(c))
			return false;
	}
	return c->nrecv == want;
}

/* Writes without reading until echod stops taking bytes: then it holds an
 * unsent echo.  Bounded in bytes and time. */
void
cl_stall(struct cl *c)
{
	uint64_t end = h_now_ms() + 5000, last = h_now_ms();

	while (h_now_ms() < end && c->nsent < (32u << 20) &&
	    h_now_ms() - last < 300) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		if (cl_send(c, 65536) > 0)
			last = h_now_ms();
		poll(&p, 1, 50);
	}
	ck_assert_msg(h_now_ms() - last >= 300, "echod kept reading");
}

/* Half-closes, reads to the end: every byte exactly once, in order. */
void
cl_finish(struct cl *c, const char *what, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	shutdown(c->fd, SHUT_WR);
	while (!c->eof && h_now_ms() < end) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		poll(&p, 1, 100);
		ck_assert_msg(cl_recv(c), "%s: a wrong or extra byte at %zu", what,
		    c->nrecv);
	}
	ck_assert_msg(c->eof, "%s: no end after %zu of %zu bytes", what,
	    c->nrecv, c->nsent);
	ck_assert_msg(c->nrecv == c->nsent, "%s: %zu of %zu bytes came back",
	    what, c->nrecv, c->nsent);
}
