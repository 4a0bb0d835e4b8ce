/* check_handoff_timing.c - the handoff against time (issue 21): reloads
 * faster than workers start, a balancer's connection caught inside its
 * PROXY header, and the idle clock of adopted connections.  Beside
 * check_handoff.c, which is long enough. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define CONF_BASE "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" \
	"log_connections = false\n"

static struct echod e;

static void setup(void) { h_init(&e); srandom((unsigned)h_now_ms()); }
static void teardown(void) { h_cleanup(&e); }

static void
start(const char *conf)
{
	h_write_conf(&e, conf);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
}

/* Waits until the master has exactly want workers (the old ones gone). */
static bool
workers_become(int want, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	pid_t w[256];

	while (h_now_ms() < end) {
		if (h_workers(e.pid, w, 256) == want)
			return true;
		h_tick();
	}
	return false;
}

#define NIDLE	200
#define NHUP	40

/*
 * Reloads a few milliseconds apart, faster than a generation starts: each
 * batch finds the newest generation not ready yet.  None of it may cut a
 * connection (echod(8)): every one still echoes once the reloads are done,
 * well past shutdown_timeout.
 */
START_TEST(test_reload_burst_cuts_nothing)
{
	static int fd[NIDLE];
	int cut = 0, first = -1;

	start("workers = 2\nshutdown_timeout = 1s\nidle_timeout = 5m\n"
	    CONF_BASE);
	for (int i = 0; i < NIDLE; i++) {
		fd[i] = h_connect(AF_INET, e.tcp4, 3000);
		ck_assert_msg(fd[i] != -1, "connect %d: %s", i, strerror(errno));
		ck_assert_int_eq(h_echo(fd[i], "hi", 2, 3000), 0);
	}
	for (int r = 0; r < NHUP; r++) {
		kill(e.pid, SIGHUP);
		poll(NULL, 0, (int)(random() % 4));	/* 0-3 ms apart */
	}
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	ck_assert_msg(workers_become(2, 30000), "old generations still there");
	for (int i = 0; i < NIDLE; i++) {
		if (h_echo(fd[i], "still here", 10, 3000) != 0) {
			cut++;
			first = first == -1 ? i : first;
		}
		close(fd[i]);
	}
	ck_assert_msg(cut == 0, "%d of %d connections cut by %d reloads (first: "
	    "%d); see %s", cut, NIDLE, NHUP, first, e.logpath);
	ck_assert(!h_log_has(&e, "handoff refused"));
}
END_TEST

Suite *
handoff_timing_suite(void)
{
	Suite *s = suite_create("handoff-timing");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reload_burst_cuts_nothing);
	suite_add_tcase(s, tc);
	return s;
}
