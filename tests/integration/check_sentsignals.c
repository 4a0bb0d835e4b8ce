/* check_sentsignals.c - beside check_lifecycle.c: signals sent to the
 * workers by their own user (with user = nobody) are no crashes, a kill
 * storm is paced, lowered limits are dropped, a hung worker is aborted. */
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
	const struct h_conf hc = {
	    .extra = "user = \"nobody\"\nworkers = 2\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
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
	ck_assert_msg(h_pid_alive(e.pid) && h_log_lacks(&e, "giving up"),
	    "the master gave up");
	ck_assert_msg(h_log_lacks(&e, "killed by signal"), "a worker died");
	ck_assert_int_eq(h_workers(e.pid, w, 8), 2);
	ck_assert(h_contains_pid(w, 2, before[0]) &&
	    h_contains_pid(w, 2, before[1]));
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

	const struct h_conf hc = {
	    .extra = "worker_timeout = 3s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
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
	const struct h_conf hc = {
	    .extra = conf };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
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
	ck_assert(h_pid_alive(e.pid) && h_log_lacks(&e, "giving up"));
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
		if (n == 2 && !h_contains_pid(w, n, before[0]) &&
		    !h_contains_pid(w, n, before[1]))
			break;
	}
	ck_assert_msg(n == 2 && !h_contains_pid(w, n, before[0]) &&
	    !h_contains_pid(w, n, before[1]), "the workers were not replaced");
	ck_assert(h_log_lacks(&e, "giving up"));
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
	const struct h_conf hc = {
	    .extra = "user = \"nobody\"\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n",
	    .nowait = true };
	h_start_conf(&e, &hc);
	for (uint64_t end = h_now_ms() + 20000; h_now_ms() < end &&
	    h_pid_alive(e.pid) && log_count("lowered from outside") < 6; h_tick())
		;
	ck_assert_msg(h_log_lacks(&e, "exited with status 1"), "a worker died "
	    "of the lowered limit");
	ck_assert_msg(h_pid_alive(e.pid) && h_log_lacks(&e, "giving up"),
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

	ck_assert_msg(h_start_pidfile(&e, 2, false) == 0,
	    "echod did not start; see %s", e.logpath);
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
sentsignals_suite(void)
{
	Suite *s = suite_create("sent-signals");
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
	/* timed, as in check_lifecycle.c: memcheck's leak check spends the
	 * aborted worker's grace period */
	TCase *timed = tcase_create("timed");
	tcase_set_timeout(timed, 60);
	tcase_set_tags(timed, "no-valgrind");
	tcase_add_checked_fixture(timed, setup, teardown);
	tcase_add_test(timed, test_hung_worker_aborted);
	suite_add_tcase(s, timed);
	return s;
}
