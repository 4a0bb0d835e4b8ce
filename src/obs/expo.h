/*
 * expo.h - what echod shows of itself, from one snapshot of its counters
 * (stats.h): the `echod --status` text, JSON for tools, and the Prometheus
 * text format.  Pure: the caller takes the snapshot (stats_read()).
 */
#ifndef ECHOD_EXPO_H
#define ECHOD_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats_snapshot;

/* A growing text buffer; an allocation failure sticks (oom) and is
 * reported by the renderers returning -1 (ENOMEM). */
struct expo_buf {
	char	*p;
	size_t	 len, cap;
	bool	 oom;
};

void	expo_buf_printf(struct expo_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	expo_buf_free(struct expo_buf *);

/* A start whose file was refused serves the stored configuration
 * (main.c): the file and why, as conf_read() said it.  Shown escaped:
 * both may hold any byte the file did. */
struct expo_fallback {
	const char	*file;
	const char	*reason;
};

/* Each appends to b; 0, or -1 with errno ENOMEM.  now_ms (CLOCK_REALTIME)
 * turns start times into ages (now_wall_ms(), util.h).  fb: NULL, or the
 * fallback the master serves with (the page's flag is not enough: the
 * reason is the master's own). */
int	expo_text(const struct stats_snapshot *, const struct expo_fallback *fb,
	    int64_t now_ms, struct expo_buf *b);
int	expo_json(const struct stats_snapshot *, const struct expo_fallback *fb,
	    int64_t now_ms, struct expo_buf *b);
int	expo_prom(const struct stats_snapshot *, struct expo_buf *b);

#endif
