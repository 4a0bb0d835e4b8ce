/*
 * expo.c - echod's figures as people and tools read them: the status
 * lines, JSON, and the Prometheus text format (version 0.0.4).  Rendering
 * is pure; expo_fill_*() gathers the numbers.  Label values are fixed
 * names, so nothing here needs escaping but the version string.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "expo.h"
#include "pool.h"

const char *const expo_close_names[EXPO_NCLOSE] = { "eof", "idle", "error", "drained" };
const char *const expo_proto_names[EXPO_NPROTO] = { "tcp", "udp" };
const char *const expo_refuse_names[EXPO_NREFUSE] = {
	"deny", "per_source", "max_connections", "descriptors" };
const char *const expo_drop_names[EXPO_NDROP] = { "loop", "rate", "deny" };
const char *const expo_wstate_names[EXPO_NWSTATE] = { "starting", "serving", "draining" };
const char *const expo_exit_names[EXPO_NEXIT] = { "crash", "killed", "exited" };
const char *const expo_reload_names[EXPO_NRELOAD] = { "ok", "failed" };

void
expo_buf_printf(struct expo_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void
expo_buf_free(struct expo_buf *b)
{
	free(b->p);
	*b = (struct expo_buf){ 0 };
}

static int
done(struct expo_buf *b)
{
	if (b->oom) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
expo_snap_init(struct expo_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->w = calloc(CHAN_MAX_SLOTS, sizeof(*s->w));
	return s->w == NULL ? -1 : 0;
}

void
expo_snap_free(struct expo_snap *s)
{
	free(s->w);
	s->w = NULL;
}

static void
clear(struct expo_snap *s)
{
	struct expo_worker *w = s->w;

	memset(s, 0, sizeof(*s));
	s->w = w;
}

/* The page's bound comes from a writable page: never trusted past its size. */
static uint32_t
page_hw(const struct chan_page *pg)
{
	uint32_t hw = atomic_load(&pg->hw);

	return hw > CHAN_MAX_SLOTS ? CHAN_MAX_SLOTS : hw;
}

static void
add_worker(struct expo_snap *s, int slot, const struct chan_stats *st,
    uint64_t now_ms)
{
	struct expo_worker *w = &s->w[s->n++];
	uint64_t hb = atomic_load(&st->heartbeat_ms);

	*w = (struct expo_worker){ .slot = slot };
	w->open = atomic_load(&st->connections);
	w->accepted = atomic_load(&st->accepted);
	w->bytes = atomic_load(&st->bytes);
	w->heartbeat_age_ms = now_ms > hb ? now_ms - hb : 0;
	if (!atomic_load(&st->ready))
		w->state = EXPO_WSTATE_STARTING;
	else if (atomic_load(&st->serving))
		w->state = EXPO_WSTATE_SERVING;
	else
		w->state = EXPO_WSTATE_DRAINING;
	s->accepted += w->accepted;
	s->open += w->open;
	s->bytes[EXPO_PROTO_TCP] += w->bytes;
	s->workers[w->state]++;
}

void
expo_fill_page(struct expo_snap *s, const struct chan_page *pg, uint64_t now_ms)
{
	uint32_t hw = page_hw(pg);

	clear(s);
	/* A slot that never published a heartbeat is free: the master sets
	 * one before each fork, and clears the slot when its worker dies. */
	for (uint32_t i = 0; i < hw; i++)
		if (atomic_load(&pg->stats[i].heartbeat_ms) != 0)
			add_worker(s, (int)i, &pg->stats[i], now_ms);
}

void
expo_fill_pool(struct expo_snap *s, const struct pool *p, unsigned generation,
    uint64_t now_ms)
{
	clear(s);
	s->generation = generation;
	s->bytes[EXPO_PROTO_TCP] = p->bytes_gone;
	for (int i = 0; i < p->hw; i++) {
		const struct slot *sl = &p->slot[i];
		if (!pool_alive(sl))
			continue;
		add_worker(s, i, &p->stats[i], now_ms);
		struct expo_worker *w = &s->w[s->n - 1];
		w->pid = (long)sl->pid;
		w->generation = sl->generation;
		/* The master's word on draining beats the page's. */
		if (sl->state == SLOT_DRAINING && w->state != EXPO_WSTATE_DRAINING) {
			s->workers[w->state]--;
			w->state = EXPO_WSTATE_DRAINING;
			s->workers[w->state]++;
		}
	}
}

/* ---- renderings -------------------------------------------------------- */

static uint64_t
sum(const uint64_t *v, size_t n)
{
	uint64_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += v[i];
	return t;
}

int
expo_text(const struct expo_snap *s, struct expo_buf *b)
{
	if (s->generation)
		expo_buf_printf(b, "generation %u, %zu workers\n", s->generation, s->n);
	for (size_t i = 0; i < s->n; i++) {
		const struct expo_worker *w = &s->w[i];
		expo_buf_printf(b, "worker %d: pid %ld, generation %u, %s, "
		    "%llu open, %llu accepted, %llu bytes, heartbeat %llums ago\n",
		    w->slot, w->pid, w->generation, expo_wstate_names[w->state],
		    (unsigned long long)w->open, (unsigned long long)w->accepted,
		    (unsigned long long)w->bytes,
		    (unsigned long long)w->heartbeat_age_ms);
	}
	expo_buf_printf(b, "total: %llu open, %llu accepted, %llu closed, "
	    "%llu bytes, %llu datagrams, %llu refused, %llu dropped\n",
	    (unsigned long long)s->open, (unsigned long long)s->accepted,
	    (unsigned long long)sum(s->closed, EXPO_NCLOSE),
	    (unsigned long long)sum(s->bytes, EXPO_NPROTO),
	    (unsigned long long)s->datagrams,
	    (unsigned long long)sum(s->refused, EXPO_NREFUSE),
	    (unsigned long long)sum(s->dropped, EXPO_NDROP));
	return done(b);
}

static void
json_map(struct expo_buf *b, const char *key, const char *const *names,
    const uint64_t *v, size_t n, bool last)
{
	expo_buf_printf(b, "  \"%s\": {", key);
	for (size_t i = 0; i < n; i++)
		expo_buf_printf(b, "%s\"%s\": %llu", i ? ", " : "", names[i],
		    (unsigned long long)v[i]);
	expo_buf_printf(b, "}%s\n", last ? "" : ",");
}

int
expo_json(const struct expo_snap *s, struct expo_buf *b)
{
	expo_buf_printf(b, "{\n  \"generation\": %u,\n  \"workers\": [", s->generation);
	for (size_t i = 0; i < s->n; i++) {
		const struct expo_worker *w = &s->w[i];
		expo_buf_printf(b, "%s\n    {\"slot\": %d, \"pid\": %ld, "
		    "\"generation\": %u, \"state\": \"%s\", \"open\": %llu, "
		    "\"accepted\": %llu, \"bytes\": %llu, \"heartbeat_age_ms\": %llu}",
		    i ? "," : "", w->slot, w->pid, w->generation,
		    expo_wstate_names[w->state], (unsigned long long)w->open,
		    (unsigned long long)w->accepted, (unsigned long long)w->bytes,
		    (unsigned long long)w->heartbeat_age_ms);
	}
	expo_buf_printf(b, "%s],\n", s->n ? "\n  " : "");
	expo_buf_printf(b, "  \"accepted\": %llu,\n  \"open\": %llu,\n  \"datagrams\": %llu,\n",
	    (unsigned long long)s->accepted, (unsigned long long)s->open,
	    (unsigned long long)s->datagrams);
	json_map(b, "closed", expo_close_names, s->closed, EXPO_NCLOSE, false);
	json_map(b, "bytes", expo_proto_names, s->bytes, EXPO_NPROTO, false);
	json_map(b, "refused", expo_refuse_names, s->refused, EXPO_NREFUSE, false);
	json_map(b, "dropped", expo_drop_names, s->dropped, EXPO_NDROP, false);
	json_map(b, "worker_states", expo_wstate_names, s->workers, EXPO_NWSTATE, false);
	json_map(b, "worker_exits", expo_exit_names, s->exits, EXPO_NEXIT, false);
	json_map(b, "reloads", expo_reload_names, s->reloads, EXPO_NRELOAD, true);
	expo_buf_printf(b, "}\n");
	return done(b);
}

static void
prom_head(struct expo_buf *b, const char *name, const char *type, const char *help)
{
	expo_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
prom_labeled(struct expo_buf *b, const char *name, const char *type,
    const char *help, const char *label, const char *const *names,
    const uint64_t *v, size_t n)
{
	prom_head(b, name, type, help);
	for (size_t i = 0; i < n; i++)
		expo_buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, names[i],
		    (unsigned long long)v[i]);
}

static void
prom_one(struct expo_buf *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	prom_head(b, name, type, help);
	expo_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value: backslash, double quote and newline escaped. */
static void
prom_escaped(struct expo_buf *b, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == '"')
			expo_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			expo_buf_printf(b, "\\n");
		else
			expo_buf_printf(b, "%c", *p);
	}
}

int
expo_prom(const struct expo_snap *s, const char *version, struct expo_buf *b)
{
	prom_one(b, "echod_connections_accepted_total", "counter",
	    "TCP connections accepted since echod started.", s->accepted);
	prom_one(b, "echod_connections_open", "gauge",
	    "TCP connections open now.", s->open);
	prom_labeled(b, "echod_connections_closed_total", "counter",
	    "TCP connections closed, by cause.", "cause", expo_close_names,
	    s->closed, EXPO_NCLOSE);
	prom_labeled(b, "echod_bytes_echoed_total", "counter",
	    "Bytes echoed, by protocol.", "proto", expo_proto_names, s->bytes,
	    EXPO_NPROTO);
	prom_one(b, "echod_datagrams_echoed_total", "counter",
	    "UDP datagrams echoed.", s->datagrams);
	prom_labeled(b, "echod_refused_total", "counter",
	    "TCP connections refused, by reason.", "reason", expo_refuse_names,
	    s->refused, EXPO_NREFUSE);
	prom_labeled(b, "echod_datagrams_dropped_total", "counter",
	    "UDP datagrams dropped, by reason.", "reason", expo_drop_names,
	    s->dropped, EXPO_NDROP);
	prom_labeled(b, "echod_workers", "gauge",
	    "Worker processes, by state.", "state", expo_wstate_names,
	    s->workers, EXPO_NWSTATE);
	prom_labeled(b, "echod_worker_exits_total", "counter",
	    "Worker processes that ended unasked, by cause.", "cause",
	    expo_exit_names, s->exits, EXPO_NEXIT);
	prom_labeled(b, "echod_reloads_total", "counter",
	    "Configuration reloads, by result.", "result", expo_reload_names,
	    s->reloads, EXPO_NRELOAD);
	prom_head(b, "echod_build_info", "gauge",
	    "Always 1; the version is in the label.");
	expo_buf_printf(b, "echod_build_info{version=\"");
	prom_escaped(b, version);
	expo_buf_printf(b, "\"} 1\n");
	return done(b);
}
