/*
 * render.h - what echod shows of itself, from one snapshot of its counters
 * (stats.h): the `echod --status` text, JSON for tools, and the Prometheus
 * text format.  Pure: the caller takes the snapshot (stats_read()).
 */
#ifndef ECHOD_RENDER_H
#define ECHOD_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats_snapshot;

/* A growing text buffer; an allocation failure sticks (oom) and is
 * reported by the renderers returning -1 (ENOMEM). */
struct render_buf {
	char	*p;
	size_t	 len, cap;
	bool	 oom;
};

void	render_buf_printf(struct render_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	render_buf_free(struct render_buf *);

/* A start whose file was refused serves the stored configuration
 * (main.c): the file and why, as conf_read() said it.  Shown escaped:
 * both may hold any byte the file did. */
struct render_fallback {
	const char	*file;
	const char	*reason;
};

/* Each appends to b; 0, or -1 with errno ENOMEM.  now_ms (CLOCK_REALTIME)
 * turns start times into ages (now_wall_ms(), util.h).  fb: NULL, or the
 * fallback the master serves with (the page's flag is not enough: the
 * reason is the master's own). */
int	render_text(const struct stats_snapshot *, const struct render_fallback *fb,
	    int64_t now_ms, struct render_buf *b);
int	render_json(const struct stats_snapshot *, const struct render_fallback *fb,
	    int64_t now_ms, struct render_buf *b);
int	render_prom(const struct stats_snapshot *, struct render_buf *b);

#endif
