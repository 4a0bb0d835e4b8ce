/*
 * metrics.c - the metrics process and its supervision.  The master keeps
 * the sockets (bound as root, ports below 1024 included) and forks the
 * process that serves them; the process shuts every other descriptor,
 * makes its view of the statistics page read-only, drops to the
 * configured user, and serves GET /metrics through reqsrv.c.
 */
#include "config.h"

#include <bsd/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "expo.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "privdrop.h"
#include "reqsrv.h"
#include "stats.h"
#include "util.h"

void
metrics_init(struct metrics *mt)
{
	memset(mt, 0, sizeof(*mt));
	mt->pipe_w = -1;
}

int
metrics_prepare(struct metrics *mt, const struct conf *c,
    struct listen_plan *p, char *err, size_t errlen)
{
	/* The echo listeners' reconciliation, on a configuration that lists
	 * only the metrics addresses, as TCP. */
	struct conf only = {
		.listen_tcp = c->metrics_listen, .n_listen_tcp = c->n_metrics_listen,
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
	if (mt->pipe_w != -1)
		out[n++] = mt->pipe_w;
	return n;
}

uint64_t
metrics_next_respawn(const struct metrics *mt)
{
	return mt->pid == 0 && mt->ls.n > 0 ? mt->respawn_at_ms : UINT64_MAX;
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
http_reply(struct expo_buf *out, const char *status, const char *type,
    const struct expo_buf *body)
{
	expo_buf_printf(out, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
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
    const char *req, struct expo_buf *out)
{
	struct expo_buf body = { 0 };

	if (!wants_metrics(req)) {
		expo_buf_printf(&body, "404 not found: only GET /metrics is served\n");
		http_reply(out, "404 Not Found", "text/plain; charset=utf-8", &body);
	} else if (stats_read(page, snap) == -1) {
		expo_buf_printf(&body, "the counters are busy; try again\n");
		http_reply(out, "503 Service Unavailable",
		    "text/plain; charset=utf-8", &body);
	} else if (expo_prom(snap, &body) == 0) {
		http_reply(out, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		    &body);
	} else
		out->oom = true;
	expo_buf_free(&body);
}

/* ---- the metrics process ----------------------------------------------- */

static const struct chan_page	*child_page;
static struct stats_snapshot	*child_snap;

static void
serve(void *arg, const char *req, size_t len, struct expo_buf *out)
{
	(void)arg;
	(void)len;
	metrics_http_reply(child_page, child_snap, req, out);
}

static void
child_signals(void)
{
	static const int ignored[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTTIN, SIGTTOU, SIGTSTP,
		SIGUSR1, SIGUSR2, SIGPIPE,
	};
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t none;

	for (size_t i = 0; i < nitems(ignored); i++)
		sigaction(ignored[i], &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
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
	for (size_t i = 0; i < a->n_pipes; i++)
		close(a->pipes[i]);
}

static void __attribute__((noreturn))
child_main(const struct metrics *mt, const struct metrics_args *a, int pipe_r)
{
	struct pollfd pfd[1 + METRICS_MAX_SOCKETS + METRICS_MAX_CLIENTS];
	int fds[METRICS_MAX_SOCKETS];
	struct reqsrv srv = { 0 };
	char err[256];
	size_t n = 0;

	child_signals();
	child_close(mt, a);
	log_setprefix("metrics");
	/* not the master's title it was forked with (title.c's convention) */
	setproctitle("-%s", "echod: metrics");
	for (size_t i = 0; i < mt->ls.n && n < METRICS_MAX_SOCKETS; i++)
		fds[n++] = mt->ls.v[i].fd;
	/* Read-only from here: nothing sent over the network can make this
	 * process write the page the master and the workers rely on. */
	if (mprotect((void *)a->page, sizeof(*a->page), PROT_READ) == -1)
		fatal("mprotect");
	child_page = a->page;
	if (reqsrv_init(&srv, METRICS_MAX_CLIENTS) == -1 ||
	    (child_snap = malloc(sizeof(*child_snap))) == NULL)
		fatal("metrics process: memory");
	srv.max_request = METRICS_MAX_REQUEST;
	srv.timeout_ms = METRICS_TIMEOUT_MS;
	srv.complete = metrics_http_complete;
	srv.reply = serve;
	reqsrv_set_listeners(&srv, fds, n);
	switch (privdrop_child(a->creds, a->master, err, sizeof(err))) {
	case -1:
		fatalx("%s", err);
	case 1:
		_exit(0);
	}
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = pipe_r, .events = POLLIN };
		size_t np = 1 + reqsrv_pollfds(&srv, pfd + 1, nitems(pfd) - 1);
		int rc = poll(pfd, np, reqsrv_next_timeout(&srv, now_coarse_ms()));
		if (rc == -1 && errno != EINTR)
			fatal("poll");
		if (pfd[0].revents != 0) {
			char c;
			if (read(pipe_r, &c, 1) <= 0)
				_exit(0);	/* the master is gone, or asks */
		}
		reqsrv_run(&srv, now_coarse_ms());
	}
}

void
metrics_respawn(struct metrics *mt, const struct metrics_args *a, uint64_t now_ms)
{
	int fds[2];
	pid_t pid;

	if (mt->pid != 0 || mt->ls.n == 0 || now_ms < mt->respawn_at_ms)
		return;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_warn("metrics process: pipe");
		mt->respawn_at_ms = now_ms + METRICS_BACKOFF_MAX_MS;
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("metrics process: fork");
		close(fds[0]);
		close(fds[1]);
		mt->respawn_at_ms = now_ms + METRICS_BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		close(fds[1]);
		child_main(mt, a, fds[0]);
	}
	close(fds[0]);
	mt->pid = pid;
	mt->pipe_w = fds[1];
	mt->started_ms = now_ms;
	log_info("metrics process started (pid %ld)", (long)pid);
}

bool
metrics_reaped(struct metrics *mt, pid_t pid, int status, uint64_t now_ms)
{
	char how[128];
	bool asked = mt->pipe_w == -1;

	if (pid != mt->pid || pid == 0)
		return false;
	pool_describe_status(status, how, sizeof(how));
	mt->pid = 0;
	if (mt->pipe_w != -1) {
		close(mt->pipe_w);
		mt->pipe_w = -1;
	}
	if (asked) {
		log_debug("metrics process (pid %ld) finished: %s", (long)pid, how);
		mt->respawn_at_ms = now_ms;
		mt->backoff_ms = 0;
		return true;
	}
	mt->backoff_ms = pool_next_backoff(mt->backoff_ms, now_ms - mt->started_ms);
	if (mt->backoff_ms < METRICS_BACKOFF_MIN_MS)
		mt->backoff_ms = METRICS_BACKOFF_MIN_MS;
	if (mt->backoff_ms > METRICS_BACKOFF_MAX_MS)
		mt->backoff_ms = METRICS_BACKOFF_MAX_MS;
	mt->respawn_at_ms = now_ms + mt->backoff_ms;
	log_warnx("metrics process (pid %ld) %s; restarts in %llums", (long)pid,
	    how, (unsigned long long)mt->backoff_ms);
	return true;
}

void
metrics_restart(struct metrics *mt)
{
	if (mt->pipe_w != -1) {
		close(mt->pipe_w);
		mt->pipe_w = -1;
	}
}

void
metrics_close(struct metrics *mt)
{
	metrics_restart(mt);
	listen_close_all(&mt->ls);
}
