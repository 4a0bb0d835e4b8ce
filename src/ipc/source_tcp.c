/*
 * source_tcp.c - open TCP connections per source, pool-wide.
 *
 * TCP counts live in one table per worker slot, written only by that
 * worker and read by all: the pool-wide count of a source is the sum over
 * the slots.  A worker that dies takes its counts with it (the master
 * zeroes its table), so a crash never leaves phantom connections behind.
 * A source needs an entry only while it has a connection open, so a table
 * holds as many sources as its worker can hold connections (up to
 * SOURCE_TCP_MAX); entries whose count fell to 0 stay as tombstones, which
 * a new source reuses, and the table is rebuilt without them before they
 * could lengthen the probes.  Readers check a sequence number and retry
 * when the owner reused or rebuilt while they looked.
 *
 * The mapping, and the seed this table hashes with, are made in source.c.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "source_map.h"
#include "source_tcp.h"

#define TAG_V4		1
#define TAG_V6		2

#define READ_TRIES	1000	/* a reader's attempts at a consistent table */

unsigned
source_tcp_capacity(uint64_t nofile)
{
	unsigned n = SOURCE_TCP_MIN;

	while (n < SOURCE_TCP_MAX && n < nofile)
		n *= 2;
	return n;
}

static struct tcp_entry *
table(struct source_shared *s, int slot)
{
	return &s->tcp[(size_t)slot * s->entries];
}

void
source_forget_slot(struct source_shared *s, int slot)
{
	struct tcp_entry *t = table(s, slot);
	size_t len = s->entries * sizeof(*t);

	/* A reader in the middle of it sees the sequence change and retries. */
	atomic_store_explicit(&s->heads[slot].seq, 0, memory_order_release);
	s->heads[slot].used = s->heads[slot].live = 0;
	/* give the pages back rather than writing zeroes into them */
	if (madvise(t, len, MADV_REMOVE) == -1)
		memset(t, 0, len);
}

static uint32_t
tag_of(const struct source_key *k)
{
	return k->v6 ? TAG_V6 : TAG_V4;
}

/* Where key's run holds it, or the end of the run (a never-used entry);
 * *reuse: the first tombstone on the way, if any. */
static struct tcp_entry *
probe(struct source_shared *s, int slot, const struct source_key *k,
    uint64_t h, struct tcp_entry **reuse)
{
	struct tcp_entry *t = table(s, slot);
	uint32_t mask = s->entries - 1, tag = tag_of(k);

	if (reuse != NULL)
		*reuse = NULL;
	/* The owner keeps a quarter of the table never used: runs end. */
	for (uint32_t i = 0; i < s->entries; i++) {
		struct tcp_entry *e = &t[(h + i) & mask];
		uint32_t et = atomic_load_explicit(&e->tag, memory_order_relaxed);

		if (et == 0)
			return e;
		if (et == tag && atomic_load_explicit(&e->id,
		    memory_order_relaxed) == k->id)
			return e;
		if (reuse != NULL && *reuse == NULL &&
		    atomic_load_explicit(&e->count, memory_order_relaxed) == 0)
			*reuse = e;
	}
	return NULL;	/* only a table being rewritten under a reader */
}

static int
slot_count(struct source_shared *s, int slot, const struct source_key *k,
    uint64_t h, uint32_t *out)
{
	_Atomic uint32_t *seq = &s->heads[slot].seq;

	for (int i = 0; i < READ_TRIES; i++) {
		uint32_t before = atomic_load_explicit(seq, memory_order_acquire);

		if (before & 1) {
			if (i >= 8)
				sched_yield();
			continue;
		}
		struct tcp_entry *e = probe(s, slot, k, h, NULL);
		uint32_t c = e == NULL || atomic_load_explicit(&e->tag,
		    memory_order_relaxed) == 0 ? 0 :
		    atomic_load_explicit(&e->count, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(seq, memory_order_relaxed) == before &&
		    e != NULL) {
			*out = c;
			return 0;
		}
	}
	errno = EAGAIN;
	return -1;
}

int
source_tcp_count(struct source_shared *s, const struct source_key *k,
    unsigned nslots, uint64_t *total)
{
	uint64_t h = hash(s, k);
	uint32_t c;

	/* Pairs with the caller's own source_tcp_add(): of two workers that
	 * add and then count at once, at least one sees the other's. */
	atomic_thread_fence(memory_order_seq_cst);
	*total = 0;
	if (nslots > s->slots)
		nslots = s->slots;
	for (unsigned slot = 0; slot < nslots; slot++) {
		if (slot_count(s, (int)slot, k, h, &c) == -1)
			return -1;
		*total += c;
	}
	return 0;
}

/* Entries move: readers of this slot retry until it is done. */
static void
write_begin(struct tcp_head *hd)
{
	uint32_t seq = atomic_load_explicit(&hd->seq, memory_order_relaxed);

	atomic_store_explicit(&hd->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void
write_end(struct tcp_head *hd)
{
	uint32_t seq = atomic_load_explicit(&hd->seq, memory_order_relaxed);

	atomic_store_explicit(&hd->seq, seq + 1, memory_order_release);
}

static void
put(struct tcp_entry *e, uint64_t id, uint32_t tag, uint32_t count)
{
	atomic_store_explicit(&e->id, id, memory_order_relaxed);
	atomic_store_explicit(&e->tag, tag, memory_order_relaxed);
	atomic_store_explicit(&e->count, count, memory_order_relaxed);
}

/* Drops the tombstones: every live entry back at the start of its run. */
static int
rebuild(struct source_shared *s, int slot)
{
	struct tcp_head *hd = &s->heads[slot];
	struct tcp_entry *t = table(s, slot);
	struct { uint64_t id; uint32_t tag, count; } *live;
	uint32_t n = 0, mask = s->entries - 1;

	if ((live = calloc(hd->live + 1, sizeof(*live))) == NULL)
		return -1;
	for (uint32_t i = 0; i < s->entries && n < hd->live; i++) {
		uint32_t c = atomic_load_explicit(&t[i].count, memory_order_relaxed);
		if (c == 0)
			continue;
		live[n].id = atomic_load_explicit(&t[i].id, memory_order_relaxed);
		live[n].tag = atomic_load_explicit(&t[i].tag, memory_order_relaxed);
		live[n++].count = c;
	}
	write_begin(hd);
	for (uint32_t i = 0; i < s->entries; i++)
		put(&t[i], 0, 0, 0);
	for (uint32_t i = 0; i < n; i++) {
		struct source_key k = { live[i].id, live[i].tag == TAG_V6 };
		uint64_t h = hash(s, &k);
		uint32_t j = 0;

		while (atomic_load_explicit(&t[(h + j) & mask].tag,
		    memory_order_relaxed) != 0)
			j++;
		put(&t[(h + j) & mask], live[i].id, live[i].tag, live[i].count);
	}
	hd->used = n;
	write_end(hd);
	free(live);
	return 0;
}

int
source_tcp_add(struct source_shared *s, int slot, const struct source_key *k,
    int delta)
{
	struct tcp_head *hd = &s->heads[slot];
	struct tcp_entry *e, *reuse;
	uint64_t h = hash(s, k);

	e = probe(s, slot, k, h, &reuse);
	if (e != NULL && atomic_load_explicit(&e->tag, memory_order_relaxed) != 0) {
		uint32_t c = atomic_load_explicit(&e->count, memory_order_relaxed);

		if (delta < 0 && c == 0)
			return 0;
		if (delta > 0 && c == 0)
			hd->live++;
		else if (delta < 0 && c == 1)
			hd->live--;	/* a tombstone now */
		atomic_store_explicit(&e->count, c + (uint32_t)delta,
		    memory_order_release);
		return 0;
	}
	if (delta < 0)
		return 0;	/* never counted */
	if (hd->live >= s->sources) {
		errno = ENOSPC;
		return -1;
	}
	if (reuse == NULL && hd->used + 1 > s->entries / 4 * 3) {
		if (rebuild(s, slot) == -1)
			return -1;
		e = probe(s, slot, k, h, &reuse);
	}
	if (reuse != NULL)
		e = reuse;
	else
		hd->used++;
	/* A new key in an entry a reader may be looking at: fence it. */
	write_begin(hd);
	put(e, k->id, tag_of(k), 1);
	write_end(hd);
	hd->live++;
	return 0;
}
