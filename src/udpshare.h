/*
 * udpshare.h - which worker reads the UDP sockets, which all workers share
 * (one socket per address, as echod.socket passes it).
 *
 * Two workers reading one socket at once each get a few datagrams per
 * wake-up and spend their CPU waking up: with EPOLLEXCLUSIVE, a datagram
 * that arrives while the reader is busy wakes the other worker.  So one
 * worker at a time holds a lease on the pool's UDP, renewed by its reads;
 * a worker woken while another holds it takes the sockets out of its epoll
 * set until the lease lapses (UDPSHARE_LEASE_MS after the holder's last
 * read: a dead or stuck holder is replaced that fast).  When one wake-up
 * could not empty the queue, the holder asks for help: under a load that
 * one worker cannot carry, all of them read.
 */
#ifndef ECHOD_UDPSHARE_H
#define ECHOD_UDPSHARE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "listen.h"

#define UDPSHARE_LEASE_MS	20

/*
 * The lease, a word in the shared page: 0 (free), or the holder's slot + 1
 * in the top 16 bits, a "help" bit, and the time it lapses
 * (now_coarse_ms()) below.
 * udpshare_take: true if slot may read now - the lease was free, lapsed or
 * its own (then renewed), or its holder asked for help.
 */
bool	udpshare_take(_Atomic uint64_t *lease, int slot, uint64_t now_ms);
/* The holder sets (its reads left datagrams waiting) or clears the help bit. */
void	udpshare_backlog(_Atomic uint64_t *lease, int slot, bool backlog);
/* The holder stops reading: the lease is free. */
void	udpshare_release(_Atomic uint64_t *lease, int slot);
/* When a worker that may not read should look again: the lapse, or now
 * if the lease is free or asks for help. */
uint64_t udpshare_lapse_ms(_Atomic uint64_t *lease, uint64_t now_ms);

/* One worker's UDP sockets in its epoll set, or out while another reads. */
struct udpshare {
	_Atomic uint64_t	*lease;
	int			 slot;
	int			 ep;
	const struct listeners	*ls;
	uint64_t		 tag;		/* listener i's epoll data: tag | i */
	bool			 armed;
	uint64_t		 recheck_ms;	/* disarmed: look again then */
};

/* Arms the UDP listeners of ls in epoll ep (EPOLLEXCLUSIVE, tag | i);
 * -1 with errno if one cannot be added. */
int	udpshare_init(struct udpshare *, _Atomic uint64_t *lease, int slot,
	    int ep, const struct listeners *ls, uint64_t tag, uint64_t now_ms);
/* Woken for a datagram: true if this worker reads now; false, and out of
 * the set until the lease lapses, if another worker does. */
bool	udpshare_wake(struct udpshare *, uint64_t now_ms);
/* After reading: asks for help if datagrams were left waiting, or not. */
void	udpshare_done(struct udpshare *, bool backlog);
/* Disarmed: back in the set once the lease lapsed (each loop). */
void	udpshare_tick(struct udpshare *, uint64_t now_ms);
/* The earlier of t and the next look. */
uint64_t udpshare_next_ms(const struct udpshare *, uint64_t t);
/* Stops reading for good (draining): the lease goes, the set is left alone. */
void	udpshare_stop(struct udpshare *);

#endif
