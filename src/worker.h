/* worker.h - one worker process: an epoll loop over the shared listeners. */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <sys/types.h>

#include "channel.h"
#include "conf.h"
#include "listen.h"
#include "privdrop.h"
#include "source.h"

#define WORKER_ACCEPT_BATCH	8	/* accepts per wake-up */
#define WORKER_EMFILE_PAUSE_MS	100	/* listeners rest after EMFILE */
/* Balance: a worker holding more than BALANCE_HIGH percent of the average
 * (plus a little slack) steps back from accepting while a peer accepts,
 * and comes back under BALANCE_LOW percent, like nginx's accept_disabled. */
#define WORKER_BALANCE_HIGH	120
#define WORKER_BALANCE_LOW	110
#define WORKER_BALANCE_SLACK	4
#define WORKER_BALANCE_RECHECK_MS 5	/* first look after stepping back */
#define WORKER_BALANCE_RECHECK_MAX_MS 200

struct worker_args {
	const struct conf	*conf;
	const struct listeners	*ls;
	struct chan_page	*shared;	/* every worker's statistics */
	struct source_shared	*sources;	/* per-source state, pool-wide */
	const struct creds	*creds;		/* NULL: keep the master's */
	pid_t			 master;
	unsigned		 generation;
	const int		*close_fds;	/* the master's own, -1 ended */
};

/* The body of a worker: pool_spawn()'s child function.  Never returns. */
void	worker_main(int slot, int cmd_fd, void *worker_args) __attribute__((noreturn));

#endif
