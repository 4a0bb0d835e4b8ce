/* master_reload.h - SIGHUP, SIGTTIN, SIGTTOU (master_reload.c). */
#ifndef ECHOD_MASTER_RELOAD_H
#define ECHOD_MASTER_RELOAD_H

struct master;

void	master_reload_if_asked(struct master *);

#endif
