/*
 * master_slots.h - the master's decisions on the slot table (pool.h
 * records them): spawn, respawn, drain, kill, reap.  Start, stop, reload
 * and the loop call these; this module calls none of them.
 */
#ifndef ECHOD_MASTER_SLOTS_H
#define ECHOD_MASTER_SLOTS_H

#include <stdint.h>

struct master;

/* SIGKILL to slot i's worker; a failure is logged. */
void	master_kill_slot(struct master *, int i);
/* Slot i drains; SIGKILL is due DRAIN_GRACE_MS past timeout_ms from now. */
void	master_drain_slot(struct master *, int i, uint64_t timeout_ms);
/*
 * Brings the current generation to m->target workers: slots whose
 * backoff is over are forked again, free ones are filled.  The metrics
 * process is restarted too, if it is due.
 */
void	master_respawn(struct master *);
/*
 * Every dead child, logged: a worker that drained is freed; one that died
 * waits its backoff.  Early deaths count toward the give-up rule, which
 * sets sig_stop, exit_code 1 and gave_up.
 */
void	master_reap(struct master *);
/* Closes the master's copies of the UDP shards (shard.h) of rank n and
 * above: workers of those ranks are gone or going. */
void	master_trim_shards(struct master *, int n);
/* The descriptors a worker forked from now on closes (close_fds). */
void	master_prepare_workers(struct master *);
/* fd is closed: a worker forked from now on must not close its number. */
void	master_forget_fd(struct master *, int fd);

#endif
