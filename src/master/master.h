/* master.h - the supervisor: listeners, the worker pool, signals, reload.
 * Its way in from main.c; the master's own files share master_state.h. */
#ifndef ECHOD_MASTER_H
#define ECHOD_MASTER_H

#include "conf.h"
#include "master_opts.h"

/* Runs until stopped; takes ownership of conf, as conf_read() made it.
 * Returns the exit status. */
int	master_run(struct conf *conf, const struct master_opts *);

#endif
