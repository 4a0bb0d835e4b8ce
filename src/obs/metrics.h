/*
 * metrics.h - the Prometheus listener.  The master binds metrics_listen
 * (under socket activation too: the sockets systemd passes are all echo
 * listeners) and supervises one small child, the metrics process, that
 * serves them: it maps the statistics page read-only and runs as the
 * configured user, so no network input is ever parsed by a root process.
 * It is supervised as a worker is: it heartbeats on its channel to the
 * master, which kills it when the heartbeats stop; signals from its user
 * do not crash it; and it ends when the channel reaches EOF.
 */
#ifndef ECHOD_METRICS_H
#define ECHOD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "listen.h"
#include "pool.h"

#define METRICS_MAX_CLIENTS	16
#define METRICS_MAX_REQUEST	4096
#define METRICS_TIMEOUT_MS	5000
#define METRICS_MAX_SOCKETS	16
#define METRICS_BACKOFF_MIN_MS	100
#define METRICS_BACKOFF_MAX_MS	5000
/* The metrics process heartbeats this often: worker_timeout is 1s at least,
 * and the master reads the channel once a turn (250 ms at most). */
#define METRICS_BEAT_MS		500
/* Heartbeats the master reads in one turn, at most: a flood of them costs
 * it nothing. */
#define METRICS_BEATS_READ	16

struct conf;
struct chan_page;
struct creds;
struct source_shared;

struct metrics {
	struct listeners ls;
	pid_t		 pid;		/* the metrics process; 0: none */
	int		 chan;		/* the master's end of its channel; -1 */
	enum slot_kill	 kill;		/* what the master sent it */
	uint64_t	 started_ms, respawn_at_ms, backoff_ms;
	uint64_t	 heard_ms;	/* its last heartbeat read */
	uint64_t	 abort_at_ms;	/* SLOT_KILL_ABORT: when */
};

/* What the metrics process starts from, and what it must not keep. */
struct metrics_args {
	const struct chan_page	*page;		/* unmapped in the child ... */
	int			 page_fd;	/* ... and mapped read-only */
	struct source_shared	*sources;	/* unmapped in the child */
	const struct creds	*creds;		/* NULL: keep the master's */
	const int		*close_fds;	/* -1 ended */
	const struct listeners	*echo;		/* closed in the child */
	const int		*pipes;		/* the workers' order pipes, n_pipes */
	size_t			 n_pipes;
	pid_t			 master;
};

void	metrics_init(struct metrics *);
/*
 * Makes the sockets exactly c's metrics_listen, as listen_reconcile() does
 * for echo listeners (bind the new first; nothing changes on failure;
 * note() hears of each socket opened and closed).  Returns how many
 * changed, or -1 with err.
 */
int	metrics_reconcile(struct metrics *, const struct conf *c,
	    void (*note)(bool added, const struct listener *), char *err,
	    size_t errlen);
/* The same in two steps (listen.h): binds what c adds, then applies it.
 * metrics_commit() returns how many sockets changed. */
int	metrics_prepare(struct metrics *, const struct conf *c,
	    struct listen_plan *p, char *err, size_t errlen);
size_t	metrics_commit(struct metrics *, struct listen_plan *p,
	    void (*note)(bool added, const struct listener *));
/* Its descriptors, for the workers to close: appends to out (room for
 * METRICS_MAX_SOCKETS + 1), returns how many. */
size_t	metrics_fds(const struct metrics *, int *out);
/* Starts the metrics process if sockets want one and it is due. */
void	metrics_respawn(struct metrics *, const struct metrics_args *, uint64_t now_ms);
/*
 * Once a turn: reads its heartbeats, and kills a metrics process that has
 * sent none for timeout_ms (worker_timeout) as a hung worker is killed:
 * SIGABRT (and SIGCONT), then SIGKILL HEALTH_ABORT_GRACE_MS later.
 */
void	metrics_check(struct metrics *, uint64_t timeout_ms, uint64_t now_ms);
/* Was pid the metrics process?  Then it is forgotten, the death logged,
 * and the next one due after a backoff (at once if the master killed it). */
bool	metrics_reaped(struct metrics *, pid_t pid, int status, uint64_t now_ms);
/* Tells the metrics process to end (its channel closes); a new one starts
 * from metrics_respawn() once it is reaped.  For a reload, and the stop. */
void	metrics_restart(struct metrics *);
void	metrics_close(struct metrics *);
/* When the next respawn is due; UINT64_MAX if none waits. */
uint64_t metrics_next_respawn(const struct metrics *);

/* The HTTP side, on its own for the tests: the length of a whole request
 * head in buf (0: not yet), and the reply to one. */
size_t	metrics_http_complete(const char *buf, size_t len);
struct render_buf;
struct stats_snapshot;
void	metrics_http_reply(const struct chan_page *, struct stats_snapshot *,
	    const char *req, struct render_buf *out);

#endif
