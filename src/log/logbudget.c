/*
 * logbudget.c - the per-source log budget (logbudget.h).  The buckets are
 * source.c's, shared by the pool; the count of what was held back is each
 * process's own, so a source flooding two workers gets a summary from each
 * worker's count, and the shared summary bucket lets one of them speak per
 * LOGBUDGET_SUMMARY_MS (the other keeps counting and speaks later).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "logbudget.h"
#include "source_udp.h"
#include "strbuf.h"
#include "util.h"

static const char *const kind_words[LOGBUDGET_KINDS] = {
	[LOGBUDGET_CONN] = "connection lines",
	[LOGBUDGET_REFUSAL] = "refusals",
	[LOGBUDGET_DATAGRAM] = "denied datagrams",
};

void
logbudget_init(struct logbudget *b, struct source_shared *shared,
    const struct logbudget_limits *lim)
{
	memset(b, 0, sizeof(*b));
	b->shared = shared;
	b->lim = *lim;
}

/* The entry that counts for k: its own, a free one, or "other sources". */
static struct logbudget_held *
held_for(struct logbudget *b, const struct source_key *k)
{
	size_t i0 = (size_t)((k->id * 0x9e3779b97f4a7c15ULL) >> 56) %
	    LOGBUDGET_SOURCES;
	struct logbudget_held *free_one = NULL;

	for (size_t j = 0; j < LOGBUDGET_PROBE; j++) {
		struct logbudget_held *h = &b->held[(i0 + j) % LOGBUDGET_SOURCES];

		if (h->used && h->key.id == k->id && h->key.v6 == k->v6)
			return h;
		if (!h->used && free_one == NULL)
			free_one = h;
	}
	return free_one != NULL ? free_one : &b->other;
}

static void
hold(struct logbudget *b, enum logbudget_kind kind, const struct source_key *k,
    const struct sockaddr *sa, socklen_t len, uint64_t now_ms)
{
	struct logbudget_held *h = held_for(b, k);
	unsigned port;

	b->suppressed++;
	if (!h->used) {
		h->used = true;
		h->key = *k;
		h->since_ms = now_ms;
		if (h == &b->other)
			snprintf(h->addr, sizeof(h->addr), "other sources");
		else
			addr_host_port(sa, len, h->addr, sizeof(h->addr), &port);
		if (b->due_ms == 0 || now_ms + LOGBUDGET_SUMMARY_MS < b->due_ms)
			b->due_ms = now_ms + LOGBUDGET_SUMMARY_MS;
	}
	h->n[kind]++;
}

bool
logbudget_take(struct logbudget *b, enum logbudget_kind kind,
    const struct sockaddr *sa, socklen_t len, uint64_t now_ms)
{
	struct source_key k;

	if (b == NULL || !source_key(sa, &k))
		return true;
	if (b->lim.source_rate != 0 && !source_rate_allow(b->shared,
	    SOURCE_BUCKET_LOG, &k, source_interval(b->lim.source_rate),
	    b->lim.source_burst, now_ms))
		goto held;
	if (b->lim.pool_rate != 0 && !source_pool_allow(b->shared,
	    source_interval(b->lim.pool_rate), b->lim.pool_rate, now_ms))
		goto held;
	return true;
held:
	hold(b, kind, &k, sa, len, now_ms);
	return false;
}

/* 12345 as "12,345": a count a reader takes in at a glance. */
static void
put_count(struct strbuf *s, uint64_t n)
{
	if (n >= 1000) {
		put_count(s, n / 1000);
		strbuf_put_char(s, ',');
		strbuf_put_u64_pad(s, n % 1000, 3);
	} else
		strbuf_put_u64(s, n);
}

static void
words(const struct logbudget_held *h, uint64_t now_ms, char *line)
{
	struct strbuf s;
	bool first = true;

	strbuf_init(&s, line, LOGBUDGET_LINE_MAX);
	strbuf_put_str(&s, h->addr);
	strbuf_put_mem(&s, ": ", 2);
	for (int i = 0; i < LOGBUDGET_KINDS; i++) {
		if (h->n[i] == 0)
			continue;
		if (!first)
			strbuf_put_mem(&s, ", ", 2);
		put_count(&s, h->n[i]);
		strbuf_put_char(&s, ' ');
		strbuf_put_str(&s, kind_words[i]);
		first = false;
	}
	strbuf_put_str(&s, " not logged in the last ");
	/* rounded: a summary due at 10 s is said at 10 s, not 9 */
	strbuf_put_u64(&s, (now_ms - h->since_ms + 500) / 1000);
	strbuf_put_str(&s, " s");
}

/* May h's summary be written now?  It is a line like any other for the
 * pool's cap, asked first: a refusal there must not spend the source's one
 * summary per period, which another worker's count may be waiting for. */
static bool
may_speak(struct logbudget *b, const struct logbudget_held *h, uint64_t now_ms)
{
	if (b->lim.pool_rate != 0 && !source_pool_allow(b->shared,
	    source_interval(b->lim.pool_rate), b->lim.pool_rate, now_ms))
		return false;
	return h == &b->other || source_rate_allow(b->shared,
	    SOURCE_BUCKET_SUMMARY, &h->key, LOGBUDGET_SUMMARY_MS * 1000000ULL,
	    1, now_ms);
}

bool
logbudget_summary(struct logbudget *b, uint64_t now_ms, bool all, char *line)
{
	uint64_t next = 0;

	if (b == NULL || b->due_ms == 0 || (!all && now_ms < b->due_ms))
		return false;
	for (size_t i = 0; i <= LOGBUDGET_SOURCES; i++) {
		struct logbudget_held *h = i < LOGBUDGET_SOURCES ? &b->held[i] :
		    &b->other;
		uint64_t due = h->since_ms + LOGBUDGET_SUMMARY_MS;

		if (!h->used)
			continue;
		if (all || (now_ms >= due && may_speak(b, h, now_ms))) {
			words(h, now_ms, line);
			memset(h, 0, sizeof(*h));
			return true;	/* due_ms stays: the next call looks on */
		}
		if (now_ms >= due)	/* refused: ask again in a while */
			due = now_ms + LOGBUDGET_RETRY_MS;
		if (next == 0 || due < next)
			next = due;
	}
	b->due_ms = next;
	return false;
}
