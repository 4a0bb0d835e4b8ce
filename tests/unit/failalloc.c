/*
 * failalloc.c - see failalloc.h.  The --wrap'ed names reach the real ones
 * as __real_malloc() and so on.  Tracks at most MAX_LIVE blocks: a test
 * that needs more is told so by failalloc_live().
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"

#define MAX_LIVE	4096

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
char	*__real_strdup(const char *);
void	 __real_free(void *);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
char	*__wrap_strdup(const char *);
void	 __wrap_free(void *);

static int	 armed, countdown, failed;
static void	*live[MAX_LIVE];
static size_t	 nlive;
static int	 overflow;

void
failalloc_arm(int nth)
{
	armed = 1;
	countdown = nth;
	failed = 0;
	nlive = 0;
	overflow = 0;
}

void
failalloc_disarm(void)
{
	armed = 0;
}

int
failalloc_failed(void)
{
	return failed;
}

size_t
failalloc_live(void)
{
	return overflow ? SIZE_MAX : nlive;
}

/* Whether this allocation is the one to fail. */
static int
fail_now(void)
{
	if (!armed || countdown == 0)
		return 0;
	if (--countdown > 0)
		return 0;
	failed = 1;
	errno = ENOMEM;
	return 1;
}

static void
track(void *p)
{
	if (!armed || p == NULL)
		return;
	if (nlive == MAX_LIVE)
		overflow = 1;
	else
		live[nlive++] = p;
}

/* Forgets p; whether it was tracked. */
static int
untrack(void *p)
{
	for (size_t i = 0; p != NULL && i < nlive; i++) {
		if (live[i] == p) {
			live[i] = live[--nlive];
			return 1;
		}
	}
	return 0;
}

void *
__wrap_malloc(size_t n)
{
	void *p = fail_now() ? NULL : __real_malloc(n);

	track(p);
	return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
	void *p = fail_now() ? NULL : __real_calloc(n, size);

	track(p);
	return p;
}

char *
__wrap_strdup(const char *s)
{
	char *p = fail_now() ? NULL : __real_strdup(s);

	track(p);
	return p;
}

/* A block moved by realloc() stays tracked if it was, and a new one
 * (from NULL) is tracked. */
void *
__wrap_realloc(void *old, size_t n)
{
	void *p;
	int was;

	if (fail_now())
		return NULL;
	if ((p = __real_realloc(old, n)) == NULL)
		return NULL;
	was = untrack(old);
	if (old == NULL || was)
		track(p);
	return p;
}

void
__wrap_free(void *p)
{
	untrack(p);
	__real_free(p);
}
