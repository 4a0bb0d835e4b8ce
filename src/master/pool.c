/*
 * pool.c - the slot table.  A slot is a place for one worker, like nginx's
 * ngx_processes[].  This file owns the table and makes every transition of
 * a slot's state (pool.h draws them); the master decides when.  Workers
 * never see the table: only the page of statistics (channel.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool.h"
#include "stats.h"

/* Every slot from hw up is free. */
static void
use_slot(struct pool *p, int i)
{
	if (p->hw < i + 1) {
		p->hw = i + 1;
		atomic_store(&p->shared->hw, (uint32_t)p->hw);
	}
}

static void
set_free(struct slot *s)
{
	*s = (struct slot){ .state = SLOT_FREE, .cmd_fd = -1 };
}

/*
 * The page lives in a sealed memfd: the master and the workers (through
 * fork) keep the writable mapping made here, and the seal makes every later
 * one read-only for good (no mprotect() makes it writable again), which is
 * what the metrics process maps (pool_page_readonly()).
 */
static struct chan_page *
map_page(int *fdp)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
	    F_SEAL_SEAL;
	void *page = MAP_FAILED;
	int fd, saved;

	if ((fd = memfd_create("echod-stats", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return NULL;
	if (ftruncate(fd, sizeof(struct chan_page)) == -1 ||
	    (page = mmap(NULL, sizeof(struct chan_page), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0)) == MAP_FAILED ||
	    fcntl(fd, F_ADD_SEALS, seals) == -1) {
		saved = errno;
		if (page != MAP_FAILED)
			munmap(page, sizeof(struct chan_page));
		close(fd);
		errno = saved;
		return NULL;
	}
	*fdp = fd;
	return page;
}

int
pool_init(struct pool *p)
{
	for (int i = 0; i < POOL_MAX_SLOTS; i++)
		set_free(&p->slot[i]);
	p->hw = 0;
	if ((p->shared = map_page(&p->page_fd)) == NULL) {
		p->page_fd = -1;
		p->stats = NULL;
		return -1;
	}
	p->stats = p->shared->stats;
	stats_start(&p->book, p->shared, 1);
	return 0;
}

void
pool_free(struct pool *p)
{
	for (int i = 0; i < p->hw; i++)
		if (p->slot[i].cmd_fd != -1) {
			close(p->slot[i].cmd_fd);
			p->slot[i].cmd_fd = -1;
		}
	if (p->shared)
		munmap(p->shared, sizeof(*p->shared));
	if (p->page_fd != -1)
		close(p->page_fd);
	p->page_fd = -1;
	p->shared = NULL;
	p->stats = NULL;
}

const struct chan_page *
pool_page_readonly(int page_fd)
{
	void *ro = mmap(NULL, sizeof(struct chan_page), PROT_READ, MAP_SHARED,
	    page_fd, 0);

	return ro == MAP_FAILED ? NULL : ro;
}

bool
pool_alive(const struct slot *s)
{
	return s->state == SLOT_RUNNING || s->state == SLOT_DRAINING;
}

bool
pool_killed(const struct slot *s)
{
	return s->kill != SLOT_KILL_NONE;
}

bool
pool_current(const struct slot *s, unsigned generation)
{
	return s->generation == generation &&
	    (s->state == SLOT_RUNNING || s->state == SLOT_WAITING);
}

int
pool_count_current(const struct pool *p, unsigned generation)
{
	int n = 0;

	for (int i = 0; i < p->hw; i++)
		n += pool_current(&p->slot[i], generation);
	return n;
}

int
pool_count_alive(const struct pool *p)
{
	int n = 0;

	for (int i = 0; i < p->hw; i++)
		n += pool_alive(&p->slot[i]);
	return n;
}

int
pool_free_slot(const struct pool *p)
{
	for (int i = 0; i <= p->hw && i < POOL_MAX_SLOTS; i++)
		if (p->slot[i].state == SLOT_FREE)
			return i;
	return -1;
}

int
pool_rank_for(const struct pool *p, int i, unsigned generation)
{
	/* at most hw slots hold a rank: one of 0..hw is free */
	bool taken[POOL_MAX_SLOTS + 1] = { false };
	const struct slot *s = &p->slot[i];
	int rank = 0;

	if (s->state == SLOT_WAITING && s->generation == generation)
		return s->rank;
	for (int j = 0; j < p->hw; j++)
		if (j != i && pool_current(&p->slot[j], generation) &&
		    p->slot[j].rank >= 0 && p->slot[j].rank <= POOL_MAX_SLOTS)
			taken[p->slot[j].rank] = true;
	while (taken[rank])
		rank++;
	return rank;
}

int
pool_highest_rank(const struct pool *p, unsigned generation)
{
	int best = -1;

	for (int i = 0; i < p->hw; i++)
		if (pool_current(&p->slot[i], generation) &&
		    (best == -1 || p->slot[i].rank > p->slot[best].rank))
			best = i;
	return best;
}

int
pool_find_pid(const struct pool *p, pid_t pid)
{
	for (int i = 0; i < p->hw; i++)
		if (p->slot[i].pid == pid && pool_alive(&p->slot[i]))
			return i;
	return -1;
}

uint64_t
pool_next_respawn(const struct pool *p)
{
	uint64_t t = UINT64_MAX;

	for (int i = 0; i < p->hw; i++)
		if (p->slot[i].state == SLOT_WAITING && p->slot[i].respawn_at_ms < t)
			t = p->slot[i].respawn_at_ms;
	return t;
}

bool
pool_excess_generation(const struct pool *p, unsigned *oldest)
{
	unsigned gens[POOL_MAX_DRAINING + 1];
	bool any = false;
	int n = 0;

	for (int i = 0; i < p->hw; i++) {
		const struct slot *s = &p->slot[i];
		bool seen = false;

		if (s->state != SLOT_DRAINING || pool_killed(s) ||
		    s->handoff != SLOT_HANDOFF_NONE)
			continue;
		if (!any || s->generation < *oldest)
			*oldest = s->generation;
		any = true;
		for (int k = 0; k < n; k++)
			seen |= gens[k] == s->generation;
		if (!seen && n < POOL_MAX_DRAINING + 1)
			gens[n++] = s->generation;
	}
	return n > POOL_MAX_DRAINING;
}

pid_t
pool_spawn(struct pool *p, int i, unsigned generation, int rank,
    uint64_t now_ms, void (*child)(int, int, void *), void *arg)
{
	struct slot *s = &p->slot[i];
	bool respawn = s->state == SLOT_WAITING;
	int fds[2];
	pid_t pid;

	/* A socketpair, not a pipe: connections travel on it too (SCM_RIGHTS),
	 * both ways, one message each. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == -1)
		return -1;
	/* The master never blocks on a worker's pipe. */
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	memset(&p->stats[i], 0, sizeof(p->stats[i]));
	atomic_store(&p->stats[i].heartbeat_ms, now_ms);
	use_slot(p, i);

	switch ((pid = fork())) {
	case -1: {
		int saved = errno;
		close(fds[0]);
		close(fds[1]);
		errno = saved;
		return -1;
	}
	case 0:
		close(fds[1]);
		/* Other workers' pipes must reach EOF when the master dies. */
		for (int j = 0; j < p->hw; j++)
			if (p->slot[j].cmd_fd != -1) {
				close(p->slot[j].cmd_fd);
				p->slot[j].cmd_fd = -1;
			}
		child(i, fds[0], arg);
		_exit(1);
	}
	close(fds[0]);
	if (s->cmd_fd != -1)
		close(s->cmd_fd);
	s->cmd_fd = fds[1];
	s->pid = pid;
	s->state = SLOT_RUNNING;
	s->kill = SLOT_KILL_NONE;
	s->generation = generation;
	s->rank = rank;
	s->started_ms = now_ms;
	s->deadline_ms = 0;
	s->abort_at_ms = 0;
	stats_worker_started(&p->book, p->shared, i, pid, generation, respawn);
	s->handoff = SLOT_HANDOFF_NONE;
	return pid;
}

uint64_t
pool_spawn_failed(struct pool *p, int i, unsigned generation, int rank,
    uint64_t now_ms)
{
	struct slot *s = &p->slot[i];

	use_slot(p, i);
	s->rank = rank;
	s->state = SLOT_WAITING;
	s->generation = generation;
	s->backoff_ms = pool_next_backoff(s->backoff_ms, 0);
	s->respawn_at_ms = now_ms + s->backoff_ms;
	return s->backoff_ms;
}

void
pool_order(struct pool *p, int i, char cmd)
{
	if (p->slot[i].cmd_fd != -1)
		(void)!write(p->slot[i].cmd_fd, &cmd, 1);
}

void
pool_drain(struct pool *p, int i, uint64_t deadline_ms)
{
	struct slot *s = &p->slot[i];

	if (s->state == SLOT_WAITING) {
		set_free(s);
		return;
	}
	if (s->state != SLOT_RUNNING)
		return;
	pool_order(p, i, CHAN_CMD_DRAIN);
	s->state = SLOT_DRAINING;
	s->deadline_ms = deadline_ms;
	stats_worker_draining(p->shared, i);
}

/*
 * Slot i's worker is told to go (cmd: hand over, or quit); a slot waiting
 * for its respawn is simply freed.  False if there was nobody to tell.
 */
static bool
order_to_go(struct pool *p, int i, char cmd)
{
	struct slot *s = &p->slot[i];

	if (s->state == SLOT_WAITING) {
		set_free(s);
		return false;
	}
	if (!pool_alive(s))
		return false;
	pool_order(p, i, cmd);
	s->state = SLOT_DRAINING;
	stats_worker_draining(p->shared, i);
	return true;
}

void
pool_handoff(struct pool *p, int i, uint64_t deadline_ms)
{
	struct slot *s = &p->slot[i];

	if (!order_to_go(p, i, CHAN_CMD_HANDOFF))
		return;
	s->handoff = SLOT_HANDOFF_ORDERED;
	if (s->deadline_ms == 0 || deadline_ms > s->deadline_ms)
		s->deadline_ms = deadline_ms;
}

void
pool_handoff_mark(struct pool *p, int i, enum slot_handoff h)
{
	if (p->slot[i].state == SLOT_DRAINING)
		p->slot[i].handoff = h;
}

void
pool_quit(struct pool *p, int i, uint64_t deadline_ms)
{
	if (order_to_go(p, i, CHAN_CMD_QUIT))
		p->slot[i].deadline_ms = deadline_ms;
}

static int
send_signal(pid_t pid, int sig)
{
	if (kill(pid, sig) == -1 && errno != ESRCH)
		return -1;
	return 0;
}

int
pool_abort(struct pool *p, int i, uint64_t now_ms)
{
	struct slot *s = &p->slot[i];
	int rc = send_signal(s->pid, SIGABRT);

	(void)send_signal(s->pid, SIGCONT);
	s->kill = SLOT_KILL_ABORT;
	s->abort_at_ms = now_ms;
	return rc;
}

int
pool_kill(struct pool *p, int i)
{
	struct slot *s = &p->slot[i];

	s->kill = SLOT_KILL_FINAL;
	return send_signal(s->pid, SIGKILL);
}

/* How a worker ended, for the counters. */
static enum stats_exit
exit_cause(int status, bool killed_by_master)
{
	if (killed_by_master)
		return STATS_EXIT_KILLED;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? STATS_EXIT_CLEAN : STATS_EXIT_CODE;
	return pool_is_crash(status) ? STATS_EXIT_CRASH : STATS_EXIT_SIGNAL;
}

/* What a reaped worker leaves: its pipe, and what it published. */
static void
exited(struct pool *p, int i, int status)
{
	struct slot *s = &p->slot[i];

	stats_worker_gone(&p->book, p->shared, i,
	    exit_cause(status, pool_killed(s)));
	atomic_store(&p->stats[i].connections, 0);
	atomic_store(&p->stats[i].bytes, 0);
	atomic_store(&p->stats[i].serving, 0);
	atomic_store(&p->stats[i].armed, 0);
	if (s->cmd_fd != -1)
		close(s->cmd_fd);
	s->cmd_fd = -1;
}

void
pool_finished(struct pool *p, int i, int status)
{
	exited(p, i, status);
	set_free(&p->slot[i]);
}

uint64_t
pool_died(struct pool *p, int i, int status, uint64_t now_ms)
{
	struct slot *s = &p->slot[i];

	exited(p, i, status);
	s->backoff_ms = pool_respawn_delay(s->backoff_ms, now_ms - s->started_ms,
	    status, pool_killed(s));
	s->respawn_at_ms = now_ms + s->backoff_ms;
	s->state = SLOT_WAITING;
	return s->backoff_ms;
}

void
pool_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "stopped with status 0x%x", (unsigned)status);
}

bool
pool_is_crash(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) != 0;
	if (!WIFSIGNALED(status))
		return false;
	switch (WTERMSIG(status)) {
	case SIGSEGV: case SIGBUS: case SIGABRT: case SIGILL:
	case SIGFPE: case SIGSYS: case SIGTRAP:
		return true;
	default:	/* SIGKILL and the like come from outside */
		return false;
	}
}

bool
pool_is_external(int status)
{
	return WIFSIGNALED(status) && !pool_is_crash(status);
}

uint64_t
pool_next_backoff(uint64_t prev_ms, uint64_t lived_ms)
{
	if (lived_ms >= POOL_EARLY_DEATH_MS)
		return 0;
	if (prev_ms == 0)
		return POOL_BACKOFF_MIN_MS;
	return prev_ms * 2 > POOL_BACKOFF_MAX_MS ? POOL_BACKOFF_MAX_MS : prev_ms * 2;
}

uint64_t
pool_respawn_delay(uint64_t prev_ms, uint64_t lived_ms, int status,
    bool killed_by_master)
{
	uint64_t d;

	if (killed_by_master)
		return 0;
	d = pool_next_backoff(prev_ms, lived_ms);
	if (pool_is_external(status) && d > POOL_EXTERNAL_BACKOFF_MAX_MS)
		d = POOL_EXTERNAL_BACKOFF_MAX_MS;
	return d;
}

bool
pool_crashwin_add(struct pool_crashwin *w, uint64_t now_ms)
{
	size_t keep = 0;

	/* Forget deaths older than the window, then record this one. */
	for (size_t i = 0; i < w->n; i++)
		if (now_ms - w->t[i] < POOL_GIVEUP_WINDOW_MS)
			w->t[keep++] = w->t[i];
	w->n = keep;
	if (w->n == POOL_GIVEUP_COUNT) {	/* cannot happen: we gave up */
		memmove(w->t, w->t + 1, (w->n - 1) * sizeof(w->t[0]));
		w->n--;
	}
	w->t[w->n++] = now_ms;
	return w->n >= POOL_GIVEUP_COUNT;
}
