/* worker.h - one worker process: an epoll loop over the shared listeners. */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <sys/types.h>

#include "channel.h"
#include "conf.h"
#include "listen.h"
#include "privdrop.h"
#include "source.h"


struct worker_args {
	const struct conf	*conf;
	const struct listeners	*ls;
	struct chan_page	*shared;	/* every worker's statistics */
	struct source_shared	*sources;	/* per-source state, pool-wide */
	const struct creds	*creds;		/* NULL: keep the master's */
	pid_t			 master;
	unsigned		 generation;
	size_t			 rank;		/* its UDP shards' (shard.h) */
	const int		*close_fds;	/* the master's own, -1 ended */
};

/* The body of a worker: pool_spawn()'s child function.  Never returns. */
void	worker_main(int slot, int cmd_fd, void *worker_args) __attribute__((noreturn));

#endif
