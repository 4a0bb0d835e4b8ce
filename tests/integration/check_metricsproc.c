/* check_metricsproc.c - the metrics process against its own user: it runs
 * as the workers' user, who can signal it, stop it and lower its limits,
 * so it is supervised as a worker is; and it maps nothing shared that it
 * could write. */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;
static int port;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static pid_t
metrics_pid(void)
{
	return (pid_t)h_log_last(&e, "metrics process started (pid ");
}

/* As root with user = nobody, so that nobody's processes may signal the
 * metrics process; worker_timeout short, for the hung ones. */
static void
start(void)
{
	ck_assert_msg(h_start_conf(&e, &(struct h_conf){ .user = "nobody",
	    .workers = 1, .extra = "worker_timeout = 2s\n"
	    "metrics_listen = {\"127.0.0.1:0\"}\n" }) == 0, "echod did not start");
	ck_assert_int_gt(port = (int)h_log_last(&e, "metrics on 127.0.0.1:"), 0);
	for (uint64_t end = h_now_ms() + 5000; metrics_pid() == 0 &&
	    h_now_ms() < end; h_tick())
		;
	ck_assert_int_gt(metrics_pid(), 0);
}

/* nobody, when we are root (the tests need both); else NULL. */
static struct passwd *
nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	return geteuid() == 0 ? pw : NULL;
}

/* GET /metrics answered with 200 within timeout_ms. */
static bool
scraped(int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	char out[256];

	do {
		int fd = h_connect(AF_INET, port, 1000);
		ssize_t n = -1;
		struct timeval tv = { .tv_sec = 1 };

		if (fd != -1) {
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (write(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25) == 25)
				n = read(fd, out, sizeof(out) - 1);
			close(fd);
		}
		if (n >= 17 && strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0)
			return true;
		h_tick();
	} while (h_now_ms() < end);
	return false;
}

/* A new metrics process, not old, within timeout_ms. */
static pid_t
replaced(pid_t old, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	pid_t now;

	while ((now = metrics_pid()) == old && h_now_ms() < end)
		h_tick();
	return now;
}

/* SIGSTOP (nobody may send it, and it cannot be refused): its heartbeats
 * stop, the master kills it as hung and starts another. */
START_TEST(test_metrics_stopped_replaced)
{
	pid_t old, now;
	char want[96];

	if (nobody() == NULL)
		skip_test("needs root and a user nobody");
	start();
	ck_assert(scraped(5000));
	old = metrics_pid();
	ck_assert_int_eq(kill(old, SIGSTOP), 0);
	snprintf(want, sizeof(want), "metrics process (pid %ld) hung: no "
	    "heartbeat", (long)old);
	ck_assert_msg(h_wait_log(&e, want, 10000), "no \"%s\" in the log", want);
	ck_assert_msg((now = replaced(old, 10000)) != old, "not replaced");
	ck_assert(h_log_has(&e, "(killed by the master)"));
	ck_assert_msg(scraped(10000), "/metrics does not answer");
	ck_assert_int_eq(metrics_pid(), now);
}
END_TEST

/*
 * The fatal signals, sent three ways by nobody (SIGSEGV by kill() among
 * them), and the others that end a process by default: the metrics process
 * ignores them all, as a worker does.  Nothing dies, nothing is logged as a
 * crash, and the same process answers.
 */
START_TEST(test_metrics_users_signals)
{
	static const int sigs[] = {
		SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGSYS, SIGTRAP,
		SIGXCPU, SIGXFSZ, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
		SIGSTKFLT, SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT, SIGQUIT,
		SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU,
	};
	struct passwd *pw = nobody();
	int refused = 0;
	pid_t old;

	if (pw == NULL)
		skip_test("needs root and a user nobody");
	start();
	old = metrics_pid();
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		int r = h_signal_as(pw->pw_uid, pw->pw_gid, e.pid, &old, 1, sigs[i]);
		ck_assert_int_ne(r, -1);
		refused += r;
		for (uint64_t end = h_now_ms() + 2000; !h_settled(old) &&
		    h_now_ms() < end; h_tick())
			;
		ck_assert_msg(h_pid_alive(old) && h_log_lacks(&e,
		    "metrics process (pid"), "signal %d ended it", sigs[i]);
	}
	ck_assert_int_eq(refused, 0);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		ck_assert_int_eq(h_signal_as(pw->pw_uid, pw->pw_gid, e.pid, &old,
		    1, sig), 0);
	for (uint64_t end = h_now_ms() + 2000; !h_settled(old) &&
	    h_now_ms() < end; h_tick())
		;
	ck_assert_msg(scraped(5000), "/metrics does not answer");
	ck_assert_msg(h_log_lacks(&e, "metrics process (pid"), "it died");
	ck_assert_int_eq(metrics_pid(), old);
}
END_TEST

/* prlimit(2) as nobody: at RLIMIT_NOFILE 0 the metrics process could never
 * accept again; it notices, exits, and another serves. */
START_TEST(test_metrics_limits_lowered)
{
	struct passwd *pw = nobody();
	pid_t old, pid;
	int st;

	if (pw == NULL)
		skip_test("needs root and a user nobody");
	start();
	ck_assert(scraped(5000));
	old = metrics_pid();
	if ((pid = fork()) == 0) {
		struct rlimit zero = { 0, 0 };
		if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
		    setuid(pw->pw_uid) == -1)
			_exit(100);
		_exit(prlimit(old, RLIMIT_NOFILE, &zero, NULL) == -1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "prlimit: 0x%x", st);
	ck_assert_msg(h_wait_log(&e, "-> 0 lowered from outside", 5000),
	    "the metrics process did not notice");
	ck_assert_msg(replaced(old, 10000) != old, "not replaced");
	ck_assert_msg(h_log_lacks(&e, "exited with status 1"), "it died of it");
	ck_assert_msg(scraped(10000), "/metrics does not answer");
}
END_TEST

/*
 * What the metrics process maps shared: the statistics page alone, and
 * neither writable nor able to become so (smaps' VmFlags: no "wr", no
 * "mw", which mprotect() would need).  The per-source table is not there.
 */
START_TEST(test_metrics_maps_readonly)
{
	char path[64], line[1024], range[64] = "", name[512] = "";
	bool shared = false;
	int pages = 0;
	FILE *f;

	if (nobody() == NULL)
		skip_test("needs root and a user nobody");
	start();
	ck_assert(scraped(5000));
	snprintf(path, sizeof(path), "/proc/%ld/smaps", (long)metrics_pid());
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f)) {
		char perms[8];
		if (sscanf(line, "%63[0-9a-f-] %7s %*s %*s %*s %511[^\n]", range,
		    perms, name) >= 2 && strchr(range, '-') != NULL &&
		    strlen(perms) == 4) {
			shared = perms[3] == 's';
			if (sscanf(line, "%*s %*s %*s %*s %*s %511[^\n]", name) != 1)
				name[0] = '\0';
			continue;
		}
		if (!shared || strncmp(line, "VmFlags:", 8) != 0)
			continue;
		ck_assert_msg(strstr(line, " wr") == NULL && strstr(line, " mw")
		    == NULL, "%s %s is writable: %s", range, name, line);
		ck_assert_msg(strstr(name, "memfd:echod-stats") != NULL,
		    "%s %s is shared", range, name);
		pages++;
	}
	fclose(f);
	ck_assert_int_eq(pages, 1);
}
END_TEST

Suite *
metricsproc_suite(void)
{
	Suite *s = suite_create("metricsproc");
	TCase *tc = tcase_create("supervised");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_metrics_stopped_replaced);
	suite_add_tcase(s, tc);
	/* As check_lifecycle.c's "sent signals": valgrind mishandles fault
	 * signals sent by kill(), and answers getrlimit() from its own copy. */
	tc = tcase_create("from its user");
	tcase_set_tags(tc, "sent-fault-signals");
	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_metrics_users_signals);
	tcase_add_test(tc, test_metrics_limits_lowered);
	suite_add_tcase(s, tc);
	/* valgrind maps a shared, writable page of its own into each process */
	tc = tcase_create("mappings");
	tcase_set_tags(tc, "no-valgrind");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_metrics_maps_readonly);
	suite_add_tcase(s, tc);
	return s;
}
