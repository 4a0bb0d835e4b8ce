/*
 * check_detach.c - the double fork and its handshake.  Each test forks a
 * process that calls detach_start(), as echod's main() does; the daemon it
 * becomes checks what detaching promised about itself and reports through
 * detach_ready() or detach_fail(); the test reads the original process's
 * exit status and stderr.  The test is a subreaper, so it reaps the daemon
 * too and sees how it ended.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "detach.h"
#include "suites.h"

#define WAIT_MS	10000

enum daemon_does { READY, FAIL, DIE, READY_TWICE };

static char errpath[64];

static void
setup(void)
{
	int fd;

	strcpy(errpath, "/tmp/echod-detach-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(errpath), -1);
	close(fd);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

static void
teardown(void)
{
	unlink(errpath);
	/* with CK_FORK=no this process runs the other suites too */
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for pid (or any child: -1) with a deadline; the status, or -1. */
static int
wait_for(pid_t pid, pid_t *who)
{
	uint64_t end = now_ms() + WAIT_MS;
	struct timespec tick = { 0, 10 * 1000000 };
	int st;

	do {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r > 0) {
			if (who)
				*who = r;
			return st;
		}
		if (r == -1)
			return -1;
		nanosleep(&tick, NULL);
	} while (now_ms() < end);
	return -1;
}

/* What the daemon checks about itself; NULL if all holds. */
static const char *
daemon_wrong(pid_t oldsid)
{
	struct stat st, null;
	char cwd[16];
	mode_t mask = umask(0);

	if (getsid(0) == oldsid)
		return "still in the caller's session";
	/* the second fork: in the new session, never its leader, so no
	 * terminal it opens can become its controlling one */
	if (getsid(0) == getpid())
		return "the session leader";
	if (getpgrp() != getsid(0))
		return "not in the session's process group";
	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") != 0)
		return "cwd is not /";
	if (mask != 022)
		return "umask is not 022";
	if (stat("/dev/null", &null) == -1)
		return "no /dev/null";
	for (int fd = 0; fd <= 2; fd++)
		if (fstat(fd, &st) == -1 || st.st_rdev != null.st_rdev ||
		    !S_ISCHR(st.st_mode))
			return "stdio is not /dev/null";
	if (detach_fd() == -1)
		return "no descriptor to report on";
	if (fcntl(detach_fd(), F_GETFD) != FD_CLOEXEC)
		return "the report descriptor is not close-on-exec";
	return NULL;
}

/* Forks a process that detaches; returns its exit status, and the daemon's
 * in *dstatus.  stderr of the original goes to errpath. */
static int
run(enum daemon_does what, int *dstatus)
{
	pid_t original = fork(), who = 0;
	int st, dst = -1;

	ck_assert_int_ne(original, -1);
	if (original == 0) {
		int fd = open(errpath, O_WRONLY | O_APPEND);
		pid_t sid = getsid(0);
		const char *wrong;

		if (fd == -1 || dup2(fd, STDERR_FILENO) == -1)
			_exit(99);
		if (detach_start("check_detach") == -1)
			_exit(98);
		/* the daemon, from here on */
		if ((wrong = daemon_wrong(sid)) != NULL) {
			detach_fail(wrong);
			_exit(20);
		}
		switch (what) {
		case READY:
			detach_ready();
			_exit(detach_fd() == -1 ? 0 : 21);
		case READY_TWICE:
			detach_ready();
			detach_ready();
			detach_fail("after ready: never heard");
			_exit(0);
		case FAIL:
			detach_fail("listen 127.0.0.1:7: Address already in use");
			_exit(1);
		case DIE:
			_exit(3);
		}
		_exit(97);
	}
	st = wait_for(original, NULL);
	ck_assert_int_ne(st, -1);
	/* the intermediate child was the original's to reap; the daemon is
	 * ours now (subreaper) */
	dst = wait_for(-1, &who);
	ck_assert_int_ne(dst, -1);
	ck_assert_int_ne(who, original);
	*dstatus = dst;
	return st;
}

static bool
stderr_is(const char *want)
{
	char buf[512] = { 0 };
	FILE *f = fopen(errpath, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

START_TEST(test_ready)
{
	int d, st = run(READY, &d);

	ck_assert_msg(stderr_is(""), "the original said something");
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert(WIFEXITED(d));
	ck_assert_int_eq(WEXITSTATUS(d), 0);
}
END_TEST

/* Once ready, later words are not heard (and do not crash). */
START_TEST(test_ready_once)
{
	int d, st = run(READY_TWICE, &d);

	ck_assert(stderr_is(""));
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_int_eq(WEXITSTATUS(d), 0);
}
END_TEST

START_TEST(test_fail_says_why)
{
	int d, st = run(FAIL, &d);

	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert(stderr_is("check_detach: listen 127.0.0.1:7: Address already "
	    "in use\n"));
}
END_TEST

/* A daemon that dies before a word: the original says so, exits 1. */
START_TEST(test_death_is_not_success)
{
	int d, st = run(DIE, &d);

	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert(stderr_is("check_detach: the daemon exited during start-up; "
	    "see the system log\n"));
	ck_assert_int_eq(WEXITSTATUS(d), 3);
}
END_TEST

Suite *
detach_suite(void)
{
	Suite *s = suite_create("detach");
	TCase *tc = tcase_create("detach");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ready);
	tcase_add_test(tc, test_ready_once);
	tcase_add_test(tc, test_fail_says_why);
	tcase_add_test(tc, test_death_is_not_success);
	suite_add_tcase(s, tc);
	return s;
}
