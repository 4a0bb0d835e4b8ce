/*
 * master.c - the supervisor.  Signals arrive through a signalfd, so the loop
 * reads top to bottom: report, wait, reap, stop?, reload?, resize?, check
 * (health.c), respawn.  The slot table is pool.c's: this file decides, pool.c
 * records.  Workers are told what to do over their channel, never by
 * signals, except SIGABRT/SIGKILL for those that stopped listening.
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
#include "health.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "pidfile.h"
#include "pool.h"
#include "relay.h"
#include "source.h"
#include "util.h"
#include "worker.h"

#define TICK_MS			250	/* the loop's longest sleep */
#define DRAIN_GRACE_MS		2000	/* past shutdown_timeout, SIGKILL */

static struct master {
	struct conf			*conf;		/* the running one */
	const struct master_opts	*opts;
	struct listeners		 ls;
	bool				 activated;	/* sockets from systemd */
	struct pool			 pool;
	struct relay			 relay;		/* connections handed over */
	struct source_shared		*sources;
	int				 sigfd;
	int				 pidfd;
	int				*close_fds;	/* -1 ended */
	unsigned			 generation;
	int				 target;	/* workers wanted now */
	struct health			 health;	/* what was said about it */
	char				 gave_up[512];	/* why, when the give-up rule fired */
	bool				 stopping;
	int				 exit_code;
	uint64_t			 stop_deadline_ms;
	uint64_t			 now_ms;
	struct pool_crashwin		 crashes;
	/* what the signals asked for since the last turn */
	bool				 sig_stop, sig_quit, sig_reload;
	int				 sig_resize;
} m;

static const int handled[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU,
	SIGUSR1, SIGUSR2,
};

static int
setup_signals(void)
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
read_signals(void)
{
	struct signalfd_siginfo si;

	while (read(m.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM: case SIGINT:
			/* A second one during a graceful stop: now (Ctrl-C twice). */
			if (m.stopping)
				m.sig_quit = true;
			else
				m.sig_stop = true;
			break;
		case SIGQUIT:			m.sig_quit = true; break;
		case SIGHUP:			m.sig_reload = true; break;
		case SIGTTIN:			m.sig_resize++; break;
		case SIGTTOU:			m.sig_resize--; break;
		default:			break;	/* SIGCHLD: reap() runs anyway */
		}
	}
}

static void
raise_nofile(void)
{
	uint64_t was;

	if (fd_limit_raise(&was) == -1)
		log_warn("raising the descriptor limit from %llu",
		    (unsigned long long)was);
	else
		log_info("descriptor limit %llu", (unsigned long long)fd_limit());
}

/* ---- the slot table ---------------------------------------------------- */

static void
kill_slot(int i)
{
	if (pool_kill(&m.pool, i) == -1)
		log_warn("kill worker %d (pid %ld)", i, (long)m.pool.slot[i].pid);
}

static void
drain_slot(int i, uint64_t timeout_ms)
{
	pool_drain(&m.pool, i, m.now_ms + timeout_ms + DRAIN_GRACE_MS);
}

/*
 * Counts an early death toward the give-up rule, and before the first
 * "ready" a worker that could not even be started: a first generation that
 * can never start fails start-up instead of retrying forever.
 */
static void
early_failure(const char *what)
{
	if (!pool_crashwin_add(&m.crashes, m.now_ms))
		return;
	if (m.health.started)
		snprintf(m.gave_up, sizeof(m.gave_up), "%d workers died within %ds "
		    "of starting in the last %ds; giving up", POOL_GIVEUP_COUNT,
		    POOL_EARLY_DEATH_MS / 1000, POOL_GIVEUP_WINDOW_MS / 1000);
	else
		snprintf(m.gave_up, sizeof(m.gave_up), "start-up failed: %s; %d "
		    "workers failed to start or died within %ds of starting in the "
		    "last %ds; giving up", what, POOL_GIVEUP_COUNT,
		    POOL_EARLY_DEATH_MS / 1000, POOL_GIVEUP_WINDOW_MS / 1000);
	log_warnx("%s", m.gave_up);
	notify_status("%s", m.gave_up);
	m.sig_stop = true;
	m.exit_code = 1;
}

/* What a worker starts from: the running configuration, read when forked. */
static struct worker_args
worker_args(void)
{
	return (struct worker_args){
		.conf = m.conf, .ls = &m.ls, .shared = m.pool.shared,
		.sources = m.sources,
		.creds = m.conf->user != NULL ? &m.conf->creds : NULL,
		.master = getpid(), .generation = m.generation,
		.close_fds = m.close_fds,
	};
}

static void
spawn(int i)
{
	struct worker_args args = worker_args();
	char what[128];
	pid_t pid;

	pid = pool_spawn(&m.pool, i, m.generation, m.now_ms, worker_main, &args);
	if (pid == -1) {
		snprintf(what, sizeof(what), "worker %d could not be started: %s",
		    i, strerror(errno));
		log_warnx("%s", what);
		pool_spawn_failed(&m.pool, i, m.generation, m.now_ms);
		if (!m.health.started)
			early_failure(what);
		return;
	}
	log_debug("worker %d started (pid %ld, generation %u)", i, (long)pid,
	    m.generation);
}

/* Bring the current generation to m.target workers. */
static void
respawn(void)
{
	int have = pool_count_current(&m.pool, m.generation);

	for (int i = 0; i < m.pool.hw; i++) {
		const struct slot *s = &m.pool.slot[i];
		if (s->state == SLOT_WAITING && s->generation == m.generation &&
		    s->respawn_at_ms <= m.now_ms)
			spawn(i);
	}
	while (have < m.target) {
		int i = pool_free_slot(&m.pool);
		if (i == -1) {
			log_warnx("no free worker slot");
			return;
		}
		spawn(i);
		have++;
	}
}

static void
reap(void)
{
	char how[128], what[256];
	uint64_t delay;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int i = pool_find_pid(&m.pool, pid);
		if (i == -1)
			continue;
		const struct slot *s = &m.pool.slot[i];
		uint64_t lived = m.now_ms - s->started_ms;
		bool killed = pool_killed(s);

		source_forget_slot(m.sources, i);
		relay_on_channel(&m.relay, i, m.generation);	/* its last batch */
		pool_describe_status(status, how, sizeof(how));
		if (s->state == SLOT_DRAINING || m.stopping) {
			if (pool_is_crash(status) && !killed)
				log_warnx("worker %d (pid %ld) %s while draining",
				    i, (long)pid, how);
			else
				log_debug("worker %d (pid %ld) finished: %s", i,
				    (long)pid, how);
			pool_finished(&m.pool, i);
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
		if (((pool_is_crash(status) && !killed) || !m.health.started) &&
		    lived < POOL_EARLY_DEATH_MS)
			early_failure(what);
		if ((delay = pool_died(&m.pool, i, status, m.now_ms)) > 0)
			log_info("worker %d restarts in %llums", i,
			    (unsigned long long)delay);
	}
}

/* ---- stop, reload, resize ---------------------------------------------- */

static void
begin_stop(bool now)
{
	uint64_t timeout = now ? 0 : m.conf->shutdown_timeout_ms;
	/* A restart: the connections wait in systemd's store for the next
	 * process (fdstore.h); workers that cannot hand over drain. */
	bool park = !now && !m.stopping && relay_should_park();

	log_info("%s: %d workers", now ? "quitting" : "stopping gracefully",
	    pool_count_alive(&m.pool));
	if (!m.stopping) {
		notify_stopping();
		/* Stop accepting: the listeners close once the workers have. */
		listen_close_all(&m.ls);
	}
	m.stopping = true;
	m.stop_deadline_ms = m.now_ms + timeout + DRAIN_GRACE_MS;
	health_status_now(&m.health);	/* with EXTEND_TIMEOUT_USEC */
	m.relay.parking = park;
	for (int i = 0; i < m.pool.hw; i++) {
		if (now)
			pool_quit(&m.pool, i, m.stop_deadline_ms);
		else if (park)
			pool_handoff(&m.pool, i, m.stop_deadline_ms);
		else
			drain_slot(i, timeout);
	}
}

/* Past POOL_MAX_DRAINING draining generations, stop the oldest outright. */
static void
bound_draining(void)
{
	unsigned oldest;

	while (pool_excess_generation(&m.pool, &oldest)) {
		log_warnx("more than %d generations draining: stopping generation %u",
		    POOL_MAX_DRAINING, oldest);
		for (int i = 0; i < m.pool.hw; i++) {
			const struct slot *s = &m.pool.slot[i];
			if (s->state == SLOT_DRAINING && s->generation == oldest)
				kill_slot(i);
		}
	}
}

/* Says what a reload changed among the listeners. */
static void
note_listener(bool added, const struct listener *l)
{
	log_info("%s %s %s", added ? "listening on" : "no longer listening on",
	    proto_name(l->proto), l->name);
}

static void
reload_failed(struct conf *c, const char *err)
{
	log_warnx("reload failed: %s; the running configuration stays", err);
	conf_free(c);
	notify_ready();
}

static void
reload(void)
{
	char err[CONF_ERRLEN];
	struct conf *c;
	/* The file running now, or, if that is the built-in configuration,
	 * the default file if it has appeared since (its path is not used
	 * past conf_free(m.conf)). */
	const char *path = m.conf->path ? m.conf->path :
	    conf_choose(m.opts->conf_path, CONF_DEFAULT_PATH);

	notify_reloading();
	log_info("reloading %s", path ? path : "the built-in configuration");
	/* A bad file and a failure to read it alike: the running one stays. */
	if (conf_read(path, m.opts->overrides, m.activated, NULL, &c, err,
	    sizeof(err)) != CONF_OK) {
		reload_failed(NULL, err);
		return;
	}
	for (size_t i = 0; i < c->n_warnings; i++)
		log_warnx("%s", c->warnings[i]);
	if (!m.activated &&
	    listen_reconcile(&m.ls, c, note_listener, err, sizeof(err)) == -1) {
		reload_failed(c, err);
		return;
	}
	conf_free(m.conf);
	m.conf = c;	/* workers forked from now on start from it */
	log_setlevel(c->log_level);

	/* The new generation first; the old one drains behind it.  Unchanged
	 * listeners never close, so no connection is refused meanwhile. */
	m.generation++;
	m.target = conf_workers(c);
	health_new_generation(&m.health);
	respawn();
	/* ... and hands its connections over once a new worker is ready
	 * (relay_tick()); until then, or if it cannot, it drains as before. */
	for (int i = 0; i < m.pool.hw; i++)
		if (m.pool.slot[i].generation != m.generation) {
			bool was_running = m.pool.slot[i].state == SLOT_RUNNING;
			drain_slot(i, c->shutdown_timeout_ms);
			if (was_running)
				pool_handoff_mark(&m.pool, i, SLOT_HANDOFF_WANTED);
		}
	bound_draining();
	log_info("configuration reloaded: generation %u, %d workers",
	    m.generation, m.target);
}

static void
resize(int delta)
{
	int want = m.target + delta;

	if (want < 1 || want > CONF_MAX_WORKERS) {
		log_warnx("worker count stays %d (1..%d)", m.target, CONF_MAX_WORKERS);
		return;
	}
	log_info("workers: %d -> %d", m.target, want);
	for (int i = m.pool.hw; i-- > 0 && delta < 0;) {
		if (pool_current(&m.pool.slot[i], m.generation)) {
			drain_slot(i, m.conf->shutdown_timeout_ms);
			delta++;
		}
	}
	m.target = want;
}

/* ---- health and reports: health.c ------------------------------------- */

/* fd is closed: a worker forked from now on must not close the descriptor
 * that reuses its number (its own channel, say). */
static void
forget_fd(int fd)
{
	int *q = m.close_fds;

	for (const int *p = m.close_fds; *p != -1; p++)
		if (*p != fd)
			*q++ = *p;
	*q = -1;
}

static void
report(void)
{
	const struct health_goal g = {
		.generation = m.generation, .target = m.target,
		.worker_timeout_ms = m.conf->worker_timeout_ms,
		.stopping = m.stopping, .stop_deadline_ms = m.stop_deadline_ms,
	};

	int dfd = detach_fd();

	health_report(&m.health, &m.pool, &g, m.now_ms);
	if (dfd != -1 && detach_fd() == -1)	/* "ready" closed it */
		forget_fd(dfd);
}

/* ---- start and the loop ------------------------------------------------ */

static int
startup_fail(const char *msg)
{
	log_warnx("%s", msg);
	detach_fail(msg);
	return -1;
}

static int
open_pidfile(char *err, size_t errlen)
{
	const char *path = m.conf->pidfile;
	pid_t holder;

	if (path == NULL || (m.pidfd = pidfile_create(path, &holder)) != -1)
		return 0;
	if (errno == EEXIST)
		snprintf(err, errlen, "pid file %s: already locked by pid %ld: "
		    "is echod running?", path, (long)holder);
	else
		snprintf(err, errlen, "pid file %s: %s", path,
		    errno == EINVAL ? "not a regular file" : strerror(errno));
	return -1;
}

static void
warn_stored(const char *name, const char *why)
{
	log_warnx("stored connection %s: %s; ended", name, why);
}

static int
open_listeners(char *err, size_t errlen)
{
	int n;

	/* Connections parked by the process before us come first: after
	 * listen_from_systemd() the names are gone from the environment. */
	if (fdstore_collect(&m.relay.stored, warn_stored) == -1) {
		snprintf(err, errlen, "stored connections: out of memory");
		return -1;
	}
	if (m.relay.stored.n > 0)
		log_info("%zu connections taken back from systemd's store",
		    m.relay.stored.n);
	n = listen_from_systemd(&m.ls, err, errlen);

	if (n == -1)
		return -1;
	if (n > 0) {
		m.activated = true;
		log_info("using %d sockets passed by systemd; listen_tcp and "
		    "listen_udp are ignored", n);
		for (size_t i = 0; i < m.ls.n; i++)
			note_listener(true, &m.ls.v[i]);
	} else if (listen_reconcile(&m.ls, m.conf, note_listener, err,
	    errlen) == -1)
		return -1;
	if (m.ls.n == 0) {
		snprintf(err, errlen, "nothing to listen on");
		return -1;
	}
	return 0;
}

/* The tables the workers share, sized for the largest pool. */
static int
open_tables(char *err, size_t errlen)
{
	if (pool_init(&m.pool) == -1) {
		snprintf(err, errlen, "worker table: %s", strerror(errno));
		return -1;
	}
	/* A worker holds no more connections than it has descriptors. */
	m.sources = source_init(POOL_MAX_SLOTS, source_tcp_capacity(fd_limit()));
	if (m.sources == NULL) {
		snprintf(err, errlen, "per-source table: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* What a worker must not keep: the master's own descriptors, and the
 * connections taken from systemd's store until they are given out (a
 * worker's copy would keep them open after their own worker closes them). */
static void
prepare_workers(void)
{
	int n = 0, own[] = { m.sigfd, m.pidfd, detach_fd() };
	int *v = realloc(m.close_fds, (nitems(own) + m.relay.stored.n + 1) *
	    sizeof(*v));

	if (v == NULL)
		fatal("descriptors for workers to close");
	m.close_fds = v;
	for (size_t i = 0; i < nitems(own); i++)
		if (own[i] != -1)
			v[n++] = own[i];
	for (size_t i = 0; i < m.relay.stored.n; i++)
		v[n++] = m.relay.stored.v[i].fd;
	v[n] = -1;
}

/* Everything before the loop, up to forking the first generation.  On
 * failure, says why (to the waiting parent too) and returns -1. */
static int
setup(struct conf *conf, const struct master_opts *opts)
{
	char err[CONF_ERRLEN];

	memset(&m, 0, sizeof(m));
	m.conf = conf;
	m.opts = opts;
	m.pidfd = -1;
	m.now_ms = now_coarse_ms();
	relay_init(&m.relay, &m.pool);
	notify_init();
	raise_nofile();
	if ((m.sigfd = setup_signals()) == -1)
		return startup_fail("signalfd failed");
	if (open_pidfile(err, sizeof(err)) == -1)
		return startup_fail(err);
	if (open_listeners(err, sizeof(err)) == -1 ||
	    open_tables(err, sizeof(err)) == -1) {
		relay_abandon(&m.relay);
		listen_close_all(&m.ls);
		pidfile_remove(conf->pidfile, m.pidfd);
		return startup_fail(err);
	}
	prepare_workers();
	m.generation = 1;
	m.target = conf_workers(conf);
	respawn();
	return 0;
}

static int
next_timeout(void)
{
	uint64_t t = m.now_ms + TICK_MS, respawn = pool_next_respawn(&m.pool);

	if (respawn < t)
		t = respawn;
	return t <= m.now_ms ? 0 : (int)(t - m.now_ms);
}

/* Sleeps until a signal (a worker's death included), a message from a
 * worker (connections handed over) or the next timer. */
static void
wait_turn(void)
{
	static struct pollfd pfd[1 + POOL_MAX_SLOTS];
	static int slot_of[1 + POOL_MAX_SLOTS];
	nfds_t n = 1;

	pfd[0] = (struct pollfd){ .fd = m.sigfd, .events = POLLIN };
	for (int i = 0; i < m.pool.hw; i++)
		if (pool_alive(&m.pool.slot[i]) && m.pool.slot[i].cmd_fd != -1) {
			slot_of[n] = i;
			pfd[n++] = (struct pollfd){ .fd = m.pool.slot[i].cmd_fd,
			    .events = POLLIN };
		}
	if (poll(pfd, n, next_timeout()) == -1 && errno != EINTR)
		fatal("poll");
	m.now_ms = now_coarse_ms();
	for (nfds_t k = 1; k < n; k++)
		if (pfd[k].revents & POLLIN)
			relay_on_channel(&m.relay, slot_of[k], m.generation);
	read_signals();
}

static void
stop_if_asked(void)
{
	if (m.sig_quit)
		begin_stop(true);
	else if (m.sig_stop && !m.stopping)
		begin_stop(false);
	m.sig_quit = m.sig_stop = false;
}

static void
reload_if_asked(void)
{
	if (m.sig_reload) {
		m.sig_reload = false;
		reload();
	}
	if (m.sig_resize != 0) {
		resize(m.sig_resize);
		m.sig_resize = 0;
	}
}

/* Stopping, past the deadline: whatever still drains is killed. */
static void
kill_overdue(void)
{
	if (m.now_ms < m.stop_deadline_ms)
		return;
	for (int i = 0; i < m.pool.hw; i++)
		if (m.pool.slot[i].state == SLOT_DRAINING &&
		    m.pool.slot[i].kill != SLOT_KILL_FINAL)
			kill_slot(i);
}

static int
finish(void)
{
	int rc = m.exit_code;

	relay_abandon(&m.relay);	/* never given: no worker came up */
	if (m.relay.parking && fdstore_sync() == -1)
		log_warnx("systemd did not confirm the stored connections");
	log_info("stopped");
	log_flush();
	listen_close_all(&m.ls);
	pool_free(&m.pool);
	pidfile_remove(m.conf->pidfile, m.pidfd);
	/* Gave up before ready: the waiting parent says why, and exits 1,
	 * once the port and the PID file are free. */
	if (rc != 0 && !m.health.started)
		detach_fail(m.gave_up);
	conf_free(m.conf);
	close(m.sigfd);
	free(m.close_fds);
	return rc;
}

int
master_run(struct conf *conf, const struct master_opts *opts)
{
	if (setup(conf, opts) == -1)
		return 1;
	/* A stop ends when the last worker is gone. */
	while (!m.stopping || pool_count_alive(&m.pool) > 0) {
		report();
		wait_turn();
		reap();
		stop_if_asked();
		if (!m.stopping)
			reload_if_asked();
		health_check(&m.pool, m.conf->worker_timeout_ms, m.now_ms);
		if (m.stopping)
			kill_overdue();
		else {
			bool stored = m.relay.stored.n > 0;
			respawn();
			relay_tick(&m.relay, m.generation, m.now_ms +
			    m.conf->shutdown_timeout_ms + DRAIN_GRACE_MS);
			if (stored && m.relay.stored.n == 0)
				prepare_workers();	/* given out */
		}
	}
	return finish();
}
