/* detach.h - becoming a daemon without ever failing silently. */
#ifndef ECHOD_DETACH_H
#define ECHOD_DETACH_H

/*
 * fork, setsid, fork, chdir /, umask 022, stdio to /dev/null.  The original
 * process waits: it exits 0 once the daemon calls detach_ready(), or prints
 * what detach_fail() said (or that the daemon died) and exits non-zero.
 * Returns in the daemon only; -1 with errno if it could not even fork.
 */
int	detach_start(const char *progname);
void	detach_ready(void);
void	detach_fail(const char *msg);
/* The descriptor the daemon reports on, for workers to close; -1 if none. */
int	detach_fd(void);

#endif
