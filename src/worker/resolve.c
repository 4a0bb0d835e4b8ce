/*
 * resolve.c - a worker's resolver thread.  getnameinfo() may wait seconds on
 * DNS, so the event loop only hands the address over a bounded queue; the
 * thread looks the name up and hands it to the worker's function, which
 * words and writes the log line.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>

#include "resolve.h"

static struct {
	pthread_mutex_t		 lock;
	pthread_cond_t		 more;
	union sockaddr_any	 q[RESOLVE_QUEUE];
	socklen_t		 len[RESOLVE_QUEUE];
	unsigned		 head, count;
	resolve_done_fn		*done;		/* set before the thread starts */
} rq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, .head = 0 };

static void *
run(void *arg)
{
	(void)arg;
	for (;;) {
		union sockaddr_any peer;
		socklen_t len;
		char host[NI_MAXHOST];

		pthread_mutex_lock(&rq.lock);
		while (rq.count == 0)
			pthread_cond_wait(&rq.more, &rq.lock);
		peer = rq.q[rq.head];
		len = rq.len[rq.head];
		rq.head = (rq.head + 1) % RESOLVE_QUEUE;
		rq.count--;
		pthread_mutex_unlock(&rq.lock);

		if (getnameinfo(&peer.sa, len, host, sizeof(host), NULL, 0,
		    NI_NAMEREQD) != 0)
			host[0] = '\0';
		rq.done(&peer.sa, len, host);
	}
	return NULL;
}

int
resolve_start(resolve_done_fn *done)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int rc;

	/* The thread takes no signal; the loop's thread keeps its own mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rq.done = done;
	rc = pthread_create(&t, &attr, run, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

bool
resolve_post(const union sockaddr_any *peer, socklen_t len)
{
	bool queued = false;

	pthread_mutex_lock(&rq.lock);
	if (rq.count < RESOLVE_QUEUE) {
		unsigned tail = (rq.head + rq.count) % RESOLVE_QUEUE;
		rq.q[tail] = *peer;
		rq.len[tail] = len;
		rq.count++;
		queued = true;
		pthread_cond_signal(&rq.more);
	}
	pthread_mutex_unlock(&rq.lock);
	return queued;
}
