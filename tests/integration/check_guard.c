/* check_guard.c - who may talk, how much: allow/deny lists (and their
 * reload), max_connections_per_source across workers, the UDP rate limit.
 * The UDP guard under load is in check_udpguard.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "stresslib.h"
#include "util.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

/* A TCP client from the source address `from`. */
static int
connect_from(const char *from, int port)
{
	struct in_addr a;
	int fd;

	ck_assert_int_eq(inet_pton(AF_INET, from, &a), 1);
	fd = h_connect_from(AF_INET, ntohl(a.s_addr), port, 2000);
	ck_assert_msg(fd != -1, "connect from %s: %s", from, strerror(errno));
	return fd;
}

/* Echoed (1), or closed without a byte back (0). */
static int
served(int fd)
{
	char c;

	if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
		return 0;
	ssize_t n = recv(fd, &c, 1, 0);
	ck_assert_msg(n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK),
	    "neither echoed nor closed within 2 s");
	return n == 1;
}

/* Datagrams from `from` that came back, out of count. */
static int
udp_answers(const char *from, int port, int count)
{
	struct sockaddr_in src = h_v4(from, 0), dst = h_v4("127.0.0.1", port);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), got = 0;
	char buf[16];

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	for (int i = 0; i < count; i++)
		sendto(fd, "ping", 4, 0, (struct sockaddr *)&dst, sizeof(dst));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 300) != 1)
			break;	/* quiet for 300 ms: everything that comes, came */
		if (recv(fd, buf, sizeof(buf), 0) == 4)
			got++;
	}
	close(fd);
	return got;
}

static void
start(const char *extra)
{
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){
	    .udp = "\"127.0.0.1:0\"", .extra = extra }), 0);
}

START_TEST(test_allow_deny_and_reload)
{
	int a, b;

	start("workers = 2\nallow = {\"127.0.0.1\", \"::1\"}\n");
	a = connect_from("127.0.0.1", e.tcp4);
	b = connect_from("127.0.0.2", e.tcp4);
	ck_assert_int_eq(served(a), 1);
	ck_assert_int_eq(served(b), 0);
	close(a);
	close(b);
	ck_assert(h_wait_log(&e, "tcp refused 127.0.0.2 port ", 2000));
	ck_assert_int_eq(udp_answers("127.0.0.1", e.udp4, 3), 3);
	ck_assert_int_eq(udp_answers("127.0.0.2", e.udp4, 3), 0);

	/* a reload turns the lists around (ports stay: same listen specs) */
	h_write_conf(&e, "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {\"127.0.0.1:0\"}\n"
	    "workers = 2\ndeny = {\"127.0.0.1/32\"}\n");
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "ready: 2 workers", 5000));
	a = connect_from("127.0.0.1", e.tcp4);
	b = connect_from("127.0.0.2", e.tcp4);
	ck_assert_int_eq(served(a), 0);
	ck_assert_int_eq(served(b), 1);
	close(a);
	close(b);
	ck_assert_int_eq(udp_answers("127.0.0.2", e.udp4, 3), 3);
	ck_assert_int_eq(udp_answers("127.0.0.1", e.udp4, 3), 0);
}
END_TEST

/* Stops pid and waits until it is stopped (state T), so that it cannot
 * take one more connection on its way. */
static void
stop_worker(pid_t pid)
{
	char path[64], buf[512], *p = NULL;
	uint64_t end = h_now_ms() + 2000;

	kill(pid, SIGSTOP);
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	do {
		FILE *f = fopen(path, "r");
		buf[0] = '\0';
		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) == NULL)
				buf[0] = '\0';
			fclose(f);
		}
		if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'T')
			return;
		h_tick();
	} while (h_now_ms() < end);
	ck_abort_msg("worker %ld did not stop: %s", (long)pid, buf);
}

/* How many of fds' connections pid holds (by their ports, from /proc). */
static int
held_by(pid_t pid, const int *fds, int n)
{
	uint16_t ports[256];
	size_t np = sl_peer_ports(pid, ports, 256);
	int held = 0;

	for (int i = 0; i < n; i++) {
		struct sockaddr_in in;
		socklen_t len = sizeof(in);
		ck_assert_int_eq(getsockname(fds[i], (struct sockaddr *)&in, &len), 0);
		for (size_t j = 0; j < np; j++)
			if (ports[j] == ntohs(in.sin_port)) {
				held++;
				break;
			}
	}
	return held;
}

/*
 * The limit holds across workers.  The spread is arranged, not hoped for:
 * while one worker is stopped the other takes every connection, so each
 * holds half of the source's; then each in turn, alone, refuses one more.
 */
START_TEST(test_per_source_limit_pool_wide)
{
	enum { LIMIT = 6, HALF = LIMIT / 2 };
	int fd[LIMIT + 1], other;
	pid_t w[4];

	start("workers = 2\nmax_connections_per_source = 6\n");
	ck_assert_int_eq(h_workers(e.pid, w, 4), 2);
	for (int k = 0; k < 2; k++) {
		stop_worker(w[k]);
		for (int i = k * HALF; i < (k + 1) * HALF; i++) {
			fd[i] = connect_from("127.0.0.1", e.tcp4);
			ck_assert_msg(served(fd[i]) == 1, "connection %d refused", i);
		}
		kill(w[k], SIGCONT);
	}
	ck_assert_int_eq(held_by(w[1], fd, HALF), HALF);
	ck_assert_int_eq(held_by(w[0], fd + HALF, HALF), HALF);
	for (int k = 0; k < 2; k++) {
		stop_worker(w[k]);
		fd[LIMIT] = connect_from("127.0.0.1", e.tcp4);
		ck_assert_msg(served(fd[LIMIT]) == 0, "worker %ld (holding %d) let a "
		    "%dth connection in", (long)w[1 - k], HALF, LIMIT + 1);
		close(fd[LIMIT]);
		kill(w[k], SIGCONT);
	}
	for (int k = 0; k < 2; k++)	/* one refusal logged per worker */
		ck_assert(h_wait_log(&e, "too many connections from this source", 2000));
	other = connect_from("127.0.0.3", e.tcp4);
	ck_assert_int_eq(served(other), 1);
	close(other);
	/* one leaves: room for one more */
	close(fd[0]);
	uint64_t end = h_now_ms() + 3000;
	int ok = 0;
	while (!ok && h_now_ms() < end) {
		fd[0] = connect_from("127.0.0.1", e.tcp4);
		ok = served(fd[0]);
		if (!ok)
			close(fd[0]);
	}
	ck_assert(ok);
	for (int i = 0; i < LIMIT; i++)
		close(fd[i]);
}
END_TEST

/* A worker killed with connections open does not leave them counted. */
START_TEST(test_dead_worker_forgotten)
{
	pid_t w[4];
	int a, b;

	start("workers = 1\nmax_connections_per_source = 2\n");
	a = connect_from("127.0.0.1", e.tcp4);
	b = connect_from("127.0.0.1", e.tcp4);
	ck_assert_int_eq(served(a), 1);
	ck_assert_int_eq(served(b), 1);
	ck_assert_int_eq(h_workers(e.pid, w, 4), 1);
	kill(w[0], SIGKILL);
	close(a);
	close(b);
	uint64_t end = h_now_ms() + 5000;
	int ok = 0;
	while (!ok && h_now_ms() < end) {
		a = connect_from("127.0.0.1", e.tcp4);
		b = connect_from("127.0.0.1", e.tcp4);
		ok = served(a) && served(b);
		close(a);
		close(b);
	}
	ck_assert_msg(ok, "the dead worker's connections still count");
}
END_TEST

/* linux/ipv6.h's, for SIOCSIFADDR on an AF_INET6 socket */
struct h_in6_ifreq {
	struct in6_addr	 addr;
	uint32_t	 prefixlen;
	int		 ifindex;
};

/*
 * A network namespace of the test's own, with lo up and addrs (in /64s)
 * on it: nothing outside the test sees them.  Returns the descriptor of
 * the namespace to go back to, or -1 with why filled (not root, no
 * namespaces).
 */
static int
private_lo(const char *const addrs[], size_t n, char *why, size_t whylen)
{
	int back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), s4, s6;
	struct ifreq ifr = { .ifr_name = "lo" };

	if (back == -1 || unshare(CLONE_NEWNET) == -1) {
		snprintf(why, whylen, "a network namespace of its own: %s",
		    strerror(errno));
		if (back != -1)
			close(back);
		return -1;
	}
	s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(ioctl(s4, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(s4, SIOCSIFFLAGS, &ifr), 0);
	for (size_t i = 0; i < n; i++) {
		struct h_in6_ifreq r = { .prefixlen = 64,
		    .ifindex = (int)if_nametoindex("lo") };
		ck_assert_int_eq(inet_pton(AF_INET6, addrs[i], &r.addr), 1);
		ck_assert_msg(ioctl(s6, SIOCSIFADDR, &r) == 0, "add %s to lo: %s",
		    addrs[i], strerror(errno));
	}
	close(s4);
	close(s6);
	return back;
}

/* A TCP client from the IPv6 source `from` to [::1]:port. */
static int
connect6_from(const char *from, int port)
{
	struct sockaddr_in6 src = { .sin6_family = AF_INET6 };
	struct sockaddr_storage dst;
	socklen_t len = h_loopback(AF_INET6, port, &dst);
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(inet_pton(AF_INET6, from, &src.sin6_addr), 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ck_assert_msg(bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0,
	    "bind %s: %s", from, strerror(errno));
	ck_assert_msg(connect(fd, (struct sockaddr *)&dst, len) == 0,
	    "connect from %s: %s", from, strerror(errno));
	return fd;
}

/*
 * source.h, echod.conf(5): IPv6 clients count by /64.  End to end, from
 * addresses of one /64 and of another, added to lo in a namespace the
 * test makes (root only: without it the test is a TAP SKIP).
 */
START_TEST(test_per_source_v6_by_64)
{
	static const char *const addrs[] = { "fd00:e0d::2", "fd00:e0d::3",
	    "fd00:e0d::4", "fd00:e0d:0:1::2" };
	char why[160];
	int fd[4], back;

	if ((back = private_lo(addrs, nitems(addrs), why, sizeof(why))) == -1) {
		skip_test("needs %s", why);
	}
	const struct h_conf hc = {
	    .extra = "listen_tcp = {\"[::1]:0\"}\nlisten_udp = {}\n"
	    "workers = 2\nmax_connections_per_source = 2\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	ck_assert_int_ne(e.tcp6, 0);
	/* two addresses of fd00:e0d::/64 fill its place; a third is refused.
	 * One after the other: two workers admit in parallel, so connections
	 * made at once could be admitted in any order. */
	fd[0] = connect6_from(addrs[0], e.tcp6);
	ck_assert_msg(served(fd[0]) == 1, "%s refused", addrs[0]);
	fd[1] = connect6_from(addrs[1], e.tcp6);
	ck_assert_msg(served(fd[1]) == 1, "%s refused", addrs[1]);
	fd[2] = connect6_from(addrs[2], e.tcp6);
	ck_assert_msg(served(fd[2]) == 0, "%s let in: a third of one /64", addrs[2]);
	ck_assert(h_wait_log(&e, "tcp refused fd00:e0d::4 port ", 2000));
	/* the next /64 is another source */
	fd[3] = connect6_from(addrs[3], e.tcp6);
	ck_assert_msg(served(fd[3]) == 1, "%s refused", addrs[3]);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	h_cleanup(&e);	/* echod, before the namespace is left behind */
	ck_assert_int_eq(setns(back, CLONE_NEWNET), 0);
	close(back);
}
END_TEST

START_TEST(test_udp_rate_limit)
{
	start("workers = 2\nudp_rate_limit = 5\nudp_rate_burst = 5\n");
	int got = udp_answers("127.0.0.1", e.udp4, 40);
	/* the burst, and perhaps a token or two refilled meanwhile */
	ck_assert_msg(got >= 5 && got <= 8, "%d of 40 answered", got);
	/* another source has its own bucket */
	ck_assert_int_eq(udp_answers("127.0.0.4", e.udp4, 5), 5);
}
END_TEST

START_TEST(test_udp_rate_limit_off)
{
	start("workers = 1\nudp_rate_limit = 0\nudp_rate_burst = 10\n");
	ck_assert_int_eq(udp_answers("127.0.0.1", e.udp4, 100), 100);	/* > the burst */
}
END_TEST

/* Issue 11 #16: past 1,024 distinct sources a worker stopped counting and
 * let the limit be bypassed.  Hold more than that open, then try a 4th. */
START_TEST(test_per_source_limit_many_sources)
{
	enum { SOURCES = 1100, LIMIT = 3 };
	static int fd[SOURCES];
	const int probe[] = { 0, SOURCES - 1 };
	struct rlimit rl;
	char from[32];

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	ck_assert_msg(rl.rlim_cur > SOURCES + 64, "descriptor limit %llu too low",
	    (unsigned long long)rl.rlim_cur);
	start("workers = 1\nmax_connections_per_source = 3\n");
	for (int i = 0; i < SOURCES; i++) {
		snprintf(from, sizeof(from), "127.1.%d.%d", i / 250, i % 250 + 1);
		fd[i] = connect_from(from, e.tcp4);
		ck_assert_msg(served(fd[i]) == 1, "source %d refused", i);
	}
	for (size_t p = 0; p < 2; p++) {
		int i = probe[p], more[LIMIT];

		snprintf(from, sizeof(from), "127.1.%d.%d", i / 250, i % 250 + 1);
		for (int j = 0; j < LIMIT - 1; j++) {
			more[j] = connect_from(from, e.tcp4);
			ck_assert_msg(served(more[j]) == 1, "source %d, connection %d",
			    i, j + 2);
		}
		more[LIMIT - 1] = connect_from(from, e.tcp4);
		ck_assert_msg(served(more[LIMIT - 1]) == 0,
		    "source %d (of %d held open): a 4th connection got through",
		    i + 1, SOURCES);
		for (int j = 0; j < LIMIT; j++)
			close(more[j]);
	}
	for (int i = 0; i < SOURCES; i++)
		close(fd[i]);
}
END_TEST

Suite *
guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guard");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_allow_deny_and_reload);
	tcase_add_test(tc, test_per_source_limit_pool_wide);
	tcase_add_test(tc, test_dead_worker_forgotten);
	tcase_add_test(tc, test_udp_rate_limit);
	tcase_add_test(tc, test_udp_rate_limit_off);
	tcase_add_test(tc, test_per_source_limit_many_sources);
	tcase_add_test(tc, test_per_source_v6_by_64);
	suite_add_tcase(s, tc);
	return s;
}
