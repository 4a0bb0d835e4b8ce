/*
 * master_state.h - what the master's own files share, and nobody else:
 * only master.c, master_start.c, master_stop.c, master_reload.c and
 * master_slots.c include it (main.c and the rest see master.h).  As in
 * OpenBSD's ntpd.h, one struct holds the master's state; unlike there it
 * is no global: the one instance is master_run()'s, and every function
 * of the files takes it by pointer, so what a function touches is in its
 * signature.  The files' functions are in their own headers, and the
 * calls point one way: master.c calls start, stop and reload; reload
 * calls start's two helpers; all of them call the slot decisions of
 * master_slots.h, which calls none of them.
 */
#ifndef ECHOD_MASTER_STATE_H
#define ECHOD_MASTER_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "health.h"
#include "listen.h"
#include "master_opts.h"
#include "metrics_sup.h"
#include "observe.h"
#include "pool.h"
#include "handoff_master.h"
#include "source.h"

#define DRAIN_GRACE_MS		2000	/* past shutdown_timeout, SIGKILL */

struct master {
	struct conf			*conf;		/* the running one */
	const struct master_opts	*opts;
	struct listeners		 ls;
	bool				 activated;	/* sockets from systemd */
	struct pool			 pool;
	struct handoff_master		 handoff;	/* connections handed over */
	struct source_shared		*sources;
	int				 sigfd;
	int				 pidfd;
	int				*close_fds;	/* -1 ended */
	struct observe			 obs;		/* --status, metrics */
	struct metrics_sup		 metrics;	/* the metrics process */
	unsigned			 generation;
	int				 target;	/* workers wanted now */
	struct health			 health;	/* what was said about it */
	char				 gave_up[512];	/* why, when the give-up rule fired */
	bool				 stopping;
	int				 exit_code;
	uint64_t			 stop_deadline_ms;
	uint64_t			 stop_at_ms;	/* stop_delay running: drain then */
	uint64_t			 now_ms;
	struct pool_crashwin		 crashes;
	/* what the signals asked for since the last turn */
	bool				 sig_stop, sig_quit, sig_reload;
	int				 sig_resize;
};

#endif
