/*
 * master.c - the supervisor's loop.  Signals arrive through a signalfd, so
 * the loop reads top to bottom: report, wait, reap, stop?, reload?, resize?,
 * check (health.c), respawn.  The slot table is pool.c's: the master's
 * files decide, pool.c records.  Workers are told what to do over their
 * channel, never by signals, except SIGABRT/SIGKILL for those that stopped
 * listening.
 *
 * The master is four files around one struct master (master_state.h, which
 * only they include): this one owns the loop, the signals, reaping and
 * respawning; master_start.c everything before the loop; master_stop.c a
 * stop, from the signal to the exit; master_reload.c a reload and a resize.
 * The one struct master is master_run()'s, passed to each by pointer.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "detach.h"
#include "fdstore.h"
#include "health.h"
#include "log.h"
#include "master.h"
#include "master_state.h"
#include "notify.h"
#include "observe.h"
#include "pool.h"
#include "handoff_master.h"
#include "source_tcp.h"
#include "title.h"
#include "util.h"
#include "worker.h"

#define TICK_MS			250	/* the loop's longest sleep */

static const int handled[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU,
	SIGUSR1, SIGUSR2,
};

int
master_signals_open(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t set;

	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	for (size_t i = 0; i < nitems(handled); i++)
		sigaddset(&set, handled[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
read_signals(struct master *m)
{
	struct signalfd_siginfo si;

	while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM: case SIGINT:
			/* A second one during a graceful stop: now (Ctrl-C twice). */
			if (m->stopping)
				m->sig_quit = true;
			else
				m->sig_stop = true;
			break;
		case SIGQUIT:			m->sig_quit = true; break;
		case SIGHUP:			m->sig_reload = true; break;
		case SIGTTIN:			m->sig_resize++; break;
		case SIGTTOU:			m->sig_resize--; break;
		default:			break;	/* SIGCHLD: reap() runs anyway */
		}
	}
}

/* ---- the slot table ---------------------------------------------------- */

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
worker_args(const struct master *m)
{
	return (struct worker_args){
		.conf = m->conf, .ls = &m->ls, .shared = m->pool.shared,
		.sources = m->sources,
		.creds = m->conf->user != NULL ? &m->conf->creds : NULL,
		.master = getpid(), .generation = m->generation,
		.close_fds = m->close_fds,
	};
}

static void
spawn(struct master *m, int i)
{
	struct worker_args args = worker_args(m);
	char what[128];
	pid_t pid;

	pid = pool_spawn(&m->pool, i, m->generation, m->now_ms, worker_main, &args);
	if (pid == -1) {
		snprintf(what, sizeof(what), "worker %d could not be started: %s",
		    i, strerror(errno));
		log_warnx("%s", what);
		pool_spawn_failed(&m->pool, i, m->generation, m->now_ms);
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
static void
prepare_workers(struct master *m)
{
	int n = 0, own[] = { m->sigfd, m->pidfd, detach_fd(), m->pool.page_fd };
	int *v = realloc(m->close_fds, (nitems(own) + OBSERVE_MAX_FDS +
	    m->handoff.stored.n + 1) * sizeof(*v));

	if (v == NULL)
		fatal("descriptors for workers to close");
	m->close_fds = v;
	for (size_t i = 0; i < nitems(own); i++)
		if (own[i] != -1)
			v[n++] = own[i];
	n += (int)observe_fds(&m->obs, v + n);
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
	observe_respawn(&m->obs, &a, m->now_ms);
}

/* Bring the current generation to m->target workers. */
void
master_keep_conf(const struct conf *c)
{
	int fd;

	if (fdstore_max() == 0)
		return;		/* not under systemd, or no store */
	if ((fd = confsrc_to_memfd(&c->src)) == -1 || fdstore_keep_conf(fd) == -1)
		log_warnx("the configuration could not be kept with systemd: a "
		    "restart onto a refused file will not fall back to it");
	if (fd != -1)
		close(fd);
}

void
master_respawn(struct master *m)
{
	int have;

	prepare_workers(m);	/* the descriptors open now */
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

static void
reap(struct master *m)
{
	char how[128], what[256];
	uint64_t delay;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int i = pool_find_pid(&m->pool, pid);
		if (i == -1) {
			(void)observe_reaped(&m->obs, pid, status, m->now_ms);
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
		if ((delay = pool_died(&m->pool, i, status, m->now_ms)) > 0)
			log_info("worker %d restarts in %llums", i,
			    (unsigned long long)delay);
	}
}

/* ---- health and reports: health.c ------------------------------------- */

/* fd is closed: a worker forked from now on must not close the descriptor
 * that reuses its number (its own channel, say). */
static void
forget_fd(struct master *m, int fd)
{
	int *q = m->close_fds;

	for (const int *p = m->close_fds; *p != -1; p++)
		if (*p != fd)
			*q++ = *p;
	*q = -1;
}

static void
report(struct master *m)
{
	const struct health_goal g = {
		.generation = m->generation, .target = m->target,
		.worker_timeout_ms = m->conf->worker_timeout_ms,
		.stopping = m->stopping, .stop_deadline_ms = m->stop_deadline_ms,
		.refused = m->conf->fallback == NULL ? NULL :
		    m->conf->path ? m->conf->path : "the file",
	};

	int dfd = detach_fd();

	title_master(m->generation, pool_count_alive(&m->pool), m->stopping);
	health_report(&m->health, &m->pool, &g, m->now_ms);
	if (dfd != -1 && detach_fd() == -1)	/* "ready" closed it */
		forget_fd(m, dfd);
}

/* ---- the loop --------------------------------------------------------- */

static int
next_timeout(const struct master *m)
{
	uint64_t t = m->now_ms + TICK_MS, respawn = pool_next_respawn(&m->pool);

	if (respawn < t)
		t = respawn;
	if (m->stop_at_ms != 0 && !m->stopping && m->stop_at_ms < t)
		t = m->stop_at_ms;
	if ((respawn = observe_next_respawn(&m->obs)) < t)
		t = respawn;
	return t <= m->now_ms ? 0 : (int)(t - m->now_ms);
}

/* Sleeps until a signal (a worker's death included), a message from a
 * worker (connections handed over) or the next timer. */
static void
wait_turn(struct master *m)
{
	static struct pollfd pfd[1 + OBSERVE_MAX_POLLFDS + POOL_MAX_SLOTS];
	static int slot_of[1 + OBSERVE_MAX_POLLFDS + POOL_MAX_SLOTS];
	int timeout = next_timeout(m), t;
	nfds_t n = 1, chans;

	pfd[0] = (struct pollfd){ .fd = m->sigfd, .events = POLLIN };
	n += observe_pollfds(&m->obs, pfd + 1, OBSERVE_MAX_POLLFDS);
	if ((t = observe_next_timeout(&m->obs, m->now_ms)) != -1 && t < timeout)
		timeout = t;
	chans = n;
	for (int i = 0; i < m->pool.hw; i++)
		if (pool_alive(&m->pool.slot[i]) && m->pool.slot[i].cmd_fd != -1) {
			slot_of[n] = i;
			pfd[n++] = (struct pollfd){ .fd = m->pool.slot[i].cmd_fd,
			    .events = POLLIN };
		}
	if (poll(pfd, n, timeout) == -1 && errno != EINTR)
		fatal("poll");
	m->now_ms = now_coarse_ms();
	for (nfds_t k = chans; k < n; k++)
		if (pfd[k].revents & POLLIN)
			handoff_master_on_channel(&m->handoff, slot_of[k], m->generation);
	read_signals(m);
	observe_run(&m->obs, m->now_ms);
}

int
master_run(struct conf *conf, const struct master_opts *opts)
{
	static struct master master;
	struct master *m = &master;

	if (master_start(m, conf, opts) == -1)
		return 1;
	/* A stop ends when the last worker is gone. */
	while (!m->stopping || pool_count_alive(&m->pool) > 0) {
		report(m);
		wait_turn(m);
		reap(m);
		master_stop_if_asked(m);
		if (!m->stopping && m->stop_at_ms == 0)
			master_reload_if_asked(m);
		health_check(&m->pool, m->conf->worker_timeout_ms, m->now_ms);
		observe_check(&m->obs, m->conf->worker_timeout_ms, m->now_ms);
		if (m->stopping)
			master_kill_overdue(m);
		else {
			bool stored = m->handoff.stored.n > 0;
			master_respawn(m);
			handoff_master_tick(&m->handoff, m->generation, m->now_ms +
			    m->conf->shutdown_timeout_ms + DRAIN_GRACE_MS);
			if (stored && m->handoff.stored.n == 0)
				prepare_workers(m);	/* given out */
		}
	}
	return master_finish(m);
}
