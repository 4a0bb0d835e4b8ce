/* master.h - the supervisor: listeners, the worker pool, signals, reload.
 * Its way in from main.c; the master's own files share master_state.h. */
#ifndef ECHOD_MASTER_H
#define ECHOD_MASTER_H

#include <stdbool.h>

#include "conf.h"

struct master_opts {
	const char			*conf_path;	/* -c, absolute; NULL: the
							 * default file, if any */
	const struct conf_overrides	*overrides;
	bool				 foreground;
};

/* Runs until stopped; takes ownership of conf, as conf_read() made it.
 * Returns the exit status. */
int	master_run(struct conf *conf, const struct master_opts *);

#endif
