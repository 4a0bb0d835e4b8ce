/* master_start.h - everything before the master's loop
 * (master_start.c). */
#ifndef ECHOD_MASTER_START_H
#define ECHOD_MASTER_START_H

#include <stdbool.h>

struct conf;
struct listener;
struct master;
struct master_opts;

/* -1 once it has said why */
int	master_start(struct master *, struct conf *,
	    const struct master_opts *);
/* Keeps c's text with systemd as the last good configuration (logged if
 * it cannot be, where there is a store).  Start and reload call it. */
void	master_keep_conf(const struct conf *c);
/* Logs a listener opened or closed: listen_reconcile()'s callback. */
void	master_note_listener(bool added, const struct listener *);

#endif
