/* crashshim.c - LD_PRELOAD'ed into echod by the crash-loop scenario: a
 * worker dies the moment it enters its event loop, exactly as a worker that
 * crashes at start would.  The master never calls epoll_wait(). */
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

int
epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
	(void)ep; (void)ev; (void)max; (void)timeout;
	if (getenv("CRASHSHIM_ABORT") != NULL)
		abort();
	_exit(70);
}
