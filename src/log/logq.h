/*
 * logq.h - log records that could not be written at once, kept in order
 * until the log takes them.  The log (journald, a pipe) falls behind in
 * bursts; a bounded queue lets it catch up without a line lost, and
 * without echod ever waiting on it.  Not locked: log.c holds its lock.
 */
#ifndef ECHOD_LOGQ_H
#define ECHOD_LOGQ_H

#include <stdbool.h>
#include <stddef.h>

#define LOGQ_BYTES	(1024 * 1024)	/* per process; echod.conf(5) */

/* How a record fared: written, not now (try again), or never. */
enum logq_emit {
	LOGQ_SENT,
	LOGQ_AGAIN,
	LOGQ_FAILED,
};

struct logq {
	char	*buf;		/* cap bytes, allocated on first use */
	size_t	 cap;
	size_t	 head, tail;	/* records in [head, tail) */
	size_t	 n;		/* records queued */
};

/* An empty queue of up to cap bytes (records and their lengths). */
void	logq_init(struct logq *, size_t cap);
/* Forgets every record (a forked child: they are its parent's to write). */
void	logq_clear(struct logq *);
/* Queues a record behind the others; -1 with ENOBUFS when there is no room,
 * or ENOMEM. */
int	logq_push(struct logq *, const void *rec, size_t len);
/*
 * Hands the records to emit, oldest first, until one is not written now
 * (LOGQ_AGAIN: it stays first) or all are out; a LOGQ_FAILED record is
 * counted in *failed and removed.  Returns true when the queue is empty.
 */
bool	logq_drain(struct logq *, enum logq_emit (*emit)(const void *, size_t),
	    unsigned long *failed);

#endif
