/*
 * master_reload.c - a reload (SIGHUP) and a resize (SIGTTIN/SIGTTOU).  A
 * reload reads the configuration the way start-up does (conf_read()),
 * reconciles the listeners, and starts a new generation that the old one
 * drains behind, or hands its connections to; a bad file, or an address
 * that cannot be bound, leaves the running one in place, every listener
 * included.  It acts on the struct master of master_state.h, which
 * master_run() passes in.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "fdstore.h"
#include "health.h"
#include "listen.h"
#include "log.h"
#include "master_reload.h"
#include "master_slots.h"
#include "master_start.h"
#include "master_state.h"
#include "notify.h"
#include "observe.h"
#include "pool.h"
#include "stats.h"
#include "util.h"

/* Past POOL_MAX_DRAINING draining generations, stop the oldest outright. */
static void
bound_draining(struct master *m)
{
	unsigned oldest;

	while (pool_excess_generation(&m->pool, &oldest)) {
		log_warnx("more than %d generations draining: stopping generation %u",
		    POOL_MAX_DRAINING, oldest);
		for (int i = 0; i < m->pool.hw; i++) {
			const struct slot *s = &m->pool.slot[i];
			if (s->state == SLOT_DRAINING && s->generation == oldest)
				master_kill_slot(m, i);
		}
	}
}

static void
reload_failed(struct master *m, struct conf *c, const char *err)
{
	log_warnx("reload failed: %s; the running configuration stays", err);
	stats_reloaded(&m->pool.book, m->pool.shared, false, m->generation);
	conf_free(c);
	notify_ready();
}

/*
 * The new generation first, from m->conf; the old one drains behind it.
 * Unchanged listeners never close, so no connection is refused meanwhile.
 */
static void
next_generation(struct master *m)
{
	m->generation++;
	m->target = conf_workers(m->conf);
	health_new_generation(&m->health);
	/* The old generation's workers above the new count close their UDP
	 * shards as they begin to drain, just below. */
	master_trim_shards(m, m->target);
	master_respawn(m);
	/* ... and hands its connections over once a new worker is ready
	 * (handoff_master_tick()); until then, or if it cannot, it drains as before. */
	for (int i = 0; i < m->pool.hw; i++)
		if (m->pool.slot[i].generation != m->generation) {
			bool was_running = m->pool.slot[i].state == SLOT_RUNNING;
			master_drain_slot(m, i, m->conf->shutdown_timeout_ms);
			if (was_running)
				pool_handoff_mark(&m->pool, i, SLOT_HANDOFF_WANTED);
		}
	bound_draining(m);
}

static void
reload(struct master *m)
{
	char err[CONF_ERRLEN];
	struct listen_plan echo = { 0 };
	struct listen_spec spec;
	struct observe_plan obs;
	struct conf *c;
	/* The file running now, or, if that is the built-in configuration,
	 * the default file if it has appeared since (its path is not used
	 * past conf_free(m->conf)). */
	const char *path = m->conf->path ? m->conf->path :
	    conf_choose(m->opts->conf_path, CONF_DEFAULT_PATH);

	notify_reloading();
	log_info("reloading %s", path ? path : "the built-in configuration");
	/* A bad file and a failure to read it alike: the running one stays. */
	if (conf_read(path, m->opts->overrides, m->activated, NULL, &c, err,
	    sizeof(err)) != CONF_OK) {
		reload_failed(m, NULL, err);
		return;
	}
	for (size_t i = 0; i < c->n_warnings; i++)
		log_warnx("%s", c->warnings[i]);
	/* All or nothing: everything new is bound before anything switches,
	 * so a failure leaves every old listener serving. */
	if (!m->activated &&
	    listen_prepare(&m->ls, conf_echo_listen(c, &spec), &echo, err,
	    sizeof(err)) == -1) {
		reload_failed(m, c, err);
		return;
	}
	if (observe_prepare(&m->obs, m->conf, c, &obs, err, sizeof(err)) == -1) {
		listen_abandon(&echo);
		reload_failed(m, c, err);
		return;
	}
	if (!m->activated)
		listen_commit(&m->ls, &echo, master_note_listener);
	observe_commit(&m->obs, m->conf, c, &obs);
	if (m->conf->fallback != NULL)
		log_info("%s accepted: the stored configuration is replaced",
		    path ? path : "the built-in configuration");
	conf_free(m->conf);
	m->conf = c;	/* workers forked from now on start from it */
	m->handoff.hold_ms = c->shutdown_timeout_ms;
	master_keep_conf(c);
	log_setlevel(c->log_level);
	next_generation(m);
	stats_reloaded(&m->pool.book, m->pool.shared, true, m->generation);
	log_info("configuration reloaded: generation %u, %d worker%s",
	    m->generation, m->target, plural(m->target));
}

static void
resize(struct master *m, int delta)
{
	int want = m->target + delta;

	if (want < 1 || want > CONF_MAX_WORKERS) {
		log_warnx("worker count stays %d (1..%d)", m->target, CONF_MAX_WORKERS);
		return;
	}
	log_info("workers: %d -> %d", m->target, want);
	/* The highest ranks go, so that the UDP shards left are 0..want-1. */
	for (; delta < 0; delta++) {
		int i = pool_highest_rank(&m->pool, m->generation);
		if (i == -1)
			break;
		master_drain_slot(m, i, m->conf->shutdown_timeout_ms);
	}
	m->target = want;
	master_trim_shards(m, want);
}

void
master_reload_if_asked(struct master *m)
{
	if (m->sig_reload) {
		m->sig_reload = false;
		reload(m);
	}
	if (m->sig_resize != 0) {
		resize(m, m->sig_resize);
		m->sig_resize = 0;
	}
}
