/*
 * udp-load - the anycast test's client: datagrams from many source ports
 * to one service address, each answer checked and attributed to the host
 * that sent it, so that the test can tell spread, loss and moved flows.
 *
 *   udp-load [-n ports] [-d seconds] [-i interval_ms] [-t timeout_ms]
 *            -b source[,source...] host port
 *
 * Every interval_ms, each of the `ports` sockets (bound to the sources in
 * turn, each on its own ephemeral port) sends one datagram: a sequence number, its port
 * and padding.  An answer must hold the same bytes and come from host:port
 * (the service address); which host answered is told by the TTL (IPv4) or
 * hop limit (IPv6) it arrived with, since the test gives each host its own
 * default.  A datagram not answered within timeout_ms is lost.  SIGTERM
 * ends the sending before `seconds` are over.
 *
 * Output, one line per datagram (times in ms of CLOCK_REALTIME, which the
 * test's `date +%s%3N` shares):
 *   D sent-ms source local-port status ttl from
 * status: ok, lost, corrupt (other bytes) or wrongsrc (the right bytes
 * from another address); ttl and from are "-" when lost.
 * Exit status 0 unless the arguments or the sockets failed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS	1024
#define PAYLOAD		32
#define MAX_ROUNDS	100000
#define MAX_SOURCES	64

enum { PENDING, OK, LOST, CORRUPT, WRONGSRC };
static const char *const status_name[] = { "pending", "ok", "lost", "corrupt",
    "wrongsrc" };

struct dgram {
	uint64_t	sent_ms;
	uint8_t		status;
	int		ttl;
	char		from[INET6_ADDRSTRLEN];
};

struct port {
	int		fd;
	unsigned	port;
	const char	*source;
	struct dgram	*d;	/* one per round */
};

static struct port ports[MAX_PORTS];
static int nports = 300, interval_ms = 50, timeout_ms = 500, seconds = 5;
static struct sockaddr_storage dst;
static socklen_t dstlen;
static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
fill(uint8_t *buf, uint32_t round, uint32_t port)
{
	memcpy(buf, &round, 4);
	memcpy(buf + 4, &port, 4);
	for (int i = 8; i < PAYLOAD; i++)
		buf[i] = (uint8_t)(round * 31 + port + (unsigned)i);
}

/* The address's text, and whether it is the service address and port. */
static bool
same_as_dst(const struct sockaddr_storage *ss, char *text, size_t len)
{
	const void *a = ss->ss_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	inet_ntop(ss->ss_family, a, text, (socklen_t)len);
	if (ss->ss_family != dst.ss_family)
		return false;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)ss, *y = (const void *)&dst;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	const struct sockaddr_in *x = (const void *)ss, *y = (const void *)&dst;
	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static int
ttl_of(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v;
		}
	return -1;
}

/* Reads every answer waiting on p; rounds: how many have been sent. */
static void
receive(struct port *p, uint32_t rounds)
{
	uint8_t buf[PAYLOAD + 16], want[PAYLOAD];
	char cbuf[256];
	struct sockaddr_storage from;
	uint32_t round, port;

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		    .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			return;
		if (n < 8)
			continue;
		memcpy(&round, buf, 4);
		memcpy(&port, buf + 4, 4);
		if (round >= rounds || port != p->port ||
		    p->d[round].status != PENDING)
			continue;	/* late, or not ours: counted lost */
		struct dgram *d = &p->d[round];
		/* An answer later than timeout_ms is a loss, as a client sees it. */
		if (now_ms() > d->sent_ms + (uint64_t)timeout_ms) {
			d->status = LOST;
			continue;
		}
		fill(want, round, port);
		d->ttl = ttl_of(&mh);
		if (n != PAYLOAD || memcmp(buf, want, PAYLOAD) != 0)
			d->status = CORRUPT;
		else if (!same_as_dst(&from, d->from, sizeof(d->from)))
			d->status = WRONGSRC;
		else
			d->status = OK;
	}
}

static int
open_port(struct port *p, const char *source)
{
	struct sockaddr_storage ss = { .ss_family = dst.ss_family };
	socklen_t len = sizeof(ss);
	int on = 1, fd;

	if ((fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (dst.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (void *)&ss;
		if (inet_pton(AF_INET6, source, &s6->sin6_addr) != 1)
			goto bad;
		len = sizeof(*s6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on)) == -1)
			goto fail;
	} else {
		struct sockaddr_in *s4 = (void *)&ss;
		if (inet_pton(AF_INET, source, &s4->sin_addr) != 1)
			goto bad;
		len = sizeof(*s4);
		if (setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on)) == -1)
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		goto fail;
	p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);	/* same place in both */
	p->fd = fd;
	p->source = source;
	return 0;
bad:
	errno = EINVAL;
fail:
	close(fd);
	return -1;
}

static void
print(void)
{
	for (int i = 0; i < nports; i++)
		for (int r = 0; ports[i].d[r].sent_ms != 0; r++) {
			struct dgram *d = &ports[i].d[r];
			if (d->status == PENDING)
				d->status = LOST;
			if (d->status == LOST)
				printf("D %llu %s %u lost - -\n",
				    (unsigned long long)d->sent_ms, ports[i].source,
				    ports[i].port);
			else
				printf("D %llu %s %u %s %d %s\n",
				    (unsigned long long)d->sent_ms, ports[i].source,
				    ports[i].port,
				    status_name[d->status], d->ttl, d->from);
		}
}

/*
 * Sends a round every interval_ms for seconds, each port at its own
 * moment of the round (a burst of every port at once would measure the
 * receivers' buffers, not the routing), then waits timeout_ms.
 */
static void
run(void)
{
	static struct pollfd pfd[MAX_PORTS];
	uint64_t start = now_ms(), end = start + (uint64_t)seconds * 1000;
	uint64_t sent = 0, limit = (uint64_t)(MAX_ROUNDS - 1) * (uint64_t)nports;
	uint8_t buf[PAYLOAD];

	for (int i = 0; i < nports; i++)
		pfd[i] = (struct pollfd){ .fd = ports[i].fd, .events = POLLIN };
	for (;;) {
		uint64_t t = now_ms();
		if (stop && t < end)
			end = t;
		/* every datagram due by now: nports per interval_ms */
		uint64_t due = t < end ?
		    (t - start) * (uint64_t)nports / (uint64_t)interval_ms + 1 : 0;
		for (; sent < due && sent < limit; sent++) {
			struct port *p = &ports[sent % (uint64_t)nports];
			uint32_t round = (uint32_t)(sent / (uint64_t)nports);
			fill(buf, round, p->port);
			p->d[round].sent_ms = t;
			(void)sendto(p->fd, buf, PAYLOAD, MSG_DONTWAIT,
			    (struct sockaddr *)&dst, dstlen);
		}
		if (t >= end + (uint64_t)timeout_ms)
			break;
		(void)poll(pfd, (nfds_t)nports, 1);
		uint32_t rounds = (uint32_t)((sent + (uint64_t)nports - 1) / (uint64_t)nports);
		for (int i = 0; i < nports; i++)
			if (pfd[i].revents & POLLIN)
				receive(&ports[i], rounds);
	}
}

static int
usage(void)
{
	fprintf(stderr, "usage: udp-load [-n ports] [-d seconds] [-i interval_ms] "
	    "[-t timeout_ms] -b source[,source...] host port\n");
	return 64;
}

int
main(int argc, char **argv)
{
	char *source = NULL, *src[MAX_SOURCES];
	int ch, nsrc = 0;

	while ((ch = getopt(argc, argv, "b:d:i:n:t:")) != -1) {
		switch (ch) {
		case 'b': source = optarg; break;
		case 'd': seconds = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'n': nports = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		default: return usage();
		}
	}
	if (argc - optind != 2 || source == NULL || nports < 1 || nports > MAX_PORTS ||
	    seconds < 1 || interval_ms < 1 || timeout_ms < 1 ||
	    (uint64_t)seconds * 1000 / (uint64_t)interval_ms + 2 >= MAX_ROUNDS)
		return usage();
	struct sockaddr_in6 *d6 = (void *)&dst;
	struct sockaddr_in *d4 = (void *)&dst;
	int port = atoi(argv[optind + 1]);
	if (inet_pton(AF_INET6, argv[optind], &d6->sin6_addr) == 1) {
		d6->sin6_family = AF_INET6;
		d6->sin6_port = htons((uint16_t)port);
		dstlen = sizeof(*d6);
	} else if (inet_pton(AF_INET, argv[optind], &d4->sin_addr) == 1) {
		d4->sin_family = AF_INET;
		d4->sin_port = htons((uint16_t)port);
		dstlen = sizeof(*d4);
	} else
		return usage();
	for (char *t = strtok(source, ","); t && nsrc < MAX_SOURCES; t = strtok(NULL, ","))
		src[nsrc++] = t;
	if (nsrc == 0)
		return usage();
	signal(SIGTERM, on_term);
	size_t per = (size_t)seconds * 1000 / (size_t)interval_ms + 2;
	for (int i = 0; i < nports; i++) {
		if ((ports[i].d = calloc(per, sizeof(struct dgram))) == NULL ||
		    open_port(&ports[i], src[i % nsrc]) == -1) {
			fprintf(stderr, "udp-load: socket %d from %s: %s\n", i, src[i % nsrc],
			    strerror(errno));
			return 1;
		}
	}
	run();
	print();
	return fflush(stdout) == 0 ? 0 : 1;
}
