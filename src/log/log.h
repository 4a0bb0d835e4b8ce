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
/* Whether stderr is journald's stream (JOURNAL_STREAM): it names us itself. */
bool	log_stderr_is_journal(void);
void	log_setlevel(int level);	/* a syslog priority: LOG_ERR..LOG_DEBUG */
int	log_getlevel(void);
void	log_setprefix(const char *prefix);	/* "worker 3" in worker processes */
/* Writes the lines that wait for the log (outputs never block), then says
 * how many were dropped since the last report, if any. */
void	log_flush(void);
/*
 * On: the calling thread's info and debug lines wait for its next
 * log_flush() and go out together (stderr only); an event loop turns it on
 * and calls log_flush() at the end of each turn.  Off writes what waits.
 */
void	log_batch(bool on);
/* Whether lines wait for the log: then call log_flush() again soon. */
bool	log_pending(void);
/* log_flush() until nothing waits, for at most timeout_ms (on the way out). */
void	log_drain(int timeout_ms);
/* Lines dropped since the process started (reported or not). */
unsigned long log_dropped_total(void);
enum log_target log_gettarget(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* What happened to a client's connection: ECHOD_EVENT=open or close. */
enum log_conn_event {
	LOG_CONN_OPEN,
	LOG_CONN_CLOSE,
};

/* A connection's journal fields. */
struct log_conn_fields {
	const char	*proto;		/* CLIENT_PROTOCOL: "tcp" */
	const char	*addr;		/* CLIENT_ADDRESS, numeric */
	unsigned	 port;		/* CLIENT_PORT */
	const char	*host;		/* CLIENT_HOST, its name; NULL or "": none */
	uint64_t	 bytes;		/* BYTES echoed: close only */
	uint64_t	 usec;		/* DURATION_USEC: close only */
	const char	*via;		/* BALANCER_ADDRESS: the PROXY header's
					 * sender; NULL: none */
	unsigned	 via_port;	/* BALANCER_PORT */
};

/*
 * Logs the caller's line at LOG_INFO, and under the journal the fields
 * ECHOD_EVENT, CLIENT_PROTOCOL, CLIENT_ADDRESS, CLIENT_PORT, CLIENT_HOST
 * (when named), BALANCER_ADDRESS and BALANCER_PORT (when it came through
 * a balancer) and, on close, BYTES and DURATION_USEC.  Safe to call from
 * a second thread (the resolver's), as is every function that logs.
 */
void	log_conn(enum log_conn_event, const struct log_conn_fields *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with the caller's finished words (connlog.h), not a format:
 * the line is text, prefix and all, as log_conn(..., "%s", text) writes. */
void	log_conn_text(enum log_conn_event, const struct log_conn_fields *,
	    const char *text);

#endif
