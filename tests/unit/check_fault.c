/* check_fault.c - the fatal-signal filter: the rule alone, then in a child
 * process that installed it, with signals from itself, its "master" (this
 * test) and an outsider (a sibling), and faults of its own. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "pool.h"
#include "suites.h"

#define SELF	1000
#define MASTER	999
#define OTHER	1234

static const int fatal_signals[] = {
	SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGSYS, SIGTRAP,
	SIGXCPU, SIGXFSZ,
};

START_TEST(test_rule)
{
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(int); i++) {
		int sig = fatal_signals[i];
		bool codes = sig != SIGABRT && sig != SIGXCPU && sig != SIGXFSZ;

		/* kill() and tgkill(): the kernel names the sender */
		ck_assert(fault_fatal(sig, SI_USER, SELF, SELF, MASTER));
		ck_assert(fault_fatal(sig, SI_TKILL, SELF, SELF, MASTER));	/* abort() */
		ck_assert(fault_fatal(sig, SI_USER, MASTER, SELF, MASTER));
		ck_assert(fault_fatal(sig, SI_TKILL, MASTER, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_USER, OTHER, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_TKILL, OTHER, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_USER, 0, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_USER, 0, SELF, 0));	/* no master */
		/* sigqueue() and the like write their own si_pid: a lie */
		ck_assert(!fault_fatal(sig, SI_QUEUE, MASTER, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_QUEUE, SELF, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_SIGIO, OTHER, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_TIMER, SELF, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_MESGQ, MASTER, SELF, MASTER));
		ck_assert(!fault_fatal(sig, SI_ASYNCIO, SELF, SELF, MASTER));
		/* the kernel's own */
		ck_assert(fault_fatal(sig, SI_KERNEL, 0, SELF, MASTER));
		/* a fault's code, or F_SETSIG's POLL_IN on a signal without any */
		ck_assert(fault_fatal(sig, 1, OTHER, SELF, MASTER) == codes);
		ck_assert(fault_fatal(sig, POLL_HUP, 0, SELF, MASTER) == codes);
	}
	ck_assert(fault_fatal(SIGSEGV, SEGV_MAPERR, 0, SELF, MASTER));
	ck_assert(fault_fatal(SIGBUS, BUS_ADRERR, 0, SELF, MASTER));
	ck_assert(fault_fatal(SIGFPE, FPE_INTDIV, 0, SELF, MASTER));
	ck_assert(fault_fatal(SIGILL, ILL_ILLOPN, 0, SELF, MASTER));
	ck_assert(fault_fatal(SIGTRAP, TRAP_BRKPT, 0, SELF, MASTER));
	ck_assert(fault_fatal(SIGSYS, 1 /* SYS_SECCOMP */, 0, SELF, MASTER));
}
END_TEST

/* ---- in a child --------------------------------------------------------- */

static void
exit42(int sig, siginfo_t *si, void *uc)
{
	(void)sig; (void)si; (void)uc;
	_exit(42);
}

/* What the child does once the filter is on. */
enum act { WAIT, ABORT, RAISE, BAD_LOAD, OVERFLOW };

struct child {
	pid_t	pid;
	int	go;	/* write a byte: the child exits 0 */
};

static volatile int sink, never = -1;

static int
overflow(int depth)
{
	volatile char frame[1024];

	if (depth == never)
		return 0;
	frame[0] = (char)depth;
	return overflow(depth + 1) + frame[0];	/* not a tail call */
}

/*
 * Forks a child that installs the filter with this process as its master
 * (sig's previous handler exit42() if chain), then acts; returns once the
 * filter is on.
 */
static struct child
child_start(int sig, enum act act, bool chain)
{
	struct child c;
	int ready[2], go[2];
	char b;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid_t master = getpid();
	if ((c.pid = fork()) == 0) {
		struct sigaction sa = { .sa_sigaction = exit42,
		    .sa_flags = SA_SIGINFO };
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);	/* a sanitizer's report */
		if (chain)
			sigaction(sig, &sa, NULL);
		if (fault_install(master) == -1)
			_exit(3);
		(void)!write(ready[1], "r", 1);
		switch (act) {
		case WAIT:
			/* an ignored signal restarts the read */
			_exit(read(go[0], &b, 1) == 1 ? 0 : 4);
		case ABORT:
			abort();
		case RAISE:
			raise(sig);
			_exit(0);
		case BAD_LOAD:	/* not NULL: UBSan would catch that first */
			sink = *(volatile int *)(uintptr_t)(sink + 16);
			_exit(0);
		case OVERFLOW:
			sink = overflow(0);
			_exit(0);
		}
		_exit(5);
	}
	ck_assert_int_gt(c.pid, 0);
	close(ready[1]);
	close(go[0]);
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	close(ready[0]);
	c.go = go[1];
	return c;
}

static int
child_finish(struct child *c)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int st;

	sigaction(SIGPIPE, &ign, &old);		/* the child may be dead */
	(void)!write(c->go, "g", 1);
	sigaction(SIGPIPE, &old, NULL);
	close(c->go);
	ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
	return st;
}

/* kill() and a sigqueue() claiming to come from the master, from a
 * process that is neither. */
static void
outsider_sends(pid_t to, int sig)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		siginfo_t si = { .si_signo = sig, .si_code = SI_QUEUE };
		si.si_pid = getppid();
		si.si_uid = getuid();
		_exit(kill(to, sig) == 0 &&
		    syscall(SYS_rt_sigqueueinfo, to, sig, &si) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "could not send");
}

/* Killed by sig, or (SIGSEGV, SIGBUS, SIGFPE under ASan) by the sanitizer's
 * handler it was passed on to, which reports and exits 1: a crash. */
static bool
dies_of(int st, int sig)
{
	return WIFSIGNALED(st) ? WTERMSIG(st) == sig : pool_is_crash(st);
}

START_TEST(test_outsider_ignored)
{
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(int); i++) {
		int sig = fatal_signals[i];
		struct child c = child_start(sig, WAIT, true);

		outsider_sends(c.pid, sig);
		int st = child_finish(&c);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "signal %d from outside: status 0x%x", sig, st);
	}
}
END_TEST

START_TEST(test_master_counts)
{
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(int); i++) {
		int sig = fatal_signals[i];
		struct child c = child_start(sig, WAIT, false);

		kill(c.pid, sig);
		int st = child_finish(&c);
		ck_assert_msg(dies_of(st, sig), "signal %d from the master: "
		    "status 0x%x", sig, st);
	}
}
END_TEST

START_TEST(test_own_signals_count)
{
	struct child c = child_start(SIGABRT, ABORT, false);
	int st = child_finish(&c);

	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "0x%x", st);
	ck_assert(pool_is_crash(st));
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(int); i++) {
		int sig = fatal_signals[i];
		c = child_start(sig, RAISE, false);
		st = child_finish(&c);
		ck_assert_msg(dies_of(st, sig), "signal %d raised: status 0x%x",
		    sig, st);
	}
}
END_TEST

/* A real fault counts, stack overflow included. */
START_TEST(test_faults_count)
{
	struct child c = child_start(SIGSEGV, BAD_LOAD, false);
	int st = child_finish(&c);

	ck_assert_msg(dies_of(st, SIGSEGV), "0x%x", st);
	c = child_start(SIGSEGV, OVERFLOW, false);
	st = child_finish(&c);
	ck_assert_msg(dies_of(st, SIGSEGV), "stack overflow: 0x%x", st);
}
END_TEST

/* What counts goes to the handler there was before (a sanitizer's), even
 * for a stack overflow; what is ignored does not reach it. */
START_TEST(test_chains_to_previous)
{
	struct child c = child_start(SIGFPE, RAISE, true);
	int st = child_finish(&c);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42, "0x%x", st);
	c = child_start(SIGSEGV, BAD_LOAD, true);
	st = child_finish(&c);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42, "0x%x", st);
	c = child_start(SIGSEGV, OVERFLOW, true);
	st = child_finish(&c);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42,
	    "stack overflow: 0x%x", st);
	c = child_start(SIGBUS, WAIT, true);
	outsider_sends(c.pid, SIGBUS);
	st = child_finish(&c);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "0x%x", st);
}
END_TEST

/*
 * Tagged: valgrind mishandles SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP
 * sent by kill() to a process blocked in a system call (the call's result
 * is lost, or valgrind asserts), so check-valgrind leaves these out.
 */
#define TAG_SENT_FAULTS	"sent-fault-signals"

Suite *
fault_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("fault");
	TCase *sent = tcase_create("sent");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rule);
	tcase_add_test(tc, test_own_signals_count);
	tcase_add_test(tc, test_faults_count);
	suite_add_tcase(s, tc);
	tcase_set_timeout(sent, 30);
	tcase_set_tags(sent, TAG_SENT_FAULTS);
	tcase_add_test(sent, test_outsider_ignored);
	tcase_add_test(sent, test_master_counts);
	tcase_add_test(sent, test_chains_to_previous);
	suite_add_tcase(s, sent);
	return s;
}
