/*
 * turn.h - the order of one turn of a worker's loop, and each streaming
 * connection's share of it.  Events that are not a streaming read go
 * first: short requests, accepts, datagrams, the master's orders.  Then
 * each connection that streams reads once, at most TURN_QUANTUM bytes
 * while others wait; alone, it may take CONN_ROUNDS rounds (conn.h).  So a
 * short request waits for at most one quantum per open stream, and a
 * lone stream costs no more epoll_wait calls than before.
 */
#ifndef ECHOD_TURN_H
#define ECHOD_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>

/* A stream's share of a turn while other clients wait: a quarter of the
 * shipped buffer_size, so 4 streams move no more per turn than one round
 * of a minimal server's 64 KiB reads each would. */
#define TURN_QUANTUM	(16 * 1024)

/*
 * Moves the events for which later() holds to the end of evs, each part
 * in the order epoll gave it (scratch holds n events); returns how many
 * come first.
 */
int	turn_order(struct epoll_event *evs, int n, struct epoll_event *scratch,
	    bool (*later)(const struct epoll_event *));

/*
 * The budget of each streaming read of a turn (conn_readable()'s): 0, no
 * limit but CONN_ROUNDS, when no other event came this turn or the one
 * before (a ping-pong client is often between two requests as the turn
 * starts); else TURN_QUANTUM, or size if that is smaller.
 */
size_t	turn_share(int nfirst, int nfirst_before, size_t size);

#endif
