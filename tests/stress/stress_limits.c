/* stress_limits.c - resources: idle crowds, clients that never read,
 * running out of descriptors. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scenarios.h"

#define IDLE_CLIENTS	10000
#define IDLE_TIMEOUT_S	12

/* The worst of five newcomers' connect-and-echo times, in ms. */
static uint64_t
newcomer_ms(int port)
{
	uint64_t worst = 0;

	for (int i = 0; i < 5; i++) {
		uint64_t t0 = h_now_ms();
		int fd = h_connect(AF_INET, port, 2000);
		int ok = fd != -1 && h_echo(fd, "hello", 5, 2000) == 0;
		uint64_t ms = ok ? h_now_ms() - t0 : 99999;
		if (fd != -1)
			close(fd);
		worst = ms > worst ? ms : worst;
	}
	return worst;
}

/*
 * A non-blocking connect from 127.0.1.n: each source address has its own
 * ephemeral ports, and the scenarios before this one may have left tens of
 * thousands of 127.0.0.1's in TIME_WAIT.
 */
static int
connect_nb(int port, int n)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in src = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(0x7f000100u | (uint32_t)(1 + n % 200)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_IP, 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    (connect(fd, (struct sockaddr *)&in, sizeof(in)) == -1 &&
	    errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

void
sc_idle_flood(struct result *r)
{
	struct echod e;
	static int fd[IDLE_CLIENTS];
	static struct pollfd pfd[IDLE_CLIENTS];
	char conf[512];
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	int opened = 0, pool_fds0, pool_fds = 0, failed = 0, last_errno = 0;

	h_init(&e);
	snprintf(conf, sizeof(conf), "workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\nmax_connections = %d\nidle_timeout = %ds\n"
	    "log_connections = false\nbacklog = 4096\ntcp_rate_limit = 0\n",
	    IDLE_CLIENTS, IDLE_TIMEOUT_S);
	h_write_conf(&e, conf);
	if (!sl_start(r, &e, argv))
		goto out;
	for (uint64_t end = h_now_ms() + 2000; h_now_ms() < end; h_tick())
		if (h_workers(e.pid, (pid_t[2]){ 0 }, 2) == 2)
			break;
	/* the pool's own descriptors, before any client: counted after the
	 * newcomer below, its connection could still be open in echod and
	 * every later count would come out one short */
	pool_fds0 = sl_pool_fds(e.pid);
	(void)!newcomer_ms(e.tcp4);	/* let the workers touch their pages */
	long rss0 = sl_pool_rss_kb(e.pid);

	/* in batches the accept queue can hold, until echod holds them all */
	uint64_t t0 = h_now_ms();
	while (opened < IDLE_CLIENTS && h_now_ms() < t0 + 8000) {
		int batch = opened + 500 > IDLE_CLIENTS ? IDLE_CLIENTS - opened : 500;
		for (int i = 0; i < batch; i++) {
			if ((fd[opened] = connect_nb(e.tcp4, opened)) != -1)
				opened++;
			else {
				failed++;
				last_errno = errno;
			}
		}
		for (uint64_t end = h_now_ms() + 1000; h_now_ms() < end; h_tick())
			if ((pool_fds = sl_pool_fds(e.pid)) >= pool_fds0 + opened)
				break;
	}
	for (uint64_t end = h_now_ms() + 2000; h_now_ms() < end &&
	    (pool_fds = sl_pool_fds(e.pid)) < pool_fds0 + opened; h_tick())
		;
	uint64_t fill_ms = h_now_ms() - t0;
	long rss1 = sl_pool_rss_kb(e.pid);
	uint64_t answer_ms = newcomer_ms(e.tcp4);
	double per_conn = opened ? (double)(rss1 - rss0) * 1024.0 / opened : 0;
	bool all_held = pool_fds - pool_fds0 >= IDLE_CLIENTS;

	/* idle_timeout: every one of them sees its end */
	int closed = 0;
	for (int i = 0; i < opened; i++)
		pfd[i] = (struct pollfd){ .fd = fd[i], .events = POLLIN };
	uint64_t tend = t0 + (IDLE_TIMEOUT_S + 6) * 1000;
	while (closed < opened && h_now_ms() < tend) {
		if (poll(pfd, (nfds_t)opened, 100) <= 0)
			continue;
		for (int i = 0; i < opened; i++) {
			char b;
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			if (recv(pfd[i].fd, &b, 1, MSG_DONTWAIT) <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				closed++;
			}
		}
	}
	uint64_t closed_ms = h_now_ms() - t0;
	for (int i = 0; i < opened; i++)
		if (pfd[i].fd != -1)
			close(pfd[i].fd);
	snprintf(r->figure, sizeof(r->figure), "%d idle connections held in %llu ms, "
	    "a newcomer answered in %llu ms, %.0f bytes of RSS each "
	    "(pool %ld -> %ld KiB), idle_timeout=%ds closed %d of them by %.1f s",
	    pool_fds - pool_fds0, (unsigned long long)fill_ms,
	    (unsigned long long)answer_ms, per_conn, rss0, rss1, IDLE_TIMEOUT_S,
	    closed, closed_ms / 1000.0);
	bar(r, all_held, "echod holds only %d connections (%d opened; %d connects "
	    "failed, the last with %s)", pool_fds - pool_fds0, opened, failed,
	    failed ? strerror(last_errno) : "none");
	bar(r, answer_ms <= 100 || sl_sanitizers(), "a newcomer waited over 100 ms");
	bar(r, per_conn < 4096 || sl_sanitizers(), "4 KiB or more per idle connection");
	bar(r, closed == opened, "idle_timeout left %d open", opened - closed);
out:
	h_cleanup(&e);
}

#define SLOW_CLIENTS	200
#define SLOW_BUFFER	(16 * 1024)

void
sc_slow_readers(struct result *r)
{
	struct echod e;
	int fd[SLOW_CLIENTS], n = 0;
	char conf[512];
	static char junk[65536];
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	uint64_t pushed = 0, worst = 0;
	int served = 0, probes = 0;

	h_init(&e);
	snprintf(conf, sizeof(conf), "workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\nbuffer_size = %d\nlog_connections = false\n", SLOW_BUFFER);
	h_write_conf(&e, conf);
	if (!sl_start(r, &e, argv))
		goto out;
	(void)!newcomer_ms(e.tcp4);
	long rss0 = sl_pool_rss_kb(e.pid), rss_max = rss0;
	for (int i = 0; i < SLOW_CLIENTS; i++) {
		int s = h_connect(AF_INET, e.tcp4, 1000);
		if (s == -1)
			continue;
		fcntl(s, F_SETFL, O_NONBLOCK);
		fd[n++] = s;
	}
	h_random(junk, sizeof(junk));
	/* everyone pushes and nobody reads, for three seconds */
	for (uint64_t end = h_now_ms() + 3000; h_now_ms() < end; ) {
		for (int i = 0; i < n; i++) {
			ssize_t w = send(fd[i], junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				pushed += (uint64_t)w;
		}
		uint64_t ms = newcomer_ms(e.tcp4);
		probes++;
		served += ms < 99999;
		worst = ms > worst ? ms : worst;
		long rss = sl_pool_rss_kb(e.pid);
		rss_max = rss > rss_max ? rss : rss_max;
		usleep(50000);
	}
	long bound_kb = (long)SLOW_CLIENTS * SLOW_BUFFER / 1024 * 2 + 4096;
	snprintf(r->figure, sizeof(r->figure), "%d clients pushed %llu KiB without "
	    "reading; pool RSS %ld -> %ld KiB (bound %ld KiB: 2 x %d x "
	    "buffer_size + 4 MiB); %d/%d probe rounds served, worst %llu ms",
	    n, (unsigned long long)(pushed / 1024), rss0, rss_max, bound_kb,
	    SLOW_CLIENTS, served, probes, (unsigned long long)worst);
	bar(r, n == SLOW_CLIENTS, "only %d slow clients connected", n);
	bar(r, served == probes, "other clients went unserved");
	bar(r, rss_max - rss0 <= bound_kb || sl_sanitizers(), "memory beyond the buffers");
	bar(r, worst <= 500 || sl_sanitizers(), "other clients waited over 500 ms");
	for (int i = 0; i < n; i++)
		close(fd[i]);
out:
	h_cleanup(&e);
}

#define FD_LIMIT	64
#define FD_CLIENTS	200

void
sc_fd_exhaustion(struct result *r)
{
	struct echod e;
	int fd[FD_CLIENTS], n = 0;
	char echod[512], nofile[32];
	const char *real = getenv("ECHOD");
	const char *const argv[] = { nofile, "--", echod, "-f", "-w", "1", "-l",
	    "127.0.0.1:0", NULL };

	snprintf(echod, sizeof(echod), "%s", real ? real : "../src/echod");
	snprintf(nofile, sizeof(nofile), "--nofile=%d:%d", FD_LIMIT, FD_LIMIT);
	setenv("ECHOD", "/usr/bin/prlimit", 1);	/* prlimit execs echod: same pid */
	h_init(&e);
	int started = h_start(&e, argv, 10000);
	setenv("ECHOD", echod, 1);
	if (!bar(r, started == 0, "echod did not start under prlimit: %s",
	    sl_log_tail(&e)))
		goto out;
	for (int i = 0; i < FD_CLIENTS; i++)
		if ((fd[n] = connect_nb(e.tcp4, i)) != -1)
			n++;
	bool shed = h_wait_log(&e, "Too many open files; shedding", 3000);
	/* saturated: how hard does echod work at doing nothing? */
	uint64_t cpu0 = sl_pool_cpu_ms(e.pid), t0 = h_now_ms();
	while (h_now_ms() < t0 + 2000)
		h_tick();
	uint64_t cpu = sl_pool_cpu_ms(e.pid) - cpu0, wall = h_now_ms() - t0;
	int episodes = sl_log_count(&e, "shedding new connections");

	for (int i = 0; i < n; i++)
		close(fd[i]);
	uint64_t t1 = h_now_ms(), back_ms = 0;
	bool answered = false;
	while (!answered && h_now_ms() < t1 + 3000) {
		int s = h_connect(AF_INET, e.tcp4, 1000);
		answered = s != -1 && h_echo(s, "back", 4, 300) == 0;
		if (s != -1)
			close(s);
	}
	back_ms = h_now_ms() - t1;
	bool again = h_wait_log(&e, "descriptors available again", 2000);
	double pct = wall ? 100.0 * (double)cpu / (double)wall : 0;
	snprintf(r->figure, sizeof(r->figure), "nofile=%d, %d clients: %s, "
	    "echod CPU %.1f%% (%llu ms in %llu ms) while saturated, %d shedding "
	    "line(s); clients gone -> answering in %llu ms, recovery %s",
	    FD_LIMIT, n, shed ? "shedding logged" : "no shedding line", pct,
	    (unsigned long long)cpu, (unsigned long long)wall, episodes,
	    (unsigned long long)back_ms, again ? "logged" : "not logged");
	bar(r, shed, "no shedding line");
	bar(r, pct <= 10 || sl_sanitizers(), "echod spins while saturated");
	bar(r, episodes == 1, "%d shedding lines for one episode", episodes);
	bar(r, answered, "no recovery after the clients left");
	bar(r, again, "no recovery line");
out:
	h_cleanup(&e);
}
