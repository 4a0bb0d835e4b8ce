/*
 * ref-udp - the bench's UDP yardstick: the minimal datagram echo server
 * people write.  N prefork processes share the one bound socket, as
 * echod's workers share the one socket systemd passes; each blocks in
 * recvfrom() and answers with one sendto() per datagram.  No batching, no
 * limits, no logging.
 *
 * usage: ref-udp [-w workers] -l host:port
 * Prints "ref-udp[PID]: listening on udp ADDR" and "ready: N workers" to
 * stderr, as echod does; SIGTERM stops it.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXWORKERS	64

static volatile sig_atomic_t	quit;

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "ref-udp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
bind_on(const char *spec, char *name, size_t namelen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], h[NI_MAXHOST], s[NI_MAXSERV];
	const char *colon = strrchr(spec, ':');
	int fd;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
		fprintf(stderr, "ref-udp: %s: not host:port\n", spec);
		exit(64);
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "ref-udp: %s: cannot resolve\n", spec);
		exit(64);
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket");
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		die(spec);
	freeaddrinfo(ai);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), s, sizeof(s),
	    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(name, namelen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, s);
	return fd;
}

static void __attribute__((noreturn))
serve(int fd)
{
	static char buf[65536];
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t n;

	while (!quit) {
		fl = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n >= 0)
			(void)sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	exit(0);
}

int
main(int argc, char *argv[])
{
	/* No SA_RESTART: SIGTERM must end the blocking recvfrom(). */
	struct sigaction sa = { .sa_handler = on_term };
	pid_t kids[MAXWORKERS];
	const char *spec = NULL;
	char name[300];
	int ch, workers = 1, fd, i, status;

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
		fprintf(stderr, "usage: ref-udp [-w workers] -l host:port\n");
		return 64;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = bind_on(spec, name, sizeof(name));
	fprintf(stderr, "ref-udp[%d]: listening on udp %s\n", (int)getpid(), name);
	for (i = 0; i < workers; i++) {
		if ((kids[i] = fork()) == -1)
			die("fork");
		if (kids[i] == 0)
			serve(fd);
	}
	fprintf(stderr, "ref-udp[%d]: ready: %d workers\n", (int)getpid(), workers);
	while (!quit)
		pause();
	for (i = 0; i < workers; i++)
		kill(kids[i], SIGTERM);
	for (i = 0; i < workers; i++)
		waitpid(kids[i], &status, 0);
	return 0;
}
