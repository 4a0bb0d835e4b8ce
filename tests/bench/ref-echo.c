/*
 * ref-echo - the bench's yardstick: a minimal, single-purpose epoll echo
 * server.  N prefork processes share one listening socket (EPOLLEXCLUSIVE,
 * so one process wakes per connection), level-triggered epoll, read up to
 * 64 KiB and write it back; what the peer does not take yet is kept, and
 * the connection is not read again until it is gone.  No logging, no
 * limits, no timeouts: the least an echo server can do, done well.  64 KiB
 * is the read anyone would write here; it is not echod's buffer_size on
 * purpose, so that echod's choice of sizes is measured, not copied.
 *
 * usage: ref-echo [-w workers] -l host:port
 * Prints "ref-echo[PID]: listening on tcp ADDR" and "ready: N workers" to
 * stderr, as echod does; SIGTERM stops it.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RBUF		65536
#define MAXWORKERS	64

struct pending {
	char	*p;
	size_t	 len, off;
};

static volatile sig_atomic_t	quit;
static struct pending		*pend;	/* indexed by fd */
static size_t			 npend;

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "ref-echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
listen_on(const char *spec, char *name, size_t namelen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], h[NI_MAXHOST], s[NI_MAXSERV];
	const char *colon = strrchr(spec, ':');
	int fd, on = 1;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
		fprintf(stderr, "ref-echo: %s: not host:port\n", spec);
		exit(64);
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "ref-echo: %s: cannot resolve\n", spec);
		exit(64);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, 1024) == -1)
		die(spec);
	freeaddrinfo(ai);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), s, sizeof(s),
	    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(name, namelen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, s);
	return fd;
}

static void
drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	free(pend[fd].p);
	memset(&pend[fd], 0, sizeof(pend[fd]));
	close(fd);
}

static void
watch(int ep, int fd, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(ep, op, fd, &ev);
}

/* Writes what is pending on fd; 1 when all is gone, 0 if not, -1 on error. */
static int
flush(int fd)
{
	struct pending *q = &pend[fd];
	ssize_t n;

	while (q->off < q->len) {
		n = send(fd, q->p + q->off, q->len - q->off, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		q->off += (size_t)n;
	}
	free(q->p);
	q->p = NULL;
	q->len = q->off = 0;
	return 1;
}

static void
serve(int lfd)
{
	static char buf[RBUF];
	struct epoll_event ev[256];
	int ep, i, n, fd;
	ssize_t r, w;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll");
	watch(ep, lfd, EPOLLIN | EPOLLEXCLUSIVE, EPOLL_CTL_ADD);
	while (!quit) {
		n = epoll_wait(ep, ev, 256, -1);
		for (i = 0; i < n; i++) {
			fd = ev[i].data.fd;
			if (fd == lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					if ((size_t)fd >= npend) {
						fprintf(stderr, "ref-echo: fd %d beyond the table\n", fd);
						close(fd);
						continue;
					}
					watch(ep, fd, EPOLLIN, EPOLL_CTL_ADD);
				}
				continue;
			}
			if (pend[fd].len > 0) {
				r = flush(fd);
				if (r == -1)
					drop(ep, fd);
				else if (r == 1)
					watch(ep, fd, EPOLLIN, EPOLL_CTL_MOD);
				continue;
			}
			r = recv(fd, buf, sizeof(buf), 0);
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				drop(ep, fd);
				continue;
			}
			w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
			if (w == -1 && errno == EAGAIN)
				w = 0;
			if (w == -1) {
				drop(ep, fd);
				continue;
			}
			if (w < r) {
				/* Keep the rest; read no more until it is gone. */
				pend[fd].p = malloc((size_t)(r - w));
				if (pend[fd].p == NULL) {
					drop(ep, fd);
					continue;
				}
				memcpy(pend[fd].p, buf + w, (size_t)(r - w));
				pend[fd].len = (size_t)(r - w);
				watch(ep, fd, EPOLLOUT, EPOLL_CTL_MOD);
			}
		}
	}
	exit(0);
}

int
main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = on_term };
	struct rlimit rl;
	pid_t kids[MAXWORKERS];
	const char *spec = NULL;
	char name[300];
	int ch, workers = 1, lfd, i, status;

	while ((ch = getopt(argc, argv, "l:w:")) != -1) {
		switch (ch) {
		case 'l':
			spec = optarg;
			break;
		case 'w':
			workers = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (spec == NULL || workers < 1 || workers > MAXWORKERS) {
usage:
		fprintf(stderr, "usage: ref-echo [-w workers] -l host:port\n");
		return 64;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	npend = rl.rlim_cur > 1048576 ? 1048576 : (size_t)rl.rlim_cur;
	if ((pend = calloc(npend, sizeof(*pend))) == NULL)
		die("calloc");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(spec, name, sizeof(name));
	fprintf(stderr, "ref-echo[%d]: listening on tcp %s\n", (int)getpid(), name);
	for (i = 0; i < workers; i++) {
		if ((kids[i] = fork()) == -1)
			die("fork");
		if (kids[i] == 0)
			serve(lfd);
	}
	fprintf(stderr, "ref-echo[%d]: ready: %d workers\n", (int)getpid(), workers);
	while (!quit)
		pause();
	for (i = 0; i < workers; i++)
		kill(kids[i], SIGTERM);
	for (i = 0; i < workers; i++)
		waitpid(kids[i], &status, 0);
	return 0;
}
