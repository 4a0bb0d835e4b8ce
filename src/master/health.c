/*
 * health.c - the master's look at its workers, once a turn: which ones hung
 * or overstay a drain (and must be killed), whether the current generation
 * is up, and what is said about it (READY=1, STATUS, WATCHDOG=1).  It reads
 * the slot table and the heartbeats the workers publish; what a kill
 * changes in a slot is recorded by pool.c.
 */
#include "config.h"

#include <stdio.h>

#include "detach.h"
#include "health.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "stats.h"
#include "util.h"

static void
kill_worker(struct pool *p, int i)
{
	if (pool_kill(p, i) == -1)
		log_warn("kill worker %d (pid %ld)", i, (long)p->slot[i].pid);
}

static uint64_t
heartbeat_age(const struct pool *p, int i, uint64_t now_ms)
{
	uint64_t hb = atomic_load(&p->stats[i].heartbeat_ms);

	return now_ms > hb ? now_ms - hb : 0;
}

void
health_check(struct pool *p, uint64_t timeout_ms, uint64_t now_ms)
{
	for (int i = 0; i < p->hw; i++) {
		const struct slot *s = &p->slot[i];
		uint64_t age;

		if (!pool_alive(s) || s->kill == SLOT_KILL_FINAL)
			continue;
		if (s->state == SLOT_DRAINING && now_ms >= s->deadline_ms &&
		    !pool_killed(s)) {
			log_warnx("worker %d (pid %ld) still draining past the "
			    "deadline; killing it", i, (long)s->pid);
			kill_worker(p, i);
		} else if (s->kill == SLOT_KILL_ABORT) {
			if (now_ms - s->abort_at_ms >= HEALTH_ABORT_GRACE_MS)
				kill_worker(p, i);
		} else if ((age = heartbeat_age(p, i, now_ms)) > timeout_ms) {
			log_warnx("worker %d (pid %ld) hung: no heartbeat for "
			    "%llu.%03llus; killing it", i, (long)s->pid,
			    (unsigned long long)(age / 1000),
			    (unsigned long long)(age % 1000));
			if (pool_abort(p, i, now_ms) == -1)
				log_warn("kill worker %d (pid %ld)", i, (long)s->pid);
		}
	}
}

uint64_t
health_fresh_ms(uint64_t worker_timeout_ms)
{
	uint64_t fresh = worker_timeout_ms / 2;

	return fresh < HEALTH_FRESH_MIN_MS ? HEALTH_FRESH_MIN_MS :
	    fresh > HEALTH_FRESH_MAX_MS ? HEALTH_FRESH_MAX_MS : fresh;
}

bool
health_up(const struct pool *p, unsigned generation, int target,
    uint64_t fresh_ms, uint64_t now_ms)
{
	int n = 0;

	for (int i = 0; i < p->hw; i++) {
		const struct slot *s = &p->slot[i];
		if (!pool_current(s, generation))
			continue;
		if (s->state != SLOT_RUNNING || !atomic_load(&p->stats[i].ready))
			return false;
		if (fresh_ms != 0 &&
		    now_ms - atomic_load(&p->stats[i].heartbeat_ms) > fresh_ms)
			return false;
		n++;
	}
	return n == target;
}

void
health_report(struct health *h, const struct pool *p,
    const struct health_goal *g, uint64_t now_ms)
{
	if (!h->ready && !g->stopping &&
	    health_up(p, g->generation, g->target, 0, now_ms)) {
		h->ready = h->started = true;
		log_info("ready: %d worker%s", g->target, plural(g->target));
		notify_ready();
		detach_ready();
		h->next_status_ms = 0;
	}
	if (notify_enabled() && now_ms >= h->next_status_ms) {
		static struct stats_snapshot snap;	/* too big for the stack */
		char text[HEALTH_STATUS_LEN];

		if (stats_read(p->shared, &snap) == 0) {
			health_status_text(&snap, g->stopping, text, sizeof(text));
			if (g->refused != NULL)
				notify_status("FALLBACK: %s refused, the last good "
				    "configuration serves; %s", g->refused, text);
			else
				notify_status("%s", text);
		}
		if (g->stopping && g->stop_deadline_ms > now_ms)
			notify_extend_timeout((g->stop_deadline_ms - now_ms +
			    HEALTH_STATUS_EVERY_MS) * 1000);
		h->next_status_ms = now_ms + HEALTH_STATUS_EVERY_MS;
	}
	if (notify_watchdog_usec() > 0 && now_ms >= h->next_watchdog_ms &&
	    !g->stopping && health_up(p, g->generation, g->target,
	    health_fresh_ms(g->worker_timeout_ms), now_ms)) {
		notify_watchdog();
		h->next_watchdog_ms = now_ms + notify_watchdog_usec() / 2000;
	}
}

void
health_status_text(const struct stats_snapshot *s, bool stopping, char *buf,
    size_t len)
{
	const struct stats_counts *t = &s->totals;

	uint64_t bytes = stats_sum(t->bytes, STATS_PROTO_COUNT);

	snprintf(buf, len, "%s%d worker%s, %llu connection%s, %llu byte%s "
	    "echoed; %llu accepted, %llu datagram%s, %llu refused, %llu dropped, "
	    "%llu time%s full",
	    stopping ? "stopping: " : "", s->nworkers, plural(s->nworkers),
	    (unsigned long long)t->open, plural(t->open),
	    (unsigned long long)bytes, plural(bytes),
	    (unsigned long long)t->accepted, (unsigned long long)t->datagrams,
	    plural(t->datagrams),
	    (unsigned long long)stats_sum(t->refused, STATS_REFUSE_COUNT),
	    (unsigned long long)stats_sum(t->dropped, STATS_DROP_COUNT),
	    (unsigned long long)t->full, plural(t->full));
}

void
health_new_generation(struct health *h)
{
	h->ready = false;
}

void
health_status_now(struct health *h)
{
	h->next_status_ms = 0;
}
