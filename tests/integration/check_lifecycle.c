/* check_lifecycle.c - supervision and stopping, with the real binary:
 * workers replaced, no orphans, graceful stops, refused binds. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;

static void
start(int workers, bool own_pgrp)
{
	char w[8];
	snprintf(w, sizeof(w), "%d", workers);
	const char *const argv[] = { "-f", "-w", w, "-l", "127.0.0.1:0",
	    "-p", e.pidfile, NULL };

	e.own_pgrp = own_pgrp;
	ck_assert_msg(h_start(&e, argv, 10000) == 0, "echod did not start");
	ck_assert_int_gt(e.tcp4, 0);
}

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static bool
contains(const pid_t *v, int n, pid_t p)
{
	for (int i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

START_TEST(test_worker_killed_is_replaced)
{
	pid_t before[8], after[8];
	uint64_t end;
	int n, m = 0;

	start(2, false);
	ck_assert_int_eq(h_workers(e.pid, before, 8), 2);
	kill(before[0], SIGKILL);
	/* a new pid joins the table, the old one leaves */
	end = h_now_ms() + 5000;
	do {
		n = h_workers(e.pid, after, 8);
		m = 0;
		for (int i = 0; i < n; i++)
			m += !contains(before, 2, after[i]);
	} while ((n != 2 || m != 1 || contains(after, n, before[0])) &&
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

	start(2, false);
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

	start(2, group);
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
	ck_assert(!h_log_has(&e, "killed by signal"));
	ck_assert_int_eq(access(e.pidfile, F_OK), -1);	/* removed */
}

START_TEST(test_sigterm_graceful) { graceful(SIGTERM, false); }
END_TEST
START_TEST(test_sigint_to_group_graceful) { graceful(SIGINT, true); }
END_TEST

START_TEST(test_sigquit_immediate)
{
	int fd, st;
	char c;

	start(1, false);
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

	start(1, false);
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
	ck_assert_uint_lt(h_now_ms() - t0, 2000);	/* shutdown_timeout is 10 s */
	ck_assert(h_log_has(&e, "quitting"));
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);	/* cut */
	close(fd);
}
END_TEST

START_TEST(test_shutdown_timeout_bounds_the_stop)
{
	int fd, st;
	uint64_t t0;

	h_write_conf(&e, "shutdown_timeout = 1s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
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

START_TEST(test_bind_failure)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	char spec[32], want[160];
	int s = socket(AF_INET, SOCK_STREAM, 0), st;

	ck_assert_int_eq(bind(s, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	getsockname(s, (struct sockaddr *)&in, &len);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", ntohs(in.sin_port));
	const char *const argv[] = { "-f", "-w", "2", "-l", spec, NULL };
	h_spawn(&e, argv);
	st = h_wait_exit(e.pid, 5000);
	e.pid = -1;
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	snprintf(want, sizeof(want), "listen %s (tcp %s): Address already in use",
	    spec, spec);
	ck_assert_msg(h_log_has(&e, want), "no \"%s\" in the log", want);
	ck_assert(!h_log_has(&e, "ready: "));
	close(s);
}
END_TEST

/*
 * Runs echod with ever larger descriptor limits until one leaves room for
 * the listeners but not for a worker (its order pipe): the first
 * generation can never start.  Returns the wait status of the first run
 * that gave up, or -1 for one that did not exit within 15 s (or became
 * ready: the search is over).
 */
static int
start_without_room(const char *const argv[])
{
	for (long n = 4; n <= 64; n++) {
		uint64_t end = h_now_ms() + 15000;
		int st = -1;

		h_cleanup(&e);
		h_init(&e);
		e.nofile = n;
		h_spawn(&e, argv);
		while (h_now_ms() < end && !h_log_has(&e, "ready: ")) {
			pid_t r = waitpid(e.pid, &st, WNOHANG);
			if (r == e.pid) {
				e.pid = -1;
				break;
			}
			h_tick();
		}
		if (e.pid != -1)	/* still running: ready, or never gives up */
			return -1;
		/* too tight even to load, log or bind: one descriptor more */
		if (h_log_has(&e, "giving up"))
			return st;
	}
	return -1;
}

static long
daemon_pid(void)
{
	FILE *f = fopen(e.pidfile, "r");
	long pid = -1;

	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

/* No worker can ever start (no descriptor left for it): start-up fails with
 * the reason and exit 1, within the give-up rule, instead of retrying. */
START_TEST(test_no_worker_can_start)
{
	const char *const argv[] = { "-f", "-w", "1", "-l", "127.0.0.1:0", NULL };
	uint64_t t0 = h_now_ms();
	int st = start_without_room(argv);

	ck_assert_msg(!h_log_has(&e, "ready: "), "found no limit tight enough");
	ck_assert_msg(st != -1, "still running after 15 s (limit %ld)", e.nofile);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	ck_assert(h_log_has(&e, "start-up failed: worker 0 could not be started: "
	    "Too many open files; 5 workers failed to start or died within 10s of "
	    "starting in the last 30s; giving up"));
	ck_assert_uint_lt(h_now_ms() - t0, 30000);
}
END_TEST

/* The same detached: the waiting parent exits 1 and prints the reason. */
START_TEST(test_no_worker_can_start_detached)
{
	const char *const argv[] = { "-w", "1", "-l", "127.0.0.1:0", "-p",
	    e.pidfile, NULL };
	int st = start_without_room(argv);
	long pid = daemon_pid();

	if (pid > 1)	/* a daemon that did not give up */
		kill((pid_t)pid, SIGKILL);
	ck_assert_msg(st != -1, "the parent did not return in 15 s (limit %ld)",
	    e.nofile);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	ck_assert(h_log_has(&e, "echod: start-up failed: worker 0 could not be "
	    "started: Too many open files; 5 workers failed to start or died "
	    "within 10s of starting in the last 30s; giving up"));
	ck_assert_int_eq(pid, -1);	/* the daemon is gone, its PID file too */
}
END_TEST

/* Workers that die before they are ready (the stress suite's crash shim):
 * the detached parent exits 1 and prints why, not "see the system log". */
START_TEST(test_crash_loop_detached_says_why)
{
	const char *top = getenv("top_builddir");
	char shim[512], preload[600];
	char *const envp[] = { preload,
	    "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };
	const char *const argv[] = { "-w", "1", "-l", "127.0.0.1:0", "-p",
	    e.pidfile, NULL };
	long pid;
	int st;

	snprintf(shim, sizeof(shim), "%s/tests/stress/crashshim.so", top ? top : "..");
	ck_assert_msg(access(shim, R_OK) == 0, "%s is missing", shim);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", shim);
	e.envp = envp;
	h_spawn(&e, argv);
	st = h_wait_exit(e.pid, 20000);
	if ((pid = daemon_pid()) > 1)
		kill((pid_t)pid, SIGKILL);
	ck_assert_msg(st != -1, "the parent did not return in 20 s");
	e.pid = -1;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	ck_assert(h_log_has(&e, "echod: start-up failed: worker 0 (pid "));
	ck_assert(h_log_has(&e, "exited with status 70 after "));
	ck_assert(h_log_has(&e, "died within 10s of starting in the last 30s; "
	    "giving up"));
	ck_assert(!h_log_has(&e, "see the system log"));
}
END_TEST

START_TEST(test_pidfile_locked_and_second_refused)
{
	char buf[32] = { 0 }, want[160];
	FILE *f;
	int st;

	start(1, false);
	ck_assert_ptr_nonnull(f = fopen(e.pidfile, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_int_eq(atoi(buf), e.pid);

	struct echod second;
	h_init(&second);
	const char *const argv[] = { "-f", "-l", "127.0.0.1:0", "-p", e.pidfile, NULL };
	h_spawn(&second, argv);
	st = h_wait_exit(second.pid, 5000);
	second.pid = -1;
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	snprintf(want, sizeof(want), "already locked by pid %ld", (long)e.pid);
	ck_assert(h_log_has(&second, want));
	h_cleanup(&second);
}
END_TEST

Suite *
lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_worker_killed_is_replaced);
	tcase_add_test(tc, test_master_killed_leaves_no_worker);
	tcase_add_test(tc, test_sigterm_graceful);
	tcase_add_test(tc, test_sigint_to_group_graceful);
	tcase_add_test(tc, test_sigquit_immediate);
	tcase_add_test(tc, test_second_sigint_quits);
	tcase_add_test(tc, test_shutdown_timeout_bounds_the_stop);
	tcase_add_test(tc, test_bind_failure);
	tcase_add_test(tc, test_pidfile_locked_and_second_refused);
	tcase_add_test(tc, test_no_worker_can_start);
	tcase_add_test(tc, test_no_worker_can_start_detached);
	tcase_add_test(tc, test_crash_loop_detached_says_why);
	suite_add_tcase(s, tc);
	return s;
}
