/*
 * logbudget.h - the one budget of every log line about one source: a
 * connection's lines, a refusal, a denied datagram.  A source may write
 * log_source_rate lines a second (bursts of log_source_burst), and the
 * pool log_rate_limit lines a second whatever their source; both are
 * buckets in source.c's shared table, so every worker charges the same.
 * What is held back is counted per source and said in one summary line,
 * at most once per LOGBUDGET_SUMMARY_MS per source across the pool.
 */
#ifndef ECHOD_LOGBUDGET_H
#define ECHOD_LOGBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "source.h"

#define LOGBUDGET_SUMMARY_MS	10000
#define LOGBUDGET_RETRY_MS	1000	/* a summary the pool had no room for */
#define LOGBUDGET_SOURCES	256	/* held-back sources one process names */
#define LOGBUDGET_PROBE		8
#define LOGBUDGET_LINE_MAX	256

enum logbudget_kind {
	LOGBUDGET_CONN,		/* "connection lines" */
	LOGBUDGET_REFUSAL,	/* "refusals" */
	LOGBUDGET_DATAGRAM,	/* "denied datagrams" */
	LOGBUDGET_KINDS
};

struct logbudget_limits {
	uint32_t	source_rate;	/* lines/s per source; 0: no limit */
	uint32_t	source_burst;
	uint32_t	pool_rate;	/* lines/s in all; 0: no limit */
};

struct logbudget_held {
	bool		 used;
	struct source_key key;
	char		 addr[48];	/* the first address held back */
	uint64_t	 since_ms;
	uint64_t	 n[LOGBUDGET_KINDS];
};

struct logbudget {
	struct source_shared	*shared;
	struct logbudget_limits	 lim;
	struct logbudget_held	 held[LOGBUDGET_SOURCES];
	struct logbudget_held	 other;		/* the table was full */
	uint64_t		 due_ms;	/* no summary before; 0: none held */
	uint64_t		 suppressed;	/* lines not written, since start */
};

void	logbudget_init(struct logbudget *, struct source_shared *,
	    const struct logbudget_limits *);
/*
 * May a line of this kind about sa be written at now_ms?  If not, it is
 * counted for the source's summary and in ->suppressed.  Without a budget
 * (b NULL) or for a non-IP address it always may.
 */
bool	logbudget_take(struct logbudget *, enum logbudget_kind,
	    const struct sockaddr *, socklen_t, uint64_t now_ms);
/*
 * The next summary due at now_ms, "ADDR: N connection lines, M refusals not
 * logged in the last S s", written to line[LOGBUDGET_LINE_MAX]; false when
 * none is due.  With all, every source held back is due (a worker's exit).
 * Call until false.
 */
bool	logbudget_summary(struct logbudget *, uint64_t now_ms, bool all,
	    char *line);

#endif
