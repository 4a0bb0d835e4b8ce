/* live.h - watching a live echod, for the status-live and metrics-live
 * suites: their shared fixture (a control socket and a fake notify socket),
 * its commands run with their output gathered, load on its echo port, its
 * WATCHDOG=1 timed from the notify socket (h_notify_socket()), and clients
 * it should close. */
#ifndef ECHOD_TESTS_LIVE_H
#define ECHOD_TESTS_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/*
 * What both suites run echod with: a control socket in the scratch
 * directory and a fake notify socket that expects WATCHDOG=1 every second.
 * e is the suite's own, so that its tests keep writing e.pid, e.logpath.
 */
struct live {
	struct echod	*e;
	char		 ctl[100];	/* the control socket's path */
	int		 nfd;		/* the notify socket, or -1 */
	char		 env_notify[160];
	char		*envp[4];	/* echod's environment */
};

/* h_init(e) and the notify socket; e runs with lv's environment. */
void	live_setup(struct live *lv, struct echod *e);
void	live_teardown(struct live *lv);
/* Two workers on loopback TCP and UDP, lv's control socket, and extra
 * (more of the file); fails the test if echod does not start. */
void	live_start(struct live *lv, const char *extra);
/* echod --status [--json] -c FILE, as live_run(). */
int	live_status(const struct live *lv, bool json, char *out, size_t outlen,
	    char *err, size_t errlen);

/*
 * Runs echod with argv (NULL-terminated, after the program name) and
 * gathers its stdout (and stderr, if err) within 10 s.  Returns the exit
 * status, or -1 (killed after the timeout).
 */
int	live_run(const char *const argv[], char *out, size_t outlen, char *err,
	    size_t errlen);
/* n connections of ping-pong to e's TCP port, each len bytes, in turn. */
void	live_load(const struct echod *e, int n, size_t len);
/* A thread times each WATCHDOG=1 that arrives on the notify socket nfd. */
void	live_wd_start(int nfd);
/* Stops the thread; the WATCHDOG=1 count, the longest gap in *longest. */
int	live_wd_stop(uint64_t *longest);
/* A connection that is closed by the other side within ms: true. */
bool	live_closed_within(int fd, int ms);

#endif
