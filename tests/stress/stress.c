/* stress.c - runs issue 8's scenarios against the real echod and prints
 * TAP: one line per scenario carrying its figure.  Each scenario runs in a
 * child of its own process group, so a hang or a crash costs that line only
 * and kills whatever it started.  STRESS_ONLY=word runs the matching ones. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

static const struct scenario {
	const char	*name;
	void		(*run)(struct result *);
	int		 timeout_s;
} scenarios[] = {
	{ "reload storm",		sc_reload_storm,	60 },
	{ "log volume",			sc_log_volume,		120 },
	{ "worker kills",		sc_worker_kills,	60 },
	{ "crash loop",			sc_crash_loop,		40 },
	{ "crash loop by abort",	sc_crash_loop_abort,	40 },
	{ "master kill",		sc_master_kill,		30 },
	{ "idle flood",			sc_idle_flood,		60 },
	{ "slow readers",		sc_slow_readers,	30 },
	{ "descriptor exhaustion",	sc_fd_exhaustion,	30 },
	{ "udp abuse",			sc_udp_abuse,		30 },
	{ "per-source limit",		sc_per_source,		30 },
	{ "access control",		sc_access,		30 },
	{ "garbage",			sc_garbage,		30 },
};
#define NSCENARIOS	(sizeof(scenarios) / sizeof(scenarios[0]))

static void
run_one(int n, const struct scenario *sc)
{
	struct result r;
	int pfd[2], status = -1;
	pid_t pid;
	ssize_t got = 0;

	memset(&r, 0, sizeof(r));
	/* close-on-exec: an echod the scenario starts must not hold the
	 * result pipe open, or a scenario that died leaves the read hanging */
	if (pipe2(pfd, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		printf("not ok %d - %s: cannot fork\n", n, sc->name);
		return;
	}
	if (pid == 0) {
		close(pfd[0]);
		setpgid(0, 0);
		alarm((unsigned)sc->timeout_s);
		sc->run(&r);
		(void)!write(pfd[1], &r, sizeof(r));
		_exit(0);
	}
	close(pfd[1]);
	setpgid(pid, pid);
	/* bounded: the scenario's own alarm, and a margin */
	uint64_t end = h_now_ms() + (uint64_t)(sc->timeout_s + 15) * 1000;
	for (size_t off = 0; off < sizeof(r); off += (size_t)got) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		uint64_t t = h_now_ms();

		got = -1;
		if (t >= end || poll(&p, 1, (int)(end - t)) != 1)
			break;
		if ((got = read(pfd[0], (char *)&r + off, sizeof(r) - off)) <= 0)
			break;
	}
	close(pfd[0]);
	kill(-pid, SIGKILL);	/* whatever the scenario left behind */
	waitpid(pid, &status, 0);
	if (got <= 0) {
		printf("not ok %d - %s: %s\n", n, sc->name,
		    got == -1 || (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) ?
		    "timed out" : "the scenario crashed");
		return;
	}
	if (r.skip)
		printf("ok %d - %s # SKIP %s\n", n, sc->name, r.why);
	else if (r.why[0] != '\0')
		printf("not ok %d - %s: %s\n# %s: missed: %s\n", n, sc->name,
		    r.figure[0] ? r.figure : r.why, sc->name, r.why);
	else
		printf("ok %d - %s: %s\n", n, sc->name, r.figure);
	printf("# %s: %s\n", sc->name, r.figure[0] ? r.figure : "no figure");
}

int
main(void)
{
	const char *only = getenv("STRESS_ONLY");
	struct rlimit rl;
	int n = 0;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the idle flood holds 10,000 clients */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rl.rlim_cur = rl.rlim_max = 0;	/* crashing workers leave no cores */
	setrlimit(RLIMIT_CORE, &rl);

	for (size_t i = 0; i < NSCENARIOS; i++)
		if (only == NULL || strstr(scenarios[i].name, only))
			n++;
	printf("1..%d\n", n);
	n = 0;
	for (size_t i = 0; i < NSCENARIOS; i++)
		if (only == NULL || strstr(scenarios[i].name, only))
			run_one(++n, &scenarios[i]);
	return 0;
}
