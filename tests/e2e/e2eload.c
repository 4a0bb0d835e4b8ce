/* e2eload.c - the load the end-to-end test keeps on echod across reloads,
 * restarts and package upgrades: N TCP clients in continuous ping-pong,
 * each checking every byte that comes back, and a UDP prober at a fixed
 * rate.  Self-contained (libc only): e2e.sh runs it from the build tree in
 * the container's network namespace (nsenter -n).
 *
 * Every byte sent is part of a 16-byte record: a magic, the client's id, a
 * sequence number and 8 bytes derived from both.  A client sends a batch of
 * 1 to 4 records and waits for all of them before the next, so lost,
 * duplicated, reordered and corrupted bytes are told apart: a sequence
 * number past the one expected means the records between were lost; one
 * before it is a reordered byte if it was counted lost, else a duplicate;
 * a record that does not check out is corrupt.
 *
 * Driven by lines on stdin, answered on stdout:
 *   mark NAME      start a window: the figures count from here;
 *                  "marked NAME" says it has started
 *   end [SECONDS]  end the window (first waiting up to SECONDS for every
 *                  connection to close, when closes are expected) and,
 *                  after a 1 s grace for the last datagrams, print
 *                  "report NAME key=value ..."
 *   connect        (re)open every closed client; "connected N" once each
 *                  open one has echoed a batch, or after 15 s
 *   udp 0|1        pause or resume the prober (a datagram to a socket
 *                  unit would start a stopped service)
 *   quit           close everything and exit 0
 * The whole run is bounded by -T seconds: past it, exit status 2.
 * Usage: e2eload [-n CLIENTS] [-r DATAGRAMS_PER_S] [-p PORT] [-T SECONDS]
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REC		16
#define MAXBATCH	4
#define NLOST		16	/* lost ranges remembered per client */
#define ECHOING_MS	1000	/* "still echoing": a batch back this recently */
#define UDP_GRACE_MS	1000
#define UDP_LATE_MS	1000	/* what a prober would have given up on */
#define MAXCLIENTS	4096

enum cstate { C_CLOSED, C_CONNECTING, C_OPEN };
enum ckind { K_NONE, K_FIN, K_RST, K_ERR };

struct client {
	int		 fd;
	uint16_t	 id;
	enum cstate	 st;
	enum ckind	 how;		/* how it closed, in this window */
	bool		 in_window;	/* open when the window started */
	uint32_t	 next;		/* next sequence number to send */
	uint32_t	 expect;	/* next sequence number due back */
	unsigned char	 out[REC * MAXBATCH];
	size_t		 outlen, outoff;
	unsigned char	 part[REC];
	size_t		 partlen;
	uint64_t	 batch_at;	/* when the batch in flight was sent */
	uint64_t	 done_at;	/* when a batch last came back whole */
	uint32_t	 lost[NLOST][2];	/* [lo, hi) counted lost */
	int		 nlost;
	uint64_t	 maxwait;	/* longest wait for a batch, this window */
	uint64_t	 batches;	/* batches back, this window */
	bool		 v6;
};

struct fig {
	char	 name[256];
	uint64_t start, udp_first;	/* window start; first datagram in it */
	uint64_t end, udp_end;		/* window end; first datagram past it */
	uint64_t lost, dup, reord, corrupt, echoed;
	int	 open_at_start;
	uint64_t last_udp_reply, udp_gap;
	uint64_t udp_late;		/* answered, but after UDP_LATE_MS */
};

static struct client *cl;
static int nclients = 200, rate = 50, port = 7, limit_s = 600;
static int ep;
static int udp4 = -1, udp6 = -1;
static bool udp_on = true;
static uint64_t *udp_sent_at;	/* by datagram number; 0 = answered */
static uint64_t udp_next, udp_cap;
static struct fig w;
static bool in_window;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("e2eload: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The 8 bytes that make a record check out. */
static uint64_t
rec_fill(uint16_t id, uint32_t seq)
{
	uint64_t h = 1469598103934665603ULL ^ ((uint64_t)id << 32 | seq);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static void
rec_make(unsigned char *p, uint16_t id, uint32_t seq)
{
	uint64_t f = rec_fill(id, seq);

	p[0] = 0xe2;
	p[1] = 0x0d;
	memcpy(p + 2, &id, 2);
	memcpy(p + 4, &seq, 4);
	memcpy(p + 8, &f, 8);
}

static bool
rec_check(const unsigned char *p, uint16_t id, uint32_t *seq)
{
	uint64_t f;
	uint16_t i;

	memcpy(&i, p + 2, 2);
	memcpy(seq, p + 4, 4);
	memcpy(&f, p + 8, 8);
	return p[0] == 0xe2 && p[1] == 0x0d && i == id && f == rec_fill(id, *seq);
}

static void
sockaddr_for(bool v6, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
	}
}

static void
ep_set(int fd, uint32_t events, uint64_t tag, int op)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	if (epoll_ctl(ep, op, fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
}

static void
client_close(struct client *c, enum ckind how)
{
	close(c->fd);
	c->fd = -1;
	c->st = C_CLOSED;
	if (c->in_window && c->how == K_NONE)
		c->how = how;
}

static void
client_send(struct client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);

		if (n == -1 && errno == EAGAIN) {
			ep_set(c->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, c->id,
			    EPOLL_CTL_MOD);
			return;
		}
		if (n == -1) {
			client_close(c, errno == ECONNRESET ? K_RST : K_ERR);
			return;
		}
		c->outoff += (size_t)n;
	}
	ep_set(c->fd, EPOLLIN | EPOLLRDHUP, c->id, EPOLL_CTL_MOD);
}

/* The next batch: 1 to 4 records, so that batches end at varying offsets. */
static void
client_batch(struct client *c, uint64_t now)
{
	unsigned k = 1 + (c->next + c->id) % MAXBATCH, i;

	for (i = 0; i < k; i++)
		rec_make(c->out + i * REC, c->id, c->next++);
	c->outlen = k * REC;
	c->outoff = 0;
	c->batch_at = now;
	client_send(c);
}

static void
client_open(struct client *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	c->fd = socket(c->v6 ? AF_INET6 : AF_INET,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sockaddr_for(c->v6, &ss, &len);
	c->next = c->expect = 0;
	c->partlen = 0;
	c->nlost = 0;
	c->done_at = 0;
	c->in_window = false;
	c->how = K_NONE;
	if (connect(c->fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		c->st = C_CLOSED;
		return;
	}
	c->st = C_CONNECTING;
	ep_set(c->fd, EPOLLOUT | EPOLLIN | EPOLLRDHUP, c->id, EPOLL_CTL_ADD);
}

static bool
lost_take(struct client *c, uint32_t seq)
{
	int i;

	for (i = 0; i < c->nlost; i++)
		if (seq >= c->lost[i][0] && seq < c->lost[i][1]) {
			/* Only the count matters: shrink from the nearer end. */
			if (seq == c->lost[i][0])
				c->lost[i][0]++;
			else
				c->lost[i][1]--;
			return true;
		}
	return false;
}

static void
client_record(struct client *c, const unsigned char *p)
{
	uint32_t seq;

	if (!rec_check(p, c->id, &seq)) {
		w.corrupt += REC;
		return;
	}
	if (seq == c->expect) {
		c->expect++;
		w.echoed += REC;
	} else if (seq > c->expect) {
		w.lost += (uint64_t)(seq - c->expect) * REC;
		if (c->nlost == NLOST)
			c->nlost--;
		c->lost[c->nlost][0] = c->expect;
		c->lost[c->nlost][1] = seq;
		c->nlost++;
		c->expect = seq + 1;
	} else if (lost_take(c, seq)) {
		w.lost -= REC;
		w.reord += REC;
	} else {
		w.dup += REC;
	}
}

static void
client_read(struct client *c, uint64_t now)
{
	unsigned char buf[4096];
	ssize_t n;
	size_t i;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0) {
			client_close(c, K_FIN);
			return;
		}
		if (n == -1) {
			if (errno == EAGAIN)
				break;
			client_close(c, errno == ECONNRESET ? K_RST : K_ERR);
			return;
		}
		for (i = 0; i < (size_t)n; i++) {
			c->part[c->partlen++] = buf[i];
			if (c->partlen == REC) {
				client_record(c, c->part);
				c->partlen = 0;
			}
		}
	}
	/* Sent more than was asked for: only what is owed comes back. */
	if (c->expect >= c->next && c->partlen == 0 && c->outoff == c->outlen) {
		uint64_t wait = now - c->batch_at;

		if (wait > c->maxwait)
			c->maxwait = wait;
		c->batches++;
		c->done_at = now;
		client_batch(c, now);
	}
}

static void
client_event(struct client *c, uint32_t ev, uint64_t now)
{
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			client_close(c, K_ERR);
			return;
		}
		c->st = C_OPEN;
		client_batch(c, now);
		return;
	}
	if (ev & EPOLLOUT)
		client_send(c);
	if (c->st == C_OPEN && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		client_read(c, now);
}

static void
udp_open(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int i, *fd;

	for (i = 0; i < 2; i++) {
		fd = i ? &udp6 : &udp4;
		*fd = socket(i ? AF_INET6 : AF_INET,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (*fd == -1)
			die("socket: %s", strerror(errno));
		sockaddr_for(i, &ss, &len);
		if (connect(*fd, (struct sockaddr *)&ss, len) == -1)
			die("connect udp: %s", strerror(errno));
		ep_set(*fd, EPOLLIN, MAXCLIENTS + i, EPOLL_CTL_ADD);
	}
	udp_cap = (uint64_t)rate * (uint64_t)limit_s + 16;
	udp_sent_at = calloc(udp_cap, sizeof(*udp_sent_at));
	if (udp_sent_at == NULL)
		die("out of memory");
}

static void
udp_send(uint64_t now)
{
	unsigned char d[16] = "e2eload udp ";
	uint32_t seq;

	if (udp_next >= udp_cap)
		return;
	seq = (uint32_t)udp_next;
	memcpy(d + 12, &seq, 4);
	udp_sent_at[udp_next++] = now;
	/* A refused datagram (nothing listening) is simply unanswered. */
	(void)send(seq % 2 ? udp6 : udp4, d, sizeof(d), MSG_NOSIGNAL);
}

static void
udp_read(int fd, uint64_t now)
{
	unsigned char d[64];
	uint32_t seq;
	ssize_t n;

	while ((n = recv(fd, d, sizeof(d), 0)) != -1 || errno == ECONNREFUSED) {
		if (n != 16 || memcmp(d, "e2eload udp ", 12) != 0)
			continue;
		memcpy(&seq, d + 12, 4);
		if (seq >= udp_next || udp_sent_at[seq] == 0)
			continue;
		if (in_window && seq >= w.udp_first &&
		    (w.udp_end == 0 || seq < w.udp_end)) {
			w.udp_late += now - udp_sent_at[seq] > UDP_LATE_MS;
			if (now - w.last_udp_reply > w.udp_gap)
				w.udp_gap = now - w.last_udp_reply;
			w.last_udp_reply = now;
		}
		udp_sent_at[seq] = 0;
	}
}

static void
window_mark(const char *name, uint64_t now)
{
	int i;

	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "%s", name);
	w.start = w.last_udp_reply = now;
	w.udp_first = udp_next;
	for (i = 0; i < nclients; i++) {
		struct client *c = &cl[i];

		c->in_window = c->st == C_OPEN;
		c->how = K_NONE;
		c->maxwait = c->batches = 0;
		if (c->in_window)
			w.open_at_start++;
	}
	in_window = true;
	printf("marked %s\n", w.name);
}

static void
window_report(uint64_t now)
{
	int i, fin = 0, rst = 0, err = 0, stuck = 0, echoing = 0, open = 0;
	uint64_t maxwait = 0, minb = UINT64_MAX, udp_n = 0, udp_lost = 0, s;

	for (i = 0; i < nclients; i++) {
		struct client *c = &cl[i];

		if (!c->in_window)
			continue;
		fin += c->how == K_FIN;
		rst += c->how == K_RST;
		err += c->how == K_ERR;
		if (c->st != C_OPEN)
			continue;
		open++;
		if (c->expect < c->next && now - c->batch_at > maxwait)
			maxwait = now - c->batch_at;
		if (c->maxwait > maxwait)
			maxwait = c->maxwait;
		if (c->batches < minb)
			minb = c->batches;
		if (c->done_at + ECHOING_MS >= now)
			echoing++;
		else
			stuck++;
	}
	for (s = w.udp_first; s < w.udp_end; s++, udp_n++)
		udp_lost += udp_sent_at[s] != 0;
	/* Silence up to the window's end; a late answer has closed it. */
	if (w.end > w.last_udp_reply && w.end - w.last_udp_reply > w.udp_gap &&
	    udp_n > 0)
		w.udp_gap = w.end - w.last_udp_reply;
	printf("report %s clients=%d open=%d echoing=%d lost=%d fin=%d rst=%d "
	    "err=%d stuck=%d bytes_echoed=%llu bytes_lost=%llu bytes_dup=%llu "
	    "bytes_reordered=%llu bytes_corrupt=%llu min_batches=%llu "
	    "max_wait_ms=%llu udp_sent=%llu udp_unanswered=%llu "
	    "udp_late=%llu udp_gap_ms=%llu window_ms=%llu\n",
	    w.name, w.open_at_start, open, echoing,
	    w.open_at_start - echoing, fin, rst, err, stuck,
	    (unsigned long long)w.echoed, (unsigned long long)w.lost,
	    (unsigned long long)w.dup, (unsigned long long)w.reord,
	    (unsigned long long)w.corrupt,
	    (unsigned long long)(minb == UINT64_MAX ? 0 : minb),
	    (unsigned long long)maxwait, (unsigned long long)udp_n,
	    (unsigned long long)udp_lost, (unsigned long long)w.udp_late,
	    (unsigned long long)w.udp_gap,
	    (unsigned long long)(w.end - w.start));
	fflush(stdout);
	in_window = false;
}

static int
count(enum cstate st)
{
	int i, n = 0;

	for (i = 0; i < nclients; i++)
		n += cl[i].st == st;
	return n;
}

static int
count_echoed_since(uint64_t t)
{
	int i, n = 0;

	for (i = 0; i < nclients; i++)
		n += cl[i].st == C_OPEN && cl[i].done_at >= t;
	return n;
}

int
main(int argc, char **argv)
{
	char line[256], inbuf[1024];
	size_t inlen = 0;
	uint64_t t0, now, next_udp, end_wait = 0, end_at = 0, connect_until = 0;
	uint64_t connect_from = 0;
	int opt, i;

	while ((opt = getopt(argc, argv, "n:r:p:T:")) != -1) {
		switch (opt) {
		case 'n': nclients = atoi(optarg); break;
		case 'r': rate = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'T': limit_s = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: e2eload [-n CLIENTS] "
			    "[-r DATAGRAMS_PER_S] [-p PORT] [-T SECONDS]\n");
			return 1;
		}
	}
	if (nclients < 1 || nclients > MAXCLIENTS || rate < 1 || rate > 1000 ||
	    limit_s < 1)
		die("-n 1..%d, -r 1..1000, -T at least 1", MAXCLIENTS);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	ep_set(0, EPOLLIN, MAXCLIENTS + 2, EPOLL_CTL_ADD);
	if ((cl = calloc((size_t)nclients, sizeof(*cl))) == NULL)
		die("out of memory");
	for (i = 0; i < nclients; i++) {
		cl[i].id = (uint16_t)i;
		cl[i].fd = -1;
		cl[i].v6 = i % 2;
	}
	udp_open();
	t0 = now = next_udp = now_ms();

	for (;;) {
		struct epoll_event evs[256];
		int n, timeout;

		now = now_ms();
		if (now - t0 > (uint64_t)limit_s * 1000) {
			fprintf(stderr, "e2eload: -T %d s ran out\n", limit_s);
			return 2;
		}
		while (udp_on && now >= next_udp) {
			udp_send(now);
			next_udp += 1000 / (uint64_t)rate;
		}
		if (end_wait && (count(C_OPEN) + count(C_CONNECTING) == 0 ||
		    now >= end_wait)) {
			end_wait = 0;
			end_at = now + UDP_GRACE_MS;
			/* The grace is for answers: what is sent in it is not
			 * the window's. */
			w.end = now;
			w.udp_end = udp_next;
		}
		if (end_at && now >= end_at) {
			end_at = 0;
			window_report(now);
		}
		if (connect_until && (now >= connect_until ||
		    (count(C_CONNECTING) == 0 &&
		    count_echoed_since(connect_from) == count(C_OPEN)))) {
			connect_until = 0;
			printf("connected %d\n", count_echoed_since(connect_from));
		}
		timeout = udp_on ? (int)(next_udp > now ? next_udp - now : 0) : 100;
		if (timeout > 100)
			timeout = 100;
		n = epoll_wait(ep, evs, 256, timeout);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		now = now_ms();
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag < MAXCLIENTS) {
				if (cl[tag].st != C_CLOSED)
					client_event(&cl[tag], evs[i].events, now);
			} else if (tag < MAXCLIENTS + 2) {
				udp_read(tag == MAXCLIENTS ? udp4 : udp6, now);
			} else {
				ssize_t r = read(0, inbuf + inlen,
				    sizeof(inbuf) - 1 - inlen);
				char *nl;

				if (r <= 0)
					return r == 0 ? 0 : 1;
				inlen += (size_t)r;
				inbuf[inlen] = '\0';
				while ((nl = strchr(inbuf, '\n')) != NULL) {
					size_t l = (size_t)(nl - inbuf);
					int arg;

					snprintf(line, sizeof(line), "%.*s",
					    (int)l, inbuf);
					memmove(inbuf, nl + 1, inlen - l - 1);
					inlen -= l + 1;
					inbuf[inlen] = '\0';
					if (strncmp(line, "mark ", 5) == 0) {
						window_mark(line + 5, now);
					} else if (strncmp(line, "end", 3) == 0) {
						arg = atoi(line + 3);
						end_wait = now + (uint64_t)arg * 1000 + 1;
						if (arg == 0)
							end_wait = 1;
					} else if (strcmp(line, "connect") == 0) {
						for (int j = 0; j < nclients; j++)
							if (cl[j].st == C_CLOSED)
								client_open(&cl[j]);
						connect_from = now;
						connect_until = now + 15000;
					} else if (strncmp(line, "udp ", 4) == 0) {
						udp_on = atoi(line + 4) != 0;
						next_udp = now;
					} else if (strcmp(line, "quit") == 0) {
						for (int j = 0; j < nclients; j++)
							if (cl[j].fd != -1)
								close(cl[j].fd);
						return 0;
					} else {
						fprintf(stderr, "e2eload: what is "
						    "\"%s\"?\n", line);
					}
				}
				if (inlen == sizeof(inbuf) - 1)
					inlen = 0;
			}
		}
	}
}
