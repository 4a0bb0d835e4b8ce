/* live.h - watching a live echod, for the status-live and metrics-live
 * suites: its commands run with their output gathered, load on its echo
 * port, its WATCHDOG=1 timed from a fake notify socket (h_notify_socket()),
 * and clients it should close. */
#ifndef ECHOD_TESTS_LIVE_H
#define ECHOD_TESTS_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

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
