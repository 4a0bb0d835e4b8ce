/*
 * source.c - per-source state, pool-wide.
 *
 * TCP counts live in one table per worker slot, written only by that
 * worker and read by all: the pool-wide count of a source is the sum over
 * the slots.  A worker that dies takes its counts with it (the master
 * zeroes its table), so a crash never leaves phantom connections behind.
 *
 * UDP buckets live in one table for the pool.  Each is a key and one 64-bit
 * word holding milli-tokens and the time of the last refill, updated with
 * compare-and-swap; a full probe window reuses its stalest bucket, whose
 * tokens had refilled anyway.  A race between two workers can only make
 * the limit slightly loose, never block or refuse wrongly for long.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "acl.h"
#include "source.h"

struct tcp_entry {
	_Atomic uint64_t	 hi, lo;
	_Atomic uint32_t	 count;		/* 0: free */
	uint32_t		 pad;
};

struct udp_entry {
	_Atomic uint64_t	 hi, lo;
	_Atomic uint64_t	 state;		/* milli-tokens << 32 | ms */
};

struct source_shared {
	uint64_t		 seed[2];	/* keyed hashing: no chosen collisions */
	unsigned		 slots;
	struct udp_entry	 udp[SOURCE_UDP_ENTRIES];
	struct tcp_entry	 tcp[];		/* slots * SOURCE_SLOT_ENTRIES */
};

static size_t
mapsize(unsigned slots)
{
	return sizeof(struct source_shared) +
	    (size_t)slots * SOURCE_SLOT_ENTRIES * sizeof(struct tcp_entry);
}

struct source_shared *
source_init(unsigned slots)
{
	struct source_shared *s;

	/* Untouched pages cost nothing: most slots are never used. */
	s = mmap(NULL, mapsize(slots), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	if (getrandom(s->seed, sizeof(s->seed), 0) != sizeof(s->seed)) {
		munmap(s, mapsize(slots));
		errno = EIO;
		return NULL;
	}
	s->slots = slots;
	return s;
}

void
source_forget_slot(struct source_shared *s, int slot)
{
	struct tcp_entry *t = &s->tcp[(size_t)slot * SOURCE_SLOT_ENTRIES];
	size_t len = SOURCE_SLOT_ENTRIES * sizeof(*t);

	/* give the pages back rather than writing zeroes into them */
	if (madvise(t, len, MADV_REMOVE) == -1)
		memset(t, 0, len);
}

bool
source_key(const struct sockaddr *sa, struct source_key *k)
{
	uint8_t a[16];

	if (acl_addr16(sa, a) == -1)
		return false;
	memcpy(&k->hi, a, 8);
	memcpy(&k->lo, a + 8, 8);
	/* IPv6 by /64; IPv4 (::ffff:a.b.c.d) whole */
	if (sa->sa_family == AF_INET6 &&
	    !(k->hi == 0 && (k->lo & 0xffffffffULL) == 0xffff0000ULL))
		k->lo = 0;
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
	return mix(mix(k->hi ^ s->seed[0]) ^ k->lo ^ s->seed[1]);
}

static bool
same(_Atomic uint64_t *hi, _Atomic uint64_t *lo, const struct source_key *k)
{
	return atomic_load_explicit(hi, memory_order_acquire) == k->hi &&
	    atomic_load_explicit(lo, memory_order_acquire) == k->lo;
}

/* ---- TCP ---------------------------------------------------------------- */

static uint32_t
slot_count(struct source_shared *s, int slot, const struct source_key *k,
    uint64_t h)
{
	struct tcp_entry *t = &s->tcp[(size_t)slot * SOURCE_SLOT_ENTRIES];

	for (unsigned i = 0; i < SOURCE_SLOT_ENTRIES; i++) {
		struct tcp_entry *e = &t[(h + i) % SOURCE_SLOT_ENTRIES];
		uint32_t c = atomic_load_explicit(&e->count, memory_order_acquire);
		if (c == 0 && atomic_load_explicit(&e->hi, memory_order_relaxed) == 0 &&
		    atomic_load_explicit(&e->lo, memory_order_relaxed) == 0)
			return 0;	/* never used: the end of the run */
		if (same(&e->hi, &e->lo, k))
			return c;
	}
	return 0;
}

uint64_t
source_tcp_count(struct source_shared *s, const struct source_key *k,
    unsigned nslots)
{
	uint64_t h = hash(s, k), total = 0;

	if (nslots > s->slots)
		nslots = s->slots;
	for (unsigned slot = 0; slot < nslots; slot++)
		total += slot_count(s, (int)slot, k, h);
	return total;
}

bool
source_tcp_add(struct source_shared *s, int slot, const struct source_key *k,
    int delta)
{
	struct tcp_entry *t = &s->tcp[(size_t)slot * SOURCE_SLOT_ENTRIES];
	struct tcp_entry *free_e = NULL;
	uint64_t h = hash(s, k);

	/* Only this worker writes its table.  An entry keeps its key when its
	 * count drops to 0 (a reader may still be probing past it); a free
	 * one on the way is reused for a new key. */
	for (unsigned i = 0; i < SOURCE_SLOT_ENTRIES; i++) {
		struct tcp_entry *e = &t[(h + i) % SOURCE_SLOT_ENTRIES];
		uint32_t c = atomic_load_explicit(&e->count, memory_order_relaxed);
		bool unused = c == 0 &&
		    atomic_load_explicit(&e->hi, memory_order_relaxed) == 0 &&
		    atomic_load_explicit(&e->lo, memory_order_relaxed) == 0;

		if (!unused && same(&e->hi, &e->lo, k)) {
			if (delta < 0 && c == 0)
				return true;
			atomic_store_explicit(&e->count, c + (uint32_t)delta,
			    memory_order_release);
			return true;
		}
		if (c == 0 && free_e == NULL)
			free_e = e;
		if (unused)
			break;
	}
	if (delta < 0 || free_e == NULL)
		return delta < 0;
	atomic_store_explicit(&free_e->count, 0, memory_order_relaxed);
	atomic_store_explicit(&free_e->hi, k->hi, memory_order_release);
	atomic_store_explicit(&free_e->lo, k->lo, memory_order_release);
	atomic_store_explicit(&free_e->count, 1, memory_order_release);
	return true;
}

/* ---- UDP ---------------------------------------------------------------- */

#define MILLI	1000ULL

bool
source_udp_allow(struct source_shared *s, const struct source_key *k,
    uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	uint64_t h = hash(s, k), full = (uint64_t)burst * MILLI;
	uint32_t now = (uint32_t)now_ms;
	struct udp_entry *e = NULL, *stalest = NULL;
	uint32_t oldest_age = 0;

	for (unsigned i = 0; i < SOURCE_UDP_PROBE; i++) {
		struct udp_entry *c = &s->udp[(h + i) % SOURCE_UDP_ENTRIES];
		uint64_t st = atomic_load_explicit(&c->state, memory_order_acquire);
		uint32_t age = now - (uint32_t)st;

		if (st != 0 && same(&c->hi, &c->lo, k)) {
			e = c;
			break;
		}
		if (st == 0) {		/* never used */
			stalest = c;
			oldest_age = UINT32_MAX;
		} else if (stalest == NULL || age > oldest_age) {
			stalest = c;
			oldest_age = age;
		}
	}
	if (e == NULL) {
		/* A new source starts with a full bucket, less this datagram. */
		e = stalest;
		atomic_store_explicit(&e->hi, k->hi, memory_order_relaxed);
		atomic_store_explicit(&e->lo, k->lo, memory_order_relaxed);
		atomic_store_explicit(&e->state, ((full - MILLI) << 32) | now | 0,
		    memory_order_release);
		return burst >= 1;
	}
	for (;;) {
		uint64_t st = atomic_load_explicit(&e->state, memory_order_acquire);
		uint64_t tokens = st >> 32;
		uint32_t elapsed = now - (uint32_t)st;

		tokens += (uint64_t)elapsed * rate;	/* milli-tokens per ms */
		if (tokens > full)
			tokens = full;
		if (tokens < MILLI) {
			/* keep the refill time: partial tokens are not lost */
			return false;
		}
		uint64_t next = ((tokens - MILLI) << 32) | now;
		if (atomic_compare_exchange_weak_explicit(&e->state, &st, next,
		    memory_order_acq_rel, memory_order_acquire))
			return true;
	}
}
