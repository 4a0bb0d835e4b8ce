/* cl.c - deadlines, and durations in words, shared by the parts of echo-client. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>

#include "cl.h"
#include "util.h"

int
cl_ms_left(uint64_t deadline_ns, uint64_t now_ns)
{
	uint64_t ms;

	if (deadline_ns == 0)
		return -1;
	if (now_ns >= deadline_ns)
		return 0;
	/* Round up, or poll() would spin through the last millisecond. */
	ms = (deadline_ns - now_ns + 999999) / 1000000;
	return ms > 3600 * 1000 ? 3600 * 1000 : (int)ms;
}

uint64_t
cl_deadline(int timeout_ms)
{
	return timeout_ms > 0 ? now_nsec() + (uint64_t)timeout_ms * 1000000 : 0;
}

int
cl_wait(int fd, short events, uint64_t deadline_ns)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc;

	do
		rc = poll(&p, 1, cl_ms_left(deadline_ns, now_nsec()));
	while (rc == -1 && errno == EINTR);
	return rc;
}

const char *
cl_fmt_ms(uint64_t ms, char *buf, size_t buflen)
{
	if (ms < 1000)
		snprintf(buf, buflen, "%" PRIu64 " ms", ms);
	else if (ms % 1000 == 0)
		snprintf(buf, buflen, "%" PRIu64 " s", ms / 1000);
	else if (ms % 100 == 0)
		snprintf(buf, buflen, "%" PRIu64 ".%01" PRIu64 " s", ms / 1000,
		    ms % 1000 / 100);
	else if (ms % 10 == 0)
		snprintf(buf, buflen, "%" PRIu64 ".%02" PRIu64 " s", ms / 1000,
		    ms % 1000 / 10);
	else
		snprintf(buf, buflen, "%" PRIu64 ".%03" PRIu64 " s", ms / 1000,
		    ms % 1000);
	return buf;
}

uint64_t
cl_thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
