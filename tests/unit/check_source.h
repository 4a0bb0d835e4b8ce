/* check_source.h - keys for the per-source suites (check_source.c). */
#ifndef ECHOD_CHECK_SOURCE_H
#define ECHOD_CHECK_SOURCE_H

#include "source.h"

/* The key of a literal IPv4 or IPv6 address (the test fails if not IP). */
struct source_key srctest_key(const char *addr);
/* The key of 10.x.y.z, the i-th of 2^24 distinct IPv4 sources. */
struct source_key srctest_nth(int i);

#endif
