/*
 * turn.c - the order of a worker's turn and a streaming connection's
 * share of it (turn.h).  Pure: the worker's loop calls it on the batch
 * epoll_wait gave, and the unit tests on batches of their own.
 */
#include "config.h"

#include <string.h>

#include "turn.h"

int
turn_order(struct epoll_event *evs, int n, struct epoll_event *scratch,
    bool (*later)(const struct epoll_event *))
{
	int first = 0, nlater = 0;

	for (int i = 0; i < n; i++) {
		if (later(&evs[i]))
			scratch[nlater++] = evs[i];
		else
			evs[first++] = evs[i];
	}
	if (nlater > 0)
		memcpy(&evs[first], scratch, (size_t)nlater * sizeof(*evs));
	return first;
}

size_t
turn_share(int nfirst, int nfirst_before, size_t size)
{
	if (nfirst == 0 && nfirst_before == 0)
		return 0;
	return size < TURN_QUANTUM ? size : TURN_QUANTUM;
}
