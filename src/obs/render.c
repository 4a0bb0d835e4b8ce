/*
 * render.c - echod's figures as people and tools read them: the status
 * lines, JSON, and the Prometheus text format (version 0.0.4).  Every
 * label set is stats.h's enum and name table, looped over to its *_COUNT:
 * a reason added there shows up here.  Label values are fixed names; a
 * string from the page (the version: any worker can write it) goes out in
 * its visible form, quoted for each format (untrusted()).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "stats.h"
#include "util.h"

void
render_buf_printf(struct render_buf *b, const char *fmt, ...)
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
render_buf_free(struct render_buf *b)
{
	free(b->p);
	*b = (struct render_buf){ 0 };
}

static int
done(struct render_buf *b)
{
	if (b->oom) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- untrusted strings ------------------------------------------------- */

enum syntax { SYN_TEXT, SYN_JSON, SYN_PROM };

/*
 * A string from the page, at most max bytes (it may lack its NUL), in its
 * visible form: printable ASCII as it is, a backslash doubled, any other
 * byte as \xNN.  So no terminal escape reaches a screen, the output is
 * ASCII (valid UTF-8) and nothing is lost.  JSON and Prometheus then quote
 * that form: a backslash or double quote gets a backslash before it.
 * Escaping a control character as JSON's \u001b instead would give it back
 * raw to the tool that decodes it (jq -r), and Prometheus has no such escape.
 */
static void
untrusted(struct render_buf *b, const char *s, size_t max, enum syntax syn)
{
	const char *bs = syn == SYN_TEXT ? "\\" : "\\\\";
	size_t len = strnlen(s, max);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			render_buf_printf(b, "%s%s", bs, bs);
		else if (c == '"' && syn != SYN_TEXT)
			render_buf_printf(b, "\\\"");
		else if (c >= 0x20 && c < 0x7f)
			render_buf_printf(b, "%c", c);
		else
			render_buf_printf(b, "%sx%02x", bs, c);
	}
}

/* Workers to show: the snapshot's count, within its table. */
static int
nworkers(const struct stats_snapshot *s)
{
	if (s->nworkers < 0)
		return 0;
	return s->nworkers < STATS_MAX_WORKERS ? s->nworkers : STATS_MAX_WORKERS;
}

/* ---- renderings -------------------------------------------------------- */

static unsigned long long
age(int64_t now_ms, int64_t then_ms)
{
	return then_ms > 0 && now_ms > then_ms ?
	    (unsigned long long)(now_ms - then_ms) / 1000 : 0;
}

/* The name tables take their enum; these adapters take an int. */
static const char *n_close(int i) { return stats_close_name((enum stats_close)i); }
static const char *n_proto(int i) { return stats_proto_name((enum stats_proto)i); }
static const char *n_refuse(int i) { return stats_refuse_name((enum stats_refuse)i); }
static const char *n_drop(int i) { return stats_drop_name((enum stats_drop)i); }
static const char *n_exit(int i) { return stats_exit_name((enum stats_exit)i); }
static const char *n_reload(int i) { return stats_reload_name((enum stats_reload)i); }
static const char *n_wstate(int i) { return stats_wstate_name((enum stats_wstate)i); }

/* The first line: who, since when, how many workers. */
static void
text_head(struct render_buf *b, const struct stats_snapshot *s, int64_t now_ms)
{
	int n = nworkers(s);

	render_buf_printf(b, "echod ");
	untrusted(b, s->version, sizeof(s->version), SYN_TEXT);
	render_buf_printf(b, ", pid %ld, up %llus, generation %u, %d worker%s\n",
	    (long)s->master_pid, age(now_ms, s->start_ms), s->generation, n,
	    plural(n));
}

/* The file and the reason come from the file: any byte, shown visibly. */
static void
text_fallback(struct render_buf *b, const struct render_fallback *fb)
{
	if (fb == NULL)
		return;
	render_buf_printf(b, "config: fallback (");
	untrusted(b, fb->file, SIZE_MAX, SYN_TEXT);
	render_buf_printf(b, " refused: ");
	untrusted(b, fb->reason, SIZE_MAX, SYN_TEXT);
	render_buf_printf(b, "); the last good configuration serves\n");
}

/* "what (meaning): 3 reason, 1 reason" over the non-zero counts: the total
 * line says how many, this line why.  Nothing when all are zero. */
static void
text_why(struct render_buf *b, const char *what, const char *(*name)(int),
    const uint64_t *v, int n)
{
	const char *sep = ": ";

	if (stats_sum(v, (size_t)n) == 0)
		return;
	render_buf_printf(b, "%s", what);
	for (int i = 0; i < n; i++) {
		if (v[i] == 0)
			continue;
		render_buf_printf(b, "%s%llu %s", sep, (unsigned long long)v[i],
		    name(i));
		sep = ", ";
	}
	render_buf_printf(b, "\n");
}

static void
text_total(struct render_buf *b, const struct stats_snapshot *s)
{
	const struct stats_counts *t = &s->totals;
	uint64_t bytes = stats_sum(t->bytes, STATS_PROTO_COUNT);
	uint64_t reloads = stats_sum(s->reloads, STATS_RELOAD_COUNT);
	uint64_t exits = stats_sum(s->exits, STATS_EXIT_COUNT);

	render_buf_printf(b, "total: %llu open, %llu accepted, %llu closed, "
	    "%llu byte%s, %llu datagram%s, %llu refused, %llu dropped, "
	    "%llu time%s full, %llu reload%s, %llu worker exit%s, "
	    "%llu log line%s held back\n",
	    (unsigned long long)t->open, (unsigned long long)t->accepted,
	    (unsigned long long)stats_sum(t->closed, STATS_CLOSE_COUNT),
	    (unsigned long long)bytes, plural(bytes),
	    (unsigned long long)t->datagrams, plural(t->datagrams),
	    (unsigned long long)stats_sum(t->refused, STATS_REFUSE_COUNT),
	    (unsigned long long)stats_sum(t->dropped, STATS_DROP_COUNT),
	    (unsigned long long)t->full, plural(t->full),
	    (unsigned long long)reloads, plural(reloads),
	    (unsigned long long)exits, plural(exits),
	    (unsigned long long)t->log_suppressed, plural(t->log_suppressed));
	text_why(b, "refused (connections closed at the door)", n_refuse,
	    t->refused, STATS_REFUSE_COUNT);
	text_why(b, "dropped (datagrams not echoed)", n_drop, t->dropped,
	    STATS_DROP_COUNT);
}

int
render_text(const struct stats_snapshot *s, const struct render_fallback *fb,
    int64_t now_ms, struct render_buf *b)
{
	int n = nworkers(s);

	text_head(b, s, now_ms);
	text_fallback(b, fb);
	for (int i = 0; i < n; i++) {
		const struct stats_worker *w = &s->worker[i];
		render_buf_printf(b, "worker %d: pid %ld, generation %u, %s, up %llus, "
		    "%llu open, %llu accepted, %llu byte%s, heartbeat %llums ago\n",
		    w->slot, (long)w->pid, w->generation,
		    stats_wstate_name(w->state), age(now_ms, w->start_ms),
		    (unsigned long long)w->open, (unsigned long long)w->accepted,
		    (unsigned long long)w->bytes, plural(w->bytes),
		    (unsigned long long)w->heartbeat_age_ms);
	}
	text_total(b, s);
	return done(b);
}

/* "key": {"name": v, ...} over a label set. */
static void
json_map(struct render_buf *b, const char *key, const char *(*name)(int),
    const uint64_t *v, int n, bool last)
{
	render_buf_printf(b, "  \"%s\": {", key);
	for (int i = 0; i < n; i++)
		render_buf_printf(b, "%s\"%s\": %llu", i ? ", " : "", name(i),
		    (unsigned long long)v[i]);
	render_buf_printf(b, "}%s\n", last ? "" : ",");
}

/* "config": whether the stored configuration serves, and why. */
static void
json_fallback(struct render_buf *b, const struct render_fallback *fb)
{
	if (fb == NULL) {
		render_buf_printf(b, "  \"config\": {\"fallback\": false},\n");
		return;
	}
	render_buf_printf(b, "  \"config\": {\"fallback\": true, \"file\": \"");
	untrusted(b, fb->file, SIZE_MAX, SYN_JSON);
	render_buf_printf(b, "\", \"reason\": \"");
	untrusted(b, fb->reason, SIZE_MAX, SYN_JSON);
	render_buf_printf(b, "\"},\n");
}

int
render_json(const struct stats_snapshot *s, const struct render_fallback *fb,
    int64_t now_ms, struct render_buf *b)
{
	const struct stats_counts *t = &s->totals;
	uint64_t states[STATS_WSTATE_COUNT];
	int n = nworkers(s);

	render_buf_printf(b, "{\n  \"version\": \"");
	untrusted(b, s->version, sizeof(s->version), SYN_JSON);
	render_buf_printf(b, "\",\n  \"pid\": %ld,\n"
	    "  \"uptime_s\": %llu,\n  \"generation\": %u,\n",
	    (long)s->master_pid, age(now_ms, s->start_ms), s->generation);
	json_fallback(b, fb);
	render_buf_printf(b, "  \"workers\": [");
	for (int i = 0; i < n; i++) {
		const struct stats_worker *w = &s->worker[i];
		render_buf_printf(b, "%s\n    {\"slot\": %d, \"pid\": %ld, "
		    "\"generation\": %u, \"state\": \"%s\", \"uptime_s\": %llu, "
		    "\"open\": %llu, \"accepted\": %llu, \"bytes\": %llu, "
		    "\"heartbeat_age_ms\": %llu}",
		    i ? "," : "", w->slot, (long)w->pid, w->generation,
		    stats_wstate_name(w->state), age(now_ms, w->start_ms),
		    (unsigned long long)w->open, (unsigned long long)w->accepted,
		    (unsigned long long)w->bytes,
		    (unsigned long long)w->heartbeat_age_ms);
	}
	render_buf_printf(b, "%s],\n", n ? "\n  " : "");
	render_buf_printf(b, "  \"accepted\": %llu,\n  \"open\": %llu,\n"
	    "  \"datagrams\": %llu,\n  \"respawns\": %llu,\n"
	    "  \"log_lines_held_back\": %llu,\n  \"full\": %llu,\n",
	    (unsigned long long)t->accepted, (unsigned long long)t->open,
	    (unsigned long long)t->datagrams, (unsigned long long)s->respawns,
	    (unsigned long long)t->log_suppressed, (unsigned long long)t->full);
	for (int i = 0; i < STATS_WSTATE_COUNT; i++)
		states[i] = s->workers[i];
	json_map(b, "closed", n_close, t->closed, STATS_CLOSE_COUNT, false);
	json_map(b, "bytes", n_proto, t->bytes, STATS_PROTO_COUNT, false);
	json_map(b, "refused", n_refuse, t->refused, STATS_REFUSE_COUNT, false);
	json_map(b, "dropped", n_drop, t->dropped, STATS_DROP_COUNT, false);
	json_map(b, "worker_states", n_wstate, states, STATS_WSTATE_COUNT, false);
	json_map(b, "worker_exits", n_exit, s->exits, STATS_EXIT_COUNT, false);
	json_map(b, "reloads", n_reload, s->reloads, STATS_RELOAD_COUNT, true);
	render_buf_printf(b, "}\n");
	return done(b);
}

static void
prom_head(struct render_buf *b, const char *name, const char *type, const char *help)
{
	render_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
prom_labeled(struct render_buf *b, const char *name, const char *type,
    const char *help, const char *label, const char *(*lname)(int),
    const uint64_t *v, int n)
{
	prom_head(b, name, type, help);
	for (int i = 0; i < n; i++)
		render_buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, lname(i),
		    (unsigned long long)v[i]);
}

static void
prom_one(struct render_buf *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	prom_head(b, name, type, help);
	render_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

int
render_prom(const struct stats_snapshot *s, struct render_buf *b)
{
	const struct stats_counts *t = &s->totals;
	uint64_t states[STATS_WSTATE_COUNT];

	for (int i = 0; i < STATS_WSTATE_COUNT; i++)
		states[i] = s->workers[i];
	prom_one(b, "echod_connections_accepted_total", "counter",
	    "TCP connections accepted since echod started.", t->accepted);
	prom_one(b, "echod_connections_open", "gauge",
	    "TCP connections open now.", t->open);
	prom_labeled(b, "echod_connections_closed_total", "counter",
	    "TCP connections closed, by cause.", "cause", n_close, t->closed,
	    STATS_CLOSE_COUNT);
	prom_labeled(b, "echod_bytes_echoed_total", "counter",
	    "Bytes echoed, by protocol.", "proto", n_proto, t->bytes,
	    STATS_PROTO_COUNT);
	prom_one(b, "echod_datagrams_echoed_total", "counter",
	    "UDP datagrams echoed.", t->datagrams);
	prom_labeled(b, "echod_refused_total", "counter",
	    "TCP connections closed at the door, by reason.", "reason", n_refuse,
	    t->refused, STATS_REFUSE_COUNT);
	prom_labeled(b, "echod_datagrams_dropped_total", "counter",
	    "UDP datagrams not echoed, by reason.", "reason", n_drop, t->dropped,
	    STATS_DROP_COUNT);
	prom_one(b, "echod_log_lines_held_back_total", "counter",
	    "Log lines about a source not written: over its log budget.",
	    t->log_suppressed);
	/* Not a refusal: the clients wait in the listen queue (stats.h). */
	prom_one(b, "echod_worker_full_total", "counter",
	    "Times a worker reached max_connections and stopped accepting.",
	    t->full);
	prom_labeled(b, "echod_workers", "gauge", "Worker processes, by state.",
	    "state", n_wstate, states, STATS_WSTATE_COUNT);
	prom_labeled(b, "echod_worker_exits_total", "counter",
	    "Worker processes that ended, by cause.", "cause", n_exit, s->exits,
	    STATS_EXIT_COUNT);
	prom_labeled(b, "echod_reloads_total", "counter",
	    "Configuration reloads, by result.", "result", n_reload, s->reloads,
	    STATS_RELOAD_COUNT);
	prom_one(b, "echod_config_fallback", "gauge",
	    "1 while the file was refused at start and the last good "
	    "configuration, stored by the echod before, serves.", s->fallback);
	prom_head(b, "echod_build_info", "gauge",
	    "Always 1; the version is in the label.");
	render_buf_printf(b, "echod_build_info{version=\"");
	untrusted(b, s->version, sizeof(s->version), SYN_PROM);
	render_buf_printf(b, "\"} 1\n");
	return done(b);
}
