/*
 * master.c - the supervisor's loop.  Signals arrive through a signalfd, so
 * the loop reads top to bottom: report, wait, reap, stop?, reload?, resize?,
 * check (health.c), respawn.  The slot table is pool.c's: the master's
 * files decide, pool.c records.  Workers are told what to do over their
 * channel, never by signals, except SIGABRT/SIGKILL for those that stopped
 * listening.
 *
 * The master is five files around one struct master (master_state.h, which
 * only they include).  Calls only point down: this one owns the loop and
 * reads the signals; it calls master_start.c (everything before the loop),
 * master_stop.c (a stop, from the signal to the exit) and master_reload.c
 * (a reload and a resize); all four call master_slots.c, which spawns,
 * respawns, drains, kills and reaps.  The one struct master is
 * master_run()'s, passed to each by pointer.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "detach.h"
#include "handoff_master.h"
#include "health.h"
#include "log.h"
#include "master.h"
#include "master_reload.h"
#include "master_slots.h"
#include "master_start.h"
#include "master_state.h"
#include "master_stop.h"
#include "observe.h"
#include "pool.h"
#include "title.h"
#include "util.h"

#define TICK_MS			250	/* the loop's longest sleep */

/* What the signals blocked by master_start.c asked for, as flags. */
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
		default:			break;	/* SIGCHLD: master_reap() runs anyway */
		}
	}
}

/* ---- health and reports: health.c ------------------------------------- */

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
		master_forget_fd(m, dfd);
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
	if ((respawn = metrics_sup_next_respawn(&m->metrics,
	    &m->obs.metrics)) < t)
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
		master_reap(m);
		master_stop_if_asked(m);
		if (!m->stopping && m->stop_at_ms == 0)
			master_reload_if_asked(m);
		health_check(&m->pool, m->conf->worker_timeout_ms, m->now_ms);
		metrics_sup_check(&m->metrics, m->conf->worker_timeout_ms,
		    m->now_ms);
		if (m->stopping)
			master_kill_overdue(m);
		else {
			bool stored = m->handoff.stored.n > 0;
			master_respawn(m);
			handoff_master_tick(&m->handoff, m->generation, m->now_ms +
			    m->conf->shutdown_timeout_ms + DRAIN_GRACE_MS);
			if (stored && m->handoff.stored.n == 0)
				master_prepare_workers(m);	/* given out */
		}
	}
	return master_finish(m);
}
