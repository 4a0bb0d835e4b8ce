/*
 * bad-echo - an echo server that is wrong on purpose, so that the tests
 * can show echo-client noticing.  One connection at a time.
 *
 * usage: bad-echo [-u] -m flip|short|reset|silent|hold|deaf|flood [-o offset]
 *   flip    echoes, with the byte at offset inverted
 *   short   echoes the first offset bytes, then closes cleanly
 *   reset   echoes the first offset bytes, then resets the connection
 *   silent  reads and never answers (TCP and UDP)
 *   hold    echoes everything, but never closes, not even after the
 *           client's end of input
 *   deaf    accepts, then never reads and never closes
 *   flood   accepts, then sends without end (and reads nothing)
 *   drop    (UDP) answers all but every offset-th datagram (default 2)
 * With -u, flip inverts the byte at offset of each datagram.
 * Prints "bad-echo[PID]: listening on tcp|udp 127.0.0.1:PORT" to stderr;
 * SIGTERM ends it.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
xwrite(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
serve(int fd, const char *mode, unsigned long long at)
{
	char buf[65536];
	unsigned long long off = 0;
	ssize_t n, i;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		if (strcmp(mode, "silent") == 0)
			continue;
		if (strcmp(mode, "flip") == 0) {
			for (i = 0; i < n; i++)
				if (off + (unsigned long long)i == at)
					buf[i] = (char)~buf[i];
		} else if ((strcmp(mode, "short") == 0 || strcmp(mode, "reset") == 0) &&
		    off + (unsigned long long)n > at) {
			/* short, reset: what is due before offset, then the end. */
			xwrite(fd, buf, (size_t)(at - off));
			if (strcmp(mode, "reset") == 0) {
				struct linger l = { 1, 0 };
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
				return;
			}
			/* A clean end: FIN, and the rest read, so no RST. */
			shutdown(fd, SHUT_WR);
			while (recv(fd, buf, sizeof(buf), 0) > 0)
				;
			return;
		}
		if (xwrite(fd, buf, (size_t)n) == -1)
			return;
		off += (unsigned long long)n;
	}
}

/* One datagram: ignored, dropped, altered or echoed as mode says. */
static int
serve_dgram(int fd, const char *mode, unsigned long long at)
{
	static unsigned long long count;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char buf[65536];
	ssize_t n;

	if ((n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss,
	    &sl)) == -1)
		return -1;
	count++;
	if (strcmp(mode, "silent") == 0 ||
	    (strcmp(mode, "drop") == 0 && count % (at ? at : 2) == 0))
		return 0;
	if (strcmp(mode, "flip") == 0 && (unsigned long long)n > at)
		buf[at] = (char)~buf[at];
	sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&ss, sl);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	const char *mode = NULL;
	unsigned long long at = 0;
	int ch, udp = 0, lfd, fd;
	char buf[65536];

	while ((ch = getopt(argc, argv, "m:o:u")) != -1) {
		switch (ch) {
		case 'm':
			mode = optarg;
			break;
		case 'o':
			at = strtoull(optarg, NULL, 10);
			break;
		case 'u':
			udp = 1;
			break;
		default:
			return 64;
		}
	}
	if (mode == NULL)
		return 64;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (!udp && listen(lfd, 16) == -1) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1) {
		perror("bad-echo");
		return 1;
	}
	fprintf(stderr, "bad-echo[%d]: listening on %s 127.0.0.1:%u\n",
	    (int)getpid(), udp ? "udp" : "tcp", ntohs(sin.sin_port));
	for (;;) {
		if (udp) {
			if (serve_dgram(lfd, mode, at) == -1)
				return 1;
			continue;
		}
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			return 1;
		/* Deaf leaves the data in the kernel, where it piles up. */
		if (strcmp(mode, "deaf") == 0)
			continue;
		if (strcmp(mode, "flood") == 0) {
			memset(buf, 'x', sizeof(buf));
			while (xwrite(fd, buf, sizeof(buf)) == 0)
				;
			close(fd);
			continue;
		}
		serve(fd, mode, at);
		/* These never close either: the client must time out. */
		if (strcmp(mode, "silent") != 0 && strcmp(mode, "hold") != 0)
			close(fd);
	}
}
