/*
 * handoff_wire.h - a connection moved between processes: its descriptor over
 * SCM_RIGHTS, and its state (peer, start, bytes, idle clock, unsent echo)
 * in a sealed memfd beside it.  The same format goes from an old worker to
 * the master on reload, from the master to a new worker, and into
 * systemd's descriptor store across a restart.  Whoever receives it trusts
 * nothing: lengths, counts, addresses and the seals are checked.
 */
#ifndef ECHOD_HANDOFF_WIRE_H
#define ECHOD_HANDOFF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define HANDOFF_VERSION		1
/* SCM_MAX_FD: the kernel's most descriptors in one message; one of them
 * carries the state. */
#define HANDOFF_MAX_FDS		253
#define HANDOFF_MAX_CONNS	(HANDOFF_MAX_FDS - 1)
/* A connection's unsent echo, at most: the largest buffer_size. */
#define HANDOFF_MAX_PEND	(16u * 1024 * 1024)
/* A PROXY header's bytes so far, at most: less than the worker's
 * PROXY_MAX_HEADER (handoff_worker.c asserts they agree), which this layer
 * below the worker must not include. */
#define HANDOFF_MAX_PROXYIN	1024

/* Messages on a worker's channel (a SOCK_SEQPACKET pair), first byte.  The
 * orders of channel.h are messages of one byte there. */
#define HANDOFF_MSG_BATCH	'B'	/* worker -> master: [state, conns...] */
#define HANDOFF_MSG_ADOPT	'C'	/* master -> worker: [state, conns...] */
#define HANDOFF_MSG_ACCEPTED	'A'	/* master -> worker: the batch is taken */
#define HANDOFF_MSG_REFUSED	'R'	/* master -> worker: keep it, drain */

/* One connection's state, as sent. */
struct handoff_rec {
	uint64_t		 id;		/* its name in the store; 0 otherwise */
	uint64_t		 bytes;		/* echoed so far */
	uint64_t		 start_us;	/* now_usec() when accepted */
	uint64_t		 idle_ms;	/* since its last progress */
	bool			 rd_eof;	/* the client shut its write side */
	bool			 balancer;	/* a balancer's own: not logged */
	union sockaddr_any	 peer;
	socklen_t		 peerlen;
	/* The client a PROXY-protocol header named, when one did (room for
	 * it: peer stays the socket's). proxylen 0: none. */
	union sockaddr_any	 proxy;
	socklen_t		 proxylen;
	/* The client's PROXY header is not complete: pend holds what came
	 * of it (less than HANDOFF_MAX_PROXYIN), to be read on from there. */
	bool			 proxyin;
	const char		*pend;		/* unsent echo, sent first */
	uint32_t		 pend_len;
};

/* The echo r's client is owed: a PROXY header's first bytes are none. */
static inline uint32_t
handoff_owed(const struct handoff_rec *r)
{
	return r->proxyin ? 0 : r->pend_len;
}

/* What handoff_decode() made: records whose pend points into a mapping. */
struct handoff_batch {
	struct handoff_rec	*v;
	size_t			 n;
	void			*map;
	size_t			 maplen;
};

/* The records as a sealed memfd (read-only from then on), or -1 with errno. */
int	handoff_encode(const struct handoff_rec *, size_t n);
/* The exact size handoff_encode() writes. */
size_t	handoff_encoded_len(const struct handoff_rec *, size_t n);
/* The same into buf (len from handoff_encoded_len()); for tests. */
void	handoff_encode_buf(const struct handoff_rec *, size_t n, void *buf);
/* expect for a state whose count is its own (the store's): any number up
 * to HANDOFF_MAX_CONNS. */
#define HANDOFF_ANY		((size_t)-1)
/*
 * Reads a memfd made by handoff_encode(): it must be sealed against
 * writes and shrinking, and hold exactly expect records.  0, or -1 with
 * *why set (errno ENOMEM when that was the reason).
 */
int	handoff_decode(int memfd, size_t expect, struct handoff_batch *,
	    const char **why);
/* The parser itself, over len bytes; records point into buf. */
int	handoff_decode_buf(const void *buf, size_t len, size_t expect,
	    struct handoff_batch *, const char **why);
void	handoff_batch_free(struct handoff_batch *);
/* Is fd a connected TCP socket (not a listener, not a pipe)?  0, or -1
 * with *why set. */
int	handoff_check_socket(int fd, const char **why);

/* One message on a channel: type, then up to HANDOFF_MAX_FDS descriptors.
 * 0, or -1 with errno. */
int	handoff_send(int chan, char type, const int *fds, size_t nfds);
/*
 * The next message: 1 with *type and the descriptors (close-on-exec) in
 * fds, 0 at EOF, -1 with errno (EAGAIN: none yet; EPROTO: a message cut
 * short, whose descriptors were closed).
 */
int	handoff_recv(int chan, char *type, int *fds, size_t maxfds, size_t *nfds);
/*
 * Ends a connection that cannot be handed on, gracefully: its unsent echo
 * is sent until deadline_ms (now_coarse_ms()), then the write side is shut
 * so the client sees the end after every byte it was owed, and fd closed.
 * Returns the bytes that could not be sent.
 */
size_t	handoff_finish(int fd, const char *pend, size_t len, uint64_t deadline_ms);

#endif
