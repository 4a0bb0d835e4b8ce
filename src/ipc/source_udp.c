/*
 * source_udp.c - per-source rate buckets, pool-wide.
 *
 * UDP buckets live in one table for the pool.  A bucket is one 64-bit word,
 * its theoretical arrival time (GCRA: the time from which it is full
 * again), which only ever grows and is updated with compare-and-swap, so
 * workers whose loop clocks differ cannot refill it twice.  Buckets are
 * found by a keyed hash of the source within a window of SOURCE_UDP_PROBE;
 * how a source claims one without ever holding two, or escaping a debt by
 * being evicted, is told at find_or_claim().
 *
 * The mapping, and the seed this table hashes with, are made in source.c.
 */
#include "config.h"

#include <stdatomic.h>

#include "source_map.h"
#include "source_udp.h"

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
