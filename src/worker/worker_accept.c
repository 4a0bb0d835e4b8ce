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
#include "gate.h"
#include "log.h"
#include "proxy_conn.h"
#include "stats.h"
#include "util.h"
#include "worker_state.h"

/* An admission verdict as a refusal's counter.  No default: a new verdict
 * must say which counter it goes to (-Wswitch). */
static enum stats_refuse
refusal(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_SOURCE_LIMIT:	return STATS_REFUSE_SOURCE_LIMIT;
	case ADMIT_UNTRACKED:		return STATS_REFUSE_SOURCE_TABLE;
	case ADMIT_DENIED:		return STATS_REFUSE_DENY;
	case ADMIT_NOT_ALLOWED:		return STATS_REFUSE_DENY;
	case ADMIT_CONN_RATE:		return STATS_REFUSE_CONN_RATE;
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
	worker_close_fd(w, c);
	if (w->conf->log_connections != CONF_LOGCONN_NONE &&
	    log_getlevel() >= LOG_INFO && logbudget_take(&w->logs,
	    LOGBUDGET_REFUSAL, &c->peer.sa, c->peerlen, w->now_ms)) {
		addr_host_port(&c->peer.sa, c->peerlen, host, sizeof(host), &port);
		log_info("tcp refused %s port %u%s: %s", host, port,
		    proxy_conn_via(c, via, sizeof(via)), why);
	}
	conn_release(c);	/* a header's trailing data: never echoed */
	free(c);
}

/* A balancer's connection closed before its header was read: counted in
 * *count; a health check (closed before a byte) is no error. */
void
worker_drop_waiting(struct worker *w, struct conn *c, uint64_t *count,
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
	conn_list_unlink(&w->waiting, c);
	proxy_conn_end(c);
	worker_close_fd(w, c);
	free(c);
	w->nconns--;
}

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
		worker_drop_waiting(w, c, &w->px.health_checks, NULL);
		return false;
	case PROXY_CONN_BAD:
		worker_drop_waiting(w, c, &w->px.bad_headers, why);
		return false;
	case PROXY_CONN_FAIL:
		worker_drop_waiting(w, c, &w->px.bad_headers, strerror(errno));
		return false;
	case PROXY_CONN_DONE:
		break;
	}
	conn_list_unlink(&w->waiting, c);
	if (h.cmd == PROXY_CMD_LOCAL && w->unhealthy) {
		/* stop_delay: the balancer's check fails, clients are served */
		log_debug("tcp health check refused: stopping");
		w->px.health_checks++;
		worker_close_fd(w, c);
		conn_release(c);
		free(c);
		w->nconns--;
		return false;
	}
	if (proxy_has_address(&h)) {
		struct admit_policy p = worker_policy(w);
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
			refuse(w, c, refusal(v), admit_reason(v));
			continue;
		}
		c->start_us = now_usec();
		c->last_ms = w->now_ms;
		c->events = EPOLLIN;
		ev.events = c->events;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			worker_uncount(w, c);
			proxy_conn_end(c);
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
			conn_list_append(&w->waiting, c);
			continue;
		}
		conn_list_append(&w->conns, c);
		worker_log_event(w, c, LOG_CONN_OPEN, NULL);
	}
}
