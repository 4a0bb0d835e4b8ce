/*
 * master_start.c - everything before the master's loop: the descriptor
 * limit, the PID file, the listeners (from systemd or bound), the
 * connections parked in systemd's store by the process before, the tables
 * the workers share, and the first generation.  What it opens,
 * master_finish() (master_stop.c) closes.  It fills the struct master of
 * master_state.h, which master_run() passes in.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "detach.h"
#include "fdstore.h"
#include "handoff_master.h"
#include "listen.h"
#include "log.h"
#include "master_slots.h"
#include "master_start.h"
#include "master_state.h"
#include "notify.h"
#include "observe.h"
#include "pidfile.h"
#include "pool.h"
#include "source_tcp.h"
#include "util.h"

static const int handled[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU,
	SIGUSR1, SIGUSR2,
};

/* Blocks the signals the loop reads (master.c's read_signals()) and
 * opens a signalfd for them; -1 with errno. */
static int
signals_open(void)
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

/* A bare "descriptor limit 1024" told the admin nothing: say what it
 * bounds, and where it came from. */
static void
raise_nofile(void)
{
	uint64_t was, now;

	if (fd_limit_raise(&was) == -1) {
		log_warn("raising the descriptor limit (RLIMIT_NOFILE) from %llu",
		    (unsigned long long)was);
		now = was;
	} else
		now = fd_limit();
	if (now == UINT64_MAX)
		log_info("descriptor limit: none (RLIMIT_NOFILE is unlimited)");
	else if (now == was)
		log_info("descriptor limit: %llu open files per process "
		    "(RLIMIT_NOFILE): a worker holds at most about %llu "
		    "connections, whatever max_connections says",
		    (unsigned long long)now, (unsigned long long)now);
	else
		log_info("descriptor limit: %llu open files per process "
		    "(RLIMIT_NOFILE, raised from %llu): a worker holds at most "
		    "about %llu connections, whatever max_connections says",
		    (unsigned long long)now, (unsigned long long)was,
		    (unsigned long long)now);
}

static int
startup_fail(const char *msg)
{
	log_warnx("%s", msg);
	detach_fail(msg);
	return -1;
}

static int
open_pidfile(struct master *m, char *err, size_t errlen)
{
	const char *path = m->conf->pidfile;
	pid_t holder;

	if (path == NULL || (m->pidfd = pidfile_create(path, &holder)) != -1)
		return 0;
	if (errno == EEXIST)
		snprintf(err, errlen, "pid file %s: already locked by pid %ld: "
		    "is echod running?", path, (long)holder);
	else if (errno == EPERM)
		snprintf(err, errlen, "pid file %s: a directory on its way can be "
		    "changed by a user other than root; not used", path);
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
open_listeners(struct master *m, char *err, size_t errlen)
{
	struct listen_spec spec;
	int n;

	/* Connections parked by the process before us come first: after
	 * listen_from_systemd() the names are gone from the environment. */
	if (fdstore_collect(&m->handoff.stored, warn_stored) == -1) {
		snprintf(err, errlen, "stored connections: out of memory");
		return -1;
	}
	if (m->handoff.stored.n > 0)
		log_info("%zu connection%s taken back from systemd's store",
		    m->handoff.stored.n, plural(m->handoff.stored.n));
	n = listen_from_systemd(&m->ls, err, errlen);

	if (n == -1)
		return -1;
	if (n > 0) {
		m->activated = true;
		log_info("using %d socket%s passed by systemd; listen_tcp and "
		    "listen_udp are ignored", n, plural(n));
		for (size_t i = 0; i < m->ls.n; i++)
			master_note_listener(true, &m->ls.v[i]);
	} else if (listen_reconcile(&m->ls, conf_echo_listen(m->conf, &spec),
	    master_note_listener, err, errlen) == -1)
		return -1;
	if (m->ls.n == 0) {
		snprintf(err, errlen, "nothing to listen on");
		return -1;
	}
	return 0;
}

/* Says what start-up or a reload did to the listeners. */
void
master_note_listener(bool added, const struct listener *l)
{
	log_info("%s %s %s", added ? "listening on" : "no longer listening on",
	    proto_name(l->proto), l->name);
}

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

/* The tables the workers share, sized for the largest pool. */
static int
open_tables(struct master *m, char *err, size_t errlen)
{
	if (pool_init(&m->pool) == -1) {
		snprintf(err, errlen, "worker table: %s", strerror(errno));
		return -1;
	}
	/* A worker holds no more connections than it has descriptors. */
	m->sources = source_init(POOL_MAX_SLOTS, source_tcp_capacity(fd_limit()));
	if (m->sources == NULL) {
		snprintf(err, errlen, "per-source table: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Everything before the loop, up to forking the first generation.  On
 * failure, says why (to the waiting parent too) and returns -1. */
int
master_start(struct master *m, struct conf *conf,
    const struct master_opts *opts)
{
	char err[CONF_ERRLEN];

	memset(m, 0, sizeof(*m));
	m->conf = conf;
	m->opts = opts;
	m->pidfd = -1;
	m->now_ms = now_coarse_ms();
	handoff_master_init(&m->handoff, &m->pool);
	metrics_sup_init(&m->metrics);
	m->handoff.hold_ms = conf->shutdown_timeout_ms;
	notify_init();
	raise_nofile();
	if ((m->sigfd = signals_open()) == -1)
		return startup_fail("signalfd failed");
	if (open_pidfile(m, err, sizeof(err)) == -1)
		return startup_fail(err);
	if (open_listeners(m, err, sizeof(err)) == -1 ||
	    open_tables(m, err, sizeof(err)) == -1 ||
	    observe_open(&m->obs, conf, m->pool.shared, err, sizeof(err)) == -1) {
		handoff_master_abandon(&m->handoff);
		listen_close_all(&m->ls);
		pidfile_remove(conf->pidfile, m->pidfd);
		return startup_fail(err);
	}
	/* Serving with it: the next start whose file is refused falls back
	 * to it, if systemd still holds it then (a restart). */
	if (conf->fallback == NULL)
		master_keep_conf(conf);
	stats_fallback(&m->pool.book, m->pool.shared, conf->fallback != NULL);
	m->generation = 1;
	m->target = conf_workers(conf);
	master_respawn(m);
	return 0;
}
