/* crashshim.c - LD_PRELOAD'ed into echod by the crash-loop scenario: a
 * worker dies the moment it enters its event loop, exactly as a worker that
 * crashes at start would (CRASHSHIM_ABORT: by abort(); CRASHSHIM_KILL: by
 * SIGKILL, as from the OOM killer).  The master never calls epoll_wait().
 * CRASHSHIM_EARLY makes the worker die so in epoll_create1(), before it can
 * say it is ready: a crash loop that start-up must see, however the
 * master's loop and the worker's death interleave.
 * With CRASHSHIM_NOFILE_AFTER_SETUID=N instead, nothing crashes: each
 * setuid() away from root lowers RLIMIT_NOFILE to N, as a process of the
 * workers' user could the moment a worker drops root.
 * CRASHSHIM_ONCE=FILE: only the first worker to set up after FILE appears
 * dies (it removes FILE), half a second into its set-up, as a new
 * generation's worker that fails slowly; everything else runs normally. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void
crash(void)
{
	if (getenv("CRASHSHIM_ABORT") != NULL)
		abort();
	if (getenv("CRASHSHIM_KILL") != NULL)	/* as the OOM killer would */
		raise(SIGKILL);
	_exit(70);
}

int
epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
	int (*real)(int, struct epoll_event *, int, int);

	if (getenv("CRASHSHIM_NOFILE_AFTER_SETUID") != NULL ||
	    getenv("CRASHSHIM_ONCE") != NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "epoll_wait");
		return real(ep, ev, max, timeout);
	}
	if (getenv("CRASHSHIM_EARLY") != NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "epoll_wait");
		return real(ep, ev, max, timeout);
	}
	crash();
}

int
epoll_create1(int flags)
{
	int (*real)(int);

	const char *once = getenv("CRASHSHIM_ONCE");

	if (once != NULL && unlink(once) == 0) {
		struct timespec slow = { 0, 500 * 1000 * 1000 };
		nanosleep(&slow, NULL);
		_exit(70);
	}
	if (getenv("CRASHSHIM_EARLY") != NULL)
		crash();
	*(void **)&real = dlsym(RTLD_NEXT, "epoll_create1");
	return real(flags);
}

int
setuid(uid_t uid)
{
	const char *n = getenv("CRASHSHIM_NOFILE_AFTER_SETUID");
	int (*real)(uid_t);
	int rc;

	*(void **)&real = dlsym(RTLD_NEXT, "setuid");
	if ((rc = real(uid)) == 0 && uid != 0 && n != NULL) {
		struct rlimit rl = { (rlim_t)atol(n), (rlim_t)atol(n) };
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return rc;
}
