/* pump.h - one round of echo on a TCP socket: move what the client sent
 * from its receive queue to its send queue, through a per-worker pipe
 * (splice: the worker never copies the bytes) or a per-worker scratch
 * buffer (recv and send), and hand back the part the socket did not take. */
#ifndef ECHOD_PUMP_H
#define ECHOD_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pump {
	size_t		 size;		/* buffer_size: the most one round moves */
	char		*scratch;	/* size bytes: the copy path, and drains */
	int		 pipe[2];	/* -1, -1 while there is none */
	unsigned	 retry;		/* rounds until the next try at a pipe */
};

/* The rounds between two tries at a pipe when there is none. */
#define PUMP_RETRY	4096

/*
 * Allocates the scratch buffer and tries for a pipe of capacity size; the
 * pump works without one (the copy path).  -1 with errno if the scratch
 * cannot be allocated.
 */
int	pump_init(struct pump *, size_t size);
void	pump_free(struct pump *);
/* Whether the zero-copy path is available now. */
bool	pump_spliced(const struct pump *);

/*
 * Moves at most p->size bytes read from fd back to fd, by splice when
 * zerocopy is set and a pipe is there, by recv and send otherwise.  Returns
 * the bytes read, 0 at EOF, -1 with errno (EAGAIN: nothing to read).  When
 * it returns > 0, *sent is what the socket took and, if that is less than
 * what was read, *rest is a malloc'd copy of the other *restlen bytes, to
 * be sent before anything is read again: the most a connection holds is
 * p->size.  The pipe is empty whenever it returns.  SIGPIPE must be
 * ignored: splice() has no MSG_NOSIGNAL.
 */
ssize_t	pump_echo(struct pump *, int fd, bool zerocopy, size_t *sent,
	    char **rest, size_t *restlen);
/* The same, reading at most max bytes (0 or more than p->size: p->size):
 * a connection's share of a turn (turn.h). */
ssize_t	pump_echo_upto(struct pump *, int fd, bool zerocopy, size_t max,
	    size_t *sent, char **rest, size_t *restlen);

#endif
