/*
 * cl_bench.c - the load generator behind `echo-client --bench` and `make
 * bench`: its threads, their phases (open, measure, drain), the result and
 * its report.  Each thread runs its share of the connections on its own
 * level-triggered epoll; each connection's state machine, and the check of
 * every byte that comes back, is cl_bconn.c's.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cl.h"
#include "cl_bconn.h"
#include "cl_bdgram.h"
#include "cl_bench.h"
#include "util.h"

#define CONNECTS_INFLIGHT 64		/* per thread, while opening */
#define DRAIN_MS	2000
#define TICK_MS		50

/* Static, as threads left behind by a failed start may still read them. */
static pthread_barrier_t	 barrier;
static struct cl_bshared	 shared;

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

/* Everything but the connect pattern starts connected, before the clock. */
static void
open_all(struct cl_bworker *w)
{
	int next = 0;

	while (next < w->n || cl_bconn_busy(w, 1)) {
		while (next < w->n && w->connecting < CONNECTS_INFLIGHT)
			cl_bconn_open(w, &w->c[next++]);
		cl_bconn_dispatch(w, TICK_MS);
		cl_bconn_expire(w, now_nsec());
	}
}

/* The clock runs: every connection starts its pattern. */
static void
start_all(struct cl_bworker *w)
{
	int i;

	for (i = 0; i < w->n; i++)
		cl_bconn_start(w, &w->c[i]);
}

/* Runs the load until -d is up, -n is reached, or nothing is left to do. */
static void
measure(struct cl_bworker *w)
{
	uint64_t now, end = 0, last = 0, cpu0 = cl_thread_cpu_ns();

	w->running = 1;
	now = now_nsec();
	if (w->o->duration_ms > 0)
		end = now + w->o->duration_ms * 1000000;
	start_all(w);
	while (!w->stopping) {
		int left = TICK_MS;

		now = now_nsec();
		if ((end && now >= end) || atomic_load(&w->sh->stop_all) ||
		    !cl_bconn_busy(w, 0)) {
			w->stopping = 1;
			w->t_end = now;
			w->cpu_ns = cl_thread_cpu_ns() - cpu0;
			atomic_store(&w->sh->stop_all, 1);
			break;
		}
		if (end && (end - now) / 1000000 < TICK_MS)
			left = (int)((end - now) / 1000000) + 1;
		cl_bconn_dispatch(w, left);
		if (now - last > TICK_MS * 1000000ULL) {
			cl_bconn_expire(w, now);
			last = now;
		}
	}
}

/* Stop: half-close what is idle; the rest ends its round trip first. */
static void
drain_all(struct cl_bworker *w)
{
	uint64_t drain_end;
	int i;

	for (i = 0; i < w->n; i++)
		cl_bconn_stop(w, &w->c[i]);
	drain_end = now_nsec() + DRAIN_MS * 1000000ULL;
	while (cl_bconn_busy(w, 0) && now_nsec() < drain_end) {
		cl_bconn_dispatch(w, TICK_MS);
		cl_bconn_expire(w, now_nsec());
	}
	for (i = 0; i < w->n; i++)
		if (w->c[i].state != C_FREE)
			cl_bconn_close(w, &w->c[i]);
}

static void *
worker_main(void *arg)
{
	struct cl_bworker *w = arg;

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
workers_free_conns(struct cl_bworker *w, int nt)
{
	int i;

	for (i = 0; i < nt; i++) {
		free(w[i].c);
		if (w[i].ep != -1)
			close(w[i].ep);
	}
}

/* Shares o->conns out among nt workers; NULL with the reason in err. */
static struct cl_bworker *
workers_new(const struct cl_bench_opts *o, struct cl_bshared *sh, int nt,
    char *err, size_t errlen)
{
	struct cl_bworker *w = calloc((size_t)nt, sizeof(*w));
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
		w[i].sh = sh;
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
workers_start(struct cl_bworker *w, int nt, char *err, size_t errlen)
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
workers_join(struct cl_bworker *w, int nt, uint64_t t0, struct cl_bench_result *r,
    char *err, size_t errlen)
{
	int i;

	for (i = 0; i < nt; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].t_end > t0 && w[i].t_end - t0 > r->elapsed_ns)
			r->elapsed_ns = w[i].t_end - t0;
		r->ops += w[i].ops;
		r->bytes += w[i].bytes;
		r->ops_all += w[i].ops_all;
		r->bytes_all += w[i].bytes_all;
		r->cpu_ns += w[i].cpu_ns;
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
announce_open(const struct cl_bench_opts *o, const struct cl_bworker *w, int nt)
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
	struct cl_bworker *w;
	int nt = o->threads < o->conns ? o->threads : o->conns;
	char *block;
	uint64_t t0;

	if (o->udp)
		return cl_bdgram_run(o, r, err, errlen);
	memset(r, 0, sizeof(*r));
	err[0] = '\0';
	r->threads = nt;
	raise_nofile(o->conns + 64);
	if ((block = malloc(CL_BCONN_BLOCK_LEN)) == NULL) {
		snprintf(err, errlen, "memory: %s", strerror(errno));
		return CL_IOERR;
	}
	cl_bconn_block_fill(block);
	shared.block = block;
	if ((w = workers_new(o, &shared, nt, err, errlen)) == NULL) {
		free(block);
		shared.block = NULL;
		return CL_IOERR;
	}
	atomic_store(&shared.done_ops, 0);
	atomic_store(&shared.stop_all, 0);
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
	shared.block = NULL;
	return verdict(r);
}

void
cl_bench_print(FILE *f, const struct cl_bench_opts *o, const struct cl_bench_result *r)
{
	double s = (double)r->elapsed_ns / 1e9;
	double rate = s > 0 ? (double)r->ops / s : 0;

	fprintf(f, "pattern      %s\n", o->udp ? "udp" : cl_pattern_name(o->pattern));
	fprintf(f, "%s  %d\n", o->udp ? "sources    " : "connections", o->conns);
	fprintf(f, "size         %zu\n", o->size);
	if (o->pattern == CL_BULK && !o->udp)
		fprintf(f, "window       %zu\n", o->window);
	fprintf(f, "threads      %d\n", r->threads);
	fprintf(f, "elapsed_s    %.3f\n", s);
	/* 100 per thread that never waited: the generator was the limit. */
	fprintf(f, "gen_cpu_pct  %.0f\n", s > 0 && r->threads > 0 ?
	    (double)r->cpu_ns / 1e9 / s / r->threads * 100 : 0);
	fprintf(f, "opened       %llu\n", (unsigned long long)r->opened);
	if (o->udp) {
		fprintf(f, "datagrams    %llu\n", (unsigned long long)r->ops);
		fprintf(f, "dg_per_s     %.1f\n", rate);
		fprintf(f, "lost         %llu\n", (unsigned long long)r->lost);
		fprintf(f, "late         %llu\n", (unsigned long long)r->late);
	} else if (o->pattern == CL_PINGPONG) {
		fprintf(f, "round_trips  %llu\n", (unsigned long long)r->ops);
		fprintf(f, "rt_per_s     %.1f\n", rate);
	} else if (o->pattern == CL_CONNECT) {
		fprintf(f, "conns_done   %llu\n", (unsigned long long)r->ops);
		fprintf(f, "conn_per_s   %.1f\n", rate);
	}
	fprintf(f, "ops_all      %llu\n", (unsigned long long)r->ops_all);
	fprintf(f, "bytes        %llu\n", (unsigned long long)r->bytes);
	fprintf(f, "bytes_all    %llu\n", (unsigned long long)r->bytes_all);
	fprintf(f, "mb_per_s     %.2f\n", s > 0 ? (double)r->bytes / s / 1e6 : 0);
	if ((o->pattern != CL_BULK || o->udp) && r->lat.count > 0) {
		fprintf(f, "lat_p50_us   %.1f\n", (double)cl_hist_quantile(&r->lat, 0.50) / 1e3);
		fprintf(f, "lat_p90_us   %.1f\n", (double)cl_hist_quantile(&r->lat, 0.90) / 1e3);
		fprintf(f, "lat_p99_us   %.1f\n", (double)cl_hist_quantile(&r->lat, 0.99) / 1e3);
		fprintf(f, "lat_max_us   %.1f\n", (double)r->lat.max / 1e3);
	}
	fprintf(f, "errors       %llu\n", (unsigned long long)r->errors);
	fprintf(f, "timeouts     %llu\n", (unsigned long long)r->timeouts);
	fprintf(f, "mismatches   %llu\n", (unsigned long long)r->mismatches);
}
