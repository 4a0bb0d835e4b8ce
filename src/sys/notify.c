/* notify.c - sd_notify(3) for the master only; workers never speak to systemd. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "notify.h"
#include "util.h"

static bool	 enabled;
static uint64_t	 watchdog_usec;

void
notify_init(void)
{
	uint64_t usec = 0;

	enabled = getenv("NOTIFY_SOCKET") != NULL;
	watchdog_usec = sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

bool		notify_enabled(void) { return enabled; }
uint64_t	notify_watchdog_usec(void) { return watchdog_usec; }

void
notify_ready(void)
{
	if (enabled)
		sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
	if (enabled)
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)now_usec());
}

void
notify_stopping(void)
{
	if (enabled)
		sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (!enabled)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", buf);
}

void
notify_watchdog(void)
{
	if (enabled && watchdog_usec > 0)
		sd_notify(0, "WATCHDOG=1");
}

void
notify_extend_timeout(uint64_t usec)
{
	if (enabled)
		sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)usec);
}
