/* check_guard.c - who may talk, how much: allow/deny lists (and their
 * reload), max_connections_per_source across workers, the UDP rate limit. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static struct sockaddr_in
v4(const char *addr, int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, addr, &in.sin_addr);
	return in;
}

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
	struct sockaddr_in src = v4(from, 0), dst = v4("127.0.0.1", port);
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
	char text[512];

	snprintf(text, sizeof(text), "listen_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {\"127.0.0.1:0\"}\n%s", extra);
	h_write_conf(&e, text);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
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

/* The limit holds across workers: connections land on both. */
START_TEST(test_per_source_limit_pool_wide)
{
	enum { LIMIT = 6 };
	int fd[LIMIT + 1], other;

	start("workers = 2\nmax_connections_per_source = 6\n");
	for (int i = 0; i < LIMIT; i++) {
		fd[i] = connect_from("127.0.0.1", e.tcp4);
		ck_assert_msg(served(fd[i]) == 1, "connection %d refused", i);
	}
	fd[LIMIT] = connect_from("127.0.0.1", e.tcp4);
	ck_assert_int_eq(served(fd[LIMIT]), 0);
	ck_assert(h_wait_log(&e, "too many connections from this source", 2000));
	other = connect_from("127.0.0.3", e.tcp4);
	ck_assert_int_eq(served(other), 1);
	close(other);
	/* one leaves: room for one more */
	close(fd[0]);
	close(fd[LIMIT]);
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
	suite_add_tcase(s, tc);
	return s;
}
