/* check_lifecycle.c - supervision and stopping, with the real binary:
 * workers replaced, no orphans, graceful stops, refused binds. */
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

/* The start's descriptor limit line says what the number bounds, and
 * (soft = hard here) that it was not raised. */
START_TEST(test_descriptor_limit_says_what_it_bounds)
{
	char want[200];
	long n;

	e.nofile = 4000;
	start(1, false);
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

/*
 * The same stop with a shutdown timeout far beyond any wait here: nothing
 * but the last connection's close can end it.  The waits are generous (this
 * one holds under memcheck, where the two above are left out), and the log
 * tells a stop that waited for the timeout.
 */
START_TEST(test_stop_ends_with_the_last_connection)
{
	int fd, st;

	h_write_conf(&e, "shutdown_timeout = 120s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 30000), 0);
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
	ck_assert(!h_log_has(&e, "shutdown timeout"));
	ck_assert(!h_log_has(&e, "killed by signal"));
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

	h_write_conf(&e, "stop_delay = 10m\nshutdown_timeout = 120s\n"
	    "workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 30000), 0);
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
	ck_assert(!h_log_has(&e, "stopping gracefully"));
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

	h_write_conf(&e, "stop_delay = 1s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 30000), 0);
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

	h_write_conf(&e, "shutdown_timeout = 1s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
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

/*
 * Started detached by a unit whose stderr is the journal's stream: the
 * parent's word on a failed start is not "echod: ...", which journald
 * would show as "echod[PID]: echod: ...".
 */
START_TEST(test_detached_failure_in_journal_unprefixed)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	char spec[32], want[160], stream[64];
	char *env[] = { stream, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd, st;
	struct stat sb;

	ck_assert_int_eq(bind(s, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	getsockname(s, (struct sockaddr *)&in, &len);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", ntohs(in.sin_port));
	/* the log file is echod's stderr: name it as journald names its own */
	fd = open(e.logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	close(fd);
	snprintf(stream, sizeof(stream), "JOURNAL_STREAM=%llu:%llu",
	    (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
	e.envp = env;
	const char *const argv[] = { "-w", "1", "-l", spec, "-p", e.pidfile,
	    NULL };
	h_spawn(&e, argv);
	st = h_wait_exit(e.pid, 10000);
	e.pid = -1;
	close(s);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	snprintf(want, sizeof(want), "listen %s (tcp %s): Address already in use",
	    spec, spec);
	ck_assert_msg(h_log_has(&e, want), "no \"%s\" in %s", want, e.logpath);
	ck_assert_msg(!h_log_has(&e, "echod: "), "prefixed in %s", e.logpath);
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
	/* where the descriptors run out (at the fork, or in the worker's
	 * set-up: memcheck holds some of its own) decides which is said */
	ck_assert(h_log_has(&e, "start-up failed: worker 0 could not be started: "
	    "Too many open files; 5 workers failed to start or died within 10s of "
	    "starting in the last 30s; giving up") ||
	    (h_log_has(&e, "start-up failed: worker 0 (pid ") &&
	    h_log_has(&e, "exited with status 1 after ") &&
	    h_log_has(&e, "; 5 workers failed to start or died within 10s of "
	    "starting in the last 30s; giving up")));
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
	    "within 10s of starting in the last 30s; giving up") ||
	    (h_log_has(&e, "echod: start-up failed: worker 0 (pid ") &&
	    h_log_has(&e, "; 5 workers failed to start or died within 10s of "
	    "starting in the last 30s; giving up")));
	ck_assert_int_eq(pid, -1);	/* the daemon is gone, its PID file too */
}
END_TEST

/* Workers that die before they are ready (the stress suite's crash shim):
 * the detached parent exits 1 and prints why, not "see the system log". */
START_TEST(test_crash_loop_detached_says_why)
{
	const char *shim;
	char *envp[] = { NULL, "CRASHSHIM_EARLY=1",
	    "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };
	const char *const argv[] = { "-w", "1", "-l", "127.0.0.1:0", "-p",
	    e.pidfile, NULL };
	long pid;
	int st;

	ck_assert_msg((envp[0] = (char *)h_crashshim_preload(&shim)) != NULL,
	    "%s is missing", shim);
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

/* Every worker of the first generation SIGKILLed at once (the OOM killer
 * under a memory limit too small for one): start-up fails with the reason
 * instead of forking replacements for ever. */
START_TEST(test_first_generation_killed_fails_startup)
{
	const char *shim;
	char *envp[] = { NULL, "CRASHSHIM_KILL=1", "CRASHSHIM_EARLY=1",
	    "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };
	const char *const argv[] = { "-f", "-w", "2", "-l", "127.0.0.1:0", NULL };
	int st;

	ck_assert_msg((envp[0] = (char *)h_crashshim_preload(&shim)) != NULL,
	    "%s is missing", shim);
	e.envp = envp;
	h_spawn(&e, argv);
	st = h_wait_exit(e.pid, 20000);
	ck_assert_msg(st != -1, "echod still running after 20 s");
	e.pid = -1;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	ck_assert(h_log_has(&e, "start-up failed: worker "));
	ck_assert(h_log_has(&e, "killed by signal 9 (Killed) after "));
	ck_assert(h_log_has(&e, "in the last 30s; giving up"));
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

/* ---- signals from the workers' own user --------------------------------- */

/* What ends a process with a core by default. */
static const int fatal_signals[] = {
	SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGSYS, SIGTRAP,
	SIGXCPU, SIGXFSZ,
};

/* Waits for want workers (a dead one comes back after its backoff). */
static int
workers_now(pid_t *w, int want)
{
	uint64_t end = h_now_ms() + 6000;
	int n;

	while ((n = h_workers(e.pid, w, 8)) < want && h_pid_alive(e.pid) &&
	    h_now_ms() < end)
		h_tick();
	return n;
}

/*
 * Started as root with user = nobody, echod's workers can be signalled by
 * any process of nobody's.  Fatal signals from it are not crashes: six
 * rounds of each (five early deaths make the master give up) change
 * nothing, and neither do the other signals that end a process by default.
 */
START_TEST(test_workers_user_cannot_crash_them)
{
	const int others[] = { SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
	    SIGSTKFLT, SIGRTMIN, SIGRTMIN + 5, SIGRTMAX, SIGUSR1, SIGUSR2,
	    SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGPIPE };
	struct passwd *pw = getpwnam("nobody");
	pid_t before[8], w[8];
	int n, refused = 0;

	if (geteuid() != 0 || pw == NULL)
		skip_test("needs root and a user nobody");
	h_write_conf(&e, "user = \"nobody\"\nworkers = 2\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert_int_eq(h_workers(e.pid, before, 8), 2);

	for (int round = 0; round < 6 + 1; round++) {
		const int *sigs = round < 6 ? fatal_signals : others;
		size_t nsigs = round < 6 ? sizeof(fatal_signals) / sizeof(int) :
		    sizeof(others) / sizeof(int);

		for (size_t i = 0; i < nsigs && h_pid_alive(e.pid); i++) {
			if ((n = workers_now(w, 2)) == 0)
				continue;
			int r = h_signal_as(pw->pw_uid, pw->pw_gid, e.pid, w, n,
			    sigs[i]);
			ck_assert_int_ne(r, -1);
			refused += r;
			for (uint64_t end = h_now_ms() + 2000; h_now_ms() < end &&
			    !(h_settled(w[0]) && h_settled(w[n - 1])); h_tick())
				;
		}
	}
	ck_assert_msg(h_pid_alive(e.pid) && !h_log_has(&e, "giving up"),
	    "the master gave up");
	ck_assert_msg(!h_log_has(&e, "killed by signal"), "a worker died");
	ck_assert_int_eq(h_workers(e.pid, w, 8), 2);
	ck_assert(contains(w, 2, before[0]) && contains(w, 2, before[1]));
	ck_assert_msg(refused == 0, "%d sends refused", refused);
	for (int i = 0; i < 10; i++) {
		int fd = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(h_echo(fd, "still here", 10, 2000), 0);
		close(fd);
	}
}
END_TEST

/* The master's own SIGABRT to a hung worker still kills it, as SIGABRT
 * (with a core where cores are on), not only the SIGKILL after it. */
START_TEST(test_hung_worker_aborted)
{
	char want[96];
	pid_t w[4], now[4];

	h_write_conf(&e, "worker_timeout = 3s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert_int_eq(h_workers(e.pid, w, 4), 1);
	kill(w[0], SIGSTOP);
	ck_assert(h_wait_log(&e, "hung: no heartbeat", 10000));
	snprintf(want, sizeof(want), "(pid %ld) killed by signal %d", (long)w[0],
	    SIGABRT);
	ck_assert_msg(h_wait_log(&e, want, 5000), "no \"%s\" in the log", want);
	ck_assert(h_log_has(&e, "(killed by the master)"));
	ck_assert(workers_now(now, 1) == 1 && now[0] != w[0]);
	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "replaced", 8, 2000), 0);
	close(fd);
}
END_TEST


/* How many times needle is in the log. */
static int
log_count(const char *needle)
{
	FILE *f = fopen(e.logpath, "r");
	char line[1024];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* nobody, when we are root (the tests below need both); else NULL. */
static struct passwd *
nobody_or_skip(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || pw == NULL)
		return NULL;
	return pw;
}

/* Starts echod as root with user = nobody and n workers on TCP loopback. */
static void
start_as_root_for_nobody(int n, const char *extra)
{
	char conf[256];

	snprintf(conf, sizeof(conf), "user = \"nobody\"\nworkers = %d\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n%s", n, extra);
	h_write_conf(&e, conf);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
}

/* A child that drops to pw; the caller runs its attack in it and _exit()s. */
static pid_t
fork_as(const struct passwd *pw)
{
	pid_t pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0 && (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1))
		_exit(100);
	return pid;
}

static void
echoes(int n)
{
	for (int i = 0; i < n; i++) {
		int fd = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(h_echo(fd, "still here", 10, 3000), 0);
		close(fd);
	}
}

/*
 * The workers' user SIGKILLs every worker as fast as it can for 3 s.  It
 * can end them, but it must not make the master fork as fast as it kills
 * (thousands of forks and log lines a second): early deaths wait out the
 * backoff, SIGKILL from outside too.  Nothing counts toward giving up.
 */
START_TEST(test_workers_user_kill_storm_is_paced)
{
	struct passwd *pw = nobody_or_skip();
	pid_t w[8], pid;
	int st, deaths;

	if (pw == NULL)
		skip_test("needs root and a user nobody");
	start_as_root_for_nobody(2, "");
	if ((pid = fork_as(pw)) == 0) {
		uint64_t end = h_now_ms() + 3000;
		for (long i = 0; i < 10000000 && h_now_ms() < end; i++) {
			int n = h_workers(e.pid, w, 8);
			for (int k = 0; k < n; k++)
				kill(w[k], SIGKILL);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attacker 0x%x", st);
	deaths = log_count("killed by signal 9");
	ck_assert_msg(deaths >= 2, "the attack did not reach the workers");
	/* 100 ms doubling: about six deaths per slot in 3 s */
	ck_assert_msg(deaths <= 30, "%d workers killed and replaced in 3 s", deaths);
	ck_assert(h_pid_alive(e.pid) && !h_log_has(&e, "giving up"));
	for (uint64_t end = h_now_ms() + 10000; h_workers(e.pid, w, 8) < 2 &&
	    h_now_ms() < end; h_tick())
		;
	ck_assert_int_eq(h_workers(e.pid, w, 8), 2);
	echoes(5);
}
END_TEST

/*
 * prlimit(2) needs only the same uid: the workers' user can set a worker's
 * RLIMIT_NOFILE to 0.  Such a worker heartbeats but never accepts again; it
 * must notice and be replaced, not serve nothing until the next reload.
 */
START_TEST(test_workers_user_lowers_limits)
{
	struct passwd *pw = nobody_or_skip();
	pid_t before[8], w[8], pid;
	int st, n;

	if (pw == NULL)
		skip_test("needs root and a user nobody");
	start_as_root_for_nobody(2, "");
	ck_assert_int_eq(h_workers(e.pid, before, 8), 2);
	if ((pid = fork_as(pw)) == 0) {
		struct rlimit zero = { 0, 0 };
		for (int i = 0; i < 2; i++)
			if (prlimit(before[i], RLIMIT_NOFILE, &zero, NULL) == -1)
				_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "prlimit refused: 0x%x",
	    st);
	ck_assert_msg(h_wait_log(&e, "RLIMIT_NOFILE (soft) ", 5000),
	    "a worker at RLIMIT_NOFILE 0 did not notice");
	ck_assert(h_log_has(&e, "-> 0 lowered from outside; exiting to be replaced"));
	for (uint64_t end = h_now_ms() + 10000; h_now_ms() < end; h_tick()) {
		n = h_workers(e.pid, w, 8);
		if (n == 2 && !contains(w, n, before[0]) && !contains(w, n, before[1]))
			break;
	}
	ck_assert_msg(n == 2 && !contains(w, n, before[0]) &&
	    !contains(w, n, before[1]), "the workers were not replaced");
	ck_assert(!h_log_has(&e, "giving up"));
	echoes(5);
}
END_TEST

/*
 * The race behind the test above: a process of the workers' user lowers a
 * new worker's limit the moment it drops root.  The shim does it from the
 * inside, after setuid(), every time.  A worker must have all it needs
 * before that point: no early death (epoll_create1: EMFILE, exit 1), so no
 * crash count and no give-up; it notices the limit, exits 0 and is replaced.
 */
START_TEST(test_limits_lowered_as_root_is_dropped)
{
	struct passwd *pw = nobody_or_skip();
	const char *shim;
	char *envp[] = { NULL, "CRASHSHIM_NOFILE_AFTER_SETUID=0",
	    "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };

	if (pw == NULL)
		skip_test("needs root and a user nobody");
	ck_assert_msg((envp[0] = (char *)h_crashshim_preload(&shim)) != NULL,
	    "%s is missing", shim);
	e.envp = envp;
	h_write_conf(&e, "user = \"nobody\"\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	h_spawn(&e, argv);
	for (uint64_t end = h_now_ms() + 20000; h_now_ms() < end &&
	    h_pid_alive(e.pid) && log_count("lowered from outside") < 6; h_tick())
		;
	ck_assert_msg(!h_log_has(&e, "exited with status 1"), "a worker died "
	    "of the lowered limit");
	ck_assert_msg(h_pid_alive(e.pid) && !h_log_has(&e, "giving up"),
	    "the master gave up");
	ck_assert_int_ge(log_count("lowered from outside"), 6);
}
END_TEST

/* SIGTSTP (Ctrl-Z, or anyone of the workers' user) does not stop a worker:
 * a stopped one would be killed as hung.  SIGSTOP cannot be refused. */
START_TEST(test_workers_ignore_sigtstp)
{
	pid_t w[8];
	int n;

	start(2, false);
	ck_assert_int_eq(n = h_workers(e.pid, w, 8), 2);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(kill(w[i], SIGTSTP), 0);
	for (int i = 0; i < n; i++) {
		char path[64], buf[512], *p;
		uint64_t end = h_now_ms() + 2000;
		FILE *f;

		while (!h_settled(w[i]) && h_now_ms() < end)
			h_tick();
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)w[i]);
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
		fclose(f);
		ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
		ck_assert_msg(p[2] != 'T', "worker %ld stopped", (long)w[i]);
	}
	echoes(4);
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
	tcase_add_test(tc, test_bind_failure);
	tcase_add_test(tc, test_detached_failure_in_journal_unprefixed);
	tcase_add_test(tc, test_pidfile_locked_and_second_refused);
	tcase_add_test(tc, test_no_worker_can_start);
	tcase_add_test(tc, test_no_worker_can_start_detached);
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
	 * ever" (test_no_worker_can_start* keep the give-up under memcheck).
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
	tcase_add_test(timed, test_hung_worker_aborted);
	tcase_add_test(timed, test_crash_loop_detached_says_why);
	tcase_add_test(timed, test_first_generation_killed_fails_startup);
	suite_add_tcase(s, timed);
	/* tagged as in check_fault.c: not under valgrind */
	TCase *sent = tcase_create("sent signals");
	tcase_set_timeout(sent, 60);
	tcase_set_tags(sent, "sent-fault-signals");
	tcase_add_checked_fixture(sent, setup, teardown);
	tcase_add_test(sent, test_workers_user_cannot_crash_them);
	tcase_add_test(sent, test_workers_user_kill_storm_is_paced);
	tcase_add_test(sent, test_workers_user_lowers_limits);
	tcase_add_test(sent, test_limits_lowered_as_root_is_dropped);
	tcase_add_test(sent, test_workers_ignore_sigtstp);
	suite_add_tcase(s, sent);
	return s;
}
