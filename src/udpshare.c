/* udpshare.c - one worker at a time reads the shared UDP sockets; see
 * udpshare.h for why and how a lost holder is replaced. */
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>

#include "udpshare.h"

#define HOLDER_SHIFT	48
#define HELP		(1ULL << 47)	/* the holder cannot keep up: read too */
#define TIME_MASK	(HELP - 1)

static int
holder(uint64_t v)
{
	return (int)(v >> HOLDER_SHIFT) - 1;	/* -1: free */
}

/* A holder's lease, unless it lapsed.  A lapse further than a lease away
 * was never written by a holder: lapsed too. */
static bool
alive(uint64_t v, uint64_t now_ms)
{
	uint64_t t = v & TIME_MASK;

	return v != 0 && t > now_ms && t <= now_ms + UDPSHARE_LEASE_MS;
}

bool
udpshare_take(_Atomic uint64_t *lease, int slot, uint64_t now_ms)
{
	uint64_t v = atomic_load_explicit(lease, memory_order_relaxed);

	for (;;) {
		uint64_t want = (uint64_t)(slot + 1) << HOLDER_SHIFT |
		    ((now_ms + UDPSHARE_LEASE_MS) & TIME_MASK);

		if (alive(v, now_ms) && holder(v) != slot)
			return (v & HELP) != 0;	/* another's: help if asked */
		if (alive(v, now_ms))
			want |= v & HELP;	/* ours: renewed as it was */
		if (v == want)
			return true;
		if (atomic_compare_exchange_weak_explicit(lease, &v, want,
		    memory_order_relaxed, memory_order_relaxed))
			return true;
	}
}

void
udpshare_backlog(_Atomic uint64_t *lease, int slot, bool backlog)
{
	uint64_t v = atomic_load_explicit(lease, memory_order_relaxed);

	while (v != 0 && holder(v) == slot && ((v & HELP) != 0) != backlog &&
	    !atomic_compare_exchange_weak_explicit(lease, &v, v ^ HELP,
	    memory_order_relaxed, memory_order_relaxed))
		;
}

void
udpshare_release(_Atomic uint64_t *lease, int slot)
{
	uint64_t v = atomic_load_explicit(lease, memory_order_relaxed);

	while (v != 0 && holder(v) == slot &&
	    !atomic_compare_exchange_weak_explicit(lease, &v, 0,
	    memory_order_relaxed, memory_order_relaxed))
		;
}

uint64_t
udpshare_lapse_ms(_Atomic uint64_t *lease, uint64_t now_ms)
{
	uint64_t v = atomic_load_explicit(lease, memory_order_relaxed);

	if (!alive(v, now_ms) || (v & HELP))
		return now_ms;
	return v & TIME_MASK;
}

static int
arm(struct udpshare *u, bool on)
{
	int rc = 0;

	for (size_t i = 0; i < u->ls->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
		    .data.u64 = u->tag | i };

		if (u->ls->v[i].proto != PROTO_UDP)
			continue;
		/* already in (or out): what a failed half-way call left */
		if (epoll_ctl(u->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		    u->ls->v[i].fd, &ev) == -1 &&
		    errno != (on ? EEXIST : ENOENT) && rc == 0)
			rc = -1;
	}
	u->armed = on;
	return rc;
}

int
udpshare_init(struct udpshare *u, _Atomic uint64_t *lease, int slot, int ep,
    const struct listeners *ls, uint64_t tag, uint64_t now_ms)
{
	*u = (struct udpshare){ .lease = lease, .slot = slot, .ep = ep,
	    .ls = ls, .tag = tag, .recheck_ms = now_ms };
	return arm(u, true);
}

bool
udpshare_wake(struct udpshare *u, uint64_t now_ms)
{
	if (udpshare_take(u->lease, u->slot, now_ms))
		return true;
	if (u->armed)
		arm(u, false);
	u->recheck_ms = udpshare_lapse_ms(u->lease, now_ms);
	return false;
}

void
udpshare_done(struct udpshare *u, bool backlog)
{
	udpshare_backlog(u->lease, u->slot, backlog);
}

void
udpshare_tick(struct udpshare *u, uint64_t now_ms)
{
	if (u->armed || now_ms < u->recheck_ms)
		return;
	u->recheck_ms = udpshare_lapse_ms(u->lease, now_ms);
	if (u->recheck_ms <= now_ms)
		arm(u, true);	/* on a failure, the next tick tries again */
}

uint64_t
udpshare_next_ms(const struct udpshare *u, uint64_t t)
{
	return !u->armed && u->recheck_ms < t ? u->recheck_ms : t;
}

void
udpshare_stop(struct udpshare *u)
{
	udpshare_release(u->lease, u->slot);
	u->armed = false;
	u->recheck_ms = UINT64_MAX;
}
