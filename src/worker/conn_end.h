/*
 * conn_end.h - how every TCP connection of a worker ends, whatever ends
 * it: the client, an error, a timeout, a refusal, a bad PROXY header, a
 * handoff.  One place does each step - the counter, the log line, the
 * source uncounted, out of its list and the epoll set, closed, freed - so
 * that no way out forgets one.
 */
#ifndef ECHOD_CONN_END_H
#define ECHOD_CONN_END_H

#include "admit.h"

struct conn;
struct worker;

enum conn_end {
	/* An open connection: closed[] on the page, and its "closed" line. */
	CONN_END_EOF,		/* the client closed, all echoed */
	CONN_END_ERROR,		/* reset, send failure, epoll_ctl */
	CONN_END_IDLE,		/* idle_timeout */
	CONN_END_DRAINED,	/* shutdown_timeout */
	/* Refused at the door, before a byte is echoed: refused[], and a
	 * "tcp refused" line within the source's log budget. */
	CONN_END_DENY,
	CONN_END_SOURCE_LIMIT,
	CONN_END_SOURCE_TABLE,
	CONN_END_CONN_RATE,
	/* A balancer's connection without a valid PROXY header: refused[]
	 * "proxy" and the balancer's counters (proxy_conn.h), logged. */
	CONN_END_BAD_HEADER,
	CONN_END_HEADER_TIMEOUT,
	/* A balancer's health check: no error, said at debug level. */
	CONN_END_HEALTH_CHECK,	/* closed before sending a byte */
	CONN_END_CHECK_REFUSED,	/* LOCAL while stop_delay fails them */
	/* Silent: no counter, no line. */
	CONN_END_UNWATCHED,	/* the epoll set would not take it */
	CONN_END_HANDED,	/* the master has it now */
};

/*
 * Ends c, whichever list it is on (or none: c->list), and whether or not
 * it is in the epoll set (c->events), and frees it; why is the log line's
 * reason (NULL: none).  An adopted or handed-over socket may live on in
 * another process, so it leaves the epoll set before close().
 */
void	conn_end(struct worker *, struct conn *c, enum conn_end how,
	    const char *why);
/* The refusal an admission verdict other than ADMIT_OK is. */
enum conn_end conn_end_refusal(enum admit_verdict);

#endif
