/*
 * observe.h - what lets people and tools watch echod, as the master holds
 * it: the control socket (control.h), the metrics sockets (metrics.h), and
 * the snapshot the control socket answers from.  The master calls these
 * hooks from its loop; none of them blocks.  The metrics process is the
 * master's to supervise (metrics_sup.h).
 */
#ifndef ECHOD_OBSERVE_H
#define ECHOD_OBSERVE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.h"
#include "metrics.h"

struct chan_page;
struct conf;
struct stats_snapshot;

/* observe_fds() writes at most this many. */
#define OBSERVE_MAX_FDS		(1 + CONTROL_MAX_CLIENTS + METRICS_MAX_SOCKETS)
#define OBSERVE_MAX_POLLFDS	(1 + CONTROL_MAX_CLIENTS)

struct observe {
	struct control		 ctl;
	struct metrics		 metrics;
	struct stats_snapshot	*snap;
	const struct chan_page	*page;
	const struct conf	*conf;		/* the running one: its fallback */
};

/*
 * Binds c's metrics_listen and opens c's control socket.  Only the first
 * can fail the start (-1, err): where the control socket cannot be made,
 * the reason is logged and echod runs without one.
 */
int	observe_open(struct observe *, const struct conf *c,
	    const struct chan_page *page, char *err, size_t errlen);
/*
 * A reload from old to c, in two steps, so that nothing changes unless
 * everything can: observe_prepare() binds c's new metrics_listen and opens
 * c's control socket if its path changed (-1 with err, nothing changed);
 * then observe_commit() switches over (the metrics process due to restart
 * if its sockets or user changed, the old control socket closed), or
 * observe_abandon() closes what was prepared.
 */
struct observe_plan {
	struct listen_plan	 metrics;
	struct control		 ctl;		/* the new control socket */
	bool			 move_ctl;	/* its path changed */
};
int	observe_prepare(struct observe *, const struct conf *old,
	    const struct conf *c, struct observe_plan *, char *err,
	    size_t errlen);
void	observe_commit(struct observe *, const struct conf *old,
	    const struct conf *c, struct observe_plan *);
void	observe_abandon(struct observe_plan *);
/* A stop is coming (stop_delay) or began: health checks fail from now on. */
void	observe_stopping(struct observe *);
/* Stop: the metrics sockets close; health checks fail.  The caller ends
 * the metrics process (metrics_sup_restart()). */
void	observe_stop(struct observe *);
void	observe_close(struct observe *);

/* What a forked worker must close: appends, returns how many. */
size_t	observe_fds(const struct observe *, int *out);
/* The control socket in the master's poll (see reqsrv.h). */
size_t	observe_pollfds(const struct observe *, struct pollfd *, size_t max);
int	observe_next_timeout(const struct observe *, uint64_t now_ms);
void	observe_run(struct observe *, uint64_t now_ms);

#endif
