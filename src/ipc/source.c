/*
 * source.c - the per-source mapping: one shared, anonymous mapping made
 * before the workers fork, holding the TCP count tables (source_tcp.c) and
 * the rate buckets (source_udp.c), with the seed both hash with; and the
 * key a client address counts under.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "acl.h"
#include "source.h"
#include "source_map.h"
#include "source_tcp.h"

static size_t
round_page(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
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
