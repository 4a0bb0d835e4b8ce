/* master_opts.h - what main.c tells the master beyond the configuration:
 * a header of its own, so that the master's files read it without
 * including master.h, the master's way in. */
#ifndef ECHOD_MASTER_OPTS_H
#define ECHOD_MASTER_OPTS_H

#include <stdbool.h>

struct conf_overrides;

struct master_opts {
	const char			*conf_path;	/* -c, absolute; NULL: the
							 * default file, if any */
	const struct conf_overrides	*overrides;
	bool				 foreground;
};

#endif
