/*
 * metrics.h - the Prometheus listener.  The master binds metrics_listen
 * (under socket activation too: the sockets systemd passes are all echo
 * listeners) and supervises one small child, the metrics process, that
 * serves them: it maps the statistics page read-only and runs as the
 * configured user, so no network input is ever parsed by a root process.
 * This is the sockets and what runs in that process: it heartbeats on its
 * channel to the master, signals from its user do not crash it, and it
 * ends when the channel reaches EOF.  The master's side, which forks it
 * and kills it when the heartbeats stop, is master/metrics_sup.h.
 */
#ifndef ECHOD_METRICS_H
#define ECHOD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "listen.h"

#define METRICS_MAX_CLIENTS	16
#define METRICS_MAX_REQUEST	4096
#define METRICS_TIMEOUT_MS	5000
#define METRICS_MAX_SOCKETS	16
/* The metrics process heartbeats this often: worker_timeout is 1s at least,
 * and the master reads the channel once a turn (250 ms at most). */
#define METRICS_BEAT_MS		500

struct conf;
struct chan_page;
struct creds;
struct source_shared;

/* The sockets; the process that serves them is metrics_sup.h's. */
struct metrics {
	struct listeners ls;
	unsigned	 serial;	/* changed: a process serving the
					 * sockets or user of before restarts */
};

/* What the metrics process starts from, and what it must not keep.  The
 * master's side (metrics_sup.c) maps the page and unmaps the first two. */
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
 * METRICS_MAX_SOCKETS), returns how many. */
size_t	metrics_fds(const struct metrics *, int *out);
void	metrics_close(struct metrics *);
/*
 * The metrics process, once forked and handed page (read-only) and its
 * end of the channel: closes what it must not keep, drops to a->creds and
 * serves until the channel's EOF.  shield is what fault_shield() returned
 * (-1: said here, once the log's prefix is set).
 */
void	metrics_serve(const struct metrics *, const struct metrics_args *a,
	    const struct chan_page *page, int chan, int shield)
	    __attribute__((noreturn));

/* The HTTP side, on its own for the tests: the length of a whole request
 * head in buf (0: not yet), and the reply to one. */
size_t	metrics_http_complete(const char *buf, size_t len);
struct render_buf;
struct stats_snapshot;
void	metrics_http_reply(const struct chan_page *, struct stats_snapshot *,
	    const char *req, struct render_buf *out);

#endif
