/* conn.h - one TCP echo connection: read, write straight back, keep only
 * the unsent remainder (at most one read's worth), and say what to wait for. */
#ifndef ECHOD_CONN_H
#define ECHOD_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

union sockaddr_any {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
};

struct conn {
	int		 fd;
	uint32_t	 events;	/* what epoll watches now */
	bool		 rd_eof;	/* the client shut its write side */
	bool		 counted;	/* in the per-source table */
	bool		 adopted;	/* handed over: not only ours for a while */
	char		*pend;		/* unsent echo, or NULL when idle */
	uint32_t	 pend_off, pend_len;
	uint64_t	 bytes;		/* echoed so far */
	uint64_t	 start_us;
	uint64_t	 last_ms;	/* last progress, for idle_timeout */
	struct conn	*prev, *next;	/* the worker's list, oldest first */
	union sockaddr_any peer;
	socklen_t	 peerlen;
};

enum conn_step {
	CONN_KEEP,	/* wait for conn_events() */
	CONN_DONE,	/* the client finished and got everything back */
	CONN_FAIL,	/* an error; errno says which */
};

/*
 * The client's data is readable: read at most bufsize bytes into scratch and
 * send them straight back.  What the socket does not take is copied aside
 * (at most bufsize bytes), and reading stops until it is sent: backpressure.
 */
enum conn_step	conn_readable(struct conn *, char *scratch, size_t bufsize);
/* The socket takes data again: send the remainder. */
enum conn_step	conn_writable(struct conn *);
/* EPOLLIN or EPOLLOUT, from the state. */
uint32_t	conn_events(const struct conn *);
void		conn_release(struct conn *);	/* frees the remainder */

#endif
