/*
 * cluster-load - the cluster test's client: many echo sessions at once
 * through a balancer, each a few verified round trips with a pause between
 * them, one line per finished session, so that the test can tell which
 * sessions broke, which were refused, and when.
 *
 *   cluster-load [-c concurrent] [-d seconds] [-r rounds] [-i pause_ms]
 *                [-s size] [-L every:rounds] [-b addr[,addr...]] host port
 *
 * Each session connects (from the -b source addresses in turn), makes
 * `rounds` round trips of `size` bytes, pausing `pause_ms` between them,
 * checks every byte of every echo, and closes.  With -L, every `every`-th
 * session is long and makes `rounds` round trips instead.  New sessions
 * start for `seconds`; those running then finish their rounds.
 *
 * Output, one line per session (times in ms of CLOCK_REALTIME, which the
 * test's own `date +%s%3N` shares):
 *   S start end status rounds local-port kind
 * status: ok, refused (no echo ever came: connect failed, or the
 * connection ended before its first echo), broken (ended or failed after
 * an echo), corrupt (an echo differed), stalled (no echo within 5 s).
 * kind: short or long.  Exit status 0 unless the arguments were wrong.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUND_TIMEOUT_MS	5000
#define DRAIN_LIMIT_MS		60000	/* after -d: the longest wait for the rest */
#define MAX_SIZE		4096
#define MAX_SOURCES		16

enum phase { IDLE, CONNECTING, TALKING, PAUSED };

struct session {
	int		fd;
	enum phase	phase;
	uint64_t	id;
	bool		is_long;
	int		rounds, want;	/* done, to do */
	size_t		sent, got;	/* in this round */
	uint64_t	start_ms, due_ms;
	unsigned	port;
};

static int conc = 50, rounds = 5, pause_ms = 100, size = 64;
static int long_every, long_rounds;
static double seconds = 5;
static struct sockaddr_in dst;
static struct in_addr sources[MAX_SOURCES];
static int nsources;
static uint64_t next_id;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned char
pattern(const struct session *s, size_t i)
{
	return (unsigned char)(s->id * 131 + (uint64_t)s->rounds * 17 + i * 7);
}

static void
finish(int ep, struct session *s, const char *status)
{
	if (s->fd != -1) {
		epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	printf("S %llu %llu %s %d %u %s\n", (unsigned long long)s->start_ms,
	    (unsigned long long)now_ms(), status, s->rounds, s->port,
	    s->is_long ? "long" : "short");
	s->fd = -1;
	s->phase = IDLE;
}

/* Ended without an error from the socket: refused or broken by when. */
static const char *
cut(const struct session *s)
{
	return s->rounds == 0 && s->got == 0 ? "refused" : "broken";
}

static void
watch(int ep, struct session *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) == -1)
		epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void
begin(int ep, struct session *s)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->id = next_id++;
	s->is_long = long_every > 0 && s->id % (uint64_t)long_every == 0;
	s->want = s->is_long ? long_rounds : rounds;
	s->start_ms = now_ms();
	s->due_ms = s->start_ms + ROUND_TIMEOUT_MS;
	s->phase = CONNECTING;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		perror("socket");
		exit(1);
	}
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nsources > 0) {
		socklen_t len = sizeof(src);

		src.sin_addr = sources[s->id % (uint64_t)nsources];
		if (bind(s->fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			perror("bind");
			exit(1);
		}
		getsockname(s->fd, (struct sockaddr *)&src, &len);
	}
	if (connect(s->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		finish(ep, s, "refused");
		return;
	}
	watch(ep, s, EPOLLOUT);
}

static void
send_round(int ep, struct session *s)
{
	unsigned char buf[MAX_SIZE];
	ssize_t n;

	for (size_t i = s->sent; i < (size_t)size; i++)
		buf[i] = pattern(s, i);
	n = send(s->fd, buf + s->sent, (size_t)size - s->sent, MSG_NOSIGNAL);
	if (n == -1 && errno != EAGAIN) {
		finish(ep, s, cut(s));
		return;
	}
	if (n > 0)
		s->sent += (size_t)n;
	s->phase = TALKING;
	watch(ep, s, s->sent < (size_t)size ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void
on_event(int ep, struct session *s, uint32_t events)
{
	unsigned char buf[MAX_SIZE];
	ssize_t n;

	if (s->phase == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct sockaddr_in me;
		socklen_t mlen = sizeof(me);

		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			finish(ep, s, "refused");
			return;
		}
		if (getsockname(s->fd, (struct sockaddr *)&me, &mlen) == 0)
			s->port = ntohs(me.sin_port);
		s->due_ms = now_ms() + ROUND_TIMEOUT_MS;
		send_round(ep, s);
		return;
	}
	if (s->phase == PAUSED) {	/* nothing may come now */
		n = recv(s->fd, buf, sizeof(buf), 0);
		if (n == -1 && errno == EAGAIN)
			return;
		finish(ep, s, n > 0 ? "corrupt" : "broken");
		return;
	}
	if ((events & EPOLLOUT) && s->sent < (size_t)size) {
		send_round(ep, s);
		if (s->phase != TALKING)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(s->fd, buf, sizeof(buf), 0);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		finish(ep, s, cut(s));
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (s->got + (size_t)i >= s->sent ||
		    buf[i] != pattern(s, s->got + (size_t)i)) {
			finish(ep, s, "corrupt");
			return;
		}
	s->got += (size_t)n;
	if (s->got < (size_t)size)
		return;
	s->rounds++;
	s->sent = s->got = 0;
	if (s->rounds >= s->want) {
		finish(ep, s, "ok");
		return;
	}
	s->phase = PAUSED;
	s->due_ms = now_ms() + (uint64_t)pause_ms;
	watch(ep, s, EPOLLIN);	/* an EOF while paused is seen at once */
}

static void
usage(void)
{
	fprintf(stderr, "usage: cluster-load [-c n] [-d seconds] [-r rounds] "
	    "[-i pause_ms] [-s size] [-L every:rounds] [-b addr,...] host port\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct session *ss;
	uint64_t stop_ms, limit_ms;
	int ep, opt;

	while ((opt = getopt(argc, argv, "b:c:d:i:L:r:s:")) != -1) {
		switch (opt) {
		case 'b':
			for (char *t = strtok(optarg, ","); t != NULL;
			    t = strtok(NULL, ",")) {
				if (nsources == MAX_SOURCES ||
				    inet_pton(AF_INET, t, &sources[nsources]) != 1)
					usage();
				nsources++;
			}
			break;
		case 'c': conc = atoi(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'i': pause_ms = atoi(optarg); break;
		case 'L':
			if (sscanf(optarg, "%d:%d", &long_every, &long_rounds) != 2)
				usage();
			break;
		case 'r': rounds = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || conc < 1 || conc > 10000 || rounds < 1 ||
	    size < 1 || size > MAX_SIZE || pause_ms < 0 || seconds <= 0)
		usage();
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (ss = calloc((size_t)conc, sizeof(*ss))) == NULL) {
		perror("cluster-load");
		return 1;
	}
	stop_ms = now_ms() + (uint64_t)(seconds * 1000);
	limit_ms = stop_ms + DRAIN_LIMIT_MS;
	for (int i = 0; i < conc; i++)
		begin(ep, &ss[i]);
	for (;;) {
		uint64_t now = now_ms(), next = now + 1000;
		int busy = 0, n;

		for (int i = 0; i < conc; i++) {
			struct session *s = &ss[i];

			if (s->phase == IDLE && now < stop_ms)
				begin(ep, s);
			if (s->phase == IDLE)
				continue;
			busy++;
			if (now >= limit_ms) {
				finish(ep, s, "stalled");
				continue;
			}
			if (s->phase == PAUSED && now >= s->due_ms) {
				s->due_ms = now + ROUND_TIMEOUT_MS;
				send_round(ep, s);
			} else if (s->phase != PAUSED && now >= s->due_ms) {
				finish(ep, s, "stalled");
				continue;
			}
			if (s->phase != IDLE && s->due_ms < next)
				next = s->due_ms;
		}
		if (busy == 0 && now >= stop_ms)
			break;
		n = epoll_wait(ep, evs, 256, next > now ? (int)(next - now) : 0);
		for (int i = 0; i < n; i++)
			on_event(ep, evs[i].data.ptr, evs[i].events);
	}
	return 0;
}
