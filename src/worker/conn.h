/* conn.h - one TCP echo connection: read, write straight back, keep only
 * the unsent remainder (at most one round's worth, buffer_size), and say
 * what to wait for. */
#ifndef ECHOD_CONN_H
#define ECHOD_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

struct conn_list;
struct proxyin;
struct pump;

/* Rounds of pump_echo() per readiness event while the client keeps the
 * reads full and no other client waits (turn.h): fewer epoll_wait calls. */
#define CONN_ROUNDS	4
/* A read shorter than this ends a stream: the client sends messages. */
#define CONN_STREAM_LOW	4096

/* Where the peer is, asked once it streams: a stream from this host is
 * copied, never spliced (conn.c says why). */
enum conn_host {
	CONN_HOST_UNKNOWN,	/* not asked yet: the zeroed state */
	CONN_HOST_SAME,
	CONN_HOST_OTHER,
};

struct conn {
	int		 fd;
	uint32_t	 events;	/* what epoll watches now; 0: not in it */
	bool		 rd_eof;	/* the client shut its write side */
	bool		 counted;	/* in the per-source table */
	bool		 balancer;	/* a balancer's own (PROXY LOCAL): not logged */
	bool		 streaming;	/* reads come full: take turns (turn.h),
					 * spliced if the peer is elsewhere */
	enum conn_host	 host;		/* where the peer is: whether to splice */
	bool		 adopted;	/* handed over: not only ours for a while */
	bool		 shut;		/* past the drain's deadline: conn_shut() */
	char		*pend;		/* unsent echo, or NULL when idle */
	uint32_t	 pend_off, pend_len;
	uint64_t	 bytes;		/* echoed so far */
	uint64_t	 start_us;
	uint64_t	 last_ms;	/* last progress, for idle_timeout */
	struct conn	*prev, *next;	/* the worker's list, oldest first */
	struct conn_list *list;		/* the one it is on, or NULL */
	union sockaddr_any peer;		/* the client: a PROXY header's, if any */
	socklen_t	 peerlen;
	union sockaddr_any via;		/* the balancer it came through */
	socklen_t	 vialen;		/* 0: none */
	struct proxyin	*px;		/* while its PROXY header is incomplete */
};

enum conn_step {
	CONN_KEEP,	/* wait for conn_events() */
	CONN_DONE,	/* the client finished and got everything back */
	CONN_FAIL,	/* an error; errno says which */
};

/*
 * The client's data is readable: echo it through the worker's pump, at
 * most budget bytes in rounds of at most buffer_size each (budget 0: no
 * one else waits, CONN_ROUNDS rounds), by splice once the reads come full.
 * What the socket does not take is kept aside (at most one round), and
 * reading stops until it is sent: backpressure.
 */
enum conn_step	conn_readable(struct conn *, struct pump *, size_t budget);
/* The socket takes data again: send the remainder. */
enum conn_step	conn_writable(struct conn *);
/*
 * The drain's deadline: the last of the echo is sent if the socket takes
 * it, then the connection is shut down for writing.  The client reads what
 * was echoed and then end of file, where a close() with its next request
 * unread would have reset the connection and thrown away what was still on
 * its way.  -1 with errno if the socket is gone (close it).
 */
int		conn_shut(struct conn *);
/* A shut connection is readable: what the client still sends is read and
 * dropped (into scratch, len bytes) until its end of file, CONN_DONE. */
enum conn_step	conn_discard(struct conn *, char *scratch, size_t len);
/* EPOLLIN or EPOLLOUT, from the state. */
uint32_t	conn_events(const struct conn *);
void		conn_release(struct conn *);	/* frees the remainder */

/*
 * Connections linked through their prev and next, oldest first by last_ms:
 * a worker's open ones by last progress, and those waiting for their PROXY
 * header (proxy_conn.h) by when they came, so by deadline.  A connection is
 * on one list at a time, which it knows (conn_end.h ends it there).
 * Inline: a worker moves a connection to the tail on every event.
 */
struct conn_list {
	struct conn	*head, *tail;
};

static inline void
conn_list_append(struct conn_list *l, struct conn *c)
{
	c->prev = l->tail;
	c->next = NULL;
	c->list = l;
	if (l->tail) l->tail->next = c; else l->head = c;
	l->tail = c;
}

static inline void
conn_list_unlink(struct conn_list *l, struct conn *c)
{
	if (c->prev) c->prev->next = c->next; else l->head = c->next;
	if (c->next) c->next->prev = c->prev; else l->tail = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

/*
 * Adds v[0..n) (sorting v on the way) where their last_ms puts them: an
 * adopted connection keeps its client's idle clock, older than what the
 * worker accepted itself, and expiry looks only at the head.  One walk
 * back from the tail per batch, not per turn.
 */
void	conn_list_merge(struct conn_list *, struct conn **v, size_t n);

#endif
