/* worker_log.h - a worker's lines about clients, their budget, the
 * resolver (worker_log.c). */
#ifndef ECHOD_WORKER_LOG_H
#define ECHOD_WORKER_LOG_H

#include <stdbool.h>

#include "log.h"

struct conn;
struct worker;

void	worker_log_start(struct worker *);
void	worker_log_event(struct worker *, struct conn *, enum log_conn_event,
	    const char *why);
/* What the budget held back, once due (all: whatever is held). */
void	worker_log_summaries(struct worker *, bool all);

#endif
