/*
 * connlog.c - a connection's log lines, as they were printed with
 *   "tcp connected to %s port %u%s", "tcp connected to %s (%s) port %u" and
 *   "tcp closed %s port %u%s: %llu bytes echoed in %llu.%03llus%s%s",
 * byte for byte, now appended piece by piece (strbuf.h).  The client's
 * address comes in as text, formatted once by the caller.
 */
#include "config.h"

#include <syslog.h>

#include "connlog.h"
#include "strbuf.h"

/* "ADDR port P" or "NAME (ADDR) port P", then " via BALANCER port Q" */
static void
who(struct strbuf *b, const struct log_conn_fields *f, bool named)
{
	if (named) {
		strbuf_put_str(b, f->host);
		strbuf_put_mem(b, " (", 2);
		strbuf_put_str(b, f->addr);
		strbuf_put_char(b, ')');
	} else
		strbuf_put_str(b, f->addr);
	strbuf_put_mem(b, " port ", 6);
	strbuf_put_u64(b, f->port);
	if (f->via != NULL) {
		strbuf_put_mem(b, " via ", 5);
		strbuf_put_str(b, f->via);
		strbuf_put_mem(b, " port ", 6);
		strbuf_put_u64(b, f->via_port);
	}
}

size_t
connlog_open_text(char *buf, size_t len, const struct log_conn_fields *f)
{
	struct strbuf b;

	strbuf_init(&b, buf, len);
	strbuf_put_str(&b, "tcp connected to ");
	who(&b, f, f->host != NULL && f->host[0] != '\0');
	return b.len;
}

size_t
connlog_close_text(char *buf, size_t len, const struct log_conn_fields *f,
    const char *why)
{
	struct strbuf b;

	strbuf_init(&b, buf, len);
	strbuf_put_str(&b, "tcp closed ");
	who(&b, f, false);		/* the name was in the first line */
	strbuf_put_mem(&b, ": ", 2);
	strbuf_put_u64(&b, f->bytes);
	strbuf_put_str(&b, " bytes echoed in ");
	strbuf_put_u64(&b, f->usec / 1000000);
	strbuf_put_char(&b, '.');
	strbuf_put_u64_pad(&b, f->usec / 1000 % 1000, 3);
	strbuf_put_char(&b, 's');
	if (why != NULL) {
		strbuf_put_mem(&b, ", ", 2);
		strbuf_put_str(&b, why);
	}
	return b.len;
}

void
connlog_open(const struct log_conn_fields *f)
{
	char line[CONNLOG_LINE_MAX];

	if (log_getlevel() < LOG_INFO)
		return;
	connlog_open_text(line, sizeof(line), f);
	log_conn_text(LOG_CONN_OPEN, f, line);
}

void
connlog_close(const struct log_conn_fields *f, const char *why)
{
	char line[CONNLOG_LINE_MAX];

	if (log_getlevel() < LOG_INFO)
		return;
	connlog_close_text(line, sizeof(line), f, why);
	log_conn_text(LOG_CONN_CLOSE, f, line);
}
