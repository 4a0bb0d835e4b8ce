/* log.h - the one way echod speaks: stderr, syslog or the journal. */
#ifndef ECHOD_LOG_H
#define ECHOD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum log_target {
	LOG_TO_STDERR,	/* foreground on a terminal or a pipe */
	LOG_TO_SYSLOG,	/* detached daemon */
	LOG_TO_JOURNAL,	/* stderr is journald's stream (JOURNAL_STREAM) */
};

/* Picks the journal when stderr is journald's stream, else `target`. */
void	log_init(enum log_target target, const char *ident);
void	log_setlevel(int level);	/* a syslog priority: LOG_ERR..LOG_DEBUG */
int	log_getlevel(void);
void	log_setprefix(const char *prefix);	/* "worker 3" in worker processes */
/* Says how many messages were dropped (outputs never block), if any. */
void	log_flush(void);
enum log_target log_gettarget(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A connection event, with structured fields under the journal:
 * EVENT=open|close, CLIENT_ADDRESS, CLIENT_PORT, BYTES, DURATION_USEC. */
void	log_conn(const char *event, const char *proto, const char *addr,
	    unsigned port, const char *host, uint64_t bytes, uint64_t usec,
	    const char *reason);

#endif
