/*
 * proxy_conn.h - a TCP connection from a balancer (a proxy_from source) until
 * its PROXY header has arrived: reading the header without ever holding
 * more than PROXY_MAX_HEADER bytes, the queue such connections wait in (for
 * proxy_timeout), and what was counted of them.  It neither logs nor closes.
 */
#ifndef ECHOD_PROXY_CONN_H
#define ECHOD_PROXY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "proxy_header.h"

struct conf;

/* The state of a connection whose header is incomplete (struct conn's px). */
struct proxyin {
	uint64_t	 deadline_ms;	/* accepted + proxy_timeout */
	size_t		 len;
	uint8_t		 buf[PROXY_MAX_HEADER];
};

/*
 * One worker's counts, for the stats page (not wired in yet: the log lines
 * that report them say "N so far").
 */
struct proxy_conn_counters {
	uint64_t	 relayed;	/* headers naming a client */
	uint64_t	 local;		/* LOCAL, UNKNOWN, UNSPEC, UNIX: the balancer's own */
	uint64_t	 health_checks;	/* closed before sending a byte */
	uint64_t	 bad_headers;	/* malformed, or the connection ended inside one */
	uint64_t	 timeouts;	/* not complete within proxy_timeout */
};

enum proxy_conn_step {
	PROXY_CONN_MORE,	/* a prefix so far: wait for more */
	PROXY_CONN_DONE,	/* the header is consumed; c->px is gone */
	PROXY_CONN_BAD,	/* not a header: why says how; close it */
	PROXY_CONN_SILENT,	/* closed before sending a byte: a TCP health check */
	PROXY_CONN_FAIL,	/* a socket error (errno) inside the header */
};

/* Must a connection from sa begin with a PROXY header? */
bool	proxy_conn_expected(const struct conf *, const struct sockaddr *sa);
/* c now waits for its header until deadline_ms; -1 (ENOMEM). */
int	proxy_conn_start(struct conn *c, uint64_t deadline_ms);
/*
 * Reads what the socket has, at most what a header may still need, and
 * judges it.  On PROXY_CONN_DONE the header's client (if it names one) becomes
 * c->peer and the balancer c->via; the bytes read past the header are the
 * client's first data, left in c->pend to be echoed (after admission); *h
 * says what the header was.  On any other end, proxy_conn_end() before closing.
 */
enum proxy_conn_step proxy_conn_read(struct conn *c, struct proxy_header *h,
		    const char **why);
/* Frees what proxy_conn_start() took (none after PROXY_CONN_DONE). */
void	proxy_conn_end(struct conn *c);
/* buf, holding " via 127.0.0.1 port 5555" if c came through a balancer,
 * else "". */
const char *proxy_conn_via(const struct conn *c, char *buf, size_t len);

/* Connections waiting for their header are a conn_list (conn.h) in the
 * order they came, so by deadline: the first whose deadline has come by
 * now_ms, or NULL. */
struct conn *proxy_conn_queue_expired(const struct conn_list *, uint64_t now_ms);
/* The earliest deadline, if sooner than t; else t. */
uint64_t proxy_conn_queue_next_ms(const struct conn_list *, uint64_t t);

#endif
