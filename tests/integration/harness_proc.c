/* harness_proc.c - see harness.h: echod's processes waited for and their
 * exit status, what /proc says of them, and children that act as another
 * user (send signals, run echod). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

int
h_wait_exit(pid_t pid, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int st;

	do {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r == -1)
			return -1;
		h_tick();
	} while (h_now_ms() < end);
	return -1;
}

int
h_stop(struct echod *e, int sig, int timeout_ms)
{
	int st;

	if (e->pid <= 0)
		return -1;
	kill(e->pid, sig);
	st = h_wait_exit(e->pid, timeout_ms);
	if (st != -1)
		e->pid = -1;
	return st;
}

int
h_run_status(struct echod *e, const char *const argv[])
{
	int st;

	h_spawn(e, argv);
	if ((st = h_wait_exit(e->pid, 5000)) != -1)
		e->pid = -1;	/* one that hangs is h_cleanup()'s to kill */
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
h_workers(pid_t master, pid_t *out, int max)
{
	char path[64], buf[4096];
	int n = 0, fd;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)master,
	    (long)master);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (char *p = buf, *end; n < max; p = end) {
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		out[n++] = (pid_t)pid;
	}
	return n;
}

bool
h_pid_alive(pid_t pid)
{
	char path[64], buf[512];
	int fd;
	ssize_t n;

	/* A zombie is not alive: it holds no socket. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

bool
h_contains_pid(const pid_t *v, int n, pid_t p)
{
	for (int i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

long
h_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

long
h_status_field(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = atol(line + strlen(field));
	fclose(f);
	return v;
}

int
h_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n == 0)
		errno = ENOENT;
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return 0;
}

long
h_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	/* fields after the name: state is 3rd; utime 14th, stime 15th */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

bool
h_wait_workers(const struct echod *e, int n, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	pid_t w[64];

	while (h_workers(e->pid, w, 64) != n && h_now_ms() < end)
		h_tick();
	return h_workers(e->pid, w, 64) == n;
}

int
h_signal_as(uid_t uid, gid_t gid, pid_t claimed, const pid_t *pids, int n,
    int sig)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int refused = 0;

		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1)
			_exit(100);
		for (int i = 0; i < n; i++) {
			siginfo_t si = { .si_signo = sig, .si_code = SI_QUEUE };
			int p[2];

			si.si_pid = claimed;
			si.si_uid = 0;
			refused += kill(pids[i], sig) == -1;
			refused += syscall(SYS_rt_sigqueueinfo, pids[i], sig, &si) == -1;
			if (pipe(p) == -1)
				_exit(101);
			refused += fcntl(p[0], F_SETOWN, pids[i]) == -1 ||
			    fcntl(p[0], F_SETSIG, sig) == -1 ||
			    fcntl(p[0], F_SETFL, O_ASYNC) == -1 ||
			    write(p[1], "x", 1) != 1;
			close(p[0]);
			close(p[1]);
		}
		_exit(refused > 99 ? 99 : refused);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) >= 100)
		return -1;
	return WEXITSTATUS(st);
}

bool
h_settled(pid_t pid)
{
	char path[64], line[256];
	bool pending = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return true;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "SigPnd:", 7) == 0 || strncmp(line, "ShdPnd:", 7) == 0)
			pending |= strtoull(line + 7, NULL, 16) != 0;
	fclose(f);
	return !pending;
}

/* The child of h_exec_as(): output, user, environment, then the binary. */
static void
exec_child(const struct echod *e, int bin, uid_t uid, gid_t gid,
    char *const argv[], const char *env, bool capture)
{
	extern char **environ;
	char po[160], pe[160];
	int o, r;

	snprintf(po, sizeof(po), "%s/exec.out", e->dir);
	snprintf(pe, sizeof(pe), "%s/exec.err", e->dir);
	o = open(capture ? po : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0644);
	r = open(capture ? pe : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0644);
	if (o == -1 || r == -1 || dup2(o, 1) == -1 || dup2(r, 2) == -1)
		_exit(126);
	if (uid != (uid_t)-1 && (setgroups(0, NULL) == -1 ||
	    setgid(gid) == -1 || setuid(uid) == -1))
		_exit(126);
	if (env != NULL && putenv((char *)env) != 0)
		_exit(126);
	fexecve(bin, argv, environ);
	_exit(127);
}

/* What h_exec_as()'s child wrote to name in the scratch directory. */
static void
slurp(const struct echod *e, const char *name, char *buf, size_t len)
{
	char path[160];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", e->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd == -1 ? 0 : read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (fd != -1)
		close(fd);
}

int
h_exec_as(const struct echod *e, uid_t uid, gid_t gid, const char *const argv[],
    const char *env, struct h_capture *cap)
{
	char *args[32];
	size_t n = 0;
	int bin, st;
	pid_t pid;

	args[n++] = "echod";
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (n >= nitems(args) - 1)
			abort();	/* a test's own mistake: say so at once */
		args[n++] = (char *)argv[i];
	}
	args[n] = NULL;
	if ((bin = open(h_echod_path(), O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((pid = fork()) == 0)
		exec_child(e, bin, uid, gid, args, env, cap != NULL);
	close(bin);
	if (pid == -1)
		return -1;
	st = h_wait_exit(pid, 10000);
	if (cap != NULL) {
		slurp(e, "exec.out", cap->out, sizeof(cap->out));
		slurp(e, "exec.err", cap->err, sizeof(cap->err));
	}
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
