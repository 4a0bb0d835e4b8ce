/*
 * worker_drain.c - a worker's end, as the master orders it (worker.c reads
 * the orders): draining closes the listeners and lets the connections run
 * until shutdown_timeout, when what is left is shut down for writing; a
 * reload or restart hands the connections to the master instead, and the
 * worker that gets them adopts them here.  It acts on the struct worker of
 * worker_state.h, which worker_main() passes in.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "admit.h"
#include "conn.h"
#include "conn_end.h"
#include "gate.h"
#include "handoff_wire.h"
#include "handoff_worker.h"
#include "listen.h"
#include "log.h"
#include "proxy_conn.h"
#include "stats.h"
#include "title.h"
#include "udp.h"
#include "util.h"
#include "worker_admit.h"
#include "worker_drain.h"
#include "worker_state.h"

/*
 * Our UDP shard leaves its group when the last copy closes, and what it
 * queued would go with it: echoed first, a few batches at most.  The
 * workers of the new generation have their own by now (or share this one,
 * which the master keeps).
 */
static void
close_own(struct worker *w, size_t i)
{
	struct admit_policy p = worker_policy(w);
	int fd = w->own[i];

	if (fd == -1)
		return;
	epoll_ctl(w->ep, EPOLL_CTL_DEL, fd, NULL);
	for (int round = 0; round < 4; round++)
		if (udp_echo(fd, w->ls->v[i].fd, &w->dgram, &p, &w->udp) != 1)
			break;
	close(fd);
	w->own[i] = -1;
}

static void
close_listeners(struct worker *w)
{
	gate_arm(&w->gate, false);
	for (size_t i = 0; i < w->ls->n; i++) {
		/* The master still holds the socket, so close() alone would
		 * leave it in our epoll set: delete it first (ours echoes from
		 * it, so it closes last). */
		if (w->ls->v[i].proto == PROTO_UDP) {
			epoll_ctl(w->ep, EPOLL_CTL_DEL, w->ls->v[i].fd, NULL);
			close_own(w, i);
		}
		close(w->ls->v[i].fd);
	}
}

void
worker_begin_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	atomic_store(&w->stats->serving, 0);
	title_worker(w->slot, w->generation, true);
	w->deadline_ms = w->now_ms + w->conf->shutdown_timeout_ms;
	close_listeners(w);
	log_debug("draining %llu connections", (unsigned long long)w->nconns);
}

/*
 * One adopted connection into the epoll set, counted for its source (never
 * refused: it was admitted once); one inside its PROXY header is admitted
 * when the header is read, by proxy_timeout from when it came.  False if
 * it could not be watched: then it is closed and freed.
 */
static bool
adopt_one(struct worker *w, struct conn *c)
{
	struct admit_policy p = worker_policy(w);
	struct epoll_event ev = { .events = conn_events(c), .data.ptr = c };

	if (c->px != NULL)
		c->px->deadline_ms = c->last_ms + w->conf->proxy_timeout_ms;
	else if (admit_client(&p, ADMIT_TCP, &c->peer.sa, &c->counted) != ADMIT_OK)
		c->counted = false;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		conn_end(w, c, CONN_END_UNWATCHED, NULL);
		return false;
	}
	c->events = ev.events;
	return true;
}

/*
 * Adopted connections (a reload's old worker's, or a restart's from
 * systemd's store), with their unsent echo first.  They are this worker's
 * own from here on: counted, listed, timed as if accepted here.  Each
 * keeps its client's idle clock, so it goes into the lists where that
 * clock puts it, not behind what this worker accepted since.
 */
void
worker_adopt(struct worker *w, int *fds, size_t nfds)
{
	struct conn *v[HANDOFF_MAX_CONNS], *open[HANDOFF_MAX_CONNS],
	    *waiting[HANDOFF_MAX_CONNS];
	size_t nopen = 0, nwaiting = 0;
	const char *why;
	int n = handoff_worker_in(fds, nfds, w->now_ms, v, &why);

	if (n == -1) {
		log_warnx("adopting %zu connections: %s", nfds ? nfds - 1 : 0, why);
		return;
	}
	for (int i = 0; i < n; i++) {
		if (!adopt_one(w, v[i]))
			continue;
		if (v[i]->px != NULL)
			waiting[nwaiting++] = v[i];
		else
			open[nopen++] = v[i];
		w->nconns++;
		w->adopted++;	/* counters: an adopted connection is ours */
	}
	conn_list_merge(&w->conns, open, nopen);
	conn_list_merge(&w->waiting, waiting, nwaiting);
	log_debug("adopted %d connections", n);
}

/* Every connection to the master, oldest first, in batches, and those
 * still inside their PROXY header with what came of it; the first batch
 * refused (or unanswered) leaves the rest draining here. */
void
worker_hand_over(struct worker *w, handoff_worker_other_fn *on_message)
{
	struct conn *v[HANDOFF_MAX_CONNS], *c;
	uint64_t handed = 0;

	worker_begin_drain(w);
	if (w->shut)
		return;		/* half-closed already: they end here */
	w->handing = true;
	while (w->conns.head != NULL || w->waiting.head != NULL) {
		size_t n = 0;
		int rc;

		for (c = w->conns.head; c && n < nitems(v); c = c->next)
			v[n++] = c;
		for (c = w->waiting.head; c && n < nitems(v); c = c->next)
			v[n++] = c;
		rc = handoff_worker_out(w->cmd_fd, v, n, w->now_ms, on_message, w);
		if (rc != 1) {
			if (rc == -1)
				log_warn("handing %zu connection%s over", n,
				    plural(n));
			else
				log_info("handoff refused; draining %llu "
				    "connection%s", (unsigned long long)w->nconns,
				    plural(w->nconns));
			break;
		}
		for (size_t i = 0; i < n; i++)
			conn_end(w, v[i], CONN_END_HANDED, NULL);
		handed += n;
	}
	w->handing = false;
	log_debug("handed %llu connections over", (unsigned long long)handed);
}

/*
 * shutdown_timeout is over: every connection left is shut down for writing
 * (conn.h), and closed when its client closes too, or SHUT_GRACE_MS later
 * whatever it does - well inside the master's own grace (master_state.h's
 * DRAIN_GRACE_MS), past which it kills the worker.
 */
#define SHUT_GRACE_MS	1000

void
worker_shut_all(struct worker *w)
{
	struct conn *c, *next;

	w->shut = true;
	w->deadline_ms = w->now_ms + SHUT_GRACE_MS;
	if (w->nconns > 0)
		log_info("shutdown_timeout: %llu connection%s shut down for "
		    "writing, closed when their clients close or in %d ms",
		    (unsigned long long)w->nconns, plural(w->nconns),
		    SHUT_GRACE_MS);
	for (c = w->conns.head; c != NULL; c = next) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		next = c->next;
		if (conn_shut(c) == -1 ||
		    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
			conn_end(w, c, CONN_END_DRAINED, "shutdown timeout");
			continue;
		}
		c->events = EPOLLIN;
	}
}
