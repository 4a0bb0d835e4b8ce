/* source_map.h - the layout of the per-source mapping and its keyed hash,
 * for source.c, source_tcp.c and source_udp.c only: both tables live in
 * one mapping, sized and seeded once by source_init(). */
#ifndef ECHOD_SOURCE_MAP_H
#define ECHOD_SOURCE_MAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "source_key.h"

struct tcp_entry {
	_Atomic uint64_t	 id;
	_Atomic uint32_t	 count;		/* 0 and tag set: a tombstone */
	_Atomic uint32_t	 tag;		/* 0: never used; else TAG_V4/V6 */
};

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

/* Both tables hash with the same seed: inline, so neither pays a call. */
static inline uint64_t
mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t
hash(const struct source_shared *s, const struct source_key *k)
{
	return mix(mix(k->id ^ s->seed[0]) ^ k->v6 ^ s->seed[1]);
}

#endif
