/*
 * worker_accept.c - a new connection, from accept() to its first byte
 * echoed: the accept batch (through gate.c), admission (admit.c: access
 * lists, per-source limits) and its refusals, a balancer's connection
 * waiting for its PROXY header (proxy_conn.c) or dropped without one, and the
 * "connected" line.  What it accepts joins the worker's list (worker.c).
 * It acts on the struct worker of worker_state.h, which worker_main()
 * passes in.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "admit.h"
#include "conn.h"
#include "conn_end.h"
#include "gate.h"
#include "log.h"
#include "proxy_conn.h"
#include "stats.h"
#include "util.h"
#include "worker_accept.h"
#include "worker_admit.h"
#include "worker_log.h"
#include "worker_state.h"

/*
 * A balancer's connection, until its header is read: false while it waits
 * or once it is closed.  The header's client is admitted as if it had
 * connected itself; the balancer's own connections (LOCAL...) need no
 * admission.
 */
bool
worker_on_header(struct worker *w, struct conn *c)
{
	struct proxy_header h;
	const char *why = "";

	switch (proxy_conn_read(c, &h, &why)) {
	case PROXY_CONN_MORE:
		return false;
	case PROXY_CONN_SILENT:
		conn_end(w, c, CONN_END_HEALTH_CHECK, NULL);
		return false;
	case PROXY_CONN_BAD:
		conn_end(w, c, CONN_END_BAD_HEADER, why);
		return false;
	case PROXY_CONN_FAIL:
		conn_end(w, c, CONN_END_BAD_HEADER, strerror(errno));
		return false;
	case PROXY_CONN_DONE:
		break;
	}
	if (h.cmd == PROXY_CMD_LOCAL && w->unhealthy) {
		conn_end(w, c, CONN_END_CHECK_REFUSED, NULL);
		return false;
	}
	if (proxy_has_address(&h)) {
		struct admit_policy p = worker_policy(w);
		enum admit_verdict v = admit_client(&p, ADMIT_TCP, &c->peer.sa,
		    &c->counted);
		w->px.relayed++;
		if (v != ADMIT_OK) {
			conn_end(w, c, conn_end_refusal(v), admit_reason(v));
			return false;
		}
	} else {
		w->px.local++;
		c->balancer = true;
	}
	conn_list_unlink(&w->waiting, c);
	c->last_ms = w->now_ms;
	w->accepted++;
	conn_list_append(&w->conns, c);
	worker_log_event(w, c, LOG_CONN_OPEN, NULL);
	return true;
}

void
worker_on_accept(struct worker *w, const struct listener *l)
{
	for (int i = 0; i < WORKER_ACCEPT_BATCH && !w->draining &&
	    w->nconns < (uint64_t)w->conf->max_connections; i++) {
		struct gate_load ld = worker_load(w);
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
		bool header = proxy_conn_expected(w->conf, &c->peer.sa);
		if (header && proxy_conn_start(c, w->now_ms +
		    w->conf->proxy_timeout_ms) == -1) {
			close(fd);
			free(c);
			continue;
		}
		struct admit_policy p = worker_policy(w);
		enum admit_verdict v = header ? ADMIT_OK : admit_client(&p,
		    ADMIT_TCP, &c->peer.sa, &c->counted);
		if (v != ADMIT_OK) {
			conn_end(w, c, conn_end_refusal(v), admit_reason(v));
			continue;
		}
		c->start_us = now_usec();
		c->last_ms = w->now_ms;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			conn_end(w, c, CONN_END_UNWATCHED, NULL);
			continue;
		}
		c->events = ev.events;
		w->nconns++;
		if (!header)	/* else once its header is read and admitted */
			w->accepted++;
		if (w->nconns == (uint64_t)w->conf->max_connections)
			w->count.full++;
		if (header) {
			conn_list_append(&w->waiting, c);
			continue;
		}
		conn_list_append(&w->conns, c);
		worker_log_event(w, c, LOG_CONN_OPEN, NULL);
	}
}
