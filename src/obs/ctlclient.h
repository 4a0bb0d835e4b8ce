/* ctlclient.h - `echod --status [--health]`: asks the running master over its
 * control socket and prints the answer. */
#ifndef ECHOD_CTLCLIENT_H
#define ECHOD_CTLCLIENT_H

#include <stdbool.h>
#include <stdio.h>

#define CTLCLIENT_TIMEOUT_MS	5000

/*
 * Asks the master listening at path for its status (JSON if json) and
 * writes the reply to out.  Returns the exit status: 0; EX_UNAVAILABLE
 * (69) when nothing answers there in time, said on err; EX_NOPERM (77)
 * when the socket's mode refuses this user, said with its owner; 1 for a
 * reply that is not one.
 */
int	ctlclient_status(const char *path, bool json, FILE *out, FILE *err);
/*
 * Asks the master at path whether it serves, for a routing daemon's or a
 * balancer's check, and writes "serving" or "stopping" to out.  Returns 0
 * serving; 1 stopping (stop_delay or later) or a reply that is not one;
 * EX_UNAVAILABLE (69) when nothing answers (not running), said on err.
 */
int	ctlclient_health(const char *path, FILE *out, FILE *err);

#endif
