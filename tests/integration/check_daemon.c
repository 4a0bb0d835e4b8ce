/* check_daemon.c - beside check_config.c: daemon mode with the real
 * binary: it forks once ready, its PID file and lock, a relative -c path
 * across a reload, and a failure the waiting parent reports. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "stresslib.h"
#include "suites.h"

static struct echod e;

static long pidfile_pid(void);
static void setup(void) { h_init(&e); }

static void
teardown(void)
{
	long pid = pidfile_pid();

	/* a daemon a failed test left behind */
	if (pid > 1)
		kill((pid_t)pid, SIGKILL);
	h_cleanup(&e);
}

/*
 * A daemon chdir()s to /: with a relative -c its reloads read another
 * file (or none).  The path is made absolute at start, so a reload reads
 * the file the start read.
 */
START_TEST(test_daemon_relative_config_reload)
{
	char cwd[4096], text[256];
	const char *const argv[] = { "-c", "echod.conf", "-p", e.pidfile, NULL };
	int port = h_free_port();
	long pid;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(e.dir), 0);
	snprintf(text, sizeof(text), "workers = 1\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\n", port);
	h_write_conf(&e, text);
	ck_assert_int_eq(h_run_status(&e, argv), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	pid = pidfile_pid();
	ck_assert_int_gt(pid, 1);
	snprintf(text, sizeof(text), "workers = 2\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\n", port);
	h_write_conf(&e, text);
	kill((pid_t)pid, SIGHUP);
	pid_t w[8];
	uint64_t end = h_now_ms() + 5000;
	while (h_workers((pid_t)pid, w, 8) != 2 && h_now_ms() < end)
		h_tick();
	ck_assert_msg(h_workers((pid_t)pid, w, 8) == 2,
	    "the reload did not read the file the start read");
	int fd = h_connect(AF_INET, port, 2000);
	ck_assert_int_eq(h_echo(fd, "daemon", 6, 2000), 0);
	close(fd);
}
END_TEST

/*
 * A daemon closes its start-up report pipe once ready; a worker forked
 * later closed that descriptor number too, which by then was its own order
 * pipe: it exited at once, and a reload or SIGTTIN ended in "giving up".
 */
START_TEST(test_daemon_forks_after_ready)
{
	char spec[64];
	const char *const argv[] = { "-w", "1", "-l", spec, "-p", e.pidfile, NULL };
	int port = h_free_port();
	pid_t w[8];
	long pid;

	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	ck_assert_int_eq(h_run_status(&e, argv), 0);
	pid = pidfile_pid();
	ck_assert_int_gt(pid, 1);
	kill((pid_t)pid, SIGTTIN);
	uint64_t end = h_now_ms() + 5000;
	while (h_workers((pid_t)pid, w, 8) != 2 && h_now_ms() < end)
		h_tick();
	/* stable at 2: the new one was not replaced in a crash loop */
	for (int i = 0; i < 50 && h_pid_alive(w[0]) && h_pid_alive(w[1]); i++)
		h_tick();
	ck_assert_msg(h_pid_alive(w[0]) && h_pid_alive(w[1]) &&
	    h_workers((pid_t)pid, w, 8) == 2, "a worker forked after ready died");
	int fd = h_connect(AF_INET, port, 2000);
	ck_assert_int_eq(h_echo(fd, "daemon", 6, 2000), 0);
	close(fd);
}
END_TEST

static long
pidfile_pid(void)
{
	char buf[32] = { 0 };
	int fd = open(e.pidfile, O_RDONLY);

	if (fd == -1)
		return -1;
	(void)!read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return strtol(buf, NULL, 10);
}

static pid_t
lock_holder(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(e.pidfile, O_RDWR);

	if (fd == -1)
		return -1;
	fcntl(fd, F_GETLK, &fl);
	close(fd);
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

START_TEST(test_daemon_mode)
{
	char spec[64];
	int port = h_free_port();
	long pid;

	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	/* a stale file first: it is taken over */
	FILE *f = fopen(e.pidfile, "w");
	fputs("999999\n", f);
	fclose(f);

	const char *const argv[] = { "-w", "1", "-l", spec, "-p", e.pidfile, NULL };
	/* the parent returns 0 only once the daemon listens */
	ck_assert_int_eq(h_run_status(&e, argv), 0);
	int fd = h_connect(AF_INET, port, 2000);
	ck_assert_msg(fd != -1, "exited 0 but does not listen");
	ck_assert_int_eq(h_echo(fd, "daemon", 6, 2000), 0);
	close(fd);
	pid = pidfile_pid();
	ck_assert_int_gt(pid, 1);
	ck_assert_int_eq(lock_holder(), pid);
	/* detached: a session of its own, not ours, and not its leader */
	ck_assert_int_ne(getsid((pid_t)pid), getsid(0));
	ck_assert_int_ne(getsid((pid_t)pid), pid);

	/* a second instance on the same PID file is refused, with the reason */
	ck_assert_int_eq(h_run_status(&e, argv), 1);
	ck_assert(h_log_has(&e, "already locked by pid"));

	kill((pid_t)pid, SIGTERM);
	uint64_t end = h_now_ms() + 5000;
	while (access(e.pidfile, F_OK) == 0 && h_now_ms() < end)
		h_tick();
	ck_assert_msg(access(e.pidfile, F_OK) == -1, "PID file left behind");
}
END_TEST

START_TEST(test_daemon_failure_is_reported)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), port;
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	char spec[64];

	bind(s, (struct sockaddr *)&in, sizeof(in));
	listen(s, 1);
	getsockname(s, (struct sockaddr *)&in, &len);
	port = ntohs(in.sin_port);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	const char *const argv[] = { "-w", "1", "-l", spec, NULL };
	ck_assert_int_eq(h_run_status(&e, argv), 1);
	ck_assert(h_log_has(&e, "Address already in use"));
	close(s);
}
END_TEST

Suite *
daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("daemon");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_daemon_relative_config_reload);
	tcase_add_test(tc, test_daemon_forks_after_ready);
	tcase_add_test(tc, test_daemon_mode);
	tcase_add_test(tc, test_daemon_failure_is_reported);
	suite_add_tcase(s, tc);
	return s;
}
