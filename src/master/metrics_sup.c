/*
 * metrics_sup.c - the master's side of the metrics process: its fork, its
 * heartbeats, its hang and its death, with the workers' rules (pool.c for
 * the backoff, health.c for the grace before SIGKILL).  What the process
 * does once forked is metrics.c's; this maps it the statistics page
 * read-only first, since the page's memfd is pool.c's.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "fault.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "metrics_sup.h"
#include "pool.h"
#include "source.h"

void
metrics_sup_init(struct metrics_sup *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->chan = -1;
}

size_t
metrics_sup_fds(const struct metrics_sup *ms, int *out)
{
	size_t n = 0;

	if (ms->chan != -1)
		out[n++] = ms->chan;
	return n;
}

uint64_t
metrics_sup_next_respawn(const struct metrics_sup *ms,
    const struct metrics *socks)
{
	return ms->pid == 0 && socks->ls.n > 0 ? ms->respawn_at_ms : UINT64_MAX;
}

/*
 * Only what it reads, and read-only for good: the page mapped afresh from
 * its sealed memfd (pool.c) in place of the writable mapping fork gave it,
 * and not the per-source table, which it never reads.  Then neither a
 * request nor code run in this process can write what the master and the
 * workers rely on.  The memfd closes with the master's descriptors.
 */
static const struct chan_page *
child_maps(const struct metrics_args *a)
{
	const struct chan_page *page;

	if ((page = pool_page_readonly(a->page_fd)) == NULL)
		fatal("metrics process: statistics page");
	if (munmap((void *)a->page, sizeof(*a->page)) == -1 ||
	    (a->sources != NULL && source_unmap(a->sources) == -1))
		fatal("metrics process: munmap");
	return page;
}

static void __attribute__((noreturn))
child_start(const struct metrics *socks, const struct metrics_args *a,
    int chan)
{
	/* The filter first, as in a worker: the rest can crash. */
	int shield = fault_shield(a->master);
	const struct chan_page *page = child_maps(a);

	metrics_serve(socks, a, page, chan, shield);
}

void
metrics_sup_respawn(struct metrics_sup *ms, const struct metrics *socks,
    const struct metrics_args *a, uint64_t now_ms)
{
	int fds[2];
	pid_t pid;

	if (ms->pid != 0 || socks->ls.n == 0 || now_ms < ms->respawn_at_ms)
		return;
	/* SEQPACKET: EOF both ways, and a heartbeat is one message */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == -1) {
		log_warn("metrics process: socketpair");
		ms->respawn_at_ms = now_ms + METRICS_BACKOFF_MAX_MS;
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("metrics process: fork");
		close(fds[0]);
		close(fds[1]);
		ms->respawn_at_ms = now_ms + METRICS_BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		close(fds[1]);
		child_start(socks, a, fds[0]);
	}
	close(fds[0]);
	ms->pid = pid;
	ms->chan = fds[1];
	ms->kill = SLOT_KILL_NONE;
	ms->started_ms = ms->heard_ms = now_ms;
	ms->serial = socks->serial;
	log_info("metrics process started (pid %ld)", (long)pid);
}

static void
send_kill(struct metrics_sup *ms, int sig, enum slot_kill k)
{
	if (kill(ms->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill metrics process (pid %ld)", (long)ms->pid);
	ms->kill = k;
}

void
metrics_sup_check(struct metrics_sup *ms, uint64_t timeout_ms, uint64_t now_ms)
{
	char buf[16];
	uint64_t age;

	if (ms->pid == 0 || ms->kill == SLOT_KILL_FINAL)
		return;
	/* That it spoke is all that counts; what it said is not read. */
	for (int i = 0; i < METRICS_BEATS_READ && ms->chan != -1 &&
	    recv(ms->chan, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		ms->heard_ms = now_ms;
	if (ms->kill == SLOT_KILL_ABORT) {
		if (now_ms - ms->abort_at_ms >= HEALTH_ABORT_GRACE_MS)
			send_kill(ms, SIGKILL, SLOT_KILL_FINAL);
		return;
	}
	if ((age = now_ms - ms->heard_ms) <= timeout_ms)
		return;
	log_warnx("metrics process (pid %ld) hung: no heartbeat for "
	    "%llu.%03llus; killing it", (long)ms->pid,
	    (unsigned long long)(age / 1000), (unsigned long long)(age % 1000));
	ms->abort_at_ms = now_ms;
	send_kill(ms, SIGABRT, SLOT_KILL_ABORT);	/* a core, as a worker's */
	(void)kill(ms->pid, SIGCONT);	/* a stopped one must see it */
}

uint64_t
metrics_sup_backoff(uint64_t prev_ms, uint64_t lived_ms)
{
	uint64_t b = pool_next_backoff(prev_ms, lived_ms);

	if (b < METRICS_BACKOFF_MIN_MS)
		b = METRICS_BACKOFF_MIN_MS;
	if (b > METRICS_BACKOFF_MAX_MS)
		b = METRICS_BACKOFF_MAX_MS;
	return b;
}

bool
metrics_sup_reaped(struct metrics_sup *ms, pid_t pid, int status,
    uint64_t now_ms)
{
	char how[128];
	bool asked = ms->chan == -1, killed = ms->kill != SLOT_KILL_NONE;

	if (pid != ms->pid || pid == 0)
		return false;
	pool_describe_status(status, how, sizeof(how));
	ms->pid = 0;
	metrics_sup_restart(ms);
	if (asked || killed) {
		if (killed)
			log_warnx("metrics process (pid %ld) %s (killed by the "
			    "master)", (long)pid, how);
		else
			log_debug("metrics process (pid %ld) finished: %s",
			    (long)pid, how);
		ms->respawn_at_ms = now_ms;
		ms->backoff_ms = 0;
		return true;
	}
	ms->backoff_ms = metrics_sup_backoff(ms->backoff_ms,
	    now_ms - ms->started_ms);
	ms->respawn_at_ms = now_ms + ms->backoff_ms;
	log_warnx("metrics process (pid %ld) %s; restarts in %llums", (long)pid,
	    how, (unsigned long long)ms->backoff_ms);
	return true;
}

void
metrics_sup_sync(struct metrics_sup *ms, const struct metrics *socks)
{
	if (ms->pid != 0 && ms->serial != socks->serial)
		metrics_sup_restart(ms);
}

void
metrics_sup_restart(struct metrics_sup *ms)
{
	if (ms->chan != -1) {
		close(ms->chan);
		ms->chan = -1;
	}
}
