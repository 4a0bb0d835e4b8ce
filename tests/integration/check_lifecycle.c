/* check_lifecycle.c - supervision and stopping, with the real binary:
 * workers replaced, no orphans, graceful stops.  Start-ups that fail are
 * in check_startfail.c, signals from the workers' user in
 * check_sentsignals.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

/* The start's descriptor limit line says what the number bounds, and
 * (soft = hard here) that it was not raised. */
START_TEST(test_descriptor_limit_says_what_it_bounds)
{
	char want[200];
	long n;

	e.nofile = 4000;
	ck_assert_msg(h_start_pidfile(&e, 1, false) == 0,
	    "echod did not start; see %s", e.logpath);
	/* 4000, or a little less under valgrind, which keeps some for itself */
	n = h_log_last(&e, "descriptor limit: ");
	ck_assert_msg(n > 3900 && n <= 4000, "limit %ld; see %s", n, e.logpath);
	snprintf(want, sizeof(want), "descriptor limit: %ld open files per "
	    "process (RLIMIT_NOFILE): a worker holds at most about %ld "
	    "connections, whatever max_connections says", n, n);
	ck_assert_msg(h_log_has(&e, want), "see %s", e.logpath);
}
END_TEST

START_TEST(test_worker_killed_is_replaced)
{
	pid_t before[8], after[8];
	uint64_t end;
	int n, m = 0;

	ck_assert_msg(h_start_pidfile(&e, 2, false) == 0,
	    "echod did not start; see %s", e.logpath);
	ck_assert_int_eq(h_workers(e.pid, before, 8), 2);
	kill(before[0], SIGKILL);
	/* a new pid joins the table, the old one leaves */
	end = h_now_ms() + 5000;
	do {
		n = h_workers(e.pid, after, 8);
		m = 0;
		for (int i = 0; i < n; i++)
			m += !h_contains_pid(before, 2, after[i]);
	} while ((n != 2 || m != 1 || h_contains_pid(after, n, before[0])) &&
	    h_now_ms() < end);
	ck_assert_msg(n == 2 && m == 1, "no replacement (%d workers, %d new)", n, m);
	ck_assert(h_wait_log(&e, "killed by signal 9", 2000));

	for (int i = 0; i < 20; i++) {
		int fd = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(h_echo(fd, "again", 5, 2000), 0);
		close(fd);
	}
}
END_TEST

START_TEST(test_master_killed_leaves_no_worker)
{
	pid_t w[8];
	uint64_t end;
	int n, alive;

	ck_assert_msg(h_start_pidfile(&e, 2, false) == 0,
	    "echod did not start; see %s", e.logpath);
	n = h_workers(e.pid, w, 8);
	ck_assert_int_eq(n, 2);
	kill(e.pid, SIGKILL);
	ck_assert_int_ne(h_wait_exit(e.pid, 2000), -1);
	e.pid = -1;
	end = h_now_ms() + 1000;
	do {
		alive = 0;
		for (int i = 0; i < n; i++)
			alive += h_pid_alive(w[i]);
	} while (alive > 0 && h_now_ms() < end);
	ck_assert_msg(alive == 0, "%d workers outlived the master by 1 s", alive);
	/* and nobody holds the port any more */
	ck_assert_int_eq(h_connect(AF_INET, e.tcp4, 1000), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
}
END_TEST

/* A stop lets an open connection finish, refuses new ones, exits 0. */
static void
graceful(int sig, bool group)
{
	int fd, st;
	uint64_t end;

	ck_assert_msg(h_start_pidfile(&e, 2, group) == 0,
	    "echod did not start; see %s", e.logpath);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(fd, "before", 6, 2000), 0);
	kill(group ? -e.pid : e.pid, sig);
	ck_assert(h_wait_log(&e, "stopping gracefully", 5000));
	/* new connections are refused once the listeners are closed */
	end = h_now_ms() + 3000;
	int refused = 0;
	while (!refused && h_now_ms() < end) {
		int c = h_connect(AF_INET, e.tcp4, 500);
		if (c == -1)
			refused = 1;
		else
			close(c);
	}
	ck_assert_msg(refused, "still accepting after the stop signal");
	/* the open one is still served */
	ck_assert_int_eq(h_echo(fd, "after the signal", 16, 2000), 0);
	ck_assert(h_pid_alive(e.pid));
	close(fd);
	st = h_wait_exit(e.pid, 5000);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "exit status 0x%x", st);
	e.pid = -1;
	ck_assert(h_log_lacks(&e, "killed by signal"));
	ck_assert_int_eq(access(e.pidfile, F_OK), -1);	/* removed */
}

START_TEST(test_sigterm_graceful) { graceful(SIGTERM, false); }
END_TEST
START_TEST(test_sigint_to_group_graceful) { graceful(SIGINT, true); }
END_TEST

/*
 * The same stop with a shutdown timeout far beyond any wait here: nothing
 * but the last connection's close can end it.  The waits are generous (this
 * one holds under memcheck, where the two above are left out), and the log
 * tells a stop that waited for the timeout.
 */
START_TEST(test_stop_ends_with_the_last_connection)
{
	int fd, st;

	const struct h_conf hc = {
	    .extra = "shutdown_timeout = 120s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n",
	    .timeout_ms = 30000 };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	fd = h_connect(AF_INET, e.tcp4, 10000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "before", 6, 10000), 0);
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "stopping gracefully", 30000));
	ck_assert_int_eq(h_echo(fd, "after the signal", 16, 10000), 0);
	ck_assert(h_pid_alive(e.pid));
	close(fd);
	st = h_wait_exit(e.pid, 60000);
	ck_assert_msg(st != -1, "still running 60 s after the last close");
	e.pid = -1;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status 0x%x",
	    st);
	ck_assert(h_log_lacks(&e, "shutdown timeout"));
	ck_assert(h_log_lacks(&e, "killed by signal"));
}
END_TEST

/*
 * stop_delay: a SIGTERM first only fails the balancer's health checks; new
 * connections are still accepted and served until the delay is over (here
 * far beyond any wait, so only the second SIGTERM can end it), and a second
 * SIGTERM begins the drain at once.
 */
START_TEST(test_stop_delay_keeps_accepting)
{
	int old, late, st;

	const struct h_conf hc = {
	    .extra = "stop_delay = 10m\nshutdown_timeout = 120s\n"
	    "workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n",
	    .timeout_ms = 30000 };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	old = h_connect(AF_INET, e.tcp4, 10000);
	ck_assert_int_ne(old, -1);
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "failing health checks", 30000));
	for (int i = 0; i < 20; i++) {	/* both workers still accept */
		late = h_connect(AF_INET, e.tcp4, 10000);
		ck_assert_int_ne(late, -1);
		ck_assert_int_eq(h_echo(late, "in the delay", 12, 10000), 0);
		close(late);
	}
	ck_assert_int_eq(h_echo(old, "old one too", 11, 10000), 0);
	ck_assert(h_log_lacks(&e, "stopping gracefully"));
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "stopping gracefully", 30000));
	ck_assert_int_eq(h_echo(old, "draining", 8, 10000), 0);
	close(old);
	st = h_wait_exit(e.pid, 60000);
	ck_assert_msg(st != -1, "still running 60 s after the last close");
	e.pid = -1;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status 0x%x",
	    st);
}
END_TEST

/* When the delay is over, the stop goes on by itself, as a graceful one. */
START_TEST(test_stop_delay_then_drains)
{
	int st;

	const struct h_conf hc = {
	    .extra = "stop_delay = 1s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n",
	    .timeout_ms = 30000 };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "failing health checks", 30000));
	ck_assert(h_wait_log(&e, "stopping gracefully", 30000));
	st = h_wait_exit(e.pid, 60000);
	ck_assert_msg(st != -1, "still running 60 s after the delay");
	e.pid = -1;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status 0x%x",
	    st);
}
END_TEST

START_TEST(test_sigquit_immediate)
{
	int fd, st;
	char c;

	ck_assert_msg(h_start_pidfile(&e, 1, false) == 0,
	    "echod did not start; see %s", e.logpath);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(fd, "x", 1, 2000), 0);
	st = h_stop(&e, SIGQUIT, 3000);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "0x%x", st);
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);	/* cut */
	close(fd);
}
END_TEST

/* Ctrl-C twice: the second one does not wait for the connections. */
START_TEST(test_second_sigint_quits)
{
	int fd, st;
	char c;

	ck_assert_msg(h_start_pidfile(&e, 1, false) == 0,
	    "echod did not start; see %s", e.logpath);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(fd, "x", 1, 2000), 0);
	kill(e.pid, SIGINT);
	ck_assert(h_wait_log(&e, "stopping gracefully", 5000));
	ck_assert_int_eq(h_echo(fd, "still", 5, 2000), 0);
	uint64_t t0 = h_now_ms();
	kill(e.pid, SIGINT);
	st = h_wait_exit(e.pid, 3000);
	e.pid = -1;
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "0x%x", st);
	/* shutdown_timeout is 10 s */
	timing_assert(h_now_ms() - t0 < 2000, "quit after %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	ck_assert(h_log_has(&e, "quitting"));
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);	/* cut */
	close(fd);
}
END_TEST

START_TEST(test_shutdown_timeout_bounds_the_stop)
{
	int fd, st;
	uint64_t t0;

	const struct h_conf hc = {
	    .extra = "shutdown_timeout = 1s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(fd, "x", 1, 2000), 0);
	t0 = h_now_ms();
	st = h_stop(&e, SIGTERM, 6000);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "0x%x", st);
	ck_assert_uint_ge(h_now_ms() - t0, 900);
	ck_assert(h_log_has(&e, "shutdown timeout"));
	close(fd);
}
END_TEST

/*
 * At shutdown_timeout a client that sends without reading (so echod holds
 * its next bytes unread) gets its echo and then end of file: the connection
 * is shut down for writing, not closed with data unread, which resets it
 * and throws away what was on its way.  Once the client closes, echod is
 * done at once, not at the end of its grace.
 */
START_TEST(test_stop_deadline_shuts_down_not_resets)
{
	static char out[1 << 16], in[1 << 16];
	size_t sent = 0, got = 0;
	int fd, st, flags;
	ssize_t n;
	uint64_t t0, end;

	const struct h_conf hc = {
	    .extra = "shutdown_timeout = 1s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_ne(fd, -1);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 251);
	/* send until both directions are full: echod stops reading */
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	end = h_now_ms() + 5000;
	for (int full = 0; full < 20 && h_now_ms() < end; ) {
		n = send(fd, out + sent % sizeof(out), sizeof(out) - sent % sizeof(out),
		    MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			full = 0;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		full++;
		h_tick();
	}
	ck_assert_uint_gt(sent, 0);
	fcntl(fd, F_SETFL, flags);
	t0 = h_now_ms();
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "shut down for writing", 5000));
	/* everything that comes back is the stream's prefix, then EOF */
	for (;;) {
		struct timeval tv = { .tv_sec = 5 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(fd, in, sizeof(in), 0);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++, got++)
			if (in[i] != out[got % sizeof(out)])
				ck_abort_msg("byte %zu differs", got);
	}
	ck_assert_msg(n == 0, "not end of file after %zu of %zu bytes: %s", got,
	    sent, n == -1 ? strerror(errno) : "?");
	ck_assert_uint_gt(got, 0);
	ck_assert_uint_le(got, sent);
	close(fd);
	st = h_wait_exit(e.pid, 5000);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "0x%x", st);
	e.pid = -1;
	/* 1 s of shutdown_timeout, then the client's close, not 1 s more */
	timing_assert(h_now_ms() - t0 < 1900, "stopped after %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	ck_assert(h_log_has(&e, "echoed in"));	/* its line, at its close */
}
END_TEST

Suite *
lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_descriptor_limit_says_what_it_bounds);
	tcase_add_test(tc, test_worker_killed_is_replaced);
	tcase_add_test(tc, test_master_killed_leaves_no_worker);
	tcase_add_test(tc, test_stop_ends_with_the_last_connection);
	tcase_add_test(tc, test_stop_delay_keeps_accepting);
	tcase_add_test(tc, test_stop_delay_then_drains);
	suite_add_tcase(s, tc);
	/*
	 * Tagged: check-valgrind leaves these out, for they time what memcheck
	 * slows down.  A graceful stop must end well inside the default 10 s
	 * shutdown timeout (5 s here; 2 s for the second SIGINT), while
	 * memcheck on a loaded machine takes longer than that to end the master
	 * and its workers with their leak checks (test_stop_ends_with_the_
	 * last_connection keeps the graceful stop under memcheck).  A worker
	 * that the master aborts spends its grace period (HEALTH_ABORT_GRACE_MS)
	 * in memcheck's leak check, and the SIGKILL after it is what the log
	 * then shows.  A crash loop gives up after five early deaths, and
	 * each death under memcheck (a fork, a start, a leak check) takes
	 * seconds on a loaded machine: more than the 20 s that stand for "for
	 * ever" (check_startfail.c: test_no_worker_can_start* keep the give-up
	 * under memcheck).
	 * SIGQUIT must end within 3 s, and shutdown_timeout bound a stop:
	 * memcheck's leak check at a worker's exit (its UDP batch slots, pump
	 * and stats page are scanned) now takes longer than the master's
	 * grace, so the worker is killed and the stop runs late.
	 */
	TCase *timed = tcase_create("timed");
	tcase_set_timeout(timed, 60);
	tcase_set_tags(timed, "no-valgrind");
	tcase_add_checked_fixture(timed, setup, teardown);
	tcase_add_test(timed, test_sigterm_graceful);
	tcase_add_test(timed, test_sigquit_immediate);
	tcase_add_test(timed, test_shutdown_timeout_bounds_the_stop);
	tcase_add_test(timed, test_stop_deadline_shuts_down_not_resets);
	tcase_add_test(timed, test_sigint_to_group_graceful);
	tcase_add_test(timed, test_second_sigint_quits);
	suite_add_tcase(s, timed);
	return s;
}
