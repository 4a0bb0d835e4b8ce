/* check_pressure.c - the accept path under pressure: max_connections and
 * descriptor exhaustion pause accepting without spinning, and echod serves
 * again once clients leave. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "stresslib.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

/* Does fd get an echo within timeout_ms?  (1 yes, 0 no, -1 closed.) */
static int
answers(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (send(fd, "?", 1, MSG_NOSIGNAL) != 1)
		return -1;
	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	return recv(fd, &c, 1, 0) == 1 ? 1 : -1;
}

START_TEST(test_max_connections)
{
	enum { MAX = 10, EXTRA = 5 };
	int fd[MAX + EXTRA];
	long cpu0, cpu1;
	uint64_t t0;

	const struct h_conf hc = {
	    .extra = "workers = 1\nmax_connections = 10\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	for (int i = 0; i < MAX; i++) {
		fd[i] = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_eq(answers(fd[i], 2000), 1);
	}
	/* the kernel completes these, but echod does not take them yet */
	for (int i = MAX; i < MAX + EXTRA; i++)
		ck_assert_int_ne(fd[i] = h_connect(AF_INET, e.tcp4, 2000), -1);
	for (int i = MAX; i < MAX + EXTRA; i++)
		ck_assert_int_eq(answers(fd[i], 100), 0);

	/* saturated, with clients waiting, it must not spin */
	cpu0 = (long)sl_pool_cpu_ms(e.pid);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 1000)
		h_tick();
	cpu1 = (long)sl_pool_cpu_ms(e.pid);
	ck_assert_msg(cpu1 - cpu0 < 100, "echod used %ld ms of CPU in 1 s while full",
	    cpu1 - cpu0);
	ck_assert_int_eq(answers(fd[0], 2000), 1);	/* still serving its own */

	/* slots free up: the waiting clients are served, in turn */
	for (int i = 0; i < EXTRA; i++)
		close(fd[i]);
	for (int i = MAX; i < MAX + EXTRA; i++)
		ck_assert_msg(answers(fd[i], 2000) == 1, "queued client %d not served", i);
	for (int i = EXTRA; i < MAX + EXTRA; i++)
		close(fd[i]);
}
END_TEST

/*
 * With fewer descriptors than clients: the excess is shed (closed), the
 * episode is logged once, echod does not spin, and it serves again once
 * clients leave.
 */
START_TEST(test_descriptor_exhaustion)
{
	enum { N = 120 };
	int fd[N], served = 0, shed = 0;
	long cpu0, cpu1;
	uint64_t t0;

	e.nofile = 64;
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){
	    .udp = "\"127.0.0.1:0\"", .workers = 1 }), 0);
	for (int i = 0; i < N; i++) {
		fd[i] = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_ne(fd[i], -1);
		int r = answers(fd[i], 300);
		served += r == 1;
		shed += r == -1;
	}
	ck_assert_int_gt(served, 30);
	ck_assert_int_lt(served, 64);
	ck_assert_int_gt(shed, 0);
	ck_assert(h_wait_log(&e, "Too many open files; shedding new connections", 2000));

	/* saturated, offered more: no spinning */
	cpu0 = (long)sl_pool_cpu_ms(e.pid);
	t0 = h_now_ms();
	int extra[20];
	for (int i = 0; i < 20; i++)
		extra[i] = h_connect(AF_INET, e.tcp4, 1000);
	while (h_now_ms() - t0 < 1000)
		h_tick();
	cpu1 = (long)sl_pool_cpu_ms(e.pid);
	ck_assert_msg(cpu1 - cpu0 < 100, "echod used %ld ms of CPU in 1 s while "
	    "out of descriptors", cpu1 - cpu0);
	for (int i = 0; i < 20; i++)
		if (extra[i] != -1)
			close(extra[i]);

	/* clients leave: echod recovers */
	for (int i = 0; i < N; i++)
		close(fd[i]);
	uint64_t end = h_now_ms() + 5000;
	int ok = 0;
	while (!ok && h_now_ms() < end) {
		int c = h_connect(AF_INET, e.tcp4, 1000);
		if (c != -1) {
			ok = answers(c, 500) == 1;
			close(c);
		}
	}
	ck_assert_msg(ok, "not serving after the clients left");
	ck_assert(h_wait_log(&e, "descriptors available again", 2000));
	/* one episode, one warning: counted over the whole log, the episode
	 * (the 120 clients and the 20 more) included, not only past its end */
	int warned = sl_log_count(&e, "Too many open files");
	int ended = sl_log_count(&e, "descriptors available again");
	ck_assert_msg(warned == 1 && ended == 1, "one episode logged %d warnings "
	    "and %d ends", warned, ended);
}
END_TEST

Suite *
pressure_suite(void)
{
	Suite *s = suite_create("pressure");
	TCase *tc = tcase_create("pressure");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_max_connections);
	tcase_add_test(tc, test_descriptor_exhaustion);
	suite_add_tcase(s, tc);
	return s;
}
