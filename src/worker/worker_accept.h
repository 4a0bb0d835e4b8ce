/* worker_accept.h - accepting, admission, refusals, PROXY headers
 * (worker_accept.c). */
#ifndef ECHOD_WORKER_ACCEPT_H
#define ECHOD_WORKER_ACCEPT_H

#include <stdbool.h>

#define WORKER_ACCEPT_BATCH	8	/* accepts per wake-up */

struct conn;
struct listener;
struct worker;

void	worker_on_accept(struct worker *, const struct listener *);
bool	worker_on_header(struct worker *, struct conn *);

#endif
