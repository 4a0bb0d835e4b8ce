/* cl_hist.c - the latency histogram; see cl_hist.h. */
#include "config.h"

#include "cl_hist.h"

static unsigned
bucket(uint64_t v)
{
	unsigned msb;

	if (v < (1u << CL_HIST_SUB))
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	/* Octave msb, then the CL_HIST_SUB bits below the leading one. */
	return ((msb - CL_HIST_SUB + 1) << CL_HIST_SUB) |
	    (unsigned)((v >> (msb - CL_HIST_SUB)) & ((1u << CL_HIST_SUB) - 1));
}

/* The middle of bucket i's range, or the value itself where it is exact. */
static uint64_t
value(unsigned i)
{
	unsigned oct = i >> CL_HIST_SUB, sub = i & ((1u << CL_HIST_SUB) - 1);
	uint64_t lo, width;

	if (oct == 0)
		return i;
	lo = (uint64_t)((1u << CL_HIST_SUB) | sub) << (oct - 1);
	width = (uint64_t)1 << (oct - 1);
	return lo + width / 2;
}

void
cl_hist_add(struct cl_hist *h, uint64_t v)
{
	h->b[bucket(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

void
cl_hist_merge(struct cl_hist *into, const struct cl_hist *from)
{
	unsigned i;

	for (i = 0; i < CL_HIST_N; i++)
		into->b[i] += from->b[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t
cl_hist_quantile(const struct cl_hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned i;

	if (h->count == 0)
		return 0;
	if (q >= 1.0)
		return h->max;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (i = 0; i < CL_HIST_N; i++) {
		seen += h->b[i];
		if (seen > rank) {
			v = value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
