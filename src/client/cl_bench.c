/*
 * cl_bench.c - the load generator behind `echo-client --bench` and `make
 * bench`.  Each thread runs its share of the connections on its own
 * level-triggered epoll; every byte that comes back is compared with the
 * byte that went out.  Messages are windows into one pseudo-random block
 * whose length is prime, at an offset that changes with every round trip,
 * so a server that replays, drops or shifts data is caught.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cl.h"
#include "cl_bench.h"
#include "util.h"

#define PRIME		65521		/* the block's period */
#define IOBUF		65536
#define BLOCK_LEN	(PRIME + CL_BENCH_MAXSIZE + IOBUF)
#define CONNECTS_INFLIGHT 64		/* per thread, while opening */
#define DRAIN_MS	2000
#define TICK_MS		50

enum cstate { C_FREE, C_CONNECTING, C_OPEN, C_BUSY, C_DRAIN };

struct conn {
	int		fd;
	enum cstate	state;
	unsigned	id;
	uint32_t	seq;
	int		out;		/* EPOLLOUT is registered */
	size_t		off;		/* the message's offset in the block */
	size_t		wpos, rpos;	/* within the message */
	uint64_t	wtot, rtot;	/* within the stream (bulk) */
	uint64_t	t_start;	/* when the connection or message began */
	uint64_t	deadline;	/* for a reply or a connect; 0: none */
};

struct worker {
	pthread_t		 th;
	const struct cl_bench_opts *o;
	int			 ep;
	struct conn		*c;
	int			 n;
	int			 connecting;
	int			 running;	/* measuring */
	int			 stopping;
	uint64_t		 t_end;
	uint64_t		 ops, bytes, opened, errors, timeouts, mismatches;
	struct cl_hist		 lat;
	char			 err[CL_ERRLEN];
	char			 buf[IOBUF];
};

static char			*block;
static pthread_barrier_t	 barrier;
static atomic_uint_least64_t	 done_ops;
static atomic_int		 stop_all;

const char *
cl_pattern_name(enum cl_pattern p)
{
	static const char *names[] = { "pingpong", "connect", "bulk", "idle" };

	return names[p];
}

int
cl_pattern_parse(const char *s, enum cl_pattern *p)
{
	int i;

	for (i = CL_PINGPONG; i <= CL_IDLE; i++)
		if (strcmp(s, cl_pattern_name((enum cl_pattern)i)) == 0) {
			*p = (enum cl_pattern)i;
			return 0;
		}
	return -1;
}

static void
block_init(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < BLOCK_LEN; i++) {
		if (i < PRIME) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			block[i] = (char)(x >> 24);
		} else
			block[i] = block[i - PRIME];
	}
}

static void
note(struct worker *w, const struct conn *c, const char *what)
{
	if (w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "connection %u: %s", c->id, what);
}

static uint64_t
deadline_from(const struct worker *w, uint64_t now)
{
	return w->o->timeout_ms > 0 ? now + (uint64_t)w->o->timeout_ms * 1000000 : 0;
}

static void
set_out(struct worker *w, struct conn *c, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
	    .data.ptr = c };

	if (c->out != on && epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->out = on;
}

static void
conn_close(struct worker *w, struct conn *c)
{
	if (c->state == C_CONNECTING)
		w->connecting--;
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
	c->out = 0;
	c->deadline = 0;
}

static void
conn_open(struct worker *w, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	uint64_t now = now_nsec();

	c->fd = cl_connect_start(w->o->target, SOCK_STREAM);
	if (c->fd == -1 || epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		char msg[128];
		snprintf(msg, sizeof(msg), "connect: %s", strerror(errno));
		note(w, c, msg);
		w->errors++;
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
		c->state = C_FREE;
		return;
	}
	c->state = C_CONNECTING;
	c->out = 1;
	c->rtot = c->wtot = 0;
	c->t_start = now;
	c->deadline = deadline_from(w, now);
	w->connecting++;
}

static void
conn_drain(struct worker *w, struct conn *c)
{
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(w, c);
		return;
	}
	set_out(w, c, 0);
	c->state = C_DRAIN;
	c->deadline = deadline_from(w, now_nsec());
}

/* Sends what is left of the message or, in bulk, the next window. */
static int
conn_write(struct worker *w, struct conn *c)
{
	const char *p;
	size_t len;
	ssize_t n;

	if (w->o->pattern == CL_BULK) {
		p = block + c->wtot % PRIME;
		len = IOBUF;
	} else {
		p = block + c->off + c->wpos;
		len = w->o->size - c->wpos;
	}
	n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		n = 0;
	if (n == -1) {
		char msg[128];
		snprintf(msg, sizeof(msg), "send: %s", strerror(errno));
		note(w, c, msg);
		w->errors++;
		conn_close(w, c);
		return -1;
	}
	if (w->o->pattern == CL_BULK) {
		c->wtot += (uint64_t)n;
		set_out(w, c, 1);
	} else {
		c->wpos += (size_t)n;
		set_out(w, c, c->wpos < w->o->size);
	}
	return 0;
}

static void
op_start(struct worker *w, struct conn *c)
{
	c->seq++;
	c->off = ((uint64_t)c->id * 40503u + (uint64_t)c->seq * 2654435761u) % PRIME;
	c->wpos = c->rpos = 0;
	c->t_start = now_nsec();
	c->deadline = deadline_from(w, c->t_start);
	c->state = C_BUSY;
	conn_write(w, c);
}

/* Counts one operation towards -n; 0 once the count is reached. */
static int
count_toward_n(const struct worker *w)
{
	if (w->o->count > 0 &&
	    atomic_fetch_add(&done_ops, 1) + 1 >= w->o->count) {
		atomic_store(&stop_all, 1);
		return 0;
	}
	return 1;
}

static void
count_op(struct worker *w, struct conn *c, uint64_t now)
{
	if (!w->running || w->stopping)
		return;
	w->ops++;
	cl_hist_add(&w->lat, now - c->t_start);
	count_toward_n(w);
}

static void
on_connected(struct worker *w, struct conn *c)
{
	w->connecting--;
	if (cl_connect_result(c->fd) == -1) {
		char msg[ADDR_STRLEN + 128];
		snprintf(msg, sizeof(msg), "connect %s: %s", w->o->target->name,
		    strerror(errno));
		note(w, c, msg);
		w->errors++;
		c->state = C_OPEN;	/* not connecting any more */
		conn_close(w, c);
		return;
	}
	w->opened++;
	c->state = C_OPEN;
	c->deadline = 0;
	set_out(w, c, 0);
	if (w->stopping) {
		conn_drain(w, c);
		return;
	}
	switch (w->o->pattern) {
	case CL_CONNECT:
	case CL_IDLE:
		op_start(w, c);
		break;
	case CL_PINGPONG:
		if (w->running)
			op_start(w, c);
		break;
	case CL_BULK:
		if (w->running) {
			c->state = C_BUSY;
			conn_write(w, c);
		}
		break;
	}
}

/* ": 3 of 64 bytes of the message came back", or "" between messages. */
static void
progress(const struct worker *w, const struct conn *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (w->o->pattern == CL_BULK && c->wtot > 0)
		snprintf(buf, len, ": %llu of %llu bytes of the stream came back",
		    (unsigned long long)c->rtot, (unsigned long long)c->wtot);
	else if (w->o->pattern != CL_BULK && c->state == C_BUSY)
		snprintf(buf, len, ": %zu of %zu bytes of the message came back",
		    c->rpos, w->o->size);
}

static void
mismatch(struct worker *w, struct conn *c, uint64_t at)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "echo differs at byte %llu of the %s",
	    (unsigned long long)at, w->o->pattern == CL_BULK ? "stream" : "message");
	note(w, c, msg);
	w->mismatches++;
	conn_close(w, c);
}

/* The server reset the connection, or closed it before it was done. */
static void
broken(struct worker *w, struct conn *c, int eof)
{
	char msg[160], where[96];

	progress(w, c, where, sizeof(where));
	snprintf(msg, sizeof(msg), "%s%s", eof ?
	    "the server closed the connection" : strerror(errno), where);
	note(w, c, msg);
	w->errors++;
	conn_close(w, c);
}

/* The server's close after our half-close: a clean end. */
static void
on_closed(struct worker *w, struct conn *c, uint64_t now)
{
	if (w->o->pattern == CL_CONNECT)
		count_op(w, c, now);
	if (w->o->pattern == CL_BULK && c->rtot < c->wtot) {
		w->errors++;
		note(w, c, "stream echo ended short");
	}
	conn_close(w, c);
	if (w->o->pattern == CL_CONNECT && !w->stopping && w->running)
		conn_open(w, c);
}

/* n bytes of the bulk stream's echo are in w->buf. */
static void
on_stream(struct worker *w, struct conn *c, size_t n, uint64_t now)
{
	size_t i;

	if (c->rtot + n > c->wtot ||
	    memcmp(w->buf, block + c->rtot % PRIME, n) != 0) {
		for (i = 0; i < n && w->buf[i] == block[(c->rtot + i) % PRIME]; i++)
			;
		mismatch(w, c, c->rtot + i);
		return;
	}
	c->rtot += n;
	c->deadline = c->rtot < c->wtot ? deadline_from(w, now) : 0;
	if (w->running && !w->stopping)
		w->bytes += n;
}

/* A whole message came back: the next one, or the end the pattern wants. */
static void
on_echoed(struct worker *w, struct conn *c, uint64_t now)
{
	switch (w->o->pattern) {
	case CL_PINGPONG:
		count_op(w, c, now);
		if (w->stopping)
			conn_drain(w, c);
		else
			op_start(w, c);
		break;
	case CL_CONNECT:
		conn_drain(w, c);
		break;
	case CL_IDLE:
	case CL_BULK:
		c->state = C_OPEN;
		c->deadline = 0;
		break;
	}
}

/* n bytes of a message's echo are in w->buf. */
static void
on_message(struct worker *w, struct conn *c, size_t n, uint64_t now)
{
	size_t i;

	if (c->state != C_BUSY || c->rpos + n > c->wpos ||
	    memcmp(w->buf, block + c->off + c->rpos, n) != 0) {
		for (i = 0; c->state == C_BUSY && i < n && c->rpos + i < c->wpos &&
		    w->buf[i] == block[c->off + c->rpos + i]; i++)
			;
		mismatch(w, c, c->rpos + i);
		return;
	}
	c->rpos += n;
	if (w->running && !w->stopping)
		w->bytes += n;
	if (c->rpos >= w->o->size)
		on_echoed(w, c, now);
}

static void
on_readable(struct worker *w, struct conn *c)
{
	size_t want = w->o->pattern == CL_BULK ? PRIME : IOBUF;
	ssize_t n;

	n = recv(c->fd, w->buf, want, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 || (n == 0 && c->state != C_DRAIN))
		broken(w, c, n == 0);
	else if (n == 0)
		on_closed(w, c, now_nsec());
	else if (w->o->pattern == CL_BULK)
		on_stream(w, c, (size_t)n, now_nsec());
	else
		on_message(w, c, (size_t)n, now_nsec());
}

static void
dispatch(struct worker *w, int timeout)
{
	struct epoll_event ev[256];
	int i, n;

	n = epoll_wait(w->ep, ev, (int)nitems(ev), timeout);
	for (i = 0; i < n; i++) {
		struct conn *c = ev[i].data.ptr;

		if (c->state == C_CONNECTING) {
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				on_connected(w, c);
			continue;
		}
		if (c->state != C_FREE && (ev[i].events & EPOLLOUT) && c->out)
			conn_write(w, c);
		if (c->state != C_FREE && (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			on_readable(w, c);
	}
}

/* What the server still owed when a deadline passed on c. */
static void
overdue(struct worker *w, const struct conn *c)
{
	char d[32], msg[160], where[96];

	cl_fmt_ms((uint64_t)w->o->timeout_ms, d, sizeof(d));
	progress(w, c, where, sizeof(where));
	if (c->state == C_CONNECTING)
		snprintf(msg, sizeof(msg), "no connection within %s", d);
	else if (c->state == C_DRAIN && (w->o->pattern != CL_BULK ||
	    c->rtot >= c->wtot))
		snprintf(msg, sizeof(msg), "the whole echo came back, but the "
		    "server did not close the connection within %s of the "
		    "half-close", d);
	else
		snprintf(msg, sizeof(msg), "no echo within %s%s", d, where);
	note(w, c, msg);
}

static void
expire(struct worker *w, uint64_t now)
{
	int i;

	for (i = 0; i < w->n; i++) {
		struct conn *c = &w->c[i];

		if (c->state == C_FREE || c->deadline == 0 || now < c->deadline)
			continue;
		w->timeouts++;
		overdue(w, c);
		conn_close(w, c);
		/*
		 * A connection that timed out was one of the -n made, or a
		 * server that never closes would have it start over for ever.
		 */
		if (w->o->pattern == CL_CONNECT && w->running && !w->stopping &&
		    count_toward_n(w))
			conn_open(w, c);
	}
}

static int
busy(const struct worker *w, int opening)
{
	int i;

	for (i = 0; i < w->n; i++) {
		enum cstate s = w->c[i].state;
		if (s == C_CONNECTING || (opening ? s == C_BUSY : s != C_FREE))
			return 1;
	}
	return 0;
}

/* Everything but the connect pattern starts connected, before the clock. */
static void
open_all(struct worker *w)
{
	int next = 0;

	while (next < w->n || busy(w, 1)) {
		while (next < w->n && w->connecting < CONNECTS_INFLIGHT)
			conn_open(w, &w->c[next++]);
		dispatch(w, TICK_MS);
		expire(w, now_nsec());
	}
}

/* The clock runs: every connection starts its pattern. */
static void
start_all(struct worker *w)
{
	const struct cl_bench_opts *o = w->o;
	int i;

	for (i = 0; i < w->n; i++) {
		struct conn *c = &w->c[i];
		if (o->pattern == CL_CONNECT)
			conn_open(w, c);
		else if (c->state == C_OPEN && o->pattern == CL_PINGPONG)
			op_start(w, c);
		else if (c->state == C_OPEN && o->pattern == CL_BULK) {
			c->state = C_BUSY;
			conn_write(w, c);
		}
	}
}

/* Runs the load until -d is up, -n is reached, or nothing is left to do. */
static void
measure(struct worker *w)
{
	uint64_t now, end = 0, last = 0;

	w->running = 1;
	now = now_nsec();
	if (w->o->duration_ms > 0)
		end = now + w->o->duration_ms * 1000000;
	start_all(w);
	while (!w->stopping) {
		int left = TICK_MS;

		now = now_nsec();
		if ((end && now >= end) || atomic_load(&stop_all) || !busy(w, 0)) {
			w->stopping = 1;
			w->t_end = now;
			atomic_store(&stop_all, 1);
			break;
		}
		if (end && (end - now) / 1000000 < TICK_MS)
			left = (int)((end - now) / 1000000) + 1;
		dispatch(w, left);
		if (now - last > TICK_MS * 1000000ULL) {
			expire(w, now);
			last = now;
		}
	}
}

/* Stop: half-close what is idle; the rest ends its round trip first. */
static void
drain_all(struct worker *w)
{
	uint64_t drain_end;
	int i;

	for (i = 0; i < w->n; i++) {
		struct conn *c = &w->c[i];
		if (c->state == C_OPEN || (c->state == C_BUSY && w->o->pattern == CL_BULK))
			conn_drain(w, c);
	}
	drain_end = now_nsec() + DRAIN_MS * 1000000ULL;
	while (busy(w, 0) && now_nsec() < drain_end) {
		dispatch(w, TICK_MS);
		expire(w, now_nsec());
	}
	for (i = 0; i < w->n; i++)
		if (w->c[i].state != C_FREE)
			conn_close(w, &w->c[i]);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->o->pattern != CL_CONNECT)
		open_all(w);
	pthread_barrier_wait(&barrier);
	measure(w);
	drain_all(w);
	return NULL;
}

static void
raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The connections' slots and epolls of workers that never ran. */
static void
workers_free_conns(struct worker *w, int nt)
{
	int i;

	for (i = 0; i < nt; i++) {
		free(w[i].c);
		if (w[i].ep != -1)
			close(w[i].ep);
	}
}

/* Shares o->conns out among nt workers; NULL with the reason in err. */
static struct worker *
workers_new(const struct cl_bench_opts *o, int nt, char *err, size_t errlen)
{
	struct worker *w = calloc((size_t)nt, sizeof(*w));
	unsigned id = 0;
	int i, j;

	if (w == NULL) {
		snprintf(err, errlen, "memory: %s", strerror(errno));
		return NULL;
	}
	for (i = 0; i < nt; i++)
		w[i].ep = -1;
	for (i = 0; i < nt; i++) {
		w[i].o = o;
		w[i].n = o->conns / nt + (i < o->conns % nt);
		w[i].ep = epoll_create1(EPOLL_CLOEXEC);
		w[i].c = calloc((size_t)w[i].n, sizeof(*w[i].c));
		if (w[i].ep == -1 || w[i].c == NULL) {
			snprintf(err, errlen, "%s: %s", w[i].c ? "epoll" : "memory",
			    strerror(errno));
			workers_free_conns(w, nt);
			free(w);
			return NULL;
		}
		for (j = 0; j < w[i].n; j++) {
			w[i].c[j].fd = -1;
			w[i].c[j].id = id++;
		}
	}
	return w;
}

/* 0, or -1 with err once a thread could not start. */
static int
workers_start(struct worker *w, int nt, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < nt; i++)
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
			snprintf(err, errlen, "cannot start a thread");
			/* Nothing can wait at the barrier for the missing; just leave. */
			workers_free_conns(w, nt);
			return -1;
		}
	return 0;
}

/* Waits for every worker, adding its figures to r and its first problem to err. */
static void
workers_join(struct worker *w, int nt, uint64_t t0, struct cl_bench_result *r,
    char *err, size_t errlen)
{
	int i;

	for (i = 0; i < nt; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].t_end > t0 && w[i].t_end - t0 > r->elapsed_ns)
			r->elapsed_ns = w[i].t_end - t0;
		r->ops += w[i].ops;
		r->bytes += w[i].bytes;
		r->opened += w[i].opened;
		r->errors += w[i].errors;
		r->timeouts += w[i].timeouts;
		r->mismatches += w[i].mismatches;
		cl_hist_merge(&r->lat, &w[i].lat);
		if (err[0] == '\0' && w[i].err[0] != '\0')
			snprintf(err, errlen, "%s", w[i].err);
		close(w[i].ep);
		free(w[i].c);
	}
}

/* CL_IDLE: says on o->ready that the connections are open. */
static void
announce_open(const struct cl_bench_opts *o, const struct worker *w, int nt)
{
	uint64_t open = 0;
	int i;

	for (i = 0; i < nt; i++)
		open += w[i].opened;
	fprintf(o->ready, "idle %llu connections open\n", (unsigned long long)open);
	fflush(o->ready);
}

static int
verdict(const struct cl_bench_result *r)
{
	if (r->mismatches > 0)
		return CL_MISMATCH;
	if (r->opened == 0)
		return CL_UNAVAIL;
	if (r->timeouts > 0 && r->errors == 0)
		return CL_TIMEOUT;
	if (r->errors > 0 || r->timeouts > 0)
		return CL_IOERR;
	return CL_OK;
}

int
cl_bench_run(const struct cl_bench_opts *o, struct cl_bench_result *r,
    char *err, size_t errlen)
{
	struct worker *w;
	int nt = o->threads < o->conns ? o->threads : o->conns;
	uint64_t t0;

	memset(r, 0, sizeof(*r));
	err[0] = '\0';
	raise_nofile(o->conns + 64);
	if ((block = malloc(BLOCK_LEN)) == NULL) {
		snprintf(err, errlen, "memory: %s", strerror(errno));
		return CL_IOERR;
	}
	block_init();
	if ((w = workers_new(o, nt, err, errlen)) == NULL) {
		free(block);
		block = NULL;
		return CL_IOERR;
	}
	atomic_store(&done_ops, 0);
	atomic_store(&stop_all, 0);
	pthread_barrier_init(&barrier, NULL, (unsigned)nt + 1);
	if (workers_start(w, nt, err, errlen) == -1)
		return CL_IOERR;
	pthread_barrier_wait(&barrier);
	t0 = now_nsec();
	if (o->pattern == CL_IDLE && o->ready != NULL)
		announce_open(o, w, nt);
	workers_join(w, nt, t0, r, err, errlen);
	pthread_barrier_destroy(&barrier);
	free(w);
	free(block);
	block = NULL;
	return verdict(r);
}

void
cl_bench_print(FILE *f, const struct cl_bench_opts *o, const struct cl_bench_result *r)
{
	double s = (double)r->elapsed_ns / 1e9;
	double rate = s > 0 ? (double)r->ops / s : 0;

	fprintf(f, "pattern      %s\n", cl_pattern_name(o->pattern));
	fprintf(f, "connections  %d\n", o->conns);
	fprintf(f, "size         %zu\n", o->size);
	fprintf(f, "threads      %d\n", o->threads > o->conns ? o->conns : o->threads);
	fprintf(f, "elapsed_s    %.3f\n", s);
	fprintf(f, "opened       %llu\n", (unsigned long long)r->opened);
	if (o->pattern == CL_PINGPONG) {
		fprintf(f, "round_trips  %llu\n", (unsigned long long)r->ops);
		fprintf(f, "rt_per_s     %.1f\n", rate);
	} else if (o->pattern == CL_CONNECT) {
		fprintf(f, "conns_done   %llu\n", (unsigned long long)r->ops);
		fprintf(f, "conn_per_s   %.1f\n", rate);
	}
	fprintf(f, "bytes        %llu\n", (unsigned long long)r->bytes);
	fprintf(f, "mb_per_s     %.2f\n", s > 0 ? (double)r->bytes / s / 1e6 : 0);
	if (o->pattern != CL_BULK && r->lat.count > 0) {
		fprintf(f, "lat_p50_us   %.1f\n", (double)cl_hist_quantile(&r->lat, 0.50) / 1e3);
		fprintf(f, "lat_p90_us   %.1f\n", (double)cl_hist_quantile(&r->lat, 0.90) / 1e3);
		fprintf(f, "lat_p99_us   %.1f\n", (double)cl_hist_quantile(&r->lat, 0.99) / 1e3);
		fprintf(f, "lat_max_us   %.1f\n", (double)r->lat.max / 1e3);
	}
	fprintf(f, "errors       %llu\n", (unsigned long long)r->errors);
	fprintf(f, "timeouts     %llu\n", (unsigned long long)r->timeouts);
	fprintf(f, "mismatches   %llu\n", (unsigned long long)r->mismatches);
}
