/* check_systemd.c - what echod tells systemd, read from a fake notify
 * socket, and socket activation through the real systemd-socket-activate. */
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;
static int nfd = -1;			/* our end of NOTIFY_SOCKET */
static char env_notify[160], env_wd[64];
static char *envp[8];

static void
setup(void)
{
	h_init(&e);
	nfd = h_notify_socket(&e, SOCK_CLOEXEC, env_notify, sizeof(env_notify));
	ck_assert_int_ne(nfd, -1);
	ck_assert_int_eq(setsockopt(nfd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 },
	    sizeof(int)), 0);
	envp[0] = env_notify;
	envp[1] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[2] = NULL;
	e.envp = envp;
}

static void
teardown(void)
{
	h_cleanup(&e);
	close(nfd);
}

static void
with_watchdog(unsigned long usec)
{
	snprintf(env_wd, sizeof(env_wd), "WATCHDOG_USEC=%lu", usec);
	envp[2] = env_wd;
	envp[3] = NULL;
}

/*
 * When the kernel took the last notification, on h_now_ms()'s clock: its
 * SO_TIMESTAMPNS stamp, not when this process got round to reading it - on
 * a loaded machine the test can be descheduled and then read a pause's
 * worth of WATCHDOG=1 at once, which would make the pause look shorter.
 */
static uint64_t msg_at_ms;

/* The next notification, or "" after timeout_ms. */
static const char *
next_msg(int timeout_ms)
{
	static char buf[4096];
	union {
		struct cmsghdr	hdr;
		char		space[CMSG_SPACE(sizeof(struct timespec))];
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = u.space, .msg_controllen = sizeof(u.space) };
	struct pollfd p = { .fd = nfd, .events = POLLIN };
	struct timespec rt;
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, timeout_ms) != 1 || (n = recvmsg(nfd, &msg, 0)) <= 0)
		return buf;
	buf[n] = '\0';
	msg_at_ms = h_now_ms();
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		struct timespec ts;
		uint64_t stamp, now;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		clock_gettime(CLOCK_REALTIME, &rt);
		stamp = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		now = (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000;
		if (now >= stamp && now - stamp < msg_at_ms)
			msg_at_ms -= now - stamp;
	}
	return buf;
}

/* Reads notifications until one contains want; false after timeout_ms. */
static bool
wait_msg(const char *want, int timeout_ms, char *got, size_t gotlen)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	while (h_now_ms() < end) {
		const char *m = next_msg((int)(end - h_now_ms()));
		if (strstr(m, want)) {
			if (got)
				snprintf(got, gotlen, "%s", m);
			return true;
		}
	}
	return false;
}

static void
start(const char *conf)
{
	h_start_conf(&e, &(struct h_conf){ .extra = conf, .nowait = true });
}

START_TEST(test_ready_after_port_answers)
{
	start("workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	ck_assert_msg(wait_msg("READY=1", 10000, NULL, 0), "no READY=1");
	/* at READY, the port answers at once */
	h_parse_ports(&e);
	int fd = h_connect(AF_INET, e.tcp4, 1000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "ready", 5, 1000), 0);
	close(fd);
	/* and every worker serves: the master said so in the log first */
	ck_assert(h_log_has(&e, "ready: 2 workers"));
	ck_assert(wait_msg("STATUS=2 workers, ", 7000, NULL, 0));

	/* echod(8): the status line counts open connections and bytes
	 * echoed.  After known traffic (5 bytes above, closed; one held
	 * open with 1000 more) the next lines, every 5 s, say so exactly. */
	static char big[1000];
	const char want[] = "STATUS=2 workers, 1 connection, 1005 bytes "
	    "echoed; 2 accepted, 0 datagrams, 0 refused, 0 dropped, 0 times full";
	char last[256] = "none";
	h_random(big, sizeof(big));
	fd = h_connect(AF_INET, e.tcp4, 1000);
	ck_assert_int_eq(h_echo(fd, big, sizeof(big), 2000), 0);
	bool seen = false;
	for (uint64_t end = h_now_ms() + 12000; !seen && h_now_ms() < end;) {
		const char *m = strstr(next_msg((int)(end - h_now_ms())), "STATUS=");
		if (m != NULL) {
			snprintf(last, sizeof(last), "%.*s", (int)strcspn(m, "\n"), m);
			seen = strcmp(last, want) == 0;
		}
	}
	ck_assert_msg(seen, "want \"%s\", last said \"%s\"", want, last);
	close(fd);
}
END_TEST

START_TEST(test_reload_and_stop)
{
	char got[4096];
	struct timespec ts;

	start("workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	ck_assert(wait_msg("READY=1", 10000, NULL, 0));
	kill(e.pid, SIGHUP);
	ck_assert(wait_msg("RELOADING=1", 5000, got, sizeof(got)));
	char *mono = strstr(got, "MONOTONIC_USEC=");
	ck_assert_ptr_nonnull(mono);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long now = (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000;
	unsigned long long at = strtoull(mono + 15, NULL, 10);
	ck_assert_msg(at <= now && now - at < 5000000, "MONOTONIC_USEC=%llu now %llu",
	    at, now);
	ck_assert(wait_msg("READY=1", 5000, NULL, 0));
	kill(e.pid, SIGTERM);
	ck_assert(wait_msg("STOPPING=1", 5000, NULL, 0));
	int st = h_wait_exit(e.pid, 5000);
	e.pid = -1;
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

/* A stop that drains connections asks systemd for more time. */
START_TEST(test_stop_extends_timeout)
{
	char got[4096];

	start("workers = 1\nshutdown_timeout = 3s\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n");
	ck_assert(wait_msg("READY=1", 10000, NULL, 0));
	h_parse_ports(&e);
	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(fd, "x", 1, 2000), 0);
	kill(e.pid, SIGTERM);
	ck_assert(wait_msg("STOPPING=1", 5000, NULL, 0));
	ck_assert(wait_msg("EXTEND_TIMEOUT_USEC=", 3000, got, sizeof(got)));
	unsigned long long usec = strtoull(strstr(got, "EXTEND_TIMEOUT_USEC=") + 20,
	    NULL, 10);
	/* at least what is left of the drain */
	ck_assert_msg(usec >= 3000000ULL && usec <= 20000000ULL, "%llu", usec);
	close(fd);
}
END_TEST

START_TEST(test_bad_reload_says_ready_again)
{
	start("workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	ck_assert(wait_msg("READY=1", 10000, NULL, 0));
	h_write_conf(&e, "workers = none\n");
	kill(e.pid, SIGHUP);
	ck_assert(wait_msg("RELOADING=1", 5000, NULL, 0));
	ck_assert(wait_msg("READY=1", 5000, NULL, 0));
	ck_assert(h_log_has(&e, "reload failed"));
}
END_TEST

/* Timestamps of WATCHDOG=1 over a stretch of time. */
static int
watchdogs(uint64_t *at, int max, int for_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)for_ms;
	int n = 0;

	while (h_now_ms() < end && n < max) {
		const char *m = next_msg((int)(end - h_now_ms()));
		if (strstr(m, "WATCHDOG=1"))
			at[n++] = msg_at_ms;
	}
	return n;
}

START_TEST(test_watchdog_cadence)
{
	uint64_t at[32];

	skip_unless_timing();
	with_watchdog(1000000);
	start("workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	ck_assert(wait_msg("READY=1", 10000, NULL, 0));
	int n = watchdogs(at, 32, 3000);
	/* every half interval: about 6 in 3 s */
	ck_assert_msg(n >= 4 && n <= 8, "%d WATCHDOG=1 in 3 s", n);
	for (int i = 1; i < n; i++)
		ck_assert_msg(at[i] - at[i - 1] <= 800, "gap of %llu ms",
		    (unsigned long long)(at[i] - at[i - 1]));
}
END_TEST

/*
 * A stopped worker: WATCHDOG=1 pauses while its heartbeat is stale, the
 * worker is replaced within worker_timeout plus a second, and WATCHDOG=1
 * resumes.
 */
START_TEST(test_hung_worker_replaced)
{
	pid_t w[4], now[4];
	uint64_t at[64], t0;

	with_watchdog(1000000);
	/*
	 * worker_timeout 4 s: its heartbeat is stale from 2 s (half of it)
	 * and the worker is killed at 4 s, so the pings pause for about 2 s,
	 * four of their 500 ms periods: a pause no load mistakes for jitter.
	 */
	start("workers = 1\nworker_timeout = 4s\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n");
	ck_assert(wait_msg("READY=1", 10000, NULL, 0));
	ck_assert_int_eq(h_workers(e.pid, w, 4), 1);
	kill(w[0], SIGSTOP);
	t0 = h_now_ms();
	int n = watchdogs(at, 64, 7000);
	/* replaced: a new pid, within worker_timeout + 1 s */
	ck_assert(h_wait_log(&e, "hung: no heartbeat", 1));
	int k = h_workers(e.pid, now, 4);
	ck_assert_int_eq(k, 1);
	ck_assert_int_ne(now[0], w[0]);
	ck_assert(h_log_has(&e, "killed by signal"));
	/* a pause of at least a second in the pings, then pings again */
	uint64_t longest = 0, last = t0;
	for (int i = 0; i < n; i++) {
		if (at[i] - last > longest)
			longest = at[i] - last;
		last = at[i];
	}
	ck_assert_msg(longest >= 1200, "WATCHDOG=1 never paused (longest gap %llu ms)",
	    (unsigned long long)longest);
	ck_assert_msg(n > 0 && at[n - 1] > t0 + 5000, "WATCHDOG=1 did not resume");
	int fd = h_connect(AF_INET, e.tcp4, 1000);
	h_parse_ports(&e);
	if (fd == -1)
		fd = h_connect(AF_INET, e.tcp4, 1000);
	ck_assert_int_eq(h_echo(fd, "alive", 5, 2000), 0);
	close(fd);
}
END_TEST

/* Workers that cannot stay up: the master stops sending WATCHDOG=1. */
START_TEST(test_watchdog_stops_when_unhealthy)
{
	pid_t w[4];
	uint64_t at[16];

	with_watchdog(1000000);
	start("workers = 2\nworker_timeout = 1h\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n");
	ck_assert(wait_msg("READY=1", 10000, NULL, 0));
	ck_assert_int_eq(h_workers(e.pid, w, 4), 2);
	kill(w[0], SIGSTOP);
	kill(w[1], SIGSTOP);
	/* heartbeats go stale within a few seconds; then silence */
	(void)watchdogs(at, 16, 4000);
	ck_assert_int_eq(watchdogs(at, 16, 2000), 0);
	kill(w[0], SIGCONT);
	kill(w[1], SIGCONT);
	ck_assert_int_gt(watchdogs(at, 16, 2000), 0);
}
END_TEST

/* Runs systemd-socket-activate with argv; returns once it listens. */
static void
activated(const char *const argv[])
{
	uint64_t end = h_now_ms() + 5000;

	e.wrapper = "systemd-socket-activate";
	h_spawn(&e, argv);
	while (!h_log_has(&e, "Listening on") && h_now_ms() < end)
		h_tick();
}

/* TCP through the real systemd-socket-activate: started by the first
 * connection, which waits in the backlog and is served. */
START_TEST(test_socket_activation_tcp)
{
	int port = h_free_port();
	char spec[64];

	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	const char *const argv[] = { "-l", spec, "-E", env_notify, "--",
	    h_echod_path(), "-f", "-w", "2", "-l", "127.0.0.2:7", NULL };
	activated(argv);
	int fd = h_connect(AF_INET, port, 5000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "activated", 9, 10000), 0);
	ck_assert(h_log_has(&e, "using 1 socket passed by systemd; listen_tcp and "
	    "listen_udp are ignored"));
	ck_assert(h_log_lacks(&e, "listening on tcp 127.0.0.2"));	/* -l not bound */
	ck_assert(wait_msg("READY=1", 5000, NULL, 0));

	/* a reload keeps the passed socket */
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 5000));
	int fd2 = h_connect(AF_INET, port, 2000);
	ck_assert_int_ne(fd2, -1);
	ck_assert_int_eq(h_echo(fd2, "kept", 4, 5000), 0);
	close(fd2);
	close(fd);
}
END_TEST

/* TCP and UDP together: two nested runs, told apart by kind, not order. */
START_TEST(test_socket_activation_tcp_and_udp)
{
	int port = h_free_port();
	char spec[64];
	static char dgram[65507];

	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	const char *const argv[] = { "-l", spec, "-E", env_notify, "--",
	    "systemd-socket-activate", "--datagram", "-l", spec, "-E", env_notify, "--",
	    h_echod_path(), "-f", "-w", "1", NULL };
	activated(argv);
	int fd = h_connect(AF_INET, port, 5000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "tcp", 3, 10000), 0);
	ck_assert(h_wait_log(&e, "using 2 sockets passed by systemd", 5000));
	ck_assert(h_log_has(&e, "listening on tcp 127.0.0.1:"));
	ck_assert(h_log_has(&e, "listening on udp 127.0.0.1:"));
	h_random(dgram, sizeof(dgram));
	ck_assert_int_eq(h_udp_echo(AF_INET, port, dgram, 1, 2000), 1);
	ck_assert_int_eq(h_udp_echo(AF_INET, port, dgram, sizeof(dgram), 2000),
	    (ssize_t)sizeof(dgram));
	close(fd);
}
END_TEST

START_TEST(test_socket_activation_wrong_kind)
{
	char path[160];
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	snprintf(path, sizeof(path), "%s/seq.sock", e.dir);
	const char *const argv[] = { "--seqpacket", "-l", path, "--",
	    h_echod_path(), "-f", "-w", "1", NULL };
	activated(argv);
	strcpy(un.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	int st = h_wait_exit(e.pid, 5000);
	e.pid = -1;
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	ck_assert(h_log_has(&e, "from systemd: neither a listening stream socket nor "
	    "a datagram socket"));
	close(fd);
}
END_TEST

Suite *
systemd_suite(void)
{
	Suite *s = suite_create("systemd");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ready_after_port_answers);
	tcase_add_test(tc, test_reload_and_stop);
	tcase_add_test(tc, test_bad_reload_says_ready_again);
	tcase_add_test(tc, test_stop_extends_timeout);
	tcase_add_test(tc, test_watchdog_cadence);
	tcase_add_test(tc, test_hung_worker_replaced);
	tcase_add_test(tc, test_watchdog_stops_when_unhealthy);
	suite_add_tcase(s, tc);
	tc = tcase_create("activation");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_socket_activation_tcp);
	tcase_add_test(tc, test_socket_activation_tcp_and_udp);
	tcase_add_test(tc, test_socket_activation_wrong_kind);
	suite_add_tcase(s, tc);
	return s;
}
