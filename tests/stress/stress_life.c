/* stress_life.c - the master's side of failure: workers that crash at
 * start, and the master itself killed. */
#include "config.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

#define GIVEUP_K	5	/* echod.conf(5): 5 early deaths ... */
#define GIVEUP_W_S	30	/* ... within 30 s */

/* Workers that exit 70 at start, or (by_abort) call abort(): their own
 * SIGABRT is a crash, whatever the filter does with one from outside. */
static void
crash_loop(struct result *r, bool by_abort)
{
	struct echod e;
	const char *shim, *preload;
	char line[512];
	const char *const argv[] = { "-f", "-w", "1", "-l", "127.0.0.1:0", NULL };
	long delays[64];
	int ndelays = 0, deaths = 0, st;
	FILE *f;

	if ((preload = h_crashshim_preload(&shim)) == NULL) {
		bar(r, false, "%s is missing", shim);
		return;
	}
	h_init(&e);
	putenv((char *)preload);
	if (by_abort)
		putenv("CRASHSHIM_ABORT=1");
	/* ASan insists on being first; the shim needs none of it */
	putenv("ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0");
	uint64_t t0 = h_now_ms();
	h_spawn(&e, argv);
	unsetenv("LD_PRELOAD");
	unsetenv("CRASHSHIM_ABORT");
	st = h_wait_exit(e.pid, 20000);
	double secs = (double)(h_now_ms() - t0) / 1000.0;
	if (st != -1)
		e.pid = -1;

	/* the deaths, and the delays before each respawn */
	if ((f = fopen(e.logpath, "r")) != NULL) {
		while (fgets(line, sizeof(line), f)) {
			char *p;
			/* the give-up line repeats the last death */
			if ((strstr(line, "exited with") || strstr(line, "killed by")) &&
			    !strstr(line, "giving up"))
				deaths++;
			if ((p = strstr(line, "restarts in ")) && ndelays < 64)
				delays[ndelays++] = atol(p + strlen("restarts in "));
		}
		fclose(f);
	}
	bool growing = ndelays >= 2;
	char seq[200] = "";
	for (int i = 0; i < ndelays; i++) {
		size_t len = strlen(seq);
		snprintf(seq + len, sizeof(seq) - len, "%s%ld", i ? "," : "", delays[i]);
		if (i > 0 && delays[i] <= delays[i - 1])
			growing = false;
	}
	double fps = secs > 0 ? deaths / secs : 0;
	snprintf(r->figure, sizeof(r->figure), "%d worker deaths in %.1f s "
	    "(%.1f forks/s), respawn delays %s ms, exit %s%d, give-up line %s",
	    deaths, secs, fps, seq,
	    st == -1 ? "none: still running " : WIFEXITED(st) ? "" : "signal ",
	    st == -1 ? 0 : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
	    h_log_has(&e, "giving up") ? "logged" : "missing");
	/* README and echod(8): the master gives up and exits 1, exactly */
	bar(r, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "the master did not give up with exit 1");
	bar(r, h_log_has(&e, "died within 10s of starting in the last 30s; giving up"),
	    "no clear give-up line");
	bar(r, deaths == GIVEUP_K, "gave up after %d deaths, not %d", deaths, GIVEUP_K);
	bar(r, secs < GIVEUP_W_S, "gave up after the window");
	bar(r, growing, "respawn delays do not grow");
	bar(r, fps <= 20 || sl_sanitizers(), "more than 20 forks a second");
	bar(r, !by_abort || h_log_has(&e, "killed by signal 6"),
	    "no worker died of its own SIGABRT");
	h_cleanup(&e);
}

void sc_crash_loop(struct result *r) { crash_loop(r, false); }
void sc_crash_loop_abort(struct result *r) { crash_loop(r, true); }

void
sc_master_kill(struct result *r)
{
	struct echod e, e2;
	struct sl_load l;
	pid_t w[16];
	char listen[64];
	int n, port = h_free_port();

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	h_init(&e);
	h_init(&e2);
	const char *const argv[] = { "-f", "-w", "4", "-l", listen, "-p",
	    e.pidfile, NULL };
	if (!sl_start(r, &e, argv))
		goto out;
	for (uint64_t end = h_now_ms() + 2000; h_now_ms() < end &&
	    h_workers(e.pid, w, 16) < 4; h_tick())
		;
	sl_load_init(&l, AF_INET, port, 50, 20, 1024);
	sl_load_run(&l, 1000);
	n = h_workers(e.pid, w, 16);
	uint64_t t0 = h_now_ms();
	kill(e.pid, SIGKILL);
	h_wait_exit(e.pid, 2000);
	e.pid = -1;
	int alive = n;
	while (alive > 0 && h_now_ms() < t0 + 3000) {
		sl_load_run(&l, 5);
		alive = 0;
		for (int i = 0; i < n; i++)
			alive += h_pid_alive(w[i]);
	}
	uint64_t gone_ms = h_now_ms() - t0;
	sl_load_free(&l);

	/* a successor on the same address and PID file, at once */
	uint64_t t1 = h_now_ms();
	const char *const argv2[] = { "-f", "-w", "4", "-l", listen, "-p",
	    e.pidfile, NULL };
	int started = h_start(&e2, argv2, 5000);
	uint64_t ready_ms = h_now_ms() - t1;
	int fd = h_connect(AF_INET, port, 1000);
	bool answers = fd != -1 && h_echo(fd, "again", 5, 1000) == 0;
	if (fd != -1)
		close(fd);
	snprintf(r->figure, sizeof(r->figure), "%d workers gone %llu ms after "
	    "the master's SIGKILL; successor ready in %llu ms, %s",
	    n, (unsigned long long)gone_ms, (unsigned long long)ready_ms,
	    answers ? "answering" : "not answering");
	bar(r, n == 4, "only %d workers before the kill", n);
	bar(r, alive == 0, "%d workers survived the master", alive);
	bar(r, gone_ms <= 1000 || sl_sanitizers(), "workers outlived the master by over 1 s");
	bar(r, started == 0, "the successor did not start");
	bar(r, answers, "the successor does not answer");
	bar(r, ready_ms <= 1000 || sl_sanitizers(), "the successor took over 1 s");
out:
	h_cleanup(&e2);
	h_cleanup(&e);
}
