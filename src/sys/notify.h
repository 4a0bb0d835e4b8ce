/* notify.h - everything echod says to systemd.  Without NOTIFY_SOCKET each
 * call returns at once and costs nothing. */
#ifndef ECHOD_NOTIFY_H
#define ECHOD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

void	notify_init(void);
bool	notify_enabled(void);
void	notify_ready(void);
void	notify_reloading(void);	/* RELOADING=1 with MONOTONIC_USEC */
void	notify_stopping(void);
void	notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	notify_watchdog(void);
void	notify_extend_timeout(uint64_t usec);
/* The watchdog interval systemd asked for, or 0 without one. */
uint64_t notify_watchdog_usec(void);

#endif
