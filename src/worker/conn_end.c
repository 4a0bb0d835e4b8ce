/*
 * conn_end.c - the one way a worker's TCP connection ends (conn_end.h).
 * Each end is counted where the page says (closed, refused, the
 * balancer's counters), logged as it always was, and then torn down by
 * what the connection holds: its list, its source's count, its place in
 * the epoll set, its PROXY header so far, its unsent echo.
 */
#include "config.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <unistd.h>

#include "conn.h"
#include "conn_end.h"
#include "log.h"
#include "proxy_conn.h"
#include "worker_admit.h"
#include "worker_log.h"
#include "worker_state.h"

enum conn_end
conn_end_refusal(enum admit_verdict v)
{
	/* No default: a new verdict must say which counter it goes to
	 * (-Wswitch). */
	switch (v) {
	case ADMIT_SOURCE_LIMIT:	return CONN_END_SOURCE_LIMIT;
	case ADMIT_UNTRACKED:		return CONN_END_SOURCE_TABLE;
	case ADMIT_DENIED:		return CONN_END_DENY;
	case ADMIT_NOT_ALLOWED:		return CONN_END_DENY;
	case ADMIT_CONN_RATE:		return CONN_END_CONN_RATE;
	case ADMIT_OK: case ADMIT_RATE_LIMITED:	/* not a TCP refusal */
		break;
	}
	return CONN_END_DENY;
}

/* A client refused at the door: its line, within its source's budget. */
static void
log_refused(struct worker *w, const struct conn *c, const char *why)
{
	char host[64], via[96];
	unsigned port;

	if (w->conf->log_connections == CONF_LOGCONN_NONE ||
	    log_getlevel() < LOG_INFO || !logbudget_take(&w->logs,
	    LOGBUDGET_REFUSAL, &c->peer.sa, c->peerlen, w->now_ms))
		return;
	addr_host_port(&c->peer.sa, c->peerlen, host, sizeof(host), &port);
	log_info("tcp refused %s port %u%s: %s", host, port,
	    proxy_conn_via(c, via, sizeof(via)), why);
}

/* A balancer's connection closed before its header was read, counted in
 * *count; a health check (closed before a byte) is no error. */
static void
log_header(struct worker *w, const struct conn *c, const uint64_t *count,
    const char *why)
{
	char host[64];
	unsigned port;

	addr_host_port(&c->peer.sa, c->peerlen, host, sizeof(host), &port);
	if (count == &w->px.health_checks)
		log_debug("tcp health check from %s port %u: closed before "
		    "sending a byte (%llu so far)", host, port,
		    (unsigned long long)*count);
	else
		log_warnx("tcp %s port %u: closed, PROXY header refused: %s "
		    "(%llu so far)", host, port, why, (unsigned long long)*count);
}

static const enum stats_close closes[] = {
	[CONN_END_EOF] = STATS_CLOSE_EOF, [CONN_END_ERROR] = STATS_CLOSE_ERROR,
	[CONN_END_IDLE] = STATS_CLOSE_IDLE,
	[CONN_END_DRAINED] = STATS_CLOSE_DRAINED,
};
static const enum stats_refuse refusals[] = {
	[CONN_END_DENY] = STATS_REFUSE_DENY,
	[CONN_END_SOURCE_LIMIT] = STATS_REFUSE_SOURCE_LIMIT,
	[CONN_END_SOURCE_TABLE] = STATS_REFUSE_SOURCE_TABLE,
	[CONN_END_CONN_RATE] = STATS_REFUSE_CONN_RATE,
};

/* The end's counter and its line, while c is still whole. */
static void
count_and_log(struct worker *w, struct conn *c, enum conn_end how,
    const char *why)
{
	switch (how) {
	case CONN_END_EOF: case CONN_END_ERROR: case CONN_END_IDLE:
	case CONN_END_DRAINED:
		w->count.closed[closes[how]]++;
		worker_log_event(w, c, LOG_CONN_CLOSE, why);
		break;
	case CONN_END_DENY: case CONN_END_SOURCE_LIMIT:
	case CONN_END_SOURCE_TABLE: case CONN_END_CONN_RATE:
		w->count.refused[refusals[how]]++;
		log_refused(w, c, why);
		break;
	case CONN_END_BAD_HEADER: case CONN_END_HEADER_TIMEOUT: {
		uint64_t *n = how == CONN_END_BAD_HEADER ? &w->px.bad_headers :
		    &w->px.timeouts;
		(*n)++;
		w->count.refused[STATS_REFUSE_PROXY]++;
		log_header(w, c, n, why);
		break;
	}
	case CONN_END_HEALTH_CHECK:
		w->px.health_checks++;
		log_header(w, c, &w->px.health_checks, why);
		break;
	case CONN_END_CHECK_REFUSED:
		/* stop_delay: the balancer's check fails, clients are served */
		log_debug("tcp health check refused: stopping");
		w->px.health_checks++;
		break;
	case CONN_END_UNWATCHED: case CONN_END_HANDED:
		break;
	}
}

void
conn_end(struct worker *w, struct conn *c, enum conn_end how, const char *why)
{
	count_and_log(w, c, how, why);
	if (c->list != NULL) {	/* counted in nconns while on one */
		conn_list_unlink(c->list, c);
		w->nconns--;
	}
	worker_uncount(w, c);
	/* A socket that another process still holds (the worker that handed
	 * it over, the master it goes to) stays in our epoll set after
	 * close(), pointing at c: it leaves first. */
	if (c->events != 0 && (c->adopted || how == CONN_END_HANDED))
		epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	proxy_conn_end(c);
	conn_release(c);	/* a header's trailing data: never echoed */
	free(c);
}
