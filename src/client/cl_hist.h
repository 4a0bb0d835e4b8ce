/*
 * cl_hist.h - a latency histogram of fixed size: log-linear buckets, 32 to
 * an octave, so any percentile is within about 3% of the truth whatever
 * the number of samples.
 */
#ifndef ECHOD_CL_HIST_H
#define ECHOD_CL_HIST_H

#include <stdint.h>

#define CL_HIST_SUB	5				/* 2^5 buckets per octave */
#define CL_HIST_N	((64 - CL_HIST_SUB + 1) << CL_HIST_SUB)

struct cl_hist {
	uint64_t	count;
	uint64_t	max;
	uint64_t	b[CL_HIST_N];
};

void		cl_hist_add(struct cl_hist *h, uint64_t v);
void		cl_hist_merge(struct cl_hist *into, const struct cl_hist *from);
/* The value below which a fraction q (0..1) of the samples lie; 0 if none. */
uint64_t	cl_hist_quantile(const struct cl_hist *h, double q);

#endif
