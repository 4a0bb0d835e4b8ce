/*
 * check_resolve.c - the resolver thread's bounded queue: posts never block,
 * a full queue refuses, the thread drains it and writes each "connected"
 * line with the client's name.  Only 127.0.0.1 is looked up, which
 * /etc/hosts answers (no DNS).  The queue is process state: every test
 * runs in its own process (Check's fork mode).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "resolve.h"
#include "util.h"
#include "suites.h"

#define WAIT_MS	10000	/* generous: the machine is shared */

static char logpath[64];

static uint64_t
now_ms(void)
{
	return now_usec() / 1000;
}

static void
tick(void)
{
	struct timespec ts = { 0, 10 * 1000000 };

	nanosleep(&ts, NULL);
}

/* stderr, and so the log, into a scratch file. */
static void
setup(void)
{
	int fd;

	if (!test_forked())
		return;		/* each test skips */
	strcpy(logpath, "/tmp/echod-resolve-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(logpath), -1);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_init(LOG_TO_STDERR, "check_resolve");
	log_setlevel(LOG_INFO);
}

static void
teardown(void)
{
	if (test_forked())
		unlink(logpath);
}

#define NEEDS_FORK() do {						\
	if (!test_forked())						\
		skip_test("starts a thread and takes stderr: needs CK_FORK=yes"); \
} while (0)

static union sockaddr_any
peer(unsigned port)
{
	union sockaddr_any a = { .in = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) } };

	a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* How many lines of the log contain needle. */
static int
count(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	char line[512];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static bool
wait_count(const char *needle, int want)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (count(needle) < want && now_ms() < end)
		tick();
	return count(needle) == want;
}

/* What the worker's callback does with a name (worker.c's log_open): one
 * "connected" line, written on the resolver thread. */
static void
done(const struct sockaddr *sa, socklen_t len, const char *host)
{
	char addr[64];
	unsigned port;

	addr_host_port(sa, len, addr, sizeof(addr), &port);
	if (host[0] != '\0')
		log_info("tcp connected to %s (%s) port %u", host, addr, port);
	else
		log_info("tcp connected to %s port %u", addr, port);
}

/* What the thread should say 127.0.0.1 is: "localhost (127.0.0.1)" from
 * /etc/hosts, or the bare address where nothing names it. */
static void
who(char *buf, size_t len)
{
	union sockaddr_any a = peer(7);
	char host[NI_MAXHOST];

	if (getnameinfo(&a.sa, sizeof(a.in), host, sizeof(host), NULL, 0,
	    NI_NAMEREQD) == 0)
		snprintf(buf, len, "tcp connected to %s (127.0.0.1) port ", host);
	else
		snprintf(buf, len, "tcp connected to 127.0.0.1 port ");
}

/* With no thread to drain it, the queue takes RESOLVE_QUEUE look-ups and
 * refuses the next at once; started, the thread writes them all, in order. */
START_TEST(test_full_queue_then_drained)
{
	char want[NI_MAXHOST + 64], line[NI_MAXHOST + 80];

	NEEDS_FORK();
	for (unsigned i = 0; i < RESOLVE_QUEUE; i++) {
		union sockaddr_any a = peer(1000 + i);
		ck_assert_msg(resolve_post(&a, sizeof(a.in)), "post %u refused", i);
	}
	union sockaddr_any extra = peer(999);
	uint64_t t0 = now_ms();
	ck_assert(!resolve_post(&extra, sizeof(extra.in)));
	ck_assert(!resolve_post(&extra, sizeof(extra.in)));
	timing_assert(now_ms() - t0 < 1000, "refused after %llu ms, not at once",
	    (unsigned long long)(now_ms() - t0));
	ck_assert_int_eq(count("connected"), 0);

	ck_assert_int_eq(resolve_start(done), 0);
	who(want, sizeof(want));
	ck_assert_msg(wait_count(want, RESOLVE_QUEUE), "%d of %d lines with \"%s\"",
	    count(want), RESOLVE_QUEUE, want);
	/* in order, and the refused one never written */
	snprintf(line, sizeof(line), "%s999\n", want);
	ck_assert_int_eq(count(line), 0);
	FILE *f = fopen(logpath, "r");
	char got[512];
	unsigned next = 1000;
	while (fgets(got, sizeof(got), f))
		if (strstr(got, want) != NULL)
			ck_assert_uint_eq(strtoul(strstr(got, want) + strlen(want),
			    NULL, 10), next++);
	fclose(f);
	ck_assert_uint_eq(next, 1000 + RESOLVE_QUEUE);

	/* drained: there is room again */
	union sockaddr_any again = peer(4242);
	ck_assert(resolve_post(&again, sizeof(again.in)));
	snprintf(line, sizeof(line), "%s4242", want);
	ck_assert(wait_count(line, 1));
}
END_TEST

/* Each thread's blocked signals, from /proc: how many threads. */
static int
masks(unsigned long long *blk, int max)
{
	char path[300], line[256];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir)) != NULL && n < max) {
		FILE *f;
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %llx", &blk[n]) == 1) {
				n++;
				break;
			}
		fclose(f);
	}
	closedir(dir);
	return n;
}

#define BIT(sig)	(1ULL << ((sig) - 1))

/* The thread takes no signal (signalfd in the loop's thread sees them all),
 * and the caller's own mask is left as it was. */
START_TEST(test_thread_blocks_signals)
{
	const int sigs[] = { SIGHUP, SIGINT, SIGTERM, SIGCHLD, SIGUSR1,
	    SIGPIPE, SIGALRM, SIGRTMIN };
	unsigned long long blk[4], want = 0;
	sigset_t mask;
	int n;

	NEEDS_FORK();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	ck_assert_int_eq(sigprocmask(SIG_SETMASK, &mask, NULL), 0);
	ck_assert_int_eq(resolve_start(done), 0);
	ck_assert_int_eq(sigprocmask(SIG_SETMASK, NULL, &mask), 0);
	ck_assert(sigismember(&mask, SIGTERM));
	ck_assert(!sigismember(&mask, SIGHUP));

	/* read once the thread has run (glibc starts a thread with every
	 * signal blocked, then sets the creator's mask in the thread) */
	union sockaddr_any a = peer(7);
	char want_line[NI_MAXHOST + 64];
	ck_assert(resolve_post(&a, sizeof(a.in)));
	who(want_line, sizeof(want_line));
	ck_assert(wait_count(want_line, 1));
	n = masks(blk, 4);
	ck_assert_int_eq(n, 2);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		want |= BIT(sigs[i]);
	/* one thread blocks SIGTERM only, the other all of them */
	ck_assert(blk[0] == BIT(SIGTERM) || blk[1] == BIT(SIGTERM));
	ck_assert_msg((blk[0] & want) == want || (blk[1] & want) == want,
	    "SigBlk %llx and %llx", blk[0], blk[1]);
}
END_TEST

/* A worker exits with its resolver waiting, or mid-look-up: the thread
 * holds nothing that keeps the process alive. */
START_TEST(test_exit_with_thread_running)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		union sockaddr_any a = peer(7);
		if (resolve_start(done) != 0)
			_exit(2);
		for (int i = 0; i < 64; i++)
			(void)resolve_post(&a, sizeof(a.in));
		exit(0);
	}
	uint64_t end = now_ms() + WAIT_MS;
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
		tick();
	if (r == 0)
		kill(pid, SIGKILL), waitpid(pid, &st, 0);
	ck_assert_int_eq(r, pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

Suite *
resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("resolve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full_queue_then_drained);
	tcase_add_test(tc, test_thread_blocks_signals);
	tcase_add_test(tc, test_exit_with_thread_running);
	suite_add_tcase(s, tc);
	return s;
}
