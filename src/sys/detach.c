/* detach.c - the double fork, with a pipe back to the waiting parent. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "detach.h"
#include "log.h"
#include "util.h"

static int report_fd = -1;

int
detach_start(const char *progname)
{
	char buf[1024];
	int fds[2], null;
	ssize_t got;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0) {
		/* The original process: wait for the daemon's word. */
		close(fds[1]);
		if ((got = read_full(fds[0], buf, sizeof(buf) - 1)) == -1)
			got = 0;
		buf[got] = '\0';
		waitpid(pid, NULL, 0);	/* the intermediate child exits at once */
		if (got > 0 && buf[0] == 'R')
			exit(0);
		/* journald names us itself: "echod[PID]: echod: ..." else */
		if (!log_stderr_is_journal())
			fprintf(stderr, "%s: ", progname);
		if (got > 1 && buf[0] == 'E')
			fprintf(stderr, "%s\n", buf + 1);
		else
			fprintf(stderr, "the daemon exited during start-up; "
			    "see the system log\n");
		exit(1);
	}
	close(fds[0]);
	if (setsid() == -1)
		_exit(1);
	if ((pid = fork()) == -1)
		_exit(1);
	if (pid > 0)
		_exit(0);
	report_fd = fds[1];
	if (chdir("/") == -1)
		return -1;
	umask(022);
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return 0;
}

void
detach_ready(void)
{
	if (report_fd == -1)
		return;
	(void)write_all(report_fd, "R", 1);
	close(report_fd);
	report_fd = -1;
}

void
detach_fail(const char *msg)
{
	char buf[1024];
	int n;

	if (report_fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "E%s", msg);
	(void)write_all(report_fd, buf, n > (int)sizeof(buf) - 1 ? sizeof(buf) - 1 : (size_t)n);
	close(report_fd);
	report_fd = -1;
}

int	detach_fd(void) { return report_fd; }
