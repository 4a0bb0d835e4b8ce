/* fault.h - a worker's fatal-signal filter: its own faults and the master's
 * SIGABRT still kill it with a core, the same signals sent by anyone else
 * are ignored. */
#ifndef ECHOD_FAULT_H
#define ECHOD_FAULT_H

#include <stdbool.h>
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

#endif
