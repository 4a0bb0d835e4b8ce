/* resolve.h - reverse DNS for connection logs, off the event loop. */
#ifndef ECHOD_RESOLVE_H
#define ECHOD_RESOLVE_H

#include <stdbool.h>

#include "addr.h"

#define RESOLVE_QUEUE	256	/* pending look-ups; past that, logs go without names */

/*
 * What the thread does with a name: called on the resolver thread, so it
 * may only log (log.c is thread-safe).  host is "" when the address has no
 * name.
 */
typedef void	resolve_done_fn(const struct sockaddr *, socklen_t,
		    const char *host);

/* Starts the resolver thread of this worker, which hands each name to
 * done; -1 with errno. */
int	resolve_start(resolve_done_fn *done);
/*
 * Queues a client's address for its name (the caller then logs its
 * "connected" line in done).  Never blocks; false when the queue is full
 * (the caller logs the line without a name).
 */
bool	resolve_post(const union sockaddr_any *peer, socklen_t len);

#endif
