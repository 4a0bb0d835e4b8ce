/*
 * shard.h - a UDP socket of its own for each worker.  Workers that share
 * one UDP socket contend for its queue and its locks, and each reply wakes
 * every worker's epoll entry on it; two workers moved fewer datagrams than
 * two blocking processes.  So each UDP listener may have shards: sockets
 * bound to the same address in one SO_REUSEPORT group, one per worker
 * rank, which only that rank's worker reads.
 *
 * A classic BPF program on the group steers each datagram, by its source
 * address and port, to one of the shards open.  The listener's own socket
 * (l->fd) joins the group first and gets nothing while shards are open,
 * but for a datagram that comes while the group changes: the workers read
 * it now and then, and send their echoes from it.  A socket that joins the
 * group later from outside (only a process of the same user can) gets
 * nothing either: the program never names it.
 */
#ifndef ECHOD_SHARD_H
#define ECHOD_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "listen.h"

/* Can l have shards: a UDP socket bound with SO_REUSEPORT? */
bool	shard_able(const struct listener *l);
/*
 * Opens l's shard for rank, if it has none, and steers over the shards
 * open.  0, or -1 with errno; then l keeps what it had.
 */
int	shard_open(struct listener *l, size_t rank);
/* Closes the master's copy of rank's shard, if any, and steers over the
 * rest.  A copy a worker holds leaves the group when that worker closes it. */
void	shard_close(struct listener *l, size_t rank);
/* Closes the shards of rank n and above. */
void	shard_trim(struct listener *l, size_t n);
/* shard_open() failed: closes l's shards and keeps it shared from now on. */
void	shard_give_up(struct listener *l);
/* rank's shard, or -1. */
int	shard_fd(const struct listener *l, size_t rank);
/* In a child: closes the descriptors of every shard but rank keep's
 * (SIZE_MAX: all of them), leaving ls as it is. */
void	shard_close_others(const struct listeners *ls, size_t keep);
/* How many shards l has open. */
size_t	shard_count(const struct listener *l);

#endif
