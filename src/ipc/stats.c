/*
 * stats.c - the counters on the shared page (channel.h): the label names,
 * a worker's publishing of its own slot, the master's record of what dead
 * workers left (folded in under a sequence lock), and the snapshot that
 * sums them.  Writers never block: a worker stores its counts with relaxed
 * atomics, once a turn; only the master takes the sequence lock, and only
 * readers retry.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "stats.h"
#include "util.h"

_Static_assert(STATS_MAX_WORKERS == CHAN_MAX_SLOTS, "one worker per slot");
/* Else stats_start() would cut it, and read_version() could not tell. */
_Static_assert(sizeof(PACKAGE_VERSION) <= STATS_VERSION_LEN, "version fits");

/* A reader gives up after this many tries while the master writes: each
 * write is a few hundred stores, so this is never reached in practice. */
#define STATS_READ_TRIES	1000

#define NAME(table, v) \
	((unsigned)(v) < nitems(table) ? table[v] : "unknown")

static const char *const close_names[] = {
	[STATS_CLOSE_EOF] = "eof",
	[STATS_CLOSE_IDLE] = "idle_timeout",
	[STATS_CLOSE_ERROR] = "error",
	[STATS_CLOSE_DRAINED] = "drained",
	[STATS_CLOSE_WORKER_EXIT] = "worker_exit",
};
static const char *const proto_names[] = {
	[STATS_PROTO_TCP] = "tcp",
	[STATS_PROTO_UDP] = "udp",
};
static const char *const refuse_names[] = {
	[STATS_REFUSE_DENY] = "deny",
	[STATS_REFUSE_SOURCE_LIMIT] = "source_limit",
	[STATS_REFUSE_SOURCE_TABLE] = "source_table",
	[STATS_REFUSE_EMFILE] = "emfile",
	[STATS_REFUSE_PROXY] = "proxy",
	[STATS_REFUSE_CONN_RATE] = "conn_rate",
};
static const char *const drop_names[] = {
	[STATS_DROP_LOOP_GUARD] = "loop_guard",
	[STATS_DROP_RATE_LIMIT] = "rate_limit",
	[STATS_DROP_DENY] = "deny",
	[STATS_DROP_TRUNCATED] = "truncated",
	[STATS_DROP_SEND_FAILED] = "send_failed",
};
static const char *const exit_names[] = {
	[STATS_EXIT_CLEAN] = "exit_0",
	[STATS_EXIT_CODE] = "exit_code",
	[STATS_EXIT_CRASH] = "crash",
	[STATS_EXIT_SIGNAL] = "signal",
	[STATS_EXIT_KILLED] = "killed_by_master",
};
static const char *const reload_names[] = {
	[STATS_RELOAD_OK] = "ok",
	[STATS_RELOAD_FAILED] = "failed",
};
static const char *const wstate_names[] = {
	[STATS_WSTATE_STARTING] = "starting",
	[STATS_WSTATE_SERVING] = "serving",
	[STATS_WSTATE_DRAINING] = "draining",
};

/* A reason added to an enum without its name fails the build here. */
_Static_assert(nitems(close_names) == STATS_CLOSE_COUNT, "close_names");
_Static_assert(nitems(proto_names) == STATS_PROTO_COUNT, "proto_names");
_Static_assert(nitems(refuse_names) == STATS_REFUSE_COUNT, "refuse_names");
_Static_assert(nitems(drop_names) == STATS_DROP_COUNT, "drop_names");
_Static_assert(nitems(exit_names) == STATS_EXIT_COUNT, "exit_names");
_Static_assert(nitems(reload_names) == STATS_RELOAD_COUNT, "reload_names");
_Static_assert(nitems(wstate_names) == STATS_WSTATE_COUNT, "wstate_names");

const char *stats_close_name(enum stats_close v) { return NAME(close_names, v); }
const char *stats_proto_name(enum stats_proto v) { return NAME(proto_names, v); }
const char *stats_refuse_name(enum stats_refuse v) { return NAME(refuse_names, v); }
const char *stats_drop_name(enum stats_drop v) { return NAME(drop_names, v); }
const char *stats_exit_name(enum stats_exit v) { return NAME(exit_names, v); }
const char *stats_reload_name(enum stats_reload v) { return NAME(reload_names, v); }
const char *stats_wstate_name(enum stats_wstate v) { return NAME(wstate_names, v); }

#define LOAD(x)		atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v)	atomic_store_explicit(&(x), (v), memory_order_relaxed)

/* ---- counters <-> counts ----------------------------------------------- */

static void
counters_store(struct chan_counters *to, const struct stats_counts *from)
{
	STORE(to->accepted, from->accepted);
	for (int i = 0; i < STATS_CLOSE_COUNT; i++)
		STORE(to->closed[i], from->closed[i]);
	for (int i = 0; i < STATS_PROTO_COUNT; i++)
		STORE(to->bytes[i], from->bytes[i]);
	STORE(to->datagrams, from->datagrams);
	for (int i = 0; i < STATS_REFUSE_COUNT; i++)
		STORE(to->refused[i], from->refused[i]);
	for (int i = 0; i < STATS_DROP_COUNT; i++)
		STORE(to->dropped[i], from->dropped[i]);
	STORE(to->full, from->full);
	STORE(to->log_suppressed, from->log_suppressed);
}

/* to += from; open is not on the page (see channel.h). */
static void
counters_add(struct stats_counts *to, const struct chan_counters *from)
{
	to->accepted += LOAD(from->accepted);
	for (int i = 0; i < STATS_CLOSE_COUNT; i++)
		to->closed[i] += LOAD(from->closed[i]);
	for (int i = 0; i < STATS_PROTO_COUNT; i++)
		to->bytes[i] += LOAD(from->bytes[i]);
	to->datagrams += LOAD(from->datagrams);
	for (int i = 0; i < STATS_REFUSE_COUNT; i++)
		to->refused[i] += LOAD(from->refused[i]);
	for (int i = 0; i < STATS_DROP_COUNT; i++)
		to->dropped[i] += LOAD(from->dropped[i]);
	to->full += LOAD(from->full);
	to->log_suppressed += LOAD(from->log_suppressed);
}

void
stats_publish(struct chan_counters *to, const struct stats_counts *from)
{
	counters_store(to, from);
}

/* ---- the master -------------------------------------------------------- */

static void
write_begin(struct chan_page *pg)
{
	uint32_t seq = LOAD(pg->master.seq);

	STORE(pg->master.seq, seq | 1);
	atomic_thread_fence(memory_order_release);
}

static void
write_end(struct chan_page *pg)
{
	uint32_t seq = LOAD(pg->master.seq);

	atomic_store_explicit(&pg->master.seq, (seq | 1) + 1,
	    memory_order_release);
}

/* The book, all of it, to the page: never read back (workers can write it). */
static void
book_store(const struct stats_book *b, struct chan_page *pg)
{
	struct chan_master *m = &pg->master;

	STORE(m->pid, (int32_t)b->pid);
	STORE(m->generation, b->generation);
	STORE(m->start_ms, b->start_ms);
	counters_store(&m->retired, &b->retired);
	for (int i = 0; i < STATS_RELOAD_COUNT; i++)
		STORE(m->reloads[i], b->reloads[i]);
	for (int i = 0; i < STATS_EXIT_COUNT; i++)
		STORE(m->exits[i], b->exits[i]);
	STORE(m->respawns, b->respawns);
	STORE(m->fallback, b->fallback ? 1 : 0);
}

static void
book_publish(const struct stats_book *b, struct chan_page *pg)
{
	write_begin(pg);
	book_store(b, pg);
	write_end(pg);
}

void
stats_start(struct stats_book *b, struct chan_page *pg, unsigned generation)
{
	memset(b, 0, sizeof(*b));
	b->pid = getpid();
	b->generation = generation;
	b->start_ms = now_wall_ms();
	memset(pg->master.version, 0, sizeof(pg->master.version));
	strncpy(pg->master.version, PACKAGE_VERSION,
	    sizeof(pg->master.version) - 1);
	book_publish(b, pg);
}

void
stats_worker_started(struct stats_book *b, struct chan_page *pg, int slot,
    pid_t pid, unsigned generation, bool respawn)
{
	struct chan_slotinfo *si = &pg->master.slot[slot];

	if (respawn)
		b->respawns++;
	/* Its counters are zero already (from mmap, or stats_worker_gone()):
	 * zeroing them here, after the fork, could erase its first counts. */
	write_begin(pg);
	STORE(si->pid, (int32_t)pid);
	STORE(si->generation, generation);
	STORE(si->start_ms, now_wall_ms());
	STORE(si->state, CHAN_SLOT_RUNNING);
	book_store(b, pg);
	write_end(pg);
}

void
stats_worker_draining(struct chan_page *pg, int slot)
{
	write_begin(pg);
	STORE(pg->master.slot[slot].state, CHAN_SLOT_DRAINING);
	write_end(pg);
}

void
stats_worker_gone(struct stats_book *b, struct chan_page *pg, int slot,
    enum stats_exit how)
{
	struct chan_slotinfo *si = &pg->master.slot[slot];

	if ((unsigned)how < STATS_EXIT_COUNT)
		b->exits[how]++;
	/* What it left open is closed with it, so that accepted always
	 * equals open plus closed. */
	b->retired.closed[STATS_CLOSE_WORKER_EXIT] +=
	    LOAD(pg->stats[slot].connections);
	counters_add(&b->retired, &pg->counters[slot]);
	write_begin(pg);
	book_store(b, pg);
	counters_store(&pg->counters[slot], &(struct stats_counts){ 0 });
	STORE(si->state, CHAN_SLOT_NONE);
	STORE(si->pid, 0);
	write_end(pg);
}

void
stats_reloaded(struct stats_book *b, struct chan_page *pg, bool ok,
    unsigned generation)
{
	b->reloads[ok ? STATS_RELOAD_OK : STATS_RELOAD_FAILED]++;
	b->generation = generation;
	if (ok)
		b->fallback = false;
	book_publish(b, pg);
}

void
stats_fallback(struct stats_book *b, struct chan_page *pg, bool on)
{
	b->fallback = on;
	book_publish(b, pg);
}

/* ---- the snapshot ------------------------------------------------------ */

static enum stats_wstate
wstate(const struct chan_page *pg, int slot, uint32_t state)
{
	if (state == CHAN_SLOT_DRAINING)
		return STATS_WSTATE_DRAINING;
	return LOAD(pg->stats[slot].ready) ? STATS_WSTATE_SERVING :
	    STATS_WSTATE_STARTING;
}

static void
read_worker(const struct chan_page *pg, int slot, uint32_t state,
    uint64_t now_ms, struct stats_snapshot *out)
{
	const struct chan_slotinfo *si = &pg->master.slot[slot];
	const struct chan_counters *c = &pg->counters[slot];
	struct stats_worker *w = &out->worker[out->nworkers++];
	uint64_t hb = LOAD(pg->stats[slot].heartbeat_ms);

	w->pid = LOAD(si->pid);
	w->slot = slot;
	w->generation = LOAD(si->generation);
	w->state = wstate(pg, slot, state);
	w->start_ms = LOAD(si->start_ms);
	w->heartbeat_age_ms = now_ms > hb ? now_ms - hb : 0;
	w->open = LOAD(pg->stats[slot].connections);
	w->accepted = LOAD(c->accepted);
	w->bytes = 0;
	for (int i = 0; i < STATS_PROTO_COUNT; i++)
		w->bytes += LOAD(c->bytes[i]);
	out->workers[w->state]++;
	out->totals.open += w->open;
	counters_add(&out->totals, c);
}

/*
 * The version as stats_start() wrote it, or "invalid": any worker can write
 * the page.  Checked on the copy, which no worker can change under us.
 */
static void
read_version(const char *page, char *out, size_t len)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-~_";
	size_t n;

	memcpy(out, page, len);
	n = strnlen(out, len);
	if (n == 0 || n == len || strspn(out, ok) != n)
		snprintf(out, len, "invalid");
}

/* One pass over the page, torn or not: the caller checks the sequence. */
static void
read_once(const struct chan_page *pg, struct stats_snapshot *out)
{
	const struct chan_master *m = &pg->master;
	uint32_t hw = LOAD(((struct chan_page *)pg)->hw);
	uint64_t now_ms = now_coarse_ms();

	memset(out, 0, offsetof(struct stats_snapshot, worker));
	read_version(m->version, out->version, sizeof(out->version));
	out->master_pid = LOAD(m->pid);
	out->generation = LOAD(m->generation);
	out->start_ms = LOAD(m->start_ms);
	counters_add(&out->totals, &m->retired);
	for (int i = 0; i < STATS_RELOAD_COUNT; i++)
		out->reloads[i] = LOAD(m->reloads[i]);
	for (int i = 0; i < STATS_EXIT_COUNT; i++)
		out->exits[i] = LOAD(m->exits[i]);
	out->respawns = LOAD(m->respawns);
	out->fallback = LOAD(m->fallback) != 0;	/* any worker can write it */
	if (hw > CHAN_MAX_SLOTS)	/* any worker can write the page */
		hw = CHAN_MAX_SLOTS;
	for (uint32_t i = 0; i < hw; i++) {
		uint32_t state = LOAD(m->slot[i].state);

		if (state == CHAN_SLOT_RUNNING || state == CHAN_SLOT_DRAINING)
			read_worker(pg, (int)i, state, now_ms, out);
	}
}

uint64_t
stats_sum(const uint64_t *v, size_t n)
{
	uint64_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += v[i];
	return t;
}

int
stats_read(const struct chan_page *pg, struct stats_snapshot *out)
{
	/* The atomics are only read; C11 wants them non-const to load. */
	struct chan_master *m = (struct chan_master *)&pg->master;

	for (int tries = 0; tries < STATS_READ_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&m->seq, memory_order_acquire);

		if (seq & 1) {
			sched_yield();
			continue;
		}
		read_once(pg, out);
		atomic_thread_fence(memory_order_acquire);
		if (LOAD(m->seq) == seq)
			return 0;
	}
	errno = EAGAIN;
	return -1;
}
