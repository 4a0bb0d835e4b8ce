/*
 * reqsrv.c - one request per connection, never blocking.  A client goes
 * READING -> WRITING -> closed; the deadline set at accept ends either.
 * Nothing is read after the request: a client that kept sending after
 * its reply was read from until its deadline, and cost the server far
 * more than it cost the client (all of a core, the root master's too).
 * A reset when it closes with unread bytes is the price of sending them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reqsrv.h"

enum cstate { C_FREE, C_READING, C_WRITING };

struct reqsrv_client {
	enum cstate	 state;
	int		 fd;
	uint64_t	 deadline_ms;
	char		*in;		/* max_request + 1 */
	size_t		 inlen;
	size_t		 seen;		/* of in, shown to complete() already */
	struct render_buf	 out;
	size_t		 sent;
};

int
reqsrv_init(struct reqsrv *o, int max_clients)
{
	o->max_clients = max_clients;
	o->c = calloc((size_t)max_clients, sizeof(*o->c));
	if (o->c == NULL)
		return -1;
	for (int i = 0; i < max_clients; i++)
		o->c[i].fd = -1;
	return 0;
}

static void
drop(struct reqsrv_client *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->in);
	render_buf_free(&c->out);
	*c = (struct reqsrv_client){ .state = C_FREE, .fd = -1 };
}

void
reqsrv_free(struct reqsrv *o)
{
	for (int i = 0; o->c != NULL && i < o->max_clients; i++)
		drop(&o->c[i]);
	free(o->c);
	o->c = NULL;
	o->nl = 0;
}

void
reqsrv_set_listeners(struct reqsrv *o, const int *fds, size_t n)
{
	if (n > REQSRV_MAX_LISTENERS)
		n = REQSRV_MAX_LISTENERS;
	memcpy(o->lfd, fds, n * sizeof(*fds));
	o->nl = n;
}

size_t
reqsrv_pollfds(const struct reqsrv *o, struct pollfd *pfd, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; o->rest_until_ms == 0 && i < o->nl && n < max; i++)
		pfd[n++] = (struct pollfd){ .fd = o->lfd[i], .events = POLLIN };
	for (int i = 0; i < o->max_clients && n < max; i++) {
		const struct reqsrv_client *c = &o->c[i];
		if (c->state != C_FREE)
			pfd[n++] = (struct pollfd){ .fd = c->fd,
			    .events = c->state == C_WRITING ? POLLOUT : POLLIN };
	}
	return n;
}

int
reqsrv_next_timeout(const struct reqsrv *o, uint64_t now_ms)
{
	uint64_t first = o->rest_until_ms != 0 ? o->rest_until_ms : UINT64_MAX;

	for (int i = 0; i < o->max_clients; i++)
		if (o->c[i].state != C_FREE && o->c[i].deadline_ms < first)
			first = o->c[i].deadline_ms;
	if (first == UINT64_MAX)
		return -1;
	return first <= now_ms ? 0 : (int)(first - now_ms > 60000 ? 60000 :
	    first - now_ms);
}

int
reqsrv_busy(const struct reqsrv *o)
{
	int n = 0;

	for (int i = 0; i < o->max_clients; i++)
		n += o->c[i].state != C_FREE;
	return n;
}

static struct reqsrv_client *
free_client(struct reqsrv *o)
{
	for (int i = 0; i < o->max_clients; i++)
		if (o->c[i].state == C_FREE)
			return &o->c[i];
	return NULL;
}

/* Out of descriptors or memory the listener stays readable: polled, it
 * would wake the loop at once, for ever.  It rests instead. */
static bool
rest_if_starved(struct reqsrv *o, int err, uint64_t now_ms)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;
	o->rest_until_ms = now_ms + REQSRV_REST_MS;
	o->rests++;
	o->spell++;
	if (!o->starving && o->starved != NULL)
		o->starved(o->arg, err, o->spell);
	o->starving = true;
	return true;
}

static void
fed_again(struct reqsrv *o)
{
	if (o->starving && o->starved != NULL)
		o->starved(o->arg, 0, o->spell);
	o->starving = false;
	o->spell = 0;
}

static void
accept_some(struct reqsrv *o, uint64_t now_ms)
{
	int budget = REQSRV_ACCEPTS_PER_TURN;

	if (o->rest_until_ms > now_ms)
		return;
	o->rest_until_ms = 0;
	for (size_t l = 0; l < o->nl; l++) {
		while (budget-- > 0) {
			int fd = accept4(o->lfd[l], NULL, NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd == -1 && rest_if_starved(o, errno, now_ms))
				return;
			if (fd == -1)
				break;	/* EAGAIN, or an aborted connection */
			fed_again(o);
			struct reqsrv_client *c = free_client(o);
			char *in = c ? malloc(o->max_request + 1) : NULL;
			if (in == NULL) {
				/* busy: closed at once, never queued */
				o->turned_away++;
				close(fd);
				continue;
			}
			*c = (struct reqsrv_client){ .state = C_READING, .fd = fd,
			    .deadline_ms = now_ms + o->timeout_ms, .in = in };
		}
	}
}

static void
respond(struct reqsrv *o, struct reqsrv_client *c, size_t reqlen)
{
	c->in[reqlen] = '\0';
	o->reply(o->arg, c->in, reqlen, &c->out);
	if (c->out.oom) {
		drop(c);
		return;
	}
	c->state = C_WRITING;
	c->sent = 0;
	o->served++;
}

static void
read_request(struct reqsrv *o, struct reqsrv_client *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->inlen,
		    o->max_request + 1 - c->inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {		/* EOF before a whole request, or error */
			drop(c);
			return;
		}
		c->inlen += (size_t)n;
		/* each byte is looked at once (and a few again), however
		 * thinly the request is sliced */
		size_t from = c->seen > REQSRV_LOOKBACK ?
		    c->seen - REQSRV_LOOKBACK : 0;
		size_t len = o->complete(c->in + from, c->inlen - from);
		c->seen = c->inlen;
		if (len > 0)
			len += from;
		if (len > 0 && len <= o->max_request) {
			respond(o, c, len);
			return;
		}
		if (c->inlen > o->max_request) {
			o->too_big++;
			drop(c);
			return;
		}
	}
}

/* The reply is in the kernel's hands: the connection ends now.  What the
 * client sends from here on is never read. */
static void
write_reply(struct reqsrv_client *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->sent, c->out.len - c->sent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			drop(c);
			return;
		}
		c->sent += (size_t)n;
	}
	/* a copy of the descriptor in a child being forked must not keep
	 * the connection open */
	shutdown(c->fd, SHUT_RDWR);
	drop(c);
}

void
reqsrv_run(struct reqsrv *o, uint64_t now_ms)
{
	for (int i = 0; i < o->max_clients; i++) {
		struct reqsrv_client *c = &o->c[i];
		if (c->state != C_FREE && now_ms >= c->deadline_ms) {
			o->timed_out++;
			drop(c);
		}
		if (c->state == C_READING)
			read_request(o, c);
		if (c->state == C_WRITING)
			write_reply(c);
	}
	accept_some(o, now_ms);
}
