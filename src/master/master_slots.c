/*
 * master_slots.c - the master's decisions on the slot table: forking a
 * worker into a slot, respawning with backoff, draining and killing,
 * reaping, and the give-up rule.  pool.c records each transition; this
 * file decides when.  It also owns what a child must close (close_fds).
 * The loop (master.c), start, stop and reload call down into it; it calls
 * pool.c, handoff_master.c, metrics_sup.c and the layers below, never
 * back up.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "detach.h"
#include "handoff_master.h"
#include "log.h"
#include "master_slots.h"
#include "master_state.h"
#include "notify.h"
#include "observe.h"
#include "pool.h"
#include "shard.h"
#include "source_tcp.h"
#include "util.h"
#include "worker.h"

void
master_kill_slot(struct master *m, int i)
{
	if (pool_kill(&m->pool, i) == -1)
		log_warn("kill worker %d (pid %ld)", i, (long)m->pool.slot[i].pid);
}

void
master_drain_slot(struct master *m, int i, uint64_t timeout_ms)
{
	pool_drain(&m->pool, i, m->now_ms + timeout_ms + DRAIN_GRACE_MS);
}

/*
 * Counts an early death toward the give-up rule, and before the first
 * "ready" a worker that could not even be started: a first generation that
 * can never start fails start-up instead of retrying forever.
 */
static void
early_failure(struct master *m, const char *what)
{
	if (!pool_crashwin_add(&m->crashes, m->now_ms))
		return;
	if (m->health.started)
		snprintf(m->gave_up, sizeof(m->gave_up), "%d workers died within %ds "
		    "of starting in the last %ds; giving up", POOL_GIVEUP_COUNT,
		    POOL_EARLY_DEATH_MS / 1000, POOL_GIVEUP_WINDOW_MS / 1000);
	else
		snprintf(m->gave_up, sizeof(m->gave_up), "start-up failed: %s; %d "
		    "workers failed to start or died within %ds of starting in the "
		    "last %ds; giving up", what, POOL_GIVEUP_COUNT,
		    POOL_EARLY_DEATH_MS / 1000, POOL_GIVEUP_WINDOW_MS / 1000);
	log_warnx("%s", m->gave_up);
	notify_status("%s", m->gave_up);
	m->sig_stop = true;
	m->exit_code = 1;
}

/* What a worker starts from: the running configuration, read when forked. */
static struct worker_args
worker_args(const struct master *m, int rank)
{
	return (struct worker_args){
		.conf = m->conf, .ls = &m->ls, .shared = m->pool.shared,
		.sources = m->sources,
		.creds = m->conf->user != NULL ? &m->conf->creds : NULL,
		.master = getpid(), .generation = m->generation,
		.rank = (size_t)rank, .close_fds = m->close_fds,
	};
}

/* The UDP sockets of rank's own, before its worker is forked.  A listener
 * that cannot have them is shared by the workers from then on. */
static void
open_shards(struct master *m, int rank)
{
	for (size_t i = 0; i < m->ls.n; i++) {
		struct listener *l = &m->ls.v[i];

		if (!shard_able(l) || shard_open(l, (size_t)rank) == 0)
			continue;
		log_warnx("udp %s: no socket of its own for worker rank %d: %s; "
		    "the workers share one", l->name, rank, strerror(errno));
		shard_give_up(l);
	}
}

/* Rank's worker is gone until a respawn: its UDP sockets would queue
 * unread, so they close and their sources go to the other workers. */
static void
close_shards(struct master *m, int rank)
{
	for (size_t i = 0; i < m->ls.n; i++)
		shard_close(&m->ls.v[i], (size_t)rank);
}

void
master_trim_shards(struct master *m, int n)
{
	for (size_t i = 0; i < m->ls.n; i++)
		shard_trim(&m->ls.v[i], (size_t)n);
}

static void
spawn(struct master *m, int i)
{
	int rank = pool_rank_for(&m->pool, i, m->generation);
	struct worker_args args;
	char what[128];
	pid_t pid;

	open_shards(m, rank);
	args = worker_args(m, rank);
	pid = pool_spawn(&m->pool, i, m->generation, rank, m->now_ms, worker_main,
	    &args);
	if (pid == -1) {
		snprintf(what, sizeof(what), "worker %d could not be started: %s",
		    i, strerror(errno));
		log_warnx("%s", what);
		close_shards(m, rank);
		pool_spawn_failed(&m->pool, i, m->generation, rank, m->now_ms);
		if (!m->health.started)
			early_failure(m, what);
		return;
	}
	log_debug("worker %d started (pid %ld, generation %u)", i, (long)pid,
	    m->generation);
	if (m->stop_at_ms != 0)		/* a respawn during stop_delay */
		pool_order(&m->pool, i, CHAN_CMD_UNHEALTHY);
}

/*
 * What a child must not keep: the master's own descriptors (the metrics
 * process keeps its sockets), and the connections taken from systemd's
 * store until they are given out (a worker's copy would keep them open
 * after their own worker closes them).
 */
void
master_prepare_workers(struct master *m)
{
	int n = 0, own[] = { m->sigfd, m->pidfd, detach_fd(), m->pool.page_fd };
	int *v = realloc(m->close_fds, (nitems(own) + OBSERVE_MAX_FDS +
	    METRICS_SUP_MAX_FDS + m->handoff.stored.n + 1) * sizeof(*v));

	/* A reload's restart first: the channel it closes is not listed. */
	metrics_sup_sync(&m->metrics, &m->obs.metrics);
	if (v == NULL)
		fatal("descriptors for workers to close");
	m->close_fds = v;
	for (size_t i = 0; i < nitems(own); i++)
		if (own[i] != -1)
			v[n++] = own[i];
	n += (int)observe_fds(&m->obs, v + n);
	n += (int)metrics_sup_fds(&m->metrics, v + n);
	for (size_t i = 0; i < m->handoff.stored.n; i++)
		v[n++] = m->handoff.stored.v[i].fd;
	v[n] = -1;
}

/* The metrics process, if metrics_listen wants one: it keeps none of the
 * master's descriptors, the workers' order pipes included. */
static void
respawn_metrics(struct master *m)
{
	int pipes[POOL_MAX_SLOTS];
	size_t n = 0;

	for (int i = 0; i < m->pool.hw; i++)
		if (m->pool.slot[i].cmd_fd != -1)
			pipes[n++] = m->pool.slot[i].cmd_fd;
	const struct metrics_args a = {
		.page = m->pool.shared, .page_fd = m->pool.page_fd,
		.sources = m->sources,
		.creds = m->conf->user != NULL ? &m->conf->creds : NULL,
		.close_fds = m->close_fds, .echo = &m->ls,
		.pipes = pipes, .n_pipes = n, .master = getpid(),
	};
	metrics_sup_respawn(&m->metrics, &m->obs.metrics, &a, m->now_ms);
}

/* Bring the current generation to m->target workers. */
void
master_respawn(struct master *m)
{
	int have;

	master_prepare_workers(m);	/* the descriptors open now */
	respawn_metrics(m);
	have = pool_count_current(&m->pool, m->generation);

	for (int i = 0; i < m->pool.hw; i++) {
		const struct slot *s = &m->pool.slot[i];
		if (s->state == SLOT_WAITING && s->generation == m->generation &&
		    s->respawn_at_ms <= m->now_ms)
			spawn(m, i);
	}
	while (have < m->target) {
		int i = pool_free_slot(&m->pool);
		if (i == -1) {
			log_warnx("no free worker slot");
			return;
		}
		spawn(m, i);
		have++;
	}
}

void
master_reap(struct master *m)
{
	char how[128], what[256];
	uint64_t delay;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int i = pool_find_pid(&m->pool, pid);
		if (i == -1) {
			(void)metrics_sup_reaped(&m->metrics, pid, status,
			    m->now_ms);
			continue;
		}
		const struct slot *s = &m->pool.slot[i];
		uint64_t lived = m->now_ms - s->started_ms;
		bool killed = pool_killed(s);

		source_forget_slot(m->sources, i);
		handoff_master_on_channel(&m->handoff, i, m->generation);	/* its last batch */
		pool_describe_status(status, how, sizeof(how));
		if (s->state == SLOT_DRAINING || m->stopping) {
			if (pool_is_crash(status) && !killed)
				log_warnx("worker %d (pid %ld) %s while draining",
				    i, (long)pid, how);
			else
				log_debug("worker %d (pid %ld) finished: %s", i,
				    (long)pid, how);
			pool_finished(&m->pool, i, status);
			continue;
		}
		snprintf(what, sizeof(what), "worker %d (pid %ld) %s after "
		    "%llu.%03llus%s", i, (long)pid, how,
		    (unsigned long long)(lived / 1000),
		    (unsigned long long)(lived % 1000),
		    killed ? " (killed by the master)" : "");
		log_warnx("%s", what);
		/* Before the first "ready" any death counts: a first generation
		 * that never comes up (an OOM kill of every worker) fails
		 * start-up instead of looping. */
		if (((pool_is_crash(status) && !killed) || !m->health.started) &&
		    lived < POOL_EARLY_DEATH_MS)
			early_failure(m, what);
		close_shards(m, s->rank);
		if ((delay = pool_died(&m->pool, i, status, m->now_ms)) > 0)
			log_info("worker %d restarts in %llums", i,
			    (unsigned long long)delay);
	}
}

/* fd is closed: a worker forked from now on must not close the descriptor
 * that reuses its number (its own channel, say). */
void
master_forget_fd(struct master *m, int fd)
{
	int *q = m->close_fds;

	for (const int *p = m->close_fds; *p != -1; p++)
		if (*p != fd)
			*q++ = *p;
	*q = -1;
}
