/*
 * reqsrv.h - a server of one request per connection that never blocks its
 * caller's loop: the control socket (master) and the metrics listener (the
 * metrics process) are both one.  Bounded everywhere: at most max_clients
 * at once (the rest are closed as soon as they are accepted), a request of
 * at most max_request bytes, each byte looked at once, timeout_ms from
 * accept to the last byte of the reply, at most a fixed number of accepts
 * per turn, and nothing read after the request: once the reply is written
 * the connection is closed.  Out of descriptors, the listeners rest.
 */
#ifndef ECHOD_REQSRV_H
#define ECHOD_REQSRV_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "render.h"

#define REQSRV_MAX_LISTENERS	16
#define REQSRV_ACCEPTS_PER_TURN	256
/* After EMFILE (or ENFILE, ENOBUFS, ENOMEM) the listeners stay readable:
 * they are left out of the poll set this long, then tried again. */
#define REQSRV_REST_MS		1000
/* complete() is shown the new bytes and this many before them: enough for
 * a terminator of up to REQSRV_LOOKBACK + 1 bytes ("\r\n\r\n"). */
#define REQSRV_LOOKBACK		3

struct reqsrv_client;

struct reqsrv {
	int		 lfd[REQSRV_MAX_LISTENERS];	/* not owned */
	size_t		 nl;
	int		 max_clients;
	size_t		 max_request;
	uint64_t	 timeout_ms;
	/* How much of buf is a whole request: > 0 its length, 0 not yet.
	 * buf starts REQSRV_LOOKBACK bytes before the bytes not shown yet,
	 * or at the request's start; the length counts from buf. */
	size_t		(*complete)(const char *buf, size_t len);
	/* Appends the reply to req (len bytes, NUL-terminated) to out. */
	void		(*reply)(void *arg, const char *req, size_t len,
			    struct render_buf *out);
	void		*arg;
	/* Optional: hears that accept() failed for want of resources (err,
	 * once per spell) and that it works again (0), for the caller to log. */
	void		(*starved)(void *arg, int err, uint64_t rests);
	struct reqsrv_client *c;			/* max_clients */
	uint64_t	 rest_until_ms;	/* 0: the listeners are polled */
	bool		 starving;	/* since the last accept that worked */
	uint64_t	 spell;		/* rests since then */
	/* what it did, for the tests and the log */
	uint64_t	 served, turned_away, timed_out, too_big, rests;
};

/* Sets up o's client table; 0 or -1 (ENOMEM).  The caller fills the rest
 * before or after. */
int	reqsrv_init(struct reqsrv *o, int max_clients);
/* Closes every client (not the listeners) and frees the table. */
void	reqsrv_free(struct reqsrv *o);
/* Forgets the listeners (the caller closes them); clients stay. */
void	reqsrv_set_listeners(struct reqsrv *o, const int *fds, size_t n);
/* Fills up to max pollfds: listeners (unless resting), then clients.
 * Returns how many. */
size_t	reqsrv_pollfds(const struct reqsrv *o, struct pollfd *pfd, size_t max);
/* Milliseconds to the next client deadline or the end of a rest (-1:
 * none), for poll(). */
int	reqsrv_next_timeout(const struct reqsrv *o, uint64_t now_ms);
/* One turn: accepts, reads, replies, expires.  Never blocks. */
void	reqsrv_run(struct reqsrv *o, uint64_t now_ms);
/* Clients being served now. */
int	reqsrv_busy(const struct reqsrv *o);

#endif
