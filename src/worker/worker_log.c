/*
 * worker_log.c - what a worker says about its clients: each connection's
 * "connected" and "closed" lines (connlog.c words them), within the
 * per-source log budget (logbudget.c), named by the resolver thread when
 * resolve_clients asks for it, and the budget's summaries.  It owns the
 * worker's budget and resolver; the rest of the worker calls it.
 */
#include "config.h"

#include <stdbool.h>
#include <syslog.h>

#include "addr.h"
#include "conn.h"
#include "connlog.h"
#include "log.h"
#include "logbudget.h"
#include "resolve.h"
#include "util.h"
#include "worker_log.h"
#include "worker_state.h"

/* A client's "connected" line, named or not; the resolver thread's too. */
static void
log_open(const struct sockaddr *sa, socklen_t len, const char *name)
{
	char addr[64];
	struct log_conn_fields f = { .proto = "tcp", .addr = addr, .host = name };

	addr_host_port(sa, len, addr, sizeof(addr), &f.port);
	connlog_open(&f);
}

void
worker_log_event(struct worker *w, struct conn *c, enum log_conn_event ev,
    const char *why)
{
	char addr[64], bal[64];
	struct log_conn_fields f = { .proto = "tcp", .addr = addr };

	if (w->conf->log_connections == CONF_LOGCONN_NONE || c->balancer)
		return;		/* health checks every 200 ms are no news */
	if (ev == LOG_CONN_OPEN && w->conf->log_connections != CONF_LOGCONN_BOTH)
		return;
	/* below info nothing is written: no budget spent, nothing held back */
	if (log_getlevel() < LOG_INFO || !logbudget_take(&w->logs,
	    LOGBUDGET_CONN, &c->peer.sa, c->peerlen, w->now_ms))
		return;
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

void
worker_log_start(struct worker *w)
{
	logbudget_init(&w->logs, w->sources, &(struct logbudget_limits){
	    .source_rate = w->conf->log_source_rate,
	    .source_burst = w->conf->log_source_burst,
	    .pool_rate = w->conf->log_rate_limit });
	/* names go in the "connected" line, written only with "both" */
	if (w->conf->resolve_clients &&
	    w->conf->log_connections == CONF_LOGCONN_BOTH) {
		if (resolve_start(log_open) == -1)
			log_warn("resolver thread; logging addresses only");
		else
			w->resolving = true;
	}
}

/* What the log budget held back, said per source once it is due (all: as
 * the worker ends, whatever is held). */
void
worker_log_summaries(struct worker *w, bool all)
{
	char line[LOGBUDGET_LINE_MAX];

	while (logbudget_summary(&w->logs, w->now_ms, all, line))
		log_info("%s", line);
}
