/*
 * gate.c - a worker's accept gate.  Its TCP listeners are in its epoll set
 * only while it may accept and is within its fair share (balance.c decides
 * that from the peers' published load).  Out of descriptors, it spends a
 * reserve one to shed a client and lets the listeners rest: never spin.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "balance.h"
#include "gate.h"
#include "log.h"

void
gate_init(struct gate *g, int ep, const struct listeners *ls, uint64_t tag,
    struct chan_page *shared, struct chan_stats *own_stats)
{
	memset(g, 0, sizeof(*g));
	g->ep = ep;
	g->ls = ls;
	g->tag = tag;
	g->shared = shared;
	g->own_stats = own_stats;
	g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void
gate_arm(struct gate *g, bool on)
{
	if (g->armed == on)
		return;
	for (size_t i = 0; i < g->ls->n; i++) {
		const struct listener *l = &g->ls->v[i];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
		    .data.u64 = g->tag | i };

		if (l->proto != PROTO_TCP)
			continue;
		/* EPOLLEXCLUSIVE forbids EPOLL_CTL_MOD: pausing is DEL, then ADD. */
		if (epoll_ctl(g->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->fd,
		    on ? &ev : NULL) == -1)
			log_warn("epoll %s %s", on ? "add" : "del", l->name);
	}
	g->armed = on;
	atomic_store_explicit(&g->own_stats->armed, on, memory_order_relaxed);
}

/* The peers' side of the fair share, from the master's stats page. */
static void
balance_read(const struct gate *g, uint64_t nconns, struct balance *b)
{
	uint32_t hw = atomic_load(&g->shared->hw);

	if (hw > CHAN_MAX_SLOTS)	/* any worker can write the page */
		hw = CHAN_MAX_SLOTS;
	balance_init(b, nconns);
	for (uint32_t i = 0; i < hw; i++) {
		struct chan_stats *st = &g->shared->stats[i];

		if (st == g->own_stats || !atomic_load_explicit(&st->serving,
		    memory_order_relaxed))
			continue;
		balance_add_peer(b, atomic_load_explicit(&st->connections,
		    memory_order_relaxed), atomic_load_explicit(&st->armed,
		    memory_order_relaxed) != 0);
	}
}

/* Could this worker accept at all?  Not when full, resting after EMFILE,
 * or draining. */
static bool
may_accept(const struct gate *g, const struct gate_load *ld)
{
	return !ld->draining && ld->nconns < ld->max &&
	    ld->now_ms >= g->paused_until_ms;
}

/* Steps back over its share, or comes back under it (balance.c decides);
 * while it cannot accept at all the decision waits. */
static void
rebalance(struct gate *g, const struct gate_load *ld)
{
	struct balance b;
	bool out;

	if (!may_accept(g, ld))
		return;
	balance_read(g, ld->nconns, &b);
	out = balance_over_share(&b, g->balanced_out);
	/* Out: look again soon, then less often while it stays that way. */
	if (out)
		g->recheck_ms = balance_recheck_ms(g->recheck_ms, g->balanced_out);
	g->balanced_out = out;
}

/* Should this worker accept now?  As may_accept(), and not over its share. */
static bool
want_accept(const struct gate *g, const struct gate_load *ld)
{
	return may_accept(g, ld) && !g->balanced_out;
}

void
gate_update(struct gate *g, const struct gate_load *ld)
{
	rebalance(g, ld);
	if (want_accept(g, ld) != g->armed)
		gate_arm(g, !g->armed);
}

static void
on_emfile(struct gate *g, const struct listener *l, int err,
    const struct gate_load *ld)
{
	int fd;

	/* Spend the reserve descriptor to take one pending client off the
	 * queue and close it, then let the listeners rest: never spin. */
	if (g->reserve_fd != -1) {
		close(g->reserve_fd);
		g->reserve_fd = -1;
		if ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			close(fd);
			g->shed++;
		}
		g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (!g->emfile)
		log_warnx("accept on %s: %s; shedding new connections until "
		    "descriptors free up (%llu open here)", l->name, strerror(err),
		    (unsigned long long)ld->nconns);
	g->emfile = true;
	g->paused_until_ms = ld->now_ms + GATE_EMFILE_PAUSE_MS;
	gate_arm(g, false);
}

int
gate_accept(struct gate *g, const struct listener *l, union sockaddr_any *peer,
    socklen_t *len, const struct gate_load *ld)
{
	int fd = accept4(l->fd, &peer->sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd == -1) {
		switch (errno) {
		case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
			on_emfile(g, l, errno, ld);
			errno = EAGAIN;
			break;
		}
		return -1;	/* EAGAIN, or ECONNABORTED, EINTR, EPROTO... */
	}
	if (g->emfile) {
		log_notice("accept on %s: descriptors available again", l->name);
		g->emfile = false;
	}
	return fd;
}

uint64_t
gate_next_ms(const struct gate *g, const struct gate_load *ld, uint64_t t)
{
	if (!g->armed && !ld->draining && g->paused_until_ms > ld->now_ms &&
	    g->paused_until_ms < t)
		t = g->paused_until_ms;
	if (g->balanced_out && ld->now_ms + g->recheck_ms < t)
		t = ld->now_ms + g->recheck_ms;
	return t;
}
