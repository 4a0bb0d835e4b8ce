/*
 * master_stop.c - a stop, from the signal to the exit.  SIGTERM/SIGINT stop
 * gracefully (after stop_delay, if set, spent failing health checks; a
 * restart parks the connections in systemd's store instead), a second one
 * or SIGQUIT at once; past the deadline what still drains is killed, and
 * master_finish() closes what master_start.c opened.  It acts on the
 * struct master of master_state.h, which master_run() passes in.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "detach.h"
#include "fdstore.h"
#include "handoff_master.h"
#include "health.h"
#include "listen.h"
#include "log.h"
#include "master_slots.h"
#include "master_state.h"
#include "master_stop.h"
#include "notify.h"
#include "observe.h"
#include "pidfile.h"
#include "pool.h"
#include "util.h"

static void
begin_stop(struct master *m, bool now)
{
	uint64_t timeout = now ? 0 : m->conf->shutdown_timeout_ms;
	/* A restart: the connections wait in systemd's store for the next
	 * process (fdstore.h); workers that cannot hand over drain. */
	bool park = !now && !m->stopping && handoff_master_should_park();
	int alive = pool_count_alive(&m->pool);

	log_info("%s: %d worker%s", now ? "quitting" : "stopping gracefully",
	    alive, plural(alive));
	if (!m->stopping) {
		notify_stopping();
		/* Stop accepting: the listeners close once the workers have. */
		listen_close_all(&m->ls);
		observe_stop(&m->obs);
		metrics_sup_restart(&m->metrics);
	}
	m->stopping = true;
	m->stop_deadline_ms = m->now_ms + timeout + DRAIN_GRACE_MS;
	health_status_now(&m->health);	/* with EXTEND_TIMEOUT_USEC */
	m->handoff.parking = park;
	handoff_master_release_held(&m->handoff);	/* no new generation will come */
	for (int i = 0; i < m->pool.hw; i++) {
		if (now)
			pool_quit(&m->pool, i, m->stop_deadline_ms);
		else if (park)
			pool_handoff(&m->pool, i, m->stop_deadline_ms);
		else
			master_drain_slot(m, i, timeout);
	}
}

/*
 * A graceful stop with stop_delay: first tell the balancer, by failing its
 * health checks, while everything is still served and accepted (closing a
 * listener would reset what waits in its queue, and under systemd the
 * listener stays open anyway); the drain begins when the delay is over.
 */
static void
announce_stop(struct master *m)
{
	log_info("stopping in %llums: failing health checks, still serving",
	    (unsigned long long)m->conf->stop_delay_ms);
	notify_stopping();
	observe_stopping(&m->obs);
	m->stop_at_ms = m->now_ms + m->conf->stop_delay_ms;
	for (int i = 0; i < m->pool.hw; i++)
		if (pool_alive(&m->pool.slot[i]))
			pool_order(&m->pool, i, CHAN_CMD_UNHEALTHY);
}

void
master_stop_if_asked(struct master *m)
{
	if (m->sig_quit)
		begin_stop(m, true);
	else if (m->sig_stop && !m->stopping && m->stop_at_ms == 0 &&
	    m->conf->stop_delay_ms > 0 && !handoff_master_should_park())
		announce_stop(m);	/* a restart parks at once instead */
	else if (m->sig_stop && !m->stopping)
		begin_stop(m, false);	/* a second SIGTERM in the delay: now */
	else if (m->stop_at_ms != 0 && !m->stopping && m->now_ms >= m->stop_at_ms)
		begin_stop(m, false);
	m->sig_quit = m->sig_stop = false;
}

/* Stopping, past the deadline: whatever still drains is killed. */
void
master_kill_overdue(struct master *m)
{
	if (m->now_ms < m->stop_deadline_ms)
		return;
	for (int i = 0; i < m->pool.hw; i++)
		if (m->pool.slot[i].state == SLOT_DRAINING &&
		    m->pool.slot[i].kill != SLOT_KILL_FINAL)
			master_kill_slot(m, i);
}

int
master_finish(struct master *m)
{
	int rc = m->exit_code;

	handoff_master_abandon(&m->handoff);	/* never given: no worker came up */
	if (m->handoff.parking && fdstore_sync() == -1)
		log_warnx("systemd did not confirm the stored connections");
	log_info("stopped; %lu log lines dropped", log_dropped_total());
	log_drain(1000);
	observe_close(&m->obs);
	metrics_sup_restart(&m->metrics);
	listen_close_all(&m->ls);
	pool_free(&m->pool);
	pidfile_remove(m->conf->pidfile, m->pidfd);
	/* Gave up before ready: the waiting parent says why, and exits 1,
	 * once the port and the PID file are free. */
	if (rc != 0 && !m->health.started)
		detach_fail(m->gave_up);
	conf_free(m->conf);
	close(m->sigfd);
	free(m->close_fds);
	return rc;
}
