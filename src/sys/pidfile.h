/* pidfile.h - an atomically written, locked PID file. */
#ifndef ECHOD_PIDFILE_H
#define ECHOD_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Locks path and writes our PID into it, atomically (a locked temporary file
 * renamed over it).  If another live process holds the lock, fails with
 * errno EEXIST and its PID in *holder.  A stale file is taken over, and a
 * symbolic link replaced, never followed; what is not a regular file (a
 * device, a FIFO) is not: -1 with errno EINVAL (EISDIR for a directory).
 * As root, a name on the way another user can change: -1, errno EPERM.
 * Returns the descriptor that holds the lock (keep it open), or -1.
 */
int	pidfile_create(const char *path, pid_t *holder);
/* Removes the file if it is still ours, and releases the lock. */
void	pidfile_remove(const char *path, int fd);

#endif
