/*
 * log.c - logging in the OpenBSD daemons' style: log_warn appends strerror,
 * log_warnx does not, fatal exits.  Where stderr is journald's stream the
 * messages go through sd-journal with their priority; a detached daemon uses
 * syslog; the foreground writes lines to stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

static enum log_target	 target = LOG_TO_STDERR;
static int		 level = LOG_INFO;
static char		 prefix[32];
static const char	*ident_name = "echod";

/* True when fd 2 is the stream JOURNAL_STREAM names (dev:inode). */
static int
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void
log_init(enum log_target t, const char *ident)
{
	ident_name = ident;
	target = stderr_is_journal() ? LOG_TO_JOURNAL : t;
	if (target == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void	log_setlevel(int l) { level = l; }
int	log_getlevel(void) { return level; }
enum log_target log_gettarget(void) { return target; }

void
log_setprefix(const char *p)
{
	snprintf(prefix, sizeof(prefix), "%s", p ? p : "");
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[1024];
	int saved = errno;
	size_t n = 0;

	if (pri > level)
		return;
	if (prefix[0] != '\0')
		n = (size_t)snprintf(msg, sizeof(msg), "%s: ", prefix);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}

	switch (target) {
	case LOG_TO_JOURNAL:
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", pri,
		    "SYSLOG_IDENTIFIER=%s", ident_name, NULL);
		break;
	case LOG_TO_SYSLOG:
		syslog(pri, "%s", msg);
		break;
	case LOG_TO_STDERR:
		/* One write per line, so lines from workers never interleave. */
		{
			char line[1100];
			int len = snprintf(line, sizeof(line), "%s[%ld]: %s\n",
			    ident_name, (long)getpid(), msg);
			if (len > (int)sizeof(line) - 1)
				len = sizeof(line) - 1;
			(void)!write(STDERR_FILENO, line, (size_t)len);
		}
		break;
	}
	errno = saved;
}

#define LOGFUNC(name, pri, with_errno)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	vlog(pri, fmt, ap, with_errno);			\
	va_end(ap);					\
}
LOGFUNC(log_warn, LOG_WARNING, 1)
LOGFUNC(log_warnx, LOG_WARNING, 0)
LOGFUNC(log_notice, LOG_NOTICE, 0)
LOGFUNC(log_info, LOG_INFO, 0)
LOGFUNC(log_debug, LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

void
log_conn(const char *event, const char *proto, const char *addr,
    unsigned port, const char *host, uint64_t bytes, uint64_t usec,
    const char *reason)
{
	char who[320];

	if (LOG_INFO > level)
		return;
	if (host != NULL && host[0] != '\0')
		snprintf(who, sizeof(who), "%s (%s) port %u", host, addr, port);
	else
		snprintf(who, sizeof(who), "%s port %u", addr, port);

	if (target != LOG_TO_JOURNAL) {
		if (strcmp(event, "open") == 0)
			log_info("%s connected to %s", proto, who);
		else
			log_info("%s closed %s: %llu bytes echoed in %llu.%03llus%s%s",
			    proto, who, (unsigned long long)bytes,
			    (unsigned long long)(usec / 1000000),
			    (unsigned long long)(usec / 1000 % 1000),
			    reason ? ", " : "", reason ? reason : "");
		return;
	}
	if (strcmp(event, "open") == 0)
		sd_journal_send("MESSAGE=%s%s%s connected to %s",
		    prefix, prefix[0] ? ": " : "", proto, who,
		    "PRIORITY=%d", LOG_INFO, "SYSLOG_IDENTIFIER=%s", ident_name,
		    "ECHOD_EVENT=open", "CLIENT_PROTOCOL=%s", proto,
		    "CLIENT_ADDRESS=%s", addr, "CLIENT_PORT=%u", port, NULL);
	else
		sd_journal_send("MESSAGE=%s%s%s closed %s: %llu bytes in %llu.%03llus%s%s",
		    prefix, prefix[0] ? ": " : "", proto, who,
		    (unsigned long long)bytes,
		    (unsigned long long)(usec / 1000000),
		    (unsigned long long)(usec / 1000 % 1000),
		    reason ? ", " : "", reason ? reason : "",
		    "PRIORITY=%d", LOG_INFO, "SYSLOG_IDENTIFIER=%s", ident_name,
		    "ECHOD_EVENT=close", "CLIENT_PROTOCOL=%s", proto,
		    "CLIENT_ADDRESS=%s", addr, "CLIENT_PORT=%u", port,
		    "BYTES=%llu", (unsigned long long)bytes,
		    "DURATION_USEC=%llu", (unsigned long long)usec, NULL);
}
