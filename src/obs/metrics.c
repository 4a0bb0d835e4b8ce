/*
 * metrics.c - the metrics sockets and the metrics process.  The master
 * keeps the sockets (bound as root, ports below 1024 included) and forks
 * the process that serves them (master/metrics_sup.c); the process takes a
 * worker's defences against its user (fault.h), is handed the statistics
 * page read-only and nothing else shared, shuts every other descriptor,
 * drops to the configured user, and serves GET /metrics through reqsrv.c,
 * with a heartbeat to the master.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "render.h"
#include "fault.h"
#include "log.h"
#include "metrics.h"
#include "privdrop.h"
#include "reqsrv.h"
#include "shard.h"
#include "stats.h"
#include "title.h"
#include "util.h"

void
metrics_init(struct metrics *mt)
{
	memset(mt, 0, sizeof(*mt));
}

int
metrics_prepare(struct metrics *mt, const struct conf *c,
    struct listen_plan *p, char *err, size_t errlen)
{
	/* The echo listeners' reconciliation, on the metrics addresses as
	 * TCP. */
	const struct listen_spec only = {
		.tcp = c->metrics_listen, .n_tcp = c->n_metrics_listen,
		.backlog = 128,
	};
	char why[CONF_ERRLEN];

	if (listen_prepare(&mt->ls, &only, p, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "metrics_listen: %s", why);
		return -1;
	}
	return 0;
}

size_t
metrics_commit(struct metrics *mt, struct listen_plan *p,
    void (*note)(bool, const struct listener *))
{
	/* Past METRICS_MAX_SOCKETS (host names of many addresses), the rest
	 * are bound but not served: the caller says so. */
	return listen_commit(&mt->ls, p, note);
}

int
metrics_reconcile(struct metrics *mt, const struct conf *c,
    void (*note)(bool, const struct listener *), char *err, size_t errlen)
{
	struct listen_plan p;

	if (metrics_prepare(mt, c, &p, err, errlen) == -1)
		return -1;
	return (int)metrics_commit(mt, &p, note);
}

size_t
metrics_fds(const struct metrics *mt, int *out)
{
	size_t n = 0;

	for (size_t i = 0; i < mt->ls.n && n < METRICS_MAX_SOCKETS; i++)
		out[n++] = mt->ls.v[i].fd;
	return n;
}

/* ---- the HTTP side ----------------------------------------------------- */

size_t
metrics_http_complete(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return i + 2;
		if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	}
	return 0;
}

static void
http_reply(struct render_buf *out, const char *status, const char *type,
    const struct render_buf *body)
{
	render_buf_printf(out, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s", status, type,
	    body->len, (int)body->len, body->p ? body->p : "");
}

/* "GET /metrics HTTP/1.x" (a query string allowed); anything else is 404. */
static bool
wants_metrics(const char *req)
{
	static const char get[] = "GET /metrics";
	const char *p = req + sizeof(get) - 1;

	if (strncmp(req, get, sizeof(get) - 1) != 0 || (*p != ' ' && *p != '?'))
		return false;
	p = strpbrk(p, " \r\n");
	return p != NULL && strncmp(p, " HTTP/1.", 8) == 0;
}

void
metrics_http_reply(const struct chan_page *page, struct stats_snapshot *snap,
    const char *req, struct render_buf *out)
{
	struct render_buf body = { 0 };

	if (!wants_metrics(req)) {
		render_buf_printf(&body, "404 not found: only GET /metrics is served\n");
		http_reply(out, "404 Not Found", "text/plain; charset=utf-8", &body);
	} else if (stats_read(page, snap) == -1) {
		render_buf_printf(&body, "the counters are busy; try again\n");
		http_reply(out, "503 Service Unavailable",
		    "text/plain; charset=utf-8", &body);
	} else if (render_prom(snap, &body) == 0) {
		http_reply(out, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		    &body);
	} else
		out->oom = true;
	render_buf_free(&body);
}

/* ---- the metrics process ----------------------------------------------- */

static const struct chan_page	*child_page;
static struct stats_snapshot	*child_snap;

static void
serve(void *arg, const char *req, size_t len, struct render_buf *out)
{
	(void)arg;
	(void)len;
	metrics_http_reply(child_page, child_snap, req, out);
}

/* Out of descriptors (a lowered RLIMIT_NOFILE), the listeners rest
 * (reqsrv.c): said once per spell, and again when they answer. */
static void
starved(void *arg, int err, uint64_t rests)
{
	(void)arg;
	if (err != 0)
		log_warnx("accept: %s; GET /metrics unanswered, trying again "
		    "every %d ms", strerror(err), REQSRV_REST_MS);
	else
		log_notice("accepting again, after %llu tries",
		    (unsigned long long)rests);
}

static bool
is_ours(const struct metrics *mt, int fd)
{
	for (size_t i = 0; i < mt->ls.n; i++)
		if (mt->ls.v[i].fd == fd)
			return true;
	return false;
}

static void
child_close(const struct metrics *mt, const struct metrics_args *a)
{
	for (const int *fd = a->close_fds; fd && *fd != -1; fd++)
		if (!is_ours(mt, *fd))
			close(*fd);
	for (size_t i = 0; a->echo != NULL && i < a->echo->n; i++)
		close(a->echo->v[i].fd);
	if (a->echo != NULL)
		shard_close_others(a->echo, SIZE_MAX);
	for (size_t i = 0; i < a->n_pipes; i++)
		close(a->pipes[i]);
}

/*
 * Limits lower than those it dropped root with were set from outside (its
 * user can): at RLIMIT_NOFILE 0 it would never accept again, so it makes
 * way for a fresh one.
 */
static void
watch_limits(const struct fault_limits *limits)
{
	char what[128];

	if (!fault_limits_lowered(limits, what, sizeof(what)))
		return;
	log_warnx("%s lowered from outside; exiting to be replaced", what);
	log_flush();
	_exit(0);
}

/* The master kills a metrics process that stops sending these (SIGSTOP, a
 * loop stuck).  A full channel: the master is behind, and has heard enough. */
static void
heartbeat(int chan, const struct fault_limits *limits)
{
	watch_limits(limits);
	(void)send(chan, "h", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void __attribute__((noreturn))
child_loop(struct reqsrv *srv, int chan, const struct fault_limits *limits)
{
	struct pollfd pfd[1 + METRICS_MAX_SOCKETS + METRICS_MAX_CLIENTS];
	uint64_t now = now_coarse_ms(), beat = now;

	heartbeat(chan, limits);
	for (;;) {
		int left = (int)(beat + METRICS_BEAT_MS - now);
		int t = reqsrv_next_timeout(srv, now);

		if (t == -1 || t > left)
			t = left < 0 ? 0 : left;
		pfd[0] = (struct pollfd){ .fd = chan, .events = POLLIN };
		size_t np = 1 + reqsrv_pollfds(srv, pfd + 1, nitems(pfd) - 1);
		if (poll(pfd, np, t) == -1 && errno != EINTR) {
			/* EINVAL: more descriptors than RLIMIT_NOFILE */
			watch_limits(limits);
			fatal("poll");
		}
		if (pfd[0].revents != 0) {
			char c;
			if (read(chan, &c, 1) <= 0)
				_exit(0);	/* the master is gone, or asks */
		}
		now = now_coarse_ms();
		reqsrv_run(srv, now);
		if (now - beat >= METRICS_BEAT_MS) {
			beat = now;
			heartbeat(chan, limits);
		}
	}
}

void
metrics_serve(const struct metrics *mt, const struct metrics_args *a,
    const struct chan_page *page, int chan, int shield)
{
	int fds[METRICS_MAX_SOCKETS];
	struct fault_limits limits;
	struct reqsrv srv = { 0 };
	char err[256];
	size_t n = 0;

	child_page = page;
	child_close(mt, a);
	log_setprefix("metrics");
	if (shield == -1)
		log_warn("fatal-signal filter");
	title_metrics();	/* not the master's title it was forked with */
	for (size_t i = 0; i < mt->ls.n && n < METRICS_MAX_SOCKETS; i++)
		fds[n++] = mt->ls.v[i].fd;
	if (reqsrv_init(&srv, METRICS_MAX_CLIENTS) == -1 ||
	    (child_snap = malloc(sizeof(*child_snap))) == NULL)
		fatal("metrics process: memory");
	srv.max_request = METRICS_MAX_REQUEST;
	srv.timeout_ms = METRICS_TIMEOUT_MS;
	srv.complete = metrics_http_complete;
	srv.reply = serve;
	srv.starved = starved;
	reqsrv_set_listeners(&srv, fds, n);
	/* Before the drop: from then on its user can lower them. */
	if (fault_limits_save(&limits) == -1)
		fatal("getrlimit");
	switch (privdrop_child(a->creds, a->master, err, sizeof(err))) {
	case -1:
		fatalx("%s", err);
	case 1:
		_exit(0);
	}
	child_loop(&srv, chan, &limits);
}

void
metrics_close(struct metrics *mt)
{
	listen_close_all(&mt->ls);
}
