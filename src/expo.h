/*
 * expo.h - what echod shows of itself: a snapshot of the counters and the
 * workers, and its three renderings (the `echod --status` text, JSON for
 * tools, the Prometheus text format).  The renderers are pure; where the
 * numbers come from is expo_fill_*()'s business (the shared page, the
 * master's slot table).
 */
#ifndef ECHOD_EXPO_H
#define ECHOD_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chan_page;
struct pool;

/* Label values, in the order of the arrays below (echod(8) lists them). */
enum { EXPO_CLOSE_EOF, EXPO_CLOSE_IDLE, EXPO_CLOSE_ERROR, EXPO_CLOSE_DRAINED,
	EXPO_NCLOSE };
enum { EXPO_PROTO_TCP, EXPO_PROTO_UDP, EXPO_NPROTO };
enum { EXPO_REFUSE_DENY, EXPO_REFUSE_PER_SOURCE, EXPO_REFUSE_MAX_CONNECTIONS,
	EXPO_REFUSE_DESCRIPTORS, EXPO_NREFUSE };
enum { EXPO_DROP_LOOP, EXPO_DROP_RATE, EXPO_DROP_DENY, EXPO_NDROP };
enum { EXPO_WSTATE_STARTING, EXPO_WSTATE_SERVING, EXPO_WSTATE_DRAINING,
	EXPO_NWSTATE };
enum { EXPO_EXIT_CRASH, EXPO_EXIT_KILLED, EXPO_EXIT_EXITED, EXPO_NEXIT };
enum { EXPO_RELOAD_OK, EXPO_RELOAD_FAILED, EXPO_NRELOAD };

extern const char *const expo_close_names[EXPO_NCLOSE];
extern const char *const expo_proto_names[EXPO_NPROTO];
extern const char *const expo_refuse_names[EXPO_NREFUSE];
extern const char *const expo_drop_names[EXPO_NDROP];
extern const char *const expo_wstate_names[EXPO_NWSTATE];
extern const char *const expo_exit_names[EXPO_NEXIT];
extern const char *const expo_reload_names[EXPO_NRELOAD];

struct expo_worker {
	int		 slot;
	long		 pid;		/* 0: not known to the reader */
	unsigned	 generation;	/* 0: not known to the reader */
	int		 state;		/* EXPO_WSTATE_* */
	uint64_t	 open, accepted, bytes;
	uint64_t	 heartbeat_age_ms;
};

struct expo_snap {
	unsigned	 generation;	/* 0: not known to the reader */
	uint64_t	 accepted, open;
	uint64_t	 closed[EXPO_NCLOSE];
	uint64_t	 bytes[EXPO_NPROTO];
	uint64_t	 datagrams;
	uint64_t	 refused[EXPO_NREFUSE];
	uint64_t	 dropped[EXPO_NDROP];
	uint64_t	 workers[EXPO_NWSTATE];
	uint64_t	 exits[EXPO_NEXIT];
	uint64_t	 reloads[EXPO_NRELOAD];
	size_t		 n;		/* workers in w */
	struct expo_worker *w;		/* room for CHAN_MAX_SLOTS */
};

/* A growing text buffer; an allocation failure sticks (oom) and is
 * reported once, by expo_*() returning -1. */
struct expo_buf {
	char	*p;
	size_t	 len, cap;
	bool	 oom;
};

/* w sized for every slot; -1 with errno (ENOMEM). */
int	expo_snap_init(struct expo_snap *);
void	expo_snap_free(struct expo_snap *);
/* What any process mapping the page (read-only will do) can see. */
void	expo_fill_page(struct expo_snap *, const struct chan_page *, uint64_t now_ms);
/* The master's view: the page plus its slot table (pids, generations,
 * states, and the bytes of workers now dead). */
void	expo_fill_pool(struct expo_snap *, const struct pool *, unsigned generation,
	    uint64_t now_ms);

/* Each appends to b; 0, or -1 (ENOMEM). */
int	expo_text(const struct expo_snap *, struct expo_buf *b);
int	expo_json(const struct expo_snap *, struct expo_buf *b);
int	expo_prom(const struct expo_snap *, const char *version, struct expo_buf *b);

void	expo_buf_printf(struct expo_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	expo_buf_free(struct expo_buf *);

#endif
