/*
 * handoff_worker.c - a worker's side of the handoff: its connections leave in
 * batches (a state memfd and up to HANDOFF_MAX_CONNS sockets per message)
 * and the master answers each batch; adopted connections arrive the same
 * way and are checked as the master checks them: the worker trusts the
 * master, but one parser for both sides keeps them honest.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff_worker.h"
#include "handoff_wire.h"
#include "proxy_conn.h"
#include "util.h"

/* The wire's bound on a header in flight is the parser's: handoff_wire.h
 * cannot include proxy_header.h, a layer above it. */
_Static_assert(HANDOFF_MAX_PROXYIN == PROXY_MAX_HEADER, "PROXY header room");


void
handoff_worker_rec(struct handoff_rec *r, const struct conn *c, uint64_t now_ms)
{
	memset(r, 0, sizeof(*r));
	r->bytes = c->bytes;
	r->start_us = c->start_us;
	r->idle_ms = now_ms > c->last_ms ? now_ms - c->last_ms : 0;
	r->rd_eof = c->rd_eof;
	r->balancer = c->balancer;
	if (c->vialen != 0) {	/* through a balancer: peer is its address */
		r->peer = c->via;
		r->peerlen = c->vialen;
		r->proxy = c->peer;
		r->proxylen = c->peerlen;
	} else {
		r->peer = c->peer;
		r->peerlen = c->peerlen;
	}
	if (c->px != NULL) {	/* nothing echoed yet: the header so far */
		r->proxyin = true;
		r->pend = (const char *)c->px->buf;
		r->pend_len = (uint32_t)c->px->len;
		return;
	}
	r->pend = c->pend ? c->pend + c->pend_off : NULL;
	r->pend_len = c->pend_len;
}

/* What r says of its connection, into c (but its unsent echo or header,
 * which made_conn() copies: r's points into a mapping). */
static void
conn_from_rec(struct conn *c, const struct handoff_rec *r, uint64_t now_ms)
{
	c->rd_eof = r->rd_eof;
	c->balancer = r->balancer;
	c->bytes = r->bytes;
	c->start_us = r->start_us;
	c->last_ms = now_ms > r->idle_ms ? now_ms - r->idle_ms : 0;
	if (r->proxylen != 0) {	/* the client, and the balancer between */
		c->peer = r->proxy;
		c->peerlen = r->proxylen;
		c->via = r->peer;
		c->vialen = r->peerlen;
	} else {
		c->peer = r->peer;
		c->peerlen = r->peerlen;
	}
}

int
handoff_worker_out(int chan, struct conn *const *v, size_t n, uint64_t now_ms,
    handoff_worker_other_fn *other, void *arg)
{
	struct handoff_rec recs[HANDOFF_MAX_CONNS];
	int fds[HANDOFF_MAX_FDS], rc;
	uint64_t end;

	if (n == 0 || n > HANDOFF_MAX_CONNS) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		handoff_worker_rec(&recs[i], v[i], now_ms);
		fds[i + 1] = v[i]->fd;
	}
	if ((fds[0] = handoff_encode(recs, n)) == -1)
		return -1;
	rc = handoff_send(chan, HANDOFF_MSG_BATCH, fds, n + 1);
	close(fds[0]);
	if (rc == -1)
		return -1;
	end = now_coarse_ms() + HANDOFF_WORKER_ACK_MS;
	for (;;) {
		struct pollfd p = { .fd = chan, .events = POLLIN };
		int got[HANDOFF_MAX_FDS];
		size_t ngot;
		uint64_t now = now_coarse_ms();
		char type;

		if (now >= end)
			return 0;
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		rc = handoff_recv(chan, &type, got, nitems(got), &ngot);
		if (rc == 0) {
			errno = EPIPE;
			return -1;
		}
		if (rc == -1) {
			if (errno == EAGAIN || errno == EPROTO)
				continue;
			return -1;
		}
		if (type == HANDOFF_MSG_ACCEPTED || type == HANDOFF_MSG_REFUSED) {
			for (size_t i = 0; i < ngot; i++)
				close(got[i]);
			return type == HANDOFF_MSG_ACCEPTED;
		}
		other(arg, type, got, ngot);
	}
}

/* One adopted connection, with a copy of its unsent echo, or of its PROXY
 * header so far (its deadline is the worker's to set); NULL: ENOMEM. */
static struct conn *
made_conn(const struct handoff_rec *r, int fd, uint64_t now_ms)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (r->proxyin) {
		if (proxy_conn_start(c, 0) == -1) {
			free(c);
			return NULL;
		}
		memcpy(c->px->buf, r->pend, r->pend_len);
		c->px->len = r->pend_len;
	} else if (r->pend_len > 0) {
		if ((c->pend = malloc(r->pend_len)) == NULL) {
			free(c);
			return NULL;
		}
		memcpy(c->pend, r->pend, r->pend_len);
		c->pend_len = r->pend_len;
	}
	c->fd = fd;
	c->adopted = true;
	conn_from_rec(c, r, now_ms);
	return c;
}

int
handoff_worker_in(int *fds, size_t nfds, uint64_t now_ms, struct conn **out,
    const char **why)
{
	struct handoff_batch b;
	size_t n = nfds > 0 ? nfds - 1 : 0, made = 0;

	if (nfds < 2) {
		*why = "no connections in the message";
		goto fail;
	}
	for (size_t i = 1; i < nfds; i++)
		if (handoff_check_socket(fds[i], why) == -1)
			goto fail;
	if (handoff_decode(fds[0], n, &b, why) == -1)
		goto fail;
	for (; made < n; made++) {
		struct conn *c = made_conn(&b.v[made], fds[made + 1], now_ms);

		if (c == NULL) {
			*why = "out of memory";
			break;
		}
		out[made] = c;
	}
	handoff_batch_free(&b);
	if (made < n) {
		for (size_t i = 0; i < made; i++) {
			proxy_conn_end(out[i]);
			conn_release(out[i]);
			free(out[i]);
		}
		goto fail;
	}
	close(fds[0]);
	return (int)n;
fail:
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	return -1;
}
