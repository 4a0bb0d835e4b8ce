/*
 * worker.c - a worker: one epoll loop over the shared listeners, the
 * channel from the master, and its connections.  It accepts (one worker woken
 * per connection: EPOLLEXCLUSIVE; whether its listeners are in the set is
 * gate.c's), echoes, and publishes a heartbeat and its counters for the
 * master.  It takes orders from the master only: signals from outside are
 * ignored, and EOF on the channel means the master is gone.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "carry.h"
#include "channel.h"
#include "conn.h"
#include "connlog.h"
#include "dgram.h"
#include "fault.h"
#include "gate.h"
#include "handoff.h"
#include "log.h"
#include "proxyin.h"
#include "pump.h"
#include "resolve.h"
#include "source.h"
#include "stats.h"
#include "title.h"
#include "udp.h"
#include "util.h"
#include "worker.h"

#define MAX_EVENTS	256
#define TICK_MS		1000	/* the heartbeat's longest silence */
#define LOG_RETRY_MS	10	/* lines wait for the log: look again */
#define LOG_EXIT_MS	1000	/* on the way out, wait this long for it */
/* epoll tags: a connection's pointer, or a watch with the top bit set
 * (user-space pointers never have it). */
#define WATCH		(1ULL << 63)
#define WATCH_CMD	(WATCH | 0xffffffffULL)

struct worker {
	const struct conf	*conf;
	const struct listeners	*ls;
	struct chan_page	*shared;
	struct source_shared	*sources;
	int			 slot;
	unsigned		 generation;
	struct chan_stats	*me;
	struct chan_counters	*mine;		/* its counters on the page */
	bool			 resolving;	/* resolve_clients: a thread names clients */
	int			 ep;
	int			 cmd_fd;
	struct gate		 gate;		/* the TCP listeners, open or closed */
	struct pump		 pump;		/* one round's pipe and buffer, shared by all */
	struct dgram_batch	 dgram;		/* UDP: one batch's slots */
	bool			 draining;
	bool			 unhealthy;	/* stop_delay: fail health checks */
	uint64_t		 deadline_ms;	/* draining: shut, then close what is left */
	bool			 shut;		/* past the first deadline: conn_shut() */
	uint64_t		 now_ms;
	uint64_t		 nconns, accepted, bytes;
	uint64_t		 adopted;	/* handed to us, since start */
	bool			 handoff;	/* ordered: hand over after the batch */
	bool			 handing;	/* hand_over() runs */
	struct fault_limits	 limits;	/* as the master gave them */
	uint64_t		 limits_ms;	/* when they were last compared */
	struct conn		*head, *tail;	/* by last progress, oldest first */
	struct proxyin_queue	 waiting;	/* for their PROXY header */
	struct proxyin_counters	 px;
	struct udp_counters	 udp;
	struct stats_counts	 count;	/* closes, refusals, fills; the rest
					 * is copied in by publish() */
};

static void
ignore_if_default(int sig)
{
	struct sigaction cur, ign = { .sa_handler = SIG_IGN };

	if (sigaction(sig, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
	    !(cur.sa_flags & SA_SIGINFO))
		sigaction(sig, &ign, NULL);
}

/*
 * A worker takes orders from the master only.  The master's own signals
 * are ignored; so are those that would end a worker by default and that
 * nothing of ours uses, unless someone (a profiler) has a handler on them;
 * the fatal ones go through the fault filter.  Before the privilege drop:
 * until then, the workers' user cannot signal us.
 */
static void
restore_signals(pid_t master)
{
	/* SIGTSTP too: a stopped worker is one the master must kill as
	 * hung (Ctrl-Z stops the master, and only the master). */
	static const int ignored[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTTIN, SIGTTOU, SIGTSTP,
		SIGUSR1, SIGUSR2, SIGPIPE,
	};
	static const int unused[] = {
		SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT,
	};
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t none;

	for (size_t i = 0; i < nitems(ignored); i++)
		sigaction(ignored[i], &sa, NULL);
	for (size_t i = 0; i < nitems(unused); i++)
		ignore_if_default(unused[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		ignore_if_default(sig);
	if (fault_install(master) == -1)
		log_warn("fatal-signal filter");
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void
list_unlink(struct worker *w, struct conn *c)
{
	if (c->prev) c->prev->next = c->next; else w->head = c->next;
	if (c->next) c->next->prev = c->prev; else w->tail = c->prev;
	c->prev = c->next = NULL;
}

static void
list_append(struct worker *w, struct conn *c)
{
	c->prev = w->tail;
	c->next = NULL;
	if (w->tail) w->tail->next = c; else w->head = c;
	w->tail = c;
}

/* A client's "connected" line, named or not; the resolver thread's too. */
static void
log_open(const struct sockaddr *sa, socklen_t len, const char *name)
{
	char addr[64];
	struct log_conn_fields f = { .proto = "tcp", .addr = addr, .host = name };

	addr_host_port(sa, len, addr, sizeof(addr), &f.port);
	connlog_open(&f);
}

static void
log_event(struct worker *w, struct conn *c, enum log_conn_event ev,
    const char *why)
{
	char addr[64], bal[64];
	struct log_conn_fields f = { .proto = "tcp", .addr = addr };

	if (!w->conf->log_connections || c->balancer)
		return;		/* health checks every 200 ms are no news */
	addr_host_port(&c->peer.sa, c->peerlen, addr, sizeof(addr), &f.port);
	if (c->vialen != 0) {	/* the balancer's own fields, not the resolver's */
		addr_host_port(&c->via.sa, c->vialen, bal, sizeof(bal), &f.via_port);
		f.via = bal;
	}
	if (ev == LOG_CONN_OPEN) {
		if (c->vialen != 0 || !w->resolving ||
		    !resolve_post(&c->peer, c->peerlen))
			connlog_open(&f);
		return;		/* else the resolver thread logs it, named */
	}
	f.bytes = c->bytes;
	f.usec = now_usec() - c->start_us;
	connlog_close(&f, why);
}

/* Slots in use, from the master's stats page: bounded, since any worker
 * can write the page. */
static unsigned
pool_slots(const struct worker *w)
{
	uint32_t hw = atomic_load(&w->shared->hw);

	return hw < CHAN_MAX_SLOTS ? hw : CHAN_MAX_SLOTS;
}

/* The worker's load, as its accept gate judges it. */
static struct gate_load
load(const struct worker *w)
{
	return (struct gate_load){ .nconns = w->nconns,
	    .max = (uint64_t)w->conf->max_connections, .now_ms = w->now_ms,
	    .draining = w->draining };
}

/* Admission as this worker sees it now. */
static struct admit_policy
policy(const struct worker *w)
{
	return (struct admit_policy){ .conf = w->conf, .sources = w->sources,
	    .slot = w->slot, .nslots = pool_slots(w), .now_ms = w->now_ms };
}

static void
uncount(struct worker *w, struct conn *c)
{
	struct admit_policy p = policy(w);

	if (c->counted)
		admit_release(&p, &c->peer.sa);
	c->counted = false;
}

static void
conn_close(struct worker *w, struct conn *c, enum stats_close cause,
    const char *why)
{
	w->count.closed[cause]++;
	log_event(w, c, LOG_CONN_CLOSE, why);
	uncount(w, c);
	list_unlink(w, c);
	/* The worker that handed it over may not have closed its copy yet:
	 * close() alone would leave it in our epoll set, pointing at c. */
	if (c->adopted)
		epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conn_release(c);
	free(c);
	w->nconns--;
}

/* An admission verdict as a refusal's counter.  No default: a new verdict
 * must say which counter it goes to (-Wswitch). */
static enum stats_refuse
refusal(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_SOURCE_LIMIT:	return STATS_REFUSE_SOURCE_LIMIT;
	case ADMIT_UNTRACKED:		return STATS_REFUSE_SOURCE_TABLE;
	case ADMIT_DENIED:		return STATS_REFUSE_DENY;
	case ADMIT_OK: case ADMIT_RATE_LIMITED:	/* not a TCP refusal */
		break;
	}
	return STATS_REFUSE_DENY;
}

/* A client refused at the door: closed before any byte is echoed. */
static void
refuse(struct worker *w, struct conn *c, enum stats_refuse reason,
    const char *why)
{
	char host[64], via[96];
	unsigned port;

	w->count.refused[reason]++;
	close(c->fd);
	if (w->conf->log_connections) {
		addr_host_port(&c->peer.sa, c->peerlen, host, sizeof(host), &port);
		log_info("tcp refused %s port %u%s: %s", host, port,
		    proxyin_via(c, via, sizeof(via)), why);
	}
	conn_release(c);	/* a header's trailing data: never echoed */
	free(c);
}

/* A balancer's connection closed before its header was read: counted in
 * *count; a health check (closed before a byte) is no error. */
static void
drop_waiting(struct worker *w, struct conn *c, uint64_t *count,
    const char *why)
{
	char host[64];
	unsigned port;

	addr_host_port(&c->peer.sa, c->peerlen, host, sizeof(host), &port);
	(*count)++;
	if (count != &w->px.health_checks)
		w->count.refused[STATS_REFUSE_PROXY]++;
	if (count == &w->px.health_checks)
		log_debug("tcp health check from %s port %u: closed before "
		    "sending a byte (%llu so far)", host, port,
		    (unsigned long long)*count);
	else
		log_warnx("tcp %s port %u: closed, PROXY header refused: %s "
		    "(%llu so far)", host, port, why, (unsigned long long)*count);
	proxyin_queue_remove(&w->waiting, c);
	proxyin_end(c);
	close(c->fd);
	free(c);
	w->nconns--;
}

/*
 * A balancer's connection, until its header is read: false while it waits
 * or once it is closed.  The header's client is admitted as if it had
 * connected itself; the balancer's own connections (LOCAL...) need no
 * admission.
 */
static bool
on_header(struct worker *w, struct conn *c)
{
	struct proxy_header h;
	const char *why = "";

	switch (proxyin_read(c, &h, &why)) {
	case PROXYIN_MORE:
		return false;
	case PROXYIN_SILENT:
		drop_waiting(w, c, &w->px.health_checks, NULL);
		return false;
	case PROXYIN_BAD:
		drop_waiting(w, c, &w->px.bad_headers, why);
		return false;
	case PROXYIN_FAIL:
		drop_waiting(w, c, &w->px.bad_headers, strerror(errno));
		return false;
	case PROXYIN_DONE:
		break;
	}
	proxyin_queue_remove(&w->waiting, c);
	if (h.cmd == PROXY_CMD_LOCAL && w->unhealthy) {
		/* stop_delay: the balancer's check fails, clients are served */
		log_debug("tcp health check refused: stopping");
		w->px.health_checks++;
		close(c->fd);
		conn_release(c);
		free(c);
		w->nconns--;
		return false;
	}
	if (proxy_has_address(&h)) {
		struct admit_policy p = policy(w);
		enum admit_verdict v = admit_client(&p, ADMIT_TCP, &c->peer.sa,
		    &c->counted);
		w->px.relayed++;
		if (v != ADMIT_OK) {
			w->nconns--;
			refuse(w, c, refusal(v), admit_reason(v));
			return false;
		}
	} else {
		w->px.local++;
		c->balancer = true;
	}
	c->last_ms = w->now_ms;
	w->accepted++;
	list_append(w, c);
	log_event(w, c, LOG_CONN_OPEN, NULL);
	return true;
}

static void
on_accept(struct worker *w, const struct listener *l)
{
	for (int i = 0; i < WORKER_ACCEPT_BATCH && !w->draining &&
	    w->nconns < (uint64_t)w->conf->max_connections; i++) {
		struct gate_load ld = load(w);
		union sockaddr_any peer;
		socklen_t len = sizeof(peer);
		struct epoll_event ev;
		struct conn *c;
		int fd;

		if ((fd = gate_accept(&w->gate, l, &peer, &len, &ld)) == -1) {
			if (errno == EAGAIN)
				return;
			continue;	/* lost before it was taken: the next one */
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer = peer;
		c->peerlen = len;
		/* a balancer's: admitted on its header's address, later */
		bool header = proxyin_expected(w->conf, &c->peer.sa);
		if (header && proxyin_start(c, w->now_ms +
		    w->conf->proxy_timeout_ms) == -1) {
			close(fd);
			free(c);
			continue;
		}
		struct admit_policy p = policy(w);
		enum admit_verdict v = header ? ADMIT_OK : admit_client(&p,
		    ADMIT_TCP, &c->peer.sa, &c->counted);
		if (v != ADMIT_OK) {
			refuse(w, c, refusal(v), admit_reason(v));
			continue;
		}
		c->start_us = now_usec();
		c->last_ms = w->now_ms;
		c->events = EPOLLIN;
		ev.events = c->events;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			uncount(w, c);
			proxyin_end(c);
			close(fd);
			free(c);
			continue;
		}
		w->nconns++;
		if (!header)	/* else once its header is read and admitted */
			w->accepted++;
		if (w->nconns == (uint64_t)w->conf->max_connections)
			w->count.full++;
		if (header) {
			proxyin_queue_add(&w->waiting, c);
			continue;
		}
		list_append(w, c);
		log_event(w, c, LOG_CONN_OPEN, NULL);
	}
}

static void
on_datagrams(struct worker *w, const struct listener *l)
{
	struct admit_policy p = policy(w);

	/* Datagrams left after a few batches (1): epoll says so again. */
	if (udp_echo(l->fd, &w->dgram, &p, &w->udp) == -1)
		log_warn("udp %s", l->name);
}

static void
on_conn(struct worker *w, struct conn *c, uint32_t events)
{
	enum conn_step step;
	uint64_t before = c->bytes;
	uint32_t want;

	if (c->shut) {
		if (conn_discard(c, w->pump.scratch, w->pump.size) != CONN_KEEP)
			conn_close(w, c, STATS_CLOSE_DRAINED, "shutdown timeout");
		return;
	}
	if (c->px != NULL) {
		if (!on_header(w, c))
			return;
		/* the data read with the header goes back now, without a
		 * round trip through epoll (and none at all if there is none) */
		events = EPOLLOUT;
	}
	if (events & EPOLLOUT)
		step = conn_writable(c);
	else
		step = conn_readable(c, &w->pump);
	if (step == CONN_KEEP && (events & (EPOLLERR | EPOLLHUP)) &&
	    !(events & (EPOLLIN | EPOLLOUT))) {
		errno = ECONNRESET;
		step = CONN_FAIL;
	}
	switch (step) {
	case CONN_DONE:
		conn_close(w, c, STATS_CLOSE_EOF, NULL);
		return;
	case CONN_FAIL:
		conn_close(w, c, STATS_CLOSE_ERROR, strerror(errno));
		return;
	case CONN_KEEP:
		break;
	}
	w->bytes += c->bytes - before;
	if (c->bytes != before || c->rd_eof) {
		c->last_ms = w->now_ms;
		list_unlink(w, c);
		list_append(w, c);
	}
	if ((want = conn_events(c)) != c->events) {
		struct epoll_event ev = { .events = want, .data.ptr = c };
		c->events = want;
		if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
			conn_close(w, c, STATS_CLOSE_ERROR, strerror(errno));
	}
}

/* What this worker did with datagrams, said once as it ends: the counters
 * are exact, and the lines of all workers add up to the pool's.  So is the
 * count of its log lines lost; then what waits for the log goes out. */
static void
farewell(const struct worker *w)
{
	if (w->ls != NULL && udp_counted(&w->udp))
		udp_log_counters(&w->udp);
	log_info("exiting; %lu log lines dropped", log_dropped_total());
	log_drain(LOG_EXIT_MS);
}

static void
close_listeners(struct worker *w)
{
	gate_arm(&w->gate, false);
	for (size_t i = 0; i < w->ls->n; i++) {
		/* The master still holds the socket, so close() alone would
		 * leave it in our epoll set: delete it first. */
		if (w->ls->v[i].proto == PROTO_UDP)
			epoll_ctl(w->ep, EPOLL_CTL_DEL, w->ls->v[i].fd, NULL);
		close(w->ls->v[i].fd);
	}
}

static void publish(struct worker *);

static void
begin_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	atomic_store(&w->me->serving, 0);
	title_worker(w->slot, w->generation, true);
	w->deadline_ms = w->now_ms + w->conf->shutdown_timeout_ms;
	close_listeners(w);
	log_debug("draining %llu connections", (unsigned long long)w->nconns);
}

/*
 * Adopted connections (a reload's old worker's, or a restart's from
 * systemd's store), with their unsent echo first.  They are this worker's
 * own from here on: counted, listed, timed as if accepted here.
 */
static void
adopt(struct worker *w, int *fds, size_t nfds)
{
	struct conn *v[HANDOFF_MAX_CONNS];
	const char *why;
	int n = carry_in(fds, nfds, w->now_ms, v, &why);

	if (n == -1) {
		log_warnx("adopting %zu connections: %s", nfds ? nfds - 1 : 0, why);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct conn *c = v[i];
		struct admit_policy p = policy(w);
		struct epoll_event ev = { .events = conn_events(c), .data.ptr = c };

		/* Counted for its source, never refused: it was admitted once. */
		if (admit_client(&p, ADMIT_TCP, &c->peer.sa, &c->counted) != ADMIT_OK)
			c->counted = false;
		c->events = ev.events;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
			uncount(w, c);
			close(c->fd);
			conn_release(c);
			free(c);
			continue;
		}
		list_append(w, c);
		w->nconns++;
		w->adopted++;	/* counters: an adopted connection is ours */
	}
	log_debug("adopted %d connections", n);
}

static void on_message(void *, char, int *, size_t);

/* Every connection to the master, oldest first, in batches; the first
 * batch refused (or unanswered) leaves the rest draining here. */
static void
hand_over(struct worker *w)
{
	struct conn *v[HANDOFF_MAX_CONNS];
	uint64_t handed = 0;

	begin_drain(w);
	if (w->shut)
		return;		/* half-closed already: they end here */
	w->handing = true;
	while (w->head != NULL) {
		size_t n = 0;
		int rc;

		for (struct conn *c = w->head; c && n < nitems(v); c = c->next)
			v[n++] = c;
		rc = carry_out(w->cmd_fd, v, n, w->now_ms, on_message, w);
		if (rc != 1) {
			if (rc == -1)
				log_warn("handing %zu connections over", n);
			else
				log_info("handoff refused; draining %llu connections",
				    (unsigned long long)w->nconns);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			/* The master holds it now: out of our epoll set first,
			 * since close() alone would not remove it. */
			epoll_ctl(w->ep, EPOLL_CTL_DEL, v[i]->fd, NULL);
			uncount(w, v[i]);
			list_unlink(w, v[i]);
			close(v[i]->fd);
			conn_release(v[i]);
			free(v[i]);
			w->nconns--;
		}
		handed += n;
	}
	w->handing = false;
	log_debug("handed %llu connections over", (unsigned long long)handed);
}

/* One message from the master: an order, or connections to adopt. */
static void
on_message(void *arg, char type, int *fds, size_t nfds)
{
	struct worker *w = arg;

	if (type == HANDOFF_MSG_ADOPT) {
		adopt(w, fds, nfds);
		return;
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	switch (type) {
	case CHAN_CMD_DRAIN:
		begin_drain(w);
		break;
	case CHAN_CMD_HANDOFF:
		/* After this batch of events: it frees connections that
		 * events still to come in the batch point to. */
		begin_drain(w);
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

/*
 * shutdown_timeout is over: every connection left is shut down for writing
 * (conn.h), and closed when its client closes too, or SHUT_GRACE_MS later
 * whatever it does - well inside the master's own grace (master.c's
 * DRAIN_GRACE_MS), past which it kills the worker.
 */
#define SHUT_GRACE_MS	1000

static void
shut_all(struct worker *w)
{
	struct conn *c, *next;

	w->shut = true;
	w->deadline_ms = w->now_ms + SHUT_GRACE_MS;
	if (w->nconns > 0)
		log_info("shutdown_timeout: %llu connections shut down for "
		    "writing, closed when their clients close or in %d ms",
		    (unsigned long long)w->nconns, SHUT_GRACE_MS);
	for (c = w->head; c != NULL; c = next) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		next = c->next;
		if (conn_shut(c) == -1 ||
		    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
			conn_close(w, c, STATS_CLOSE_DRAINED, "shutdown timeout");
			continue;
		}
		c->events = EPOLLIN;
	}
}

static void
expire(struct worker *w)
{
	uint64_t idle = w->conf->idle_timeout_ms;
	struct conn *c;

	while ((c = proxyin_queue_expired(&w->waiting, w->now_ms)) != NULL)
		drop_waiting(w, c, &w->px.timeouts, "not complete within "
		    "proxy_timeout");
	while (w->head && w->head->last_ms + idle <= w->now_ms)
		conn_close(w, w->head, STATS_CLOSE_IDLE, "idle timeout");
	if (w->draining && w->now_ms >= w->deadline_ms) {
		while (w->waiting.head)
			drop_waiting(w, w->waiting.head, &w->px.timeouts,
			    "shutdown timeout");
		if (!w->shut) {
			shut_all(w);
			return;
		}
		while (w->head)
			conn_close(w, w->head, STATS_CLOSE_DRAINED,
			    "shutdown timeout");
	}
}

static int
next_timeout(struct worker *w)
{
	struct gate_load ld = load(w);
	uint64_t t = w->now_ms + TICK_MS;

	if (w->head && w->head->last_ms + w->conf->idle_timeout_ms < t)
		t = w->head->last_ms + w->conf->idle_timeout_ms;
	if (w->draining && w->deadline_ms < t)
		t = w->deadline_ms;
	t = proxyin_queue_next_ms(&w->waiting, t);
	t = gate_next_ms(&w->gate, &ld, t);
	if (log_pending() && w->now_ms + LOG_RETRY_MS < t)
		t = w->now_ms + LOG_RETRY_MS;
	return t <= w->now_ms ? 0 : (int)(t - w->now_ms);
}

static void
publish(struct worker *w)
{
	atomic_store_explicit(&w->me->heartbeat_ms, w->now_ms, memory_order_relaxed);
	atomic_store_explicit(&w->me->connections, w->nconns, memory_order_relaxed);
	atomic_store_explicit(&w->me->accepted, w->accepted, memory_order_relaxed);
	atomic_store_explicit(&w->me->bytes, w->bytes + w->udp.bytes,
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
	stats_publish(w->mine, &w->count);
}

/*
 * Every worker reads the UDP sockets all of them share (one per address,
 * as echod.socket passes it); EPOLLEXCLUSIVE wakes one of them per
 * datagram that finds them all asleep, and each takes a whole batch.  One
 * reader at a time (a lease, which echod had) cost a third of the
 * datagrams per second with two workers under many sources that each wait
 * for their echo, for a few per cent of CPU: on loopback the kernel's work
 * per datagram is the same whoever reads.
 */
static void
watch_datagrams(struct worker *w)
{
	for (size_t i = 0; i < w->ls->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
		    .data.u64 = WATCH | i };

		if (w->ls->v[i].proto == PROTO_UDP &&
		    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->ls->v[i].fd, &ev) == -1)
			fatal("epoll_ctl udp %s", w->ls->v[i].name);
	}
}

static void
setup(struct worker *w, const struct worker_args *a, int slot, int cmd_fd)
{
	struct epoll_event ev;
	char err[256], prefix[32];

	restore_signals(a->master);
	for (const int *fd = a->close_fds; fd && *fd != -1; fd++)
		close(*fd);
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
	w->me = &a->shared->stats[slot];
	w->mine = &a->shared->counters[slot];
	w->cmd_fd = cmd_fd;
	w->now_ms = now_coarse_ms();
	if (fault_limits_save(&w->limits) == -1)
		fatal("getrlimit");
	w->limits_ms = w->now_ms;
	if (pump_init(&w->pump, w->conf->buffer_size) == -1 ||
	    dgram_init(&w->dgram, UDP_BATCH, UDP_MAX_DATAGRAM) == -1)
		fatal("malloc");
	w->dgram.gso = true;	/* dgram.h: off by itself if refused */
	if (!pump_spliced(&w->pump))
		log_warn("no pipe of buffer_size %zu for zero-copy echo (see "
		    "/proc/sys/fs/pipe-max-size and pipe-user-pages-soft); "
		    "copying instead", w->conf->buffer_size);
	if (w->conf->resolve_clients && w->conf->log_connections) {
		if (resolve_start(log_open) == -1)
			log_warn("resolver thread; logging addresses only");
		else
			w->resolving = true;
	}
	if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	fd_set_nonblock(cmd_fd, 1);
	ev.events = EPOLLIN;
	ev.data.u64 = WATCH_CMD;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, cmd_fd, &ev) == -1)
		fatal("epoll_ctl channel");
	watch_datagrams(w);
	gate_init(&w->gate, w->ep, w->ls, WATCH, a->shared, w->me);
	gate_arm(&w->gate, true);

	switch (privdrop_child(a->creds, a->master, err, sizeof(err))) {
	case -1:
		fatalx("%s", err);
	case 1:
		_exit(0);
	}
	publish(w);
	atomic_store(&w->me->serving, 1);
	atomic_store(&w->me->ready, 1);
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
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			const struct listener *l;

			if (!(tag & WATCH)) {
				on_conn(&w, evs[i].data.ptr, evs[i].events);
				continue;
			}
			if (tag == WATCH_CMD) {
				on_order(&w);
				continue;
			}
			if (w.draining)
				continue;	/* listeners closed in this batch */
			l = &w.ls->v[tag & ~WATCH];
			if (l->proto == PROTO_TCP)
				on_accept(&w, l);
			else
				on_datagrams(&w, l);
		}
		if (w.handoff && !w.handing) {
			w.handoff = false;
			hand_over(&w);
		}
		expire(&w);
		if (w.draining && w.nconns == 0)
			break;
		watch_limits(&w);
		if (log_pending())
			log_flush();
		ld = load(&w);
		gate_update(&w.gate, &ld);
		publish(&w);
	}
	publish(&w);
	farewell(&w);
	log_flush();
	_exit(0);
}
