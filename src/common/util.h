/* util.h - small helpers every module shares: clocks, descriptors and
 * their limit. */
#ifndef ECHOD_UTIL_H
#define ECHOD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

uint64_t	now_nsec(void);		/* CLOCK_MONOTONIC, in nanoseconds */
uint64_t	now_usec(void);		/* CLOCK_MONOTONIC */
uint64_t	now_coarse_ms(void);	/* CLOCK_MONOTONIC_COARSE, cheap */
int64_t		now_wall_ms(void);	/* CLOCK_REALTIME: a date, for people */
/* "s" unless n is 1: "%llu worker%s" reads "1 worker", "2 workers". */
#define plural(n)	((n) == 1 ? "" : "s")
int		fd_set_nonblock(int fd, int on);
int		fd_set_cloexec(int fd);
/* The soft RLIMIT_NOFILE; UINT64_MAX if unlimited or unknown. */
uint64_t	fd_limit(void);
/* Raises the soft RLIMIT_NOFILE to the hard one; *was is the soft limit
 * before.  0, or -1 with errno. */
int		fd_limit_raise(uint64_t *was);
/* Writes all of buf to a blocking fd; -1 with errno on failure. */
int		write_all(int fd, const void *buf, size_t len);
/* Reads len bytes, fewer at EOF, from a blocking fd; -1 with errno. */
ssize_t		read_full(int fd, void *buf, size_t len);

#endif
