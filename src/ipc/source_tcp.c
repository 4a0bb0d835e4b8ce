/*
 * source.c - per-source state, pool-wide.
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
 * UDP buckets live in one table for the pool.  A bucket is one 64-bit word,
 * its theoretical arrival time (GCRA: the time from which it is full
 * again), which only ever grows and is updated with compare-and-swap, so
 * workers whose loop clocks differ cannot refill it twice.  Buckets are
 * found by a keyed hash of the source within a window of SOURCE_UDP_PROBE;
 * how a source claims one without ever holding two, or escaping a debt by
 * being evicted, is told at find_or_claim().
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "acl.h"
#include "source.h"

struct tcp_entry {
	_Atomic uint64_t	 id;
	_Atomic uint32_t	 count;		/* 0 and tag set: a tombstone */
	_Atomic uint32_t	 tag;		/* 0: never used; else TAG_V4/V6 */
};
#define TAG_V4		1
#define TAG_V6		2

/* One worker's table: the owner alone writes it, and alone reads its
 * bookkeeping (used, live), kept here so that forgetting the slot resets it. */
struct tcp_head {
	_Atomic uint32_t	 seq;		/* odd: entries are being moved */
	uint32_t		 used;		/* entries ever used since the rebuild */
	uint32_t		 live;		/* entries with a count */
	char			 pad[64 - 12];
};

struct udp_entry {
	_Atomic uint64_t	 id;		/* keyed hash of the source; 0: empty */
	_Atomic uint64_t	 tat;		/* ns: the bucket is full from then on */
};

struct source_shared {
	uint64_t		 seed[2];	/* keyed hashing: no chosen collisions */
	unsigned		 slots;
	unsigned		 sources;	/* per slot */
	unsigned		 entries;	/* per slot: 2 * sources */
	size_t			 size;		/* of the mapping */
	struct tcp_head		*heads;		/* [slots] */
	struct tcp_entry	*tcp;		/* [slots * entries], page-aligned */
	struct udp_entry	 udp[SOURCE_UDP_ENTRIES];
	_Atomic uint64_t	 owed[SOURCE_UDP_ENTRIES];	/* see find_or_claim() */
	struct udp_entry	 pool;		/* source_pool_allow()'s one bucket */
};

#define READ_TRIES	1000	/* a reader's attempts at a consistent table */

static size_t
round_page(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

unsigned
source_tcp_capacity(uint64_t nofile)
{
	unsigned n = SOURCE_TCP_MIN;

	while (n < SOURCE_TCP_MAX && n < nofile)
		n *= 2;
	return n;
}

struct source_shared *
source_init(unsigned slots, unsigned sources)
{
	struct source_shared *s;
	size_t heads, tcp, size;
	unsigned n = SOURCE_TCP_MIN;

	while (n < sources && n < SOURCE_TCP_MAX)	/* a power of two */
		n *= 2;
	heads = round_page(sizeof(*s));
	tcp = heads + round_page((size_t)slots * sizeof(struct tcp_head));
	size = tcp + round_page((size_t)slots * 2 * n * sizeof(struct tcp_entry));
	/* Untouched pages cost nothing: most slots are never used. */
	s = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	if (getrandom(s->seed, sizeof(s->seed), 0) != sizeof(s->seed)) {
		munmap(s, size);
		errno = EIO;
		return NULL;
	}
	s->slots = slots;
	s->sources = n;
	s->entries = 2 * n;
	s->size = size;
	s->heads = (struct tcp_head *)((char *)s + heads);
	s->tcp = (struct tcp_entry *)((char *)s + tcp);
	return s;
}

int
source_unmap(struct source_shared *s)
{
	return munmap(s, s->size);
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

bool
source_key(const struct sockaddr *sa, struct source_key *k)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	uint8_t a[16];

	if (acl_addr16(sa, a) == -1)
		return false;
	k->id = 0;
	/* IPv4 (::ffff:a.b.c.d) whole; IPv6 by /64 */
	k->v6 = memcmp(a, mapped, sizeof(mapped)) != 0;
	for (int i = k->v6 ? 0 : 12; i < (k->v6 ? 8 : 16); i++)
		k->id = k->id << 8 | a[i];
	return true;
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
hash(const struct source_shared *s, const struct source_key *k)
{
	return mix(mix(k->id ^ s->seed[0]) ^ k->v6 ^ s->seed[1]);
}

/* ---- TCP ---------------------------------------------------------------- */

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

/* ---- UDP ---------------------------------------------------------------- */

#define NS_PER_MS	1000000ULL
#define NS_PER_S	1000000000ULL
#define CLAIM_TRIES	8

_Static_assert(SOURCE_UDP_PROBE == 8, "fixed() picks 3 bits");

static struct udp_entry *
window(struct source_shared *s, uint64_t id)
{
	return &s->udp[id % (SOURCE_UDP_ENTRIES - SOURCE_UDP_PROBE + 1)];
}

/* Raises a time to at least t. */
static void
raise_to(_Atomic uint64_t *tat, uint64_t t)
{
	uint64_t cur = atomic_load(tat);

	while (cur < t && !atomic_compare_exchange_weak(tat, &cur, t))
		;
}

/* The bucket a source takes when its window has no empty one: the same
 * for every worker, so that a source is never in two buckets at once. */
static size_t
fixed(uint64_t id)
{
	return id % (SOURCE_UDP_ENTRIES - SOURCE_UDP_PROBE + 1) + (id >> 61);
}

/*
 * The bucket of source id, claimed if it has none.  Empty buckets never
 * come back, so two workers walking the window in order try the same empty
 * one and the loser sees the winner's claim; with none left, both take the
 * fixed one.  What a source evicted from its bucket still owed is kept in
 * owed[] at its fixed index, and a claimed bucket takes it on.  (The evictor
 * inherits the bucket's own debt: a limit never loosens.)
 */
static struct udp_entry *
find_or_claim(struct source_shared *s, uint64_t id)
{
	struct udp_entry *w = window(s, id), *v;
	uint64_t cur, owed;

	for (int i = 0; i < SOURCE_UDP_PROBE; i++)
		if (atomic_load(&w[i].id) == id)
			return &w[i];
	owed = atomic_load(&s->owed[fixed(id)]);
	for (int i = 0; i < SOURCE_UDP_PROBE; i++) {
		if ((cur = atomic_load(&w[i].id)) == 0) {
			raise_to(&w[i].tat, owed);
			if (atomic_compare_exchange_strong(&w[i].id, &cur, id))
				return &w[i];
		}
		if (cur == id)
			return &w[i];
	}
	v = &s->udp[fixed(id)];
	for (int i = 0; i < CLAIM_TRIES; i++) {
		if ((cur = atomic_load(&v->id)) == id)
			return v;
		/* the debt of the source evicted, before and after: a charge
		 * of its that lands in between sees the eviction and is made
		 * again where it goes (source_udp_allow) */
		raise_to(&s->owed[fixed(cur)], atomic_load(&v->tat));
		raise_to(&v->tat, owed);
		if (atomic_compare_exchange_strong(&v->id, &cur, id)) {
			raise_to(&s->owed[fixed(cur)], atomic_load(&v->tat));
			return v;
		}
	}
	return NULL;
}

/* GCRA: a datagram at now conforms if the bucket's time is no further
 * ahead of now than the burst's worth of intervals; it adds one interval.
 * A time ahead of now (another worker's clock runs ahead) is no time
 * elapsed, and the time never moves back. */
static bool
charge(struct udp_entry *e, uint64_t interval, uint64_t tolerance, uint64_t now)
{
	uint64_t tat = atomic_load(&e->tat);

	for (;;) {
		uint64_t from = tat > now ? tat : now;

		if (from - now > tolerance)
			return false;
		if (atomic_compare_exchange_weak(&e->tat, &tat, from + interval))
			return true;
	}
}

/* A bucket's id: the source's keyed hash, set apart by its kind (the UDP
 * one as it always was), never 0 (an empty bucket). */
static uint64_t
bucket_id(const struct source_shared *s, enum source_bucket kind,
    const struct source_key *k)
{
	uint64_t h = hash(s, k);

	return (kind == SOURCE_BUCKET_UDP ? h : mix(h ^ (uint64_t)kind)) | 1;
}

bool
source_rate_allow(struct source_shared *s, enum source_bucket kind,
    const struct source_key *k, uint64_t interval_ns, uint32_t burst,
    uint64_t now_ms)
{
	uint64_t id = bucket_id(s, kind, k), now = now_ms * NS_PER_MS;
	uint64_t tolerance = (uint64_t)(burst ? burst - 1 : 0) * interval_ns;

	if (burst == 0)
		return false;
	for (int i = 0; i < CLAIM_TRIES; i++) {
		struct udp_entry *e = find_or_claim(s, id);

		if (e == NULL || !charge(e, interval_ns, tolerance, now))
			return false;
		/* Still ours after the charge?  Else the source may have
		 * claimed another bucket before our charge showed: charge
		 * that one too. */
		if (atomic_load(&e->id) == id)
			return true;
	}
	return false;
}

uint64_t
source_interval(uint32_t rate)
{
	/* rounded up: never more than rate per second */
	return (NS_PER_S + rate - 1) / (rate ? rate : 1);
}

bool
source_udp_allow(struct source_shared *s, const struct source_key *k,
    uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	return source_rate_allow(s, SOURCE_BUCKET_UDP, k, source_interval(rate),
	    burst, now_ms);
}

bool
source_pool_allow(struct source_shared *s, uint64_t interval_ns,
    uint32_t burst, uint64_t now_ms)
{
	if (burst == 0)
		return false;
	return charge(&s->pool, interval_ns,
	    (uint64_t)(burst - 1) * interval_ns, now_ms * NS_PER_MS);
}
