/* stresslib.h - what the stress scenarios need beyond the integration
 * harness: a load generator that remembers which connections broke, clients
 * bound to other loopback sources, and readings from /proc. */
#ifndef ECHOD_TESTS_STRESSLIB_H
#define ECHOD_TESTS_STRESSLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* ---- the scenario runner (stress.c) ------------------------------------- */

struct result {
	char	figure[600];	/* the scenario's measured line */
	char	why[600];	/* the first bar missed; empty if none */
	bool	skip;		/* why says why */
};

/* Records a missed bar (the first one wins); returns cond. */
bool	bar(struct result *, bool cond, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Timing and memory bars mean nothing under ASan: true there. */
bool	sl_sanitizers(void);

/* ---- load ---------------------------------------------------------------- */

#define SL_MAXLEN	2048
#define SL_BROKEN_MAX	4096

struct sl_client {
	int		 fd;
	int		 left;		/* exchanges before reconnecting */
	uint16_t	 lport;		/* our port, to know whose connection broke */
	size_t		 len, sent, got;
	unsigned char	 out[SL_MAXLEN], in[SL_MAXLEN];
};

struct sl_load {
	int		 family, port;
	uint32_t	 src;		/* IPv4 source (host order); 0: any */
	int		 n, exchanges;
	size_t		 maxlen;
	struct sl_client *c;
	struct pollfd	*pfd;
	uint64_t	 rng;
	/* what happened */
	uint64_t	 connects, exchanged, failed_connects, broken, corrupt;
	uint16_t	 broken_port[SL_BROKEN_MAX];	/* lport of each break */
	size_t		 n_broken_port;
};

void	sl_load_init(struct sl_load *, int family, int port, int nclients,
	    int exchanges, size_t maxlen);
/* Drives every client for ms milliseconds. */
void	sl_load_run(struct sl_load *, int ms);
void	sl_load_free(struct sl_load *);

/* ---- sockets ------------------------------------------------------------- */

/* A UDP socket bound to src:sport (0: any), non-blocking. */
int	sl_udp_from(uint32_t src, int sport);
int	sl_udp_send(int fd, int family, int port, const void *, size_t);
/* Sends buf; 1 if it came back, 0 if the server closed without echoing a
 * byte (a refusal), -1 on anything else (a partial echo, a timeout). */
int	sl_probe(int fd, const void *buf, size_t len, int timeout_ms);

/* ---- /proc --------------------------------------------------------------- */

int	sl_fd_count(pid_t);
/* The inodes of the sockets pid holds, at most max; 0 if unreadable. */
size_t	sl_socket_inodes(pid_t, unsigned long *out, size_t max);
/* Remote ports of the TCP sockets pid holds (the clients' own ports). */
size_t	sl_peer_ports(pid_t, uint16_t *out, size_t max);
/* The whole pool's figures: master and its workers. */
long	sl_pool_rss_kb(pid_t master);
int	sl_pool_fds(pid_t master);
uint64_t sl_pool_cpu_ms(pid_t master);
bool	sl_proc_exists(pid_t);		/* even as a zombie */

/* ---- echod --------------------------------------------------------------- */

/* Starts echod with stderr on a pipe the test drains at its own pace
 * (drain_bps bytes a second, 0: never after "ready").  Returns 0 or -1. */
struct sl_piped {
	struct echod	*e;
	int		 rfd;
	size_t		 drain_bps;
	uint64_t	 last_ms;
	size_t		 total;
};
int	sl_start_piped(struct sl_piped *, struct echod *, const char *const argv[],
	    size_t drain_bps, int timeout_ms);
void	sl_piped_drain(struct sl_piped *);	/* call often */

/* Counts needle's occurrences in the log. */
int	sl_log_count(struct echod *, const char *needle);
/* The log's last line, to say why echod did not start. */
const char *sl_log_tail(struct echod *);
/* h_start(), or a missed bar that quotes the log's last line. */
bool	sl_start(struct result *, struct echod *, const char *const argv[]);

#endif
