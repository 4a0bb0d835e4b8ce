/* stress_load.c - the pool under churn: reloads, loud logging, killed workers. */
#include "config.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool.h"
#include "scenarios.h"

#define KILLS		50
#define KILL_EVERY_MS	200
/* echod(8): a worker killed from outside "comes back at once" (no backoff,
 * which would start at 100 ms and double per slot).  Typically 20-100 ms;
 * the bound leaves a loaded 2-core machine (seen: 600 ms at load 7) room
 * for the SIGCHLD, the fork and /proc; the log pins the zero backoff. */
#define RESPAWN_BOUND_MS 2000
#define STORM_RELOADS	50
#define STORM_GAP_MS	100
#define STORM_CLIENTS	200
#define STORM_EXCHANGES	30

static const char storm_conf[] =
    "workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n"
    "shutdown_timeout = 60s\ntcp_rate_limit = 0\nlog_connections = %s\n";

/* 50 SIGHUPs 100 ms apart under 200 clients; returns exchanges a second. */
static double
storm(struct result *r, struct echod *e, struct sl_piped *p, struct sl_load *l,
    const char *what)
{
	uint64_t t0 = h_now_ms();
	char gen[64];

	sl_load_init(l, AF_INET, e->tcp4, STORM_CLIENTS, STORM_EXCHANGES, 1024);
	for (int i = 0; i < STORM_RELOADS; i++) {
		sl_load_run(l, STORM_GAP_MS);
		if (p)
			sl_piped_drain(p);
		kill(e->pid, SIGHUP);
		/* SIGHUPs sent while a reload runs coalesce: wait for this one
		 * (on a loaded machine a reload can outlast the gap), under
		 * load.  Not with every connection logged: reading that log
		 * over and over would be the load. */
		snprintf(gen, sizeof(gen), "generation %d, ", i + 2);
		for (uint64_t end = h_now_ms() + 2000; p == NULL &&
		    h_now_ms() < end && !h_log_has(e, gen);)
			sl_load_run(l, 20);
	}
	sl_load_run(l, STORM_GAP_MS);
	double rate = (double)l->exchanged * 1000.0 / (double)(h_now_ms() - t0);
	sl_load_free(l);
	/* every reload counted where each was waited for; else at least one
	 * (reloads sent during a reload coalesce) */
	snprintf(gen, sizeof(gen), "generation %d, ", p == NULL ?
	    STORM_RELOADS + 1 : 2);
	for (uint64_t end = h_now_ms() + 5000; h_now_ms() < end &&
	    !h_log_has(e, gen); h_tick())
		if (p)
			sl_piped_drain(p);
	bar(r, h_log_has(e, gen), "%s: the master never reached %s", what, gen);
	return rate;
}

void
sc_reload_storm(struct result *r)
{
	struct echod e;
	struct sl_load l;
	char conf[256];
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };

	h_init(&e);
	snprintf(conf, sizeof(conf), storm_conf, "false");
	h_write_conf(&e, conf);
	if (!sl_start(r, &e, argv))
		goto out;
	double rate = storm(r, &e, NULL, &l, "storm");
	snprintf(r->figure, sizeof(r->figure), "%d reloads, %llu connections, "
	    "%llu exchanges (%.0f/s): %llu failed connects, %llu resets, "
	    "%llu corrupt", STORM_RELOADS, (unsigned long long)l.connects,
	    (unsigned long long)l.exchanged, rate,
	    (unsigned long long)l.failed_connects, (unsigned long long)l.broken,
	    (unsigned long long)l.corrupt);
	bar(r, l.failed_connects == 0, "failed connects");
	/* A reload cuts nothing, except what echod(8) documents: past three
	 * draining generations the oldest is stopped, and on a loaded machine
	 * a connection can outlive three 100 ms reloads.  Resets without that
	 * log line are a defect. */
	bool stopped = h_log_has(&e, "generations draining: stopping generation");
	bar(r, l.broken == 0 || stopped,
	    "connections broken without a generation stopped");
	if (stopped && strlen(r->figure) + 48 < sizeof(r->figure))
		strcat(r->figure, " (a draining generation was stopped)");
	bar(r, l.corrupt == 0, "corrupted echoes");
	bar(r, l.exchanged > 1000, "too few exchanges");
out:
	h_cleanup(&e);
}

/*
 * The same storm with every connection logged, stderr on a pipe drained at
 * 32 KiB/s: a slow journal.  Logging may drop lines, never hold echoing up.
 */
void
sc_log_volume(struct result *r)
{
	struct echod e;
	struct sl_piped p;
	struct sl_load l;
	char conf[256];
	double rate[3];
	static const size_t drain[3] = { 1 << 30, 1 << 30, 32 * 1024 };
	static const char *const what[3] = { "unlogged", "logged, fast reader",
	    "logged, slow reader" };
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };

	if (sl_sanitizers()) {
		r->skip = true;
		snprintf(r->why, sizeof(r->why), "rates mean nothing under sanitizers");
		return;
	}
	for (int run = 0; run < 3; run++) {
		h_init(&e);
		snprintf(conf, sizeof(conf), storm_conf, run ? "true" : "false");
		h_write_conf(&e, conf);
		if (!bar(r, sl_start_piped(&p, &e, argv, drain[run], 10000) == 0,
		    "echod did not start: %s", sl_log_tail(&e))) {
			h_cleanup(&e);
			return;
		}
		rate[run] = storm(r, &e, &p, &l, what[run]);
		close(p.rfd);
		h_cleanup(&e);
	}
	snprintf(r->figure, sizeof(r->figure), "exchanges/s under the storm: "
	    "%.0f without log_connections; with it %.0f (%.0f%%) on a stderr read "
	    "at once, %.0f (%.0f%%) on a stderr read at 32 KiB/s",
	    rate[0], rate[1], rate[0] > 0 ? 100.0 * rate[1] / rate[0] : 0.0,
	    rate[2], rate[0] > 0 ? 100.0 * rate[2] / rate[0] : 0.0);
	bar(r, rate[1] >= rate[0] / 2, "logging itself halves the rate");
	/* against the same logging on a fast reader: what the slow reader
	 * alone costs, not logging's own price twice */
	bar(r, rate[2] >= rate[1] / 2, "a slow log reader holds echoing up");
}

/* The master's children that are alive (not zombies), victims aside.
 * /proc's children list can skip a child while another one is reaped
 * (proc(5)), so a count is the larger of two readings. */
static int
live_workers(pid_t master, const pid_t *victims, size_t nvictims)
{
	int most = 0;

	for (int reading = 0; reading < 2; reading++) {
		pid_t w[16];
		int n = h_workers(master, w, 16), live = 0;

		for (int i = 0; i < n; i++) {
			bool victim = false;
			for (size_t j = 0; j < nvictims && !victim; j++)
				victim = w[i] == victims[j];
			live += !victim && h_pid_alive(w[i]);
		}
		most = live > most ? live : most;
	}
	return most;
}

/* Holds a worker still, notes whose connections it has, then kills it. */
static size_t
kill_worker(pid_t victim, uint16_t *ports, size_t max)
{
	size_t n;

	kill(victim, SIGSTOP);
	n = sl_peer_ports(victim, ports, max);
	kill(victim, SIGKILL);
	return n;
}

void
sc_worker_kills(struct result *r)
{
	struct echod e;
	struct sl_load l;
	pid_t w[16], seen[256];
	static uint16_t owned[65536];
	size_t n_owned = 0, n_seen = 0;
	int kills = 0, probes = 0, probe_fail = 0, base_fds, base_wfds, min_live = 4;
	const char *const argv[] = { "-f", "-w", "4", "-l", "127.0.0.1:0",
	    "-c", e.confpath, NULL };

	h_init(&e);
	/* 100 clients reconnecting after every 20 exchanges come from one
	 * address faster than the default per-source connection rate */
	h_write_conf(&e, "tcp_rate_limit = 0\n");
	if (!sl_start(r, &e, argv))
		goto out;
	for (uint64_t end = h_now_ms() + 2000; h_now_ms() < end &&
	    h_workers(e.pid, w, 16) < 4; h_tick())
		;
	base_fds = sl_fd_count(e.pid);
	base_wfds = sl_fd_count(w[0]);
	sl_load_init(&l, AF_INET, e.tcp4, 100, 20, 1024);
	uint64_t t0 = h_now_ms(), next_kill = t0 + KILL_EVERY_MS, worst = 0;
	uint64_t worst_respawn = 0;
	while (kills < KILLS) {
		if (h_now_ms() < next_kill)
			sl_load_run(&l, (int)(next_kill - h_now_ms()));
		next_kill += KILL_EVERY_MS;
		int n = h_workers(e.pid, w, 16);
		int live = live_workers(e.pid, seen, n_seen);
		min_live = live < min_live ? live : min_live;
		if (n > 0) {
			pid_t victim = w[random() % n];
			uint64_t k0 = h_now_ms();
			n_owned += kill_worker(victim, owned + n_owned,
			    sizeof(owned) / sizeof(owned[0]) - n_owned);
			if (n_seen < 256)
				seen[n_seen++] = victim;
			/* the pool is whole again: how long that took (once
			 * a respawn missed the bound, the kills go on at their
			 * pace and min_live shows how far the pool shrinks) */
			uint64_t until = k0 + (worst_respawn == UINT64_MAX ? 0 :
			    RESPAWN_BOUND_MS);
			while ((live = live_workers(e.pid, seen, n_seen)) < 4 &&
			    h_now_ms() < until) {
				min_live = live < min_live ? live : min_live;
				sl_load_run(&l, 5);
			}
			min_live = live < min_live ? live : min_live;
			uint64_t took = live < 4 ? UINT64_MAX : h_now_ms() - k0;
			worst_respawn = took > worst_respawn ? took : worst_respawn;
		}
		kills++;
		/* a newcomer is answered even now */
		uint64_t p0 = h_now_ms();
		int fd = h_connect(AF_INET, e.tcp4, 1000);
		probes++;
		if (fd == -1 || h_echo(fd, "ping", 4, 1000) != 0)
			probe_fail++;
		worst = h_now_ms() - p0 > worst ? h_now_ms() - p0 : worst;
		if (fd != -1)
			close(fd);
	}
	uint64_t secs = (h_now_ms() - t0) / 1000;
	sl_load_run(&l, 300);
	size_t stray = 0;
	for (size_t i = 0; i < l.n_broken_port; i++) {
		bool known = false;
		for (size_t j = 0; j < n_owned && !known; j++)
			known = owned[j] == l.broken_port[i];
		stray += !known;
	}
	sl_load_free(&l);

	/* afterwards: a full pool, nothing left over */
	int nw = 0, wfds = 0;
	bool settled = false;
	for (uint64_t end = h_now_ms() + 3000; h_now_ms() < end && !settled; h_tick()) {
		nw = h_workers(e.pid, w, 16);
		wfds = 0;
		for (int i = 0; i < nw; i++)
			wfds = sl_fd_count(w[i]) > wfds ? sl_fd_count(w[i]) : wfds;
		settled = nw == 4 && wfds <= base_wfds && sl_fd_count(e.pid) <= base_fds;
	}
	size_t zombies = 0;
	for (size_t i = 0; i < n_seen; i++)
		zombies += sl_proc_exists(seen[i]);
	long max_delay = 0;
	char line[512];
	FILE *f = fopen(e.logpath, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "restarts in ");
		if (p && atol(p + 12) > max_delay)
			max_delay = atol(p + 12);
	}
	if (f)
		fclose(f);
	char respawn[32];
	if (worst_respawn == UINT64_MAX)
		snprintf(respawn, sizeof(respawn), "over %d ms", RESPAWN_BOUND_MS);
	else
		snprintf(respawn, sizeof(respawn), "%llu ms",
		    (unsigned long long)worst_respawn);
	snprintf(r->figure, sizeof(r->figure), "%d kills in %llu s, %d/%d probes "
	    "answered (slowest %llu ms), live workers down to %d, respawned "
	    "within %s, logged respawn delays up to %ld ms, %llu exchanges, "
	    "%llu broken (%zu of them not the "
	    "victim's), %llu failed connects, %llu corrupt; after: %d workers, "
	    "master %d fds (was %d), worker max %d fds (was %d), %zu victims not "
	    "reaped", kills, (unsigned long long)secs, probes - probe_fail, probes,
	    (unsigned long long)worst, min_live, respawn, max_delay,
	    (unsigned long long)l.exchanged,
	    (unsigned long long)l.broken, stray,
	    (unsigned long long)l.failed_connects, (unsigned long long)l.corrupt,
	    nw, sl_fd_count(e.pid), base_fds, wfds, base_wfds, zombies);
	/* echod(8): killed from outside, a young worker waits the crash
	 * backoff capped at POOL_EXTERNAL_BACKOFF_MAX_MS (a kill loop must
	 * not make the master fork as fast as it kills), so the pool is
	 * never left empty: the pool whole again within the bound, and never
	 * more than the one victim short */
	bar(r, max_delay <= POOL_EXTERNAL_BACKOFF_MAX_MS, "a killed worker was "
	    "given a respawn delay of %ld ms", max_delay);
	bar(r, worst_respawn <= RESPAWN_BOUND_MS, "a killed worker was not back "
	    "within %d ms", RESPAWN_BOUND_MS);
	bar(r, min_live >= 3, "live workers went down to %d of 4", min_live);
	bar(r, probe_fail == 0, "a new client went unanswered");
	bar(r, l.failed_connects == 0, "connects failed");
	bar(r, stray == 0, "connections of surviving workers broke");
	bar(r, l.corrupt == 0, "corrupted echoes");
	bar(r, settled, "the pool did not settle back to 4 workers and its descriptors");
	bar(r, zombies == 0, "killed workers left behind");

	/* and a clean stop leaves no process */
	pid_t last[16];
	int nlast = h_workers(e.pid, last, 16);
	bar(r, h_stop(&e, SIGTERM, 5000) != -1, "echod did not stop");
	for (int i = 0; i < nlast; i++)
		bar(r, !sl_proc_exists(last[i]), "worker %ld outlived the master",
		    (long)last[i]);
out:
	h_cleanup(&e);
}
