/* scenarios.h - issue 8's stress scenarios, one TAP line each. */
#ifndef ECHOD_TESTS_SCENARIOS_H
#define ECHOD_TESTS_SCENARIOS_H

#include "stresslib.h"

/* Each fills r->figure, and r->why with the first bar it missed. */
void	sc_reload_storm(struct result *);
void	sc_log_volume(struct result *);
void	sc_worker_kills(struct result *);
void	sc_crash_loop(struct result *);
void	sc_crash_loop_abort(struct result *);
void	sc_master_kill(struct result *);
void	sc_idle_flood(struct result *);
void	sc_slow_readers(struct result *);
void	sc_fd_exhaustion(struct result *);
void	sc_udp_abuse(struct result *);
void	sc_per_source(struct result *);
void	sc_access(struct result *);
void	sc_garbage(struct result *);

#endif
