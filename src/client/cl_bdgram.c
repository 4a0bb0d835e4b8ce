/*
 * cl_bdgram.c - echo-client -b -u: datagram load from many sources.  Each
 * thread owns its share of the sources, each a connected, non-blocking UDP
 * socket on the thread's epoll, each with one datagram in flight: sent,
 * its echo checked, the next one sent.  With a window of N, each source
 * address has N sockets (N ports), so N datagrams in flight.  UDP may drop: a datagram without
 * an echo within the timeout is counted lost and the source goes on, and
 * an echo that comes after that is counted late, not wrong.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cl.h"
#include "cl_bconn.h"
#include "cl_bdgram.h"
#include "util.h"

#define PRIME		CL_BCONN_PRIME
#define DRAIN_MS	2000
#define TICK_MS		50

struct src {
	int		 fd;
	unsigned	 id;
	uint32_t	 seq;		/* of the datagram last sent */
	int		 waiting;	/* for its echo */
	uint64_t	 t_sent, deadline;
};

struct dworker {
	pthread_t		 th;
	const struct cl_bench_opts *o;
	const char		*block;
	int			 ep;
	struct src		*s;
	int			 n;
	int			 running, stopping;
	uint64_t		 t_end, cpu_ns;
	uint64_t		 ops, ops_all, bytes, bytes_all, opened;
	uint64_t		 errors, mismatches, lost, late;
	struct cl_hist		 lat;
	char			 err[CL_ERRLEN];
	char			 out[CL_BDGRAM_MAX];
	char			 in[CL_BDGRAM_MAX + 1];
};

static pthread_barrier_t	 barrier;
static atomic_int		 stop_all;
static atomic_uint_least64_t	 done_ops;

static size_t
payload_off(unsigned id, uint32_t seq)
{
	return (size_t)(((uint64_t)id * 40503u + (uint64_t)seq * 2654435761u) % PRIME);
}

static void
put32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static uint32_t
get32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

void
cl_bdgram_fill(char *buf, size_t size, const char *block, unsigned id,
    uint32_t seq)
{
	put32(buf, (uint32_t)id);
	put32(buf + 4, seq);
	memcpy(buf + CL_BDGRAM_HDR, block + payload_off(id, seq),
	    size - CL_BDGRAM_HDR);
}

/* The first byte at which buf (n bytes) differs from datagram seq of id. */
static size_t
first_diff(const char *buf, size_t n, size_t size, const char *block,
    unsigned id, uint32_t seq)
{
	char hdr[CL_BDGRAM_HDR];
	const char *pl = block + payload_off(id, seq);
	size_t i;

	put32(hdr, (uint32_t)id);
	put32(hdr + 4, seq);
	for (i = 0; i < n && i < size; i++)
		if (buf[i] != (i < CL_BDGRAM_HDR ? hdr[i] : pl[i - CL_BDGRAM_HDR]))
			return i;
	return i;
}

enum cl_bdgram_verdict
cl_bdgram_check(const char *buf, size_t n, size_t size, const char *block,
    unsigned id, uint32_t seq, size_t *at)
{
	uint32_t hseq;

	*at = first_diff(buf, n, size, block, id, seq);
	if (n == size && *at == size)
		return CL_BDG_OK;
	/* An earlier datagram of this source, whole: late, not wrong. */
	if (n == size && n >= CL_BDGRAM_HDR && get32(buf) == (uint32_t)id) {
		hseq = get32(buf + 4);
		if (seq - hseq - 1 < (1u << 31) &&
		    first_diff(buf, n, size, block, id, hseq) == size)
			return CL_BDG_LATE;
	}
	return CL_BDG_BAD;
}

static void
note(struct dworker *w, const struct src *s, const char *what)
{
	if (w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "source %u: %s", s->id, what);
}

static void
src_close(struct dworker *w, struct src *s)
{
	close(s->fd);
	s->fd = -1;
	s->waiting = 0;
}

/* An error on a source's socket: "port unreachable" comes back as one. */
static void
src_failed(struct dworker *w, struct src *s, const char *op)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: %s", op, strerror(errno));
	note(w, s, msg);
	w->errors++;
	src_close(w, s);
}

static void
send_next(struct dworker *w, struct src *s)
{
	size_t size = w->o->size;
	ssize_t n;

	s->seq++;
	cl_bdgram_fill(w->out, size, w->block, s->id, s->seq);
	s->t_sent = now_nsec();
	s->deadline = w->o->timeout_ms > 0 ?
	    s->t_sent + (uint64_t)w->o->timeout_ms * 1000000 : 0;
	s->waiting = 1;
	n = send(s->fd, w->out, size, MSG_DONTWAIT);
	/* A full queue drops the datagram here as a router would: lost. */
	if (n == -1 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
		src_failed(w, s, "send");
}

/* Counts one datagram towards -n; 0 once the count is reached. */
static int
count_toward_n(const struct dworker *w)
{
	if (w->o->count > 0 && atomic_fetch_add(&done_ops, 1) + 1 >= w->o->count) {
		atomic_store(&stop_all, 1);
		return 0;
	}
	return 1;
}

static void
on_echo(struct dworker *w, struct src *s, size_t n)
{
	char msg[160];
	size_t at;
	uint64_t now;

	switch (cl_bdgram_check(w->in, n, w->o->size, w->block, s->id, s->seq, &at)) {
	case CL_BDG_OK:
		if (!s->waiting) {	/* the same echo twice */
			w->late++;
			return;
		}
		now = now_nsec();
		s->waiting = 0;
		w->ops_all++;
		w->bytes_all += n;
		if (w->running && !w->stopping) {
			w->ops++;
			w->bytes += n;
			cl_hist_add(&w->lat, now - s->t_sent);
			count_toward_n(w);
		}
		if (!w->stopping)
			send_next(w, s);
		return;
	case CL_BDG_LATE:
		w->late++;
		return;
	case CL_BDG_BAD:
		snprintf(msg, sizeof(msg), "echo of datagram %u differs at byte "
		    "%zu (%zu bytes sent, %zu came back)", s->seq, at,
		    w->o->size, n);
		note(w, s, msg);
		w->mismatches++;
		src_close(w, s);
		return;
	}
}

static void
on_readable(struct dworker *w, struct src *s)
{
	ssize_t n;

	/* Bounded: one source must not starve the thread's others. */
	for (int i = 0; i < 16 && s->fd != -1; i++) {
		n = recv(s->fd, w->in, sizeof(w->in), MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1) {
			src_failed(w, s, "receive");
			return;
		}
		on_echo(w, s, (size_t)n);
	}
}

static void
dispatch(struct dworker *w, int timeout)
{
	struct epoll_event ev[64];
	int i, n;

	n = epoll_wait(w->ep, ev, (int)nitems(ev), timeout);
	for (i = 0; i < n; i++) {
		struct src *s = ev[i].data.ptr;

		if (s->fd != -1)
			on_readable(w, s);
	}
}

/* Datagrams whose echo is overdue are lost; their sources go on. */
static void
expire(struct dworker *w, uint64_t now)
{
	for (int i = 0; i < w->n; i++) {
		struct src *s = &w->s[i];

		if (s->fd == -1 || !s->waiting || s->deadline == 0 || now < s->deadline)
			continue;
		s->waiting = 0;
		if (w->stopping)
			continue;
		w->lost++;
		send_next(w, s);
	}
}

static int
waiting(const struct dworker *w)
{
	for (int i = 0; i < w->n; i++)
		if (w->s[i].fd != -1 && w->s[i].waiting)
			return 1;
	return 0;
}

/*
 * Source id's socket, connected to the target.  Against 127.0.0.0/8 each
 * source binds an address of its own, 127.1.0.1 onwards, so that the
 * server's per-address limits see as many clients as there are sources,
 * not one.  -1 with errno.
 */
/* Whether source id gets a client address of its own (127.1.0.1 + id). */
static bool
own_address(const struct cl_target *t, unsigned id)
{
	const struct sockaddr_in *to = (const struct sockaddr_in *)&t->ss;

	return t->family == AF_INET && (ntohl(to->sin_addr.s_addr) >> 24) == 127 &&
	    id < 0xfffffe;
}

int
cl_bdgram_socket(const struct cl_target *t, unsigned id)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	int fd, saved;

	if (!own_address(t, id))
		return cl_connect_start(t, SOCK_DGRAM);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	from.sin_addr.s_addr = htonl(0x7f010001u + id);
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) == -1 ||
	    connect(fd, (const struct sockaddr *)&t->ss, t->len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Sockets per source address: the window, in datagrams. */
static unsigned
per_source(const struct cl_bench_opts *o)
{
	return o->window > 0 ? (unsigned)o->window : 1;
}

static void
open_all(struct dworker *w)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (int i = 0; i < w->n; i++) {
		struct src *s = &w->s[i];

		s->fd = cl_bdgram_socket(w->o->target, s->id / per_source(w->o));
		ev.data.ptr = s;
		if (s->fd == -1 || epoll_ctl(w->ep, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
			src_failed(w, s, "socket");
			continue;
		}
		w->opened++;
	}
}

static void
measure(struct dworker *w)
{
	uint64_t now, end = 0, last = 0, cpu0 = cl_thread_cpu_ns();

	w->running = 1;
	now = now_nsec();
	if (w->o->duration_ms > 0)
		end = now + w->o->duration_ms * 1000000;
	for (int i = 0; i < w->n; i++)
		if (w->s[i].fd != -1)
			send_next(w, &w->s[i]);
	for (;;) {
		int left = TICK_MS;

		now = now_nsec();
		if ((end && now >= end) || atomic_load(&stop_all) || w->opened == 0)
			break;
		if (end && (end - now) / 1000000 < TICK_MS)
			left = (int)((end - now) / 1000000) + 1;
		dispatch(w, left);
		if (now - last > TICK_MS * 1000000ULL) {
			expire(w, now);
			last = now;
		}
	}
	w->stopping = 1;
	w->t_end = now;
	w->cpu_ns = cl_thread_cpu_ns() - cpu0;
	atomic_store(&stop_all, 1);
}

/* The echoes still in flight, for ops_all; those that never come are not lost. */
static void
drain(struct dworker *w)
{
	uint64_t wait = w->o->timeout_ms > 0 && w->o->timeout_ms < DRAIN_MS ?
	    (uint64_t)w->o->timeout_ms : DRAIN_MS;
	uint64_t end = now_nsec() + wait * 1000000;

	while (waiting(w) && now_nsec() < end)
		dispatch(w, TICK_MS);
	for (int i = 0; i < w->n; i++)
		if (w->s[i].fd != -1)
			src_close(w, &w->s[i]);
}

static void *
worker_main(void *arg)
{
	struct dworker *w = arg;

	open_all(w);
	pthread_barrier_wait(&barrier);
	measure(w);
	drain(w);
	return NULL;
}

static void
workers_free(struct dworker *w, int nt)
{
	for (int i = 0; i < nt; i++) {
		free(w[i].s);
		if (w[i].ep != -1)
			close(w[i].ep);
	}
	free(w);
}

static struct dworker *
workers_new(const struct cl_bench_opts *o, const char *block, int nt, char *err,
    size_t errlen)
{
	struct dworker *w = calloc((size_t)nt, sizeof(*w));
	int nsock = o->conns * (int)per_source(o);
	unsigned id = 0;

	if (w == NULL) {
		snprintf(err, errlen, "memory: %s", strerror(errno));
		return NULL;
	}
	for (int i = 0; i < nt; i++)
		w[i].ep = -1;
	for (int i = 0; i < nt; i++) {
		w[i].o = o;
		w[i].block = block;
		w[i].n = nsock / nt + (i < nsock % nt);
		w[i].ep = epoll_create1(EPOLL_CLOEXEC);
		w[i].s = calloc((size_t)w[i].n, sizeof(*w[i].s));
		if (w[i].ep == -1 || w[i].s == NULL) {
			snprintf(err, errlen, "%s: %s", w[i].s ? "epoll" : "memory",
			    strerror(errno));
			workers_free(w, nt);
			return NULL;
		}
		for (int j = 0; j < w[i].n; j++) {
			w[i].s[j].fd = -1;
			w[i].s[j].id = id++;
		}
	}
	return w;
}

static void
add_up(struct dworker *w, int nt, uint64_t t0, struct cl_bench_result *r,
    char *err, size_t errlen)
{
	for (int i = 0; i < nt; i++) {
		if (w[i].t_end > t0 && w[i].t_end - t0 > r->elapsed_ns)
			r->elapsed_ns = w[i].t_end - t0;
		r->ops += w[i].ops;
		r->ops_all += w[i].ops_all;
		r->bytes += w[i].bytes;
		r->bytes_all += w[i].bytes_all;
		r->cpu_ns += w[i].cpu_ns;
		r->opened += w[i].opened;
		r->errors += w[i].errors;
		r->mismatches += w[i].mismatches;
		r->lost += w[i].lost;
		r->late += w[i].late;
		cl_hist_merge(&r->lat, &w[i].lat);
		if (err[0] == '\0' && w[i].err[0] != '\0')
			snprintf(err, errlen, "%s", w[i].err);
	}
}

int
cl_bdgram_hint(const struct cl_bench_opts *o, const struct cl_bench_result *r,
    char *buf, size_t len)
{
	uint64_t rtt_ns = cl_hist_quantile(&r->lat, 0.50);
	/* one datagram in flight per source; sources share an address
	 * unless each has its own */
	int per_addr = o->target != NULL && own_address(o->target, 0) ? 1 :
	    o->conns;
	double could;

	if (r->lost == 0 || rtt_ns == 0)
		return -1;
	could = per_addr * 1e9 / (double)rtt_ns;
	if (could <= CL_BDGRAM_SERVER_LIMIT)
		return -1;
	snprintf(buf, len, "%llu datagram%s lost while each source address "
	    "could send about %.0f a second; echod answers one address %d a "
	    "second by default (udp_rate_limit, after a burst) and drops the "
	    "rest: use more sources (-c), or raise udp_rate_limit on the "
	    "server for the test",
	    (unsigned long long)r->lost, r->lost == 1 ? "" : "s", could,
	    CL_BDGRAM_SERVER_LIMIT);
	return 0;
}

static int
verdict(const struct cl_bench_result *r, char *err, size_t errlen)
{
	if (r->mismatches > 0)
		return CL_MISMATCH;
	if (r->opened == 0)
		return CL_UNAVAIL;
	if (r->errors > 0)
		return CL_IOERR;
	if (r->ops == 0 && r->lost > 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "every datagram was lost");
		return CL_TIMEOUT;
	}
	return CL_OK;
}

int
cl_bdgram_run(const struct cl_bench_opts *o, struct cl_bench_result *r,
    char *err, size_t errlen)
{
	int nt = o->threads < o->conns ? o->threads : o->conns;
	struct dworker *w;
	char *block;
	uint64_t t0;
	int i, started;

	memset(r, 0, sizeof(*r));
	err[0] = '\0';
	r->threads = nt;
	if (o->size < CL_BDGRAM_HDR || o->size > CL_BDGRAM_MAX) {
		snprintf(err, errlen, "datagrams of %zu bytes: %d..%d", o->size,
		    CL_BDGRAM_HDR, CL_BDGRAM_MAX);
		return CL_USAGE;
	}
	if ((block = malloc(CL_BCONN_BLOCK_LEN)) == NULL) {
		snprintf(err, errlen, "memory: %s", strerror(errno));
		return CL_IOERR;
	}
	cl_bconn_block_fill(block);
	if ((w = workers_new(o, block, nt, err, errlen)) == NULL) {
		free(block);
		return CL_IOERR;
	}
	atomic_store(&stop_all, 0);
	atomic_store(&done_ops, 0);
	pthread_barrier_init(&barrier, NULL, (unsigned)nt + 1);
	for (started = 0; started < nt; started++)
		if (pthread_create(&w[started].th, NULL, worker_main, &w[started]) != 0)
			break;
	if (started < nt) {
		/* Those started wait at the barrier for ever: leave them. */
		snprintf(err, errlen, "cannot start a thread");
		return CL_IOERR;
	}
	pthread_barrier_wait(&barrier);
	t0 = now_nsec();
	for (i = 0; i < nt; i++)
		pthread_join(w[i].th, NULL);
	add_up(w, nt, t0, r, err, errlen);
	pthread_barrier_destroy(&barrier);
	workers_free(w, nt);
	free(block);
	return verdict(r, err, errlen);
}
