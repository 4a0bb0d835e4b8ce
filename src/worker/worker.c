/*
 * worker.c - a worker: one epoll loop over the shared listeners, the
 * channel from the master, and its connections.  It accepts (one worker woken
 * per connection: EPOLLEXCLUSIVE; whether its listeners are in the set is
 * gate.c's), echoes, and publishes a heartbeat and its counters for the
 * master.  It takes orders from the master only: signals from outside are
 * ignored, and EOF on the channel means the master is gone.
 *
 * The worker's files are cut by the data each owns, around one struct
 * worker (worker_state.h, which only they include), and call each other
 * downward only: worker_admit.c (the policy and load admission and the
 * gate see), worker_log.c (lines about clients, their budget, the
 * resolver), conn_end.c (how every connection ends), worker_accept.c (a
 * new connection, to its PROXY header and "connected" line),
 * worker_drain.c (draining, handing over, adopting, shutting down), and
 * this one on top: the loop - setup, the turn, its timeouts, the master's
 * orders, what it publishes.  The one struct worker is worker_main()'s,
 * passed to each by pointer.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "admit.h"
#include "channel.h"
#include "conn.h"
#include "conn_end.h"
#include "fault.h"
#include "gate.h"
#include "handoff_wire.h"
#include "log.h"
#include "proxy_conn.h"
#include "pump.h"
#include "shard.h"
#include "source.h"
#include "stats.h"
#include "title.h"
#include "turn.h"
#include "udp.h"
#include "udp_batch.h"
#include "util.h"
#include "worker.h"
#include "worker_accept.h"
#include "worker_admit.h"
#include "worker_drain.h"
#include "worker_log.h"
#include "worker_state.h"

#define MAX_EVENTS	256
#define TICK_MS		1000	/* the heartbeat's longest silence */
#define LOG_RETRY_MS	10	/* lines wait for the log: look again */
#define LOG_EXIT_MS	1000	/* on the way out, wait this long for it */

/* What waits on fd, l's socket or our own beside it; the echoes leave
 * from l's (watch_datagrams() says why). */
static void
on_datagrams(struct worker *w, const struct listener *l, int fd)
{
	struct admit_policy p = worker_policy(w);

	/* Datagrams left after a few batches (1): epoll says so again. */
	if (udp_echo(fd, l->fd, &w->dgram, &p, &w->udp) == -1)
		log_warn("udp %s", l->name);
}

/* budget: conn_readable()'s, this turn's share (turn.h). */
static void
on_conn(struct worker *w, struct conn *c, uint32_t events, size_t budget)
{
	enum conn_step step;
	uint64_t before = c->bytes;
	uint32_t want;

	if (c->shut) {
		if (conn_discard(c, w->pump.scratch, w->pump.size) != CONN_KEEP)
			conn_end(w, c, CONN_END_DRAINED, "shutdown timeout");
		return;
	}
	if (c->px != NULL) {
		if (!worker_on_header(w, c))
			return;
		/* the data read with the header goes back now, without a
		 * round trip through epoll (and none at all if there is none) */
		events = EPOLLOUT;
	}
	if (events & EPOLLOUT)
		step = conn_writable(c);
	else
		step = conn_readable(c, &w->pump, budget);
	if (step == CONN_KEEP && (events & (EPOLLERR | EPOLLHUP)) &&
	    !(events & (EPOLLIN | EPOLLOUT))) {
		errno = ECONNRESET;
		step = CONN_FAIL;
	}
	switch (step) {
	case CONN_DONE:
		conn_end(w, c, CONN_END_EOF, NULL);
		return;
	case CONN_FAIL:
		conn_end(w, c, CONN_END_ERROR, strerror(errno));
		return;
	case CONN_KEEP:
		break;
	}
	w->bytes += c->bytes - before;
	if (c->bytes != before || c->rd_eof) {
		c->last_ms = w->now_ms;
		conn_list_unlink(&w->conns, c);
		conn_list_append(&w->conns, c);
	}
	if ((want = conn_events(c)) != c->events) {
		struct epoll_event ev = { .events = want, .data.ptr = c };
		c->events = want;
		if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
			conn_end(w, c, CONN_END_ERROR, strerror(errno));
	}
}

/* What this worker did with datagrams, said once as it ends: the counters
 * are exact, and the lines of all workers add up to the pool's.  So is the
 * count of its log lines lost; then what waits for the log goes out. */
static void
farewell(struct worker *w)
{
	worker_log_summaries(w, true);
	if (w->ls != NULL && udp_counted(&w->udp))
		udp_log_counters(&w->udp);
	log_info("exiting; %lu log lines dropped", log_dropped_total());
	log_drain(LOG_EXIT_MS);
}

static void publish(struct worker *);

/* One message from the master: an order, or connections to adopt (also
 * while a handoff waits for the master's answer: handoff_worker.h). */
static void
on_message(void *arg, char type, int *fds, size_t nfds)
{
	struct worker *w = arg;

	if (type == HANDOFF_MSG_ADOPT) {
		worker_adopt(w, fds, nfds);
		return;
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	switch (type) {
	case CHAN_CMD_DRAIN:
		worker_begin_drain(w);
		break;
	case CHAN_CMD_HANDOFF:
		/* After this batch of events: it frees connections that
		 * events still to come in the batch point to. */
		worker_begin_drain(w);
		w->handoff = true;
		break;
	case CHAN_CMD_QUIT:
		publish(w);	/* its last counts, for the master to keep */
		farewell(w);
		log_flush();
		_exit(0);
	case CHAN_CMD_UNHEALTHY:
		w->unhealthy = true;
		break;
	}
}

static void
on_order(struct worker *w)
{
	int fds[HANDOFF_MAX_FDS];
	size_t nfds;
	char type;
	int rc = handoff_recv(w->cmd_fd, &type, fds, nitems(fds), &nfds);

	if (rc == -1 && (errno == EAGAIN || errno == EPROTO))
		return;
	if (rc <= 0) {		/* the master is gone: so are we */
		farewell(w);
		log_flush();
		_exit(0);
	}
	on_message(w, type, fds, nfds);
}

static void
expire(struct worker *w)
{
	uint64_t idle = w->conf->idle_timeout_ms;
	struct conn *c;

	while ((c = proxy_conn_queue_expired(&w->waiting, w->now_ms)) != NULL)
		conn_end(w, c, CONN_END_HEADER_TIMEOUT, "not complete within "
		    "proxy_timeout");
	while (w->conns.head && w->conns.head->last_ms + idle <= w->now_ms)
		conn_end(w, w->conns.head, CONN_END_IDLE, "idle timeout");
	if (w->draining && w->now_ms >= w->deadline_ms) {
		while (w->waiting.head)
			conn_end(w, w->waiting.head, CONN_END_HEADER_TIMEOUT,
			    "shutdown timeout");
		if (!w->shut) {
			worker_shut_all(w);
			return;
		}
		while (w->conns.head)
			conn_end(w, w->conns.head, CONN_END_DRAINED,
			    "shutdown timeout");
	}
}

static int
next_timeout(struct worker *w)
{
	struct gate_load ld = worker_load(w);
	uint64_t t = w->now_ms + TICK_MS;

	if (w->conns.head && w->conns.head->last_ms + w->conf->idle_timeout_ms < t)
		t = w->conns.head->last_ms + w->conf->idle_timeout_ms;
	if (w->draining && w->deadline_ms < t)
		t = w->deadline_ms;
	t = proxy_conn_queue_next_ms(&w->waiting, t);
	t = gate_next_ms(&w->gate, &ld, t);
	if (w->logs.due_ms != 0 && w->logs.due_ms < t)
		t = w->logs.due_ms;
	if (log_pending() && w->now_ms + LOG_RETRY_MS < t)
		t = w->now_ms + LOG_RETRY_MS;
	return t <= w->now_ms ? 0 : (int)(t - w->now_ms);
}

static void
publish(struct worker *w)
{
	atomic_store_explicit(&w->stats->heartbeat_ms, w->now_ms, memory_order_relaxed);
	atomic_store_explicit(&w->stats->connections, w->nconns, memory_order_relaxed);
	atomic_store_explicit(&w->stats->accepted, w->accepted, memory_order_relaxed);
	atomic_store_explicit(&w->stats->bytes, w->bytes + w->udp.bytes,
	    memory_order_relaxed);
	w->count.accepted = w->accepted;
	w->count.bytes[STATS_PROTO_TCP] = w->bytes;
	w->count.bytes[STATS_PROTO_UDP] = w->udp.bytes;
	w->count.datagrams = w->udp.echoed;
	w->count.dropped[STATS_DROP_LOOP_GUARD] = w->udp.refused;
	w->count.dropped[STATS_DROP_RATE_LIMIT] = w->udp.limited;
	w->count.dropped[STATS_DROP_DENY] = w->udp.denied;
	w->count.dropped[STATS_DROP_TRUNCATED] = w->udp.truncated;
	w->count.dropped[STATS_DROP_SEND_FAILED] = w->udp.dropped;
	w->count.refused[STATS_REFUSE_EMFILE] = w->gate.shed;
	w->count.log_suppressed = w->logs.suppressed;
	stats_publish(w->counters, &w->count);
}

/*
 * A worker reads the UDP socket of its own for each address (shard.h), and
 * sends the echoes from the address's socket, which it does not wait on.
 * Each datagram sent wakes whatever waits on the socket it leaves from:
 * 5% of the CPU when that was the socket we read.  The few datagrams the
 * group leaves on the address's socket while it changes are read once a
 * tick (read_unwatched()).  Without a socket of its own, a worker waits on
 * the address's socket, which all such workers share: EPOLLEXCLUSIVE wakes
 * one of them per datagram that finds them all asleep.
 */
static void
watch_datagrams(struct worker *w, size_t rank)
{
	if ((w->own = calloc(w->ls->n + 1, sizeof(*w->own))) == NULL)
		fatal("malloc");
	for (size_t i = 0; i < w->ls->n; i++) {
		const struct listener *l = &w->ls->v[i];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
		    .data.u64 = WATCH | i };
		int fd = l->fd;

		w->own[i] = shard_fd(l, rank);
		if (l->proto != PROTO_UDP)
			continue;
		if (w->own[i] != -1) {
			fd = w->own[i];
			ev = (struct epoll_event){ .events = EPOLLIN,
			    .data.u64 = WATCH | WATCH_OWN | i };
		}
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			fatal("epoll_ctl udp %s", l->name);
	}
}

/* The address's sockets we do not wait on, once a tick. */
static void
read_unwatched(struct worker *w)
{
	if (w->draining || w->now_ms - w->unwatched_ms < TICK_MS)
		return;
	w->unwatched_ms = w->now_ms;
	for (size_t i = 0; i < w->ls->n; i++)
		if (w->ls->v[i].proto == PROTO_UDP && w->own[i] != -1)
			on_datagrams(w, &w->ls->v[i], w->ls->v[i].fd);
}

/* What the worker needs and may fail to get: limits to compare, buffers,
 * the log's budget, the epoll set with the channel and the listeners. */
static void
acquire(struct worker *w, size_t rank)
{
	struct epoll_event ev;

	w->now_ms = now_coarse_ms();
	if (fault_limits_save(&w->limits) == -1)
		fatal("getrlimit");
	w->limits_ms = w->now_ms;
	if (pump_init(&w->pump, w->conf->buffer_size) == -1 ||
	    udp_batch_init(&w->dgram, UDP_BATCH, UDP_MAX_DATAGRAM) == -1)
		fatal("malloc");
	w->dgram.gso = true;	/* udp_batch.h: off by itself if refused */
	if (!pump_spliced(&w->pump))
		log_warn("no pipe of buffer_size %zu for zero-copy echo (see "
		    "/proc/sys/fs/pipe-max-size and pipe-user-pages-soft); "
		    "copying instead", w->conf->buffer_size);
	worker_log_start(w);
	if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	fd_set_nonblock(w->cmd_fd, 1);
	ev.events = EPOLLIN;
	ev.data.u64 = WATCH_CMD;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->cmd_fd, &ev) == -1)
		fatal("epoll_ctl channel");
	watch_datagrams(w, rank);
	gate_init(&w->gate, w->ep, w->ls, WATCH, w->shared, w->stats);
	gate_arm(&w->gate, true);
}

static void
setup(struct worker *w, const struct worker_args *a, int slot, int cmd_fd)
{
	char err[256], prefix[32];

	/* Before the privilege drop: until then, the workers' user cannot
	 * signal us. */
	if (fault_shield(a->master) == -1)
		log_warn("fatal-signal filter");
	for (const int *fd = a->close_fds; fd && *fd != -1; fd++)
		close(*fd);
	shard_close_others(a->ls, a->rank);
	snprintf(prefix, sizeof(prefix), "worker %d", slot);
	log_setprefix(prefix);
	title_worker(slot, a->generation, false);

	/*
	 * Everything that can fail is acquired before the privilege drop: from
	 * then on a process of the workers' user can lower our limits
	 * (prlimit RLIMIT_NOFILE 0), and a failure here would be an early
	 * death that counts toward the master's give-up rule.
	 */
	memset(w, 0, sizeof(*w));
	w->conf = a->conf;
	w->ls = a->ls;
	w->shared = a->shared;
	w->sources = a->sources;
	w->slot = slot;
	w->generation = a->generation;
	w->stats = &a->shared->stats[slot];
	w->counters = &a->shared->counters[slot];
	w->cmd_fd = cmd_fd;
	acquire(w, a->rank);

	switch (privdrop_child(a->creds, a->master, err, sizeof(err))) {
	case -1:
		fatalx("%s", err);
	case 1:
		_exit(0);
	}
	publish(w);
	atomic_store(&w->stats->serving, 1);
	atomic_store(&w->stats->ready, 1);
}

/*
 * Limits lower than the master gave us were set from outside (the workers'
 * user can): a worker at RLIMIT_NOFILE 0 would heartbeat and never accept
 * again.  It makes way for a fresh one instead; exiting 0 is not a crash,
 * and the master's backoff bounds a loop of it.
 */
static void
watch_limits(struct worker *w)
{
	char what[128];

	if (w->now_ms - w->limits_ms < TICK_MS)
		return;
	w->limits_ms = w->now_ms;
	if (!fault_limits_lowered(&w->limits, what, sizeof(what)))
		return;
	log_warnx("%s lowered from outside; exiting to be replaced", what);
	log_flush();
	_exit(0);
}

/* An event of a connection that streams, its read or the send of its
 * remainder: it waits for the rest, and is no other client (turn.h). */
static bool
stream_read(const struct epoll_event *ev)
{
	const struct conn *c = ev->data.ptr;

	if (ev->data.u64 & WATCH)
		return false;
	return c->streaming && !c->shut && c->px == NULL &&
	    (ev->events == EPOLLIN || ev->events == EPOLLOUT);
}

/* One batch of events: the short ones first, then each stream; every
 * read gets the turn's share, so one that starts to stream takes no more. */
static void
dispatch(struct worker *w, struct epoll_event *evs, int n)
{
	struct epoll_event later[MAX_EVENTS];
	int nfirst = turn_order(evs, n, later, stream_read);
	size_t share = turn_share(nfirst, w->nfirst, w->pump.size);

	w->nfirst = nfirst;
	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		const struct listener *l;

		if (!(tag & WATCH)) {
			on_conn(w, evs[i].data.ptr, evs[i].events, share);
			continue;
		}
		if (tag == WATCH_CMD) {
			on_order(w);
			continue;
		}
		if (w->draining)
			continue;	/* listeners closed in this batch */
		l = &w->ls->v[tag & WATCH_INDEX];
		if (l->proto == PROTO_TCP)
			worker_on_accept(w, l);
		else
			on_datagrams(w, l, tag & WATCH_OWN ?
			    w->own[tag & WATCH_INDEX] : l->fd);
	}
}

void
worker_main(int slot, int cmd_fd, void *arg)
{
	struct epoll_event evs[MAX_EVENTS];
	struct gate_load ld;
	struct worker w;

	setup(&w, arg, slot, cmd_fd);
	log_batch(true);	/* written at the end of each turn: log_flush() */
	for (;;) {
		int n = epoll_wait(w.ep, evs, MAX_EVENTS, next_timeout(&w));

		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		w.now_ms = now_coarse_ms();
		dispatch(&w, evs, n < 0 ? 0 : n);
		read_unwatched(&w);
		if (w.handoff && !w.handing) {
			w.handoff = false;
			worker_hand_over(&w, on_message);
		}
		expire(&w);
		worker_log_summaries(&w, false);
		if (w.draining && w.nconns == 0)
			break;
		watch_limits(&w);
		if (log_pending())
			log_flush();
		ld = worker_load(&w);
		gate_update(&w.gate, &ld);
		publish(&w);
	}
	publish(&w);
	farewell(&w);
	log_flush();
	_exit(0);
}
