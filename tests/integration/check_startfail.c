/* check_startfail.c - beside check_lifecycle.c: start-ups that fail, and
 * say why: a bind refused, no worker that can ever start (attached and
 * detached), a crash loop, the first generation killed, a locked PID file. */
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
	ck_assert_msg(h_log_lacks(&e, "echod: "), "prefixed in %s", e.logpath);
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
	ck_assert(h_log_lacks(&e, "ready: "));
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

	ck_assert_msg(h_log_lacks(&e, "ready: "), "found no limit tight enough");
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

/* echod with argv under the stress suite's crash shim, preloaded through
 * envp[0] (the rest of envp says how it crashes); its wait status within
 * 20 s, or -1. */
static int
run_crashing(char *envp[], const char *const argv[])
{
	const char *shim;

	ck_assert_msg((envp[0] = (char *)h_crashshim_preload(&shim)) != NULL,
	    "%s is missing", shim);
	e.envp = envp;
	h_spawn(&e, argv);
	return h_wait_exit(e.pid, 20000);
}

/* Workers that die before they are ready (the stress suite's crash shim):
 * the detached parent exits 1 and prints why, not "see the system log". */
START_TEST(test_crash_loop_detached_says_why)
{
	char *envp[] = { NULL, "CRASHSHIM_EARLY=1",
	    "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };
	const char *const argv[] = { "-w", "1", "-l", "127.0.0.1:0", "-p",
	    e.pidfile, NULL };
	long pid;
	int st;

	st = run_crashing(envp, argv);
	if ((pid = daemon_pid()) > 1)
		kill((pid_t)pid, SIGKILL);
	ck_assert_msg(st != -1, "the parent did not return in 20 s");
	e.pid = -1;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x", st);
	ck_assert(h_log_has(&e, "echod: start-up failed: worker 0 (pid "));
	ck_assert(h_log_has(&e, "exited with status 70 after "));
	ck_assert(h_log_has(&e, "died within 10s of starting in the last 30s; "
	    "giving up"));
	ck_assert(h_log_lacks(&e, "see the system log"));
}
END_TEST

/* Every worker of the first generation SIGKILLed at once (the OOM killer
 * under a memory limit too small for one): start-up fails with the reason
 * instead of forking replacements for ever. */
START_TEST(test_first_generation_killed_fails_startup)
{
	char *envp[] = { NULL, "CRASHSHIM_KILL=1", "CRASHSHIM_EARLY=1",
	    "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL };
	const char *const argv[] = { "-f", "-w", "2", "-l", "127.0.0.1:0", NULL };
	int st;

	st = run_crashing(envp, argv);
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

	ck_assert_msg(h_start_pidfile(&e, 1, false) == 0,
	    "echod did not start; see %s", e.logpath);
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
startfail_suite(void)
{
	Suite *s = suite_create("start-failures");
	TCase *tc = tcase_create("start-failures");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_detached_failure_in_journal_unprefixed);
	tcase_add_test(tc, test_bind_failure);
	tcase_add_test(tc, test_no_worker_can_start);
	tcase_add_test(tc, test_no_worker_can_start_detached);
	tcase_add_test(tc, test_pidfile_locked_and_second_refused);
	suite_add_tcase(s, tc);
	/* timed, as in check_lifecycle.c: each death under memcheck takes
	 * seconds, more than the 20 s that stand for "for ever" */
	TCase *timed = tcase_create("timed");
	tcase_set_timeout(timed, 60);
	tcase_set_tags(timed, "no-valgrind");
	tcase_add_checked_fixture(timed, setup, teardown);
	tcase_add_test(timed, test_crash_loop_detached_says_why);
	tcase_add_test(timed, test_first_generation_killed_fails_startup);
	suite_add_tcase(s, timed);
	return s;
}
