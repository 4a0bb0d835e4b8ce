/* handoff_worker.h - a worker's side of the handoff (handoff_wire.h): its connections
 * out to the master in batches, and adopted ones in. */
#ifndef ECHOD_HANDOFF_WORKER_H
#define ECHOD_HANDOFF_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "handoff_wire.h"

#define HANDOFF_WORKER_ACK_MS	5000	/* the longest wait for the master's answer */

/* The record handed over for c, idle since its last_ms. */
void	handoff_worker_rec(struct handoff_rec *, const struct conn *c,
	    uint64_t now_ms);

/* What came on the channel while waiting for an answer: handled by the
 * worker as any message (orders, adopted connections). */
typedef void	handoff_worker_other_fn(void *arg, char type, int *fds, size_t nfds);

/*
 * Sends v[0..n) (n <= HANDOFF_MAX_CONNS) with their state to the master
 * and waits, at most HANDOFF_WORKER_ACK_MS, for its answer.  1: taken (the caller
 * closes its copies and forgets them); 0: refused or no answer (keep them
 * and drain); -1 with errno: nothing was sent.  EOF on the channel is
 * errno EPIPE.
 */
int	handoff_worker_out(int chan, struct conn *const *v, size_t n, uint64_t now_ms,
	    handoff_worker_other_fn *other, void *arg);
/*
 * Connections from a HANDOFF_MSG_ADOPT message (fds[0] the state, the rest
 * the sockets), made with their unsent echo, bytes, start and idle clock;
 * one inside its PROXY header has c->px, with what came of the header and
 * deadline_ms 0, for the caller to set.
 * Returns how many (each calloc'd, in out), or -1 with *why; then every
 * descriptor was closed.  Takes the descriptors either way.
 */
int	handoff_worker_in(int *fds, size_t nfds, uint64_t now_ms, struct conn **out,
	    const char **why);

#endif
