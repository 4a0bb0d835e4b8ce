/*
 * proxy_conn.c - reading a balancer's PROXY header off a connection.  The
 * header is read into its own buffer, bounded by the largest header
 * accepted; whatever the same read brought past it is the client's first
 * data and is kept to be echoed once the client is admitted.  Admission
 * itself, logging and closing are the worker's.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "addr.h"
#include "conf.h"
#include "proxy_conn.h"

bool
proxy_conn_expected(const struct conf *conf, const struct sockaddr *sa)
{
	return conf->n_proxy_from > 0 &&
	    acl_match(conf->proxy_from, conf->n_proxy_from, sa);
}

int
proxy_conn_start(struct conn *c, uint64_t deadline_ms)
{
	if ((c->px = malloc(sizeof(*c->px))) == NULL)
		return -1;
	c->px->deadline_ms = deadline_ms;
	c->px->len = 0;
	return 0;
}

void
proxy_conn_end(struct conn *c)
{
	free(c->px);
	c->px = NULL;
}

/* An IPv4 client written as ::ffff:a.b.c.d is logged and judged as IPv4. */
static void
unmap(struct proxy_header *h)
{
	struct sockaddr_in6 in6;
	struct sockaddr_in in = { .sin_family = AF_INET };

	if (h->family != AF_INET6)
		return;
	memcpy(&in6, &h->src, sizeof(in6));
	if (!IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr))
		return;
	in.sin_port = in6.sin6_port;
	memcpy(&in.sin_addr, &in6.sin6_addr.s6_addr[12], 4);
	memset(&h->src, 0, sizeof(h->src));
	memcpy(&h->src, &in, sizeof(in));
	h->addrlen = sizeof(in);
}

/* The header is whole: the client takes the peer's place; the rest is data. */
static int
consume(struct conn *c, struct proxy_header *h)
{
	struct proxyin *px = c->px;
	size_t rest = px->len - h->len;

	if (rest > 0) {
		if ((c->pend = malloc(rest)) == NULL)
			return -1;
		memcpy(c->pend, px->buf + h->len, rest);
		c->pend_off = 0;
		c->pend_len = (uint32_t)rest;
	}
	if (proxy_has_address(h)) {
		unmap(h);
		c->via = c->peer;
		c->vialen = c->peerlen;
		memset(&c->peer, 0, sizeof(c->peer));
		memcpy(&c->peer, &h->src, h->addrlen);
		c->peerlen = h->addrlen;
	}
	proxy_conn_end(c);
	return 0;
}

enum proxy_conn_step
proxy_conn_read(struct conn *c, struct proxy_header *h, const char **why)
{
	struct proxyin *px = c->px;
	ssize_t n;

	if (px->len == sizeof(px->buf)) {	/* the parser decides before */
		*why = "header too long";
		return PROXY_CONN_BAD;
	}
	n = recv(c->fd, px->buf + px->len, sizeof(px->buf) - px->len, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return PROXY_CONN_MORE;
		/* a checker may close with a reset as well as a FIN */
		if (px->len == 0 && errno == ECONNRESET)
			return PROXY_CONN_SILENT;
		return PROXY_CONN_FAIL;
	}
	if (n == 0) {
		if (px->len == 0)
			return PROXY_CONN_SILENT;
		*why = "connection closed inside the header";
		return PROXY_CONN_BAD;
	}
	px->len += (size_t)n;
	switch (proxy_parse(px->buf, px->len, h, why)) {
	case PROXY_MORE:
		return PROXY_CONN_MORE;	/* the parser refuses before the buffer is full */
	case PROXY_INVALID:
		return PROXY_CONN_BAD;
	case PROXY_DONE:
		break;
	}
	return consume(c, h) == -1 ? PROXY_CONN_FAIL : PROXY_CONN_DONE;
}

const char *
proxy_conn_via(const struct conn *c, char *buf, size_t len)
{
	char host[64];
	unsigned port;

	buf[0] = '\0';
	if (c->vialen == 0)
		return buf;
	addr_host_port(&c->via.sa, c->vialen, host, sizeof(host), &port);
	snprintf(buf, len, " via %s port %u", host, port);
	return buf;
}

struct conn *
proxy_conn_queue_expired(const struct conn_list *q, uint64_t now_ms)
{
	/* one proxy_timeout for all: the queue is in deadline order */
	if (q->head != NULL && q->head->px->deadline_ms <= now_ms)
		return q->head;
	return NULL;
}

uint64_t
proxy_conn_queue_next_ms(const struct conn_list *q, uint64_t t)
{
	if (q->head != NULL && q->head->px->deadline_ms < t)
		return q->head->px->deadline_ms;
	return t;
}
