/* resolve.h - reverse DNS for connection logs, off the event loop. */
#ifndef ECHOD_RESOLVE_H
#define ECHOD_RESOLVE_H

#include <stdbool.h>

#include "conn.h"

#define RESOLVE_QUEUE	256	/* pending look-ups; past that, logs go without names */

/* Starts the resolver thread of this worker; -1 with errno. */
int	resolve_start(void);
/*
 * Queues the "connected" log line of a client, to be written with its host
 * name once known.  Never blocks; false when the queue is full (the caller
 * logs the line without a name).
 */
bool	resolve_post(const union sockaddr_any *peer, socklen_t len);

#endif
