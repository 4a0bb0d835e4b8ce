/*
 * failalloc.h - allocation failures on demand, for the unit tests.
 * check_unit links with -Wl,--wrap for malloc, calloc, realloc, strdup and
 * free, so the daemon's modules (a static library) allocate through here;
 * the shared libraries (libc's own, libconfuse, libsystemd) do not.
 * Disarmed, every call passes straight through.
 */
#ifndef ECHOD_TESTS_FAILALLOC_H
#define ECHOD_TESTS_FAILALLOC_H

#include <stddef.h>

/*
 * From now on, counts the allocations and fails the nth (1: the next one;
 * 0: none) with ENOMEM, and tracks the blocks allocated until disarmed.
 */
void	failalloc_arm(int nth);
void	failalloc_disarm(void);
/* Whether the nth allocation was reached (and failed) since armed. */
int	failalloc_failed(void);
/* Blocks allocated since armed and not freed yet. */
size_t	failalloc_live(void);

#endif
