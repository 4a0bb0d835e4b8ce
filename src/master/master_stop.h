/* master_stop.h - SIGTERM, SIGINT, SIGQUIT, the deadline, the exit
 * (master_stop.c). */
#ifndef ECHOD_MASTER_STOP_H
#define ECHOD_MASTER_STOP_H

struct master;

void	master_stop_if_asked(struct master *);
void	master_kill_overdue(struct master *);
int	master_finish(struct master *);

#endif
