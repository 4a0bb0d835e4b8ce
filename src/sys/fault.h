/* fault.h - a child's defences against its own user (a worker's and the
 * metrics process's): the fatal-signal filter (its own faults and the
 * master's SIGABRT still kill it with a core, the same signals sent by
 * anyone else are ignored) and the watch on its resource limits. */
#ifndef ECHOD_FAULT_H
#define ECHOD_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Bytes of the alternate stack the filter runs on (a stack overflow). */
#define FAULT_ALTSTACK_SIZE	65536

/*
 * The rule, pure: does signal sig, with si_code code and si_pid sender,
 * received by process self whose master is master, end the process?
 * True for a fault the kernel raised, and for what self or master sent;
 * false for what another process sent, or could have forged.
 */
bool	fault_fatal(int sig, int code, pid_t sender, pid_t self, pid_t master);
/*
 * Installs the filter on SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGSYS,
 * SIGTRAP, SIGXCPU and SIGXFSZ, on an alternate stack unless one is set
 * already.  A signal that counts goes to the handler installed before (a
 * sanitizer's), else takes its default action (core).  A signal ignored
 * before stays ignored.  Returns 0, or -1 with errno (sigaction failed).
 */
int	fault_install(pid_t master);
/*
 * A child's signals, set once after fork and before the privilege drop: it
 * takes orders from the master only.  The master's own signals are
 * ignored; so are those that would end it by default and that nothing of
 * ours uses, unless someone (a profiler) has a handler on them; the fatal
 * ones go through fault_install(); SIGCHLD is the default and nothing is
 * blocked.  Returns 0, or -1 with errno (the filter could not be set).
 */
int	fault_shield(pid_t master);

/*
 * Resource limits, which the workers' user may lower too (prlimit(2) needs
 * only the same uid): a worker at RLIMIT_NOFILE 0 stays alive and
 * heartbeats, but can never accept again.  A worker saves its limits before
 * it drops root and compares them once a tick.
 */
struct fault_limits {
	struct rlimit	rl[RLIM_NLIMITS];
};
/* Saves the process's limits.  Returns 0, or -1 with errno. */
int	fault_limits_save(struct fault_limits *);
/*
 * Whether a limit is now lower (soft or hard) than saved; if so, names the
 * first one in what (e.g. "RLIMIT_NOFILE 1024 -> 0").
 */
bool	fault_limits_lowered(const struct fault_limits *saved, char *what,
	    size_t len);

#endif
