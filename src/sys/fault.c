/*
 * fault.c - a worker's fatal-signal filter.  Workers drop root, so a
 * process of their user may signal them; a SIGSEGV from it must not pass
 * for a crash, or five of them make the master give up.  siginfo says who
 * sent a signal: the kernel (a fault), the worker itself (abort()), the
 * master (SIGABRT to a hung worker), or someone else, who is ignored.
 * The same user may lower a worker's resource limits: the worker notices
 * and makes way for a fresh one (see fault_limits_lowered()).  The metrics
 * process runs as that user too, and takes the same defences.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "util.h"

static const int fault_signals[] = {
	SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGSYS, SIGTRAP,
	SIGXCPU, SIGXFSZ,
};

static struct sigaction	 prev[nitems(fault_signals)];
static pid_t		 master_pid;
static alignas(16) char	 altstack[FAULT_ALTSTACK_SIZE];

/* The signals whose positive si_codes only the kernel's faults use: for
 * any other signal, F_SETSIG lets a process pick a POLL_* code. */
static bool
has_fault_codes(int sig)
{
	switch (sig) {
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP:
	case SIGSYS:
		return true;
	default:
		return false;
	}
}

bool
fault_fatal(int sig, int code, pid_t sender, pid_t self, pid_t master)
{
	switch (code) {
	case SI_USER:	/* kill(), and tgkill()/raise()/abort(): the kernel */
	case SI_TKILL:	/* fills in the sender, no one can forge it */
		return sender == self || (master > 0 && sender == master);
	case SI_KERNEL:	/* SIGXCPU past the soft limit, a bad stack... */
		return true;
	default:
		/* SI_QUEUE, SI_SIGIO and the other negative codes are what
		 * sigqueue() or F_SETSIG made them, sender included; nothing
		 * of ours raises a fatal signal that way. */
		if (code < 0)
			return false;
		return has_fault_codes(sig);
	}
}

static const struct sigaction *
previous(int sig)
{
	for (size_t i = 0; i < nitems(fault_signals); i++)
		if (fault_signals[i] == sig)
			return &prev[i];
	return &prev[0];	/* not reached: installed for those only */
}

/* The default action once the handler returns and unblocks sig: a core,
 * and a wait status that names the signal.  A fault would come again
 * anyway; a sent signal would not. */
static void
die(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *p = previous(sig);
	int saved = errno;

	if (!fault_fatal(sig, si->si_code, si->si_pid, getpid(), master_pid))
		;	/* from outside: ignored */
	else if (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN)
		die(sig);
	else if (p->sa_flags & SA_SIGINFO)
		p->sa_sigaction(sig, si, uc);	/* a sanitizer's */
	else
		p->sa_handler(sig);
	errno = saved;
}

int
fault_install(pid_t master)
{
	struct sigaction sa = { .sa_sigaction = on_fault,
	    .sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK };
	stack_t ss, cur;

	master_pid = master;
	/* A stack overflow can only be handled on a stack of its own (one
	 * set already, ASan's, is kept).  Without one, the overflow still
	 * ends the worker with SIGSEGV, just past any handler. */
	if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
		ss = (stack_t){ .ss_sp = altstack, .ss_size = sizeof(altstack) };
		(void)sigaltstack(&ss, NULL);
	}
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < nitems(fault_signals); i++) {
		if (sigaction(fault_signals[i], NULL, &prev[i]) == -1)
			return -1;
		if (prev[i].sa_handler == SIG_IGN)
			continue;	/* ignored from outside already */
		if (prev[i].sa_sigaction == on_fault)
			prev[i].sa_handler = SIG_DFL;	/* installed twice */
		if (sigaction(fault_signals[i], &sa, NULL) == -1)
			return -1;
	}
	return 0;
}

static void
ignore_if_default(int sig)
{
	struct sigaction cur, ign = { .sa_handler = SIG_IGN };

	if (sigaction(sig, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
	    !(cur.sa_flags & SA_SIGINFO))
		sigaction(sig, &ign, NULL);
}

int
fault_shield(pid_t master)
{
	/* SIGTSTP too: a stopped child is one the master must kill as hung
	 * (Ctrl-Z stops the master, and only the master). */
	static const int ignored[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTTIN, SIGTTOU, SIGTSTP,
		SIGUSR1, SIGUSR2, SIGPIPE,
	};
	static const int unused[] = {
		SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT,
	};
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t none;
	int rc;

	for (size_t i = 0; i < nitems(ignored); i++)
		sigaction(ignored[i], &sa, NULL);
	for (size_t i = 0; i < nitems(unused); i++)
		ignore_if_default(unused[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		ignore_if_default(sig);
	rc = fault_install(master);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return rc;
}

int
fault_limits_save(struct fault_limits *l)
{
	for (int r = 0; r < RLIM_NLIMITS; r++)
		if (getrlimit(r, &l->rl[r]) == -1)
			return -1;
	return 0;
}

static const char *
limit_name(int r)
{
	static const char *const names[RLIM_NLIMITS] = {
		[RLIMIT_CPU] = "RLIMIT_CPU", [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
		[RLIMIT_DATA] = "RLIMIT_DATA", [RLIMIT_STACK] = "RLIMIT_STACK",
		[RLIMIT_CORE] = "RLIMIT_CORE", [RLIMIT_RSS] = "RLIMIT_RSS",
		[RLIMIT_NPROC] = "RLIMIT_NPROC", [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
		[RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK", [RLIMIT_AS] = "RLIMIT_AS",
		[RLIMIT_LOCKS] = "RLIMIT_LOCKS",
		[RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
		[RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
		[RLIMIT_RTPRIO] = "RLIMIT_RTPRIO", [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
	};

	return r < RLIM_NLIMITS && names[r] ? names[r] : "a resource limit";
}

static void
format_limit(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

bool
fault_limits_lowered(const struct fault_limits *saved, char *what, size_t len)
{
	for (int r = 0; r < RLIM_NLIMITS; r++) {
		const struct rlimit *was = &saved->rl[r];
		struct rlimit now;
		char a[32], b[32];
		bool soft;

		if (getrlimit(r, &now) == -1)
			continue;
		/* RLIM_INFINITY is the largest value: plain comparisons hold. */
		if (now.rlim_cur >= was->rlim_cur && now.rlim_max >= was->rlim_max)
			continue;
		soft = now.rlim_cur < was->rlim_cur;
		format_limit(soft ? was->rlim_cur : was->rlim_max, a, sizeof(a));
		format_limit(soft ? now.rlim_cur : now.rlim_max, b, sizeof(b));
		snprintf(what, len, "%s (%s) %s -> %s", limit_name(r),
		    soft ? "soft" : "hard", a, b);
		return true;
	}
	return false;
}
