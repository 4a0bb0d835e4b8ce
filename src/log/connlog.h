/*
 * connlog.h - the words of a client's two lines with log_connections,
 * "tcp connected to ..." and "tcp closed ...", written without printf (they
 * are most of what a short connection costs in user space).
 */
#ifndef ECHOD_CONNLOG_H
#define ECHOD_CONNLOG_H

#include <stddef.h>

#include "log.h"

#define CONNLOG_LINE_MAX	1024	/* as log.c's lines: longer is cut */

/*
 * "tcp connected to ADDR port P", "tcp connected to NAME (ADDR) port P"
 * when f->host names it, then " via BALANCER port Q" when f->via is set.
 * Written to buf[len] and cut as snprintf(3) cuts; returns its length.
 */
size_t	connlog_open_text(char *buf, size_t len, const struct log_conn_fields *f);
/* "tcp closed ADDR port P[ via ...]: B bytes echoed in S.MMMs[, why]" */
size_t	connlog_close_text(char *buf, size_t len, const struct log_conn_fields *f,
	    const char *why);

/* Logs them, with their journal fields (log_conn_text()); at a log level
 * below info they cost nothing. */
void	connlog_open(const struct log_conn_fields *f);
void	connlog_close(const struct log_conn_fields *f, const char *why);

#endif
