/* gate.h - a worker's accept gate: whether its TCP listeners are in its
 * epoll set.  Closed while the worker is full, draining, resting after
 * running out of descriptors, or over its fair share of the pool. */
#ifndef ECHOD_GATE_H
#define ECHOD_GATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "channel.h"
#include "listen.h"

#define GATE_EMFILE_PAUSE_MS	100	/* listeners rest after EMFILE */

/* What the gate decides from: the worker as it is now. */
struct gate_load {
	uint64_t	 nconns;	/* open here */
	uint64_t	 max;		/* max_connections */
	uint64_t	 now_ms;
	bool		 draining;
};

struct gate {
	int			 ep;
	const struct listeners	*ls;
	struct chan_page	*shared;	/* the peers' load, for the share */
	struct chan_stats	*own_stats;	/* this worker's line on the page:
						 * where "armed" is published */
	uint64_t		 tag;		/* listener i's epoll data: tag | i */
	int			 reserve_fd;	/* spent to shed a client on EMFILE */
	bool			 armed;		/* TCP listeners in the epoll set */
	bool			 emfile;	/* in an EMFILE episode */
	bool			 balanced_out;	/* stepped back: over its share */
	uint64_t		 paused_until_ms;
	uint64_t		 recheck_ms;	/* balanced out: look again after */
	uint64_t		 shed;		/* clients closed on EMFILE */
};

/* A closed gate over ls in epoll ep, whose events for listener i carry
 * tag | i; it holds a reserve descriptor if it can. */
void	gate_init(struct gate *, int ep, const struct listeners *ls,
	    uint64_t tag, struct chan_page *shared, struct chan_stats *own_stats);
/* Adds (on) or deletes the TCP listeners; a failed epoll_ctl is logged. */
void	gate_arm(struct gate *, bool on);
/* Looks at the fair share again and opens or closes the gate to match. */
void	gate_update(struct gate *, const struct gate_load *);
/*
 * Takes the next client off l.  Returns its descriptor (non-blocking,
 * CLOEXEC), or -1 with errno: EAGAIN when there is nothing more to take
 * now (the queue is empty, or the gate closed to rest after running out of
 * descriptors: logged once per episode), anything else for a client lost
 * before it was taken (try the next).
 */
int	gate_accept(struct gate *, const struct listener *l,
	    union sockaddr_any *peer, socklen_t *len, const struct gate_load *);
/* The earlier of t and the gate's next look (end of a rest, share recheck). */
uint64_t gate_next_ms(const struct gate *, const struct gate_load *,
	    uint64_t t);

#endif
