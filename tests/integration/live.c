/* live.c - see live.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "live.h"

void
live_setup(struct live *lv, struct echod *e)
{
	lv->e = e;
	h_init(e);
	snprintf(lv->ctl, sizeof(lv->ctl), "%s/control", e->dir);
	lv->nfd = h_notify_socket(e, SOCK_CLOEXEC | SOCK_NONBLOCK,
	    lv->env_notify, sizeof(lv->env_notify));
	ck_assert_int_ne(lv->nfd, -1);
	lv->envp[0] = lv->env_notify;
	/* the master must keep its WATCHDOG=1 coming under load */
	lv->envp[1] = "WATCHDOG_USEC=1000000";
	lv->envp[2] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	lv->envp[3] = NULL;
	e->envp = lv->envp;
}

void
live_teardown(struct live *lv)
{
	h_cleanup(lv->e);
	close(lv->nfd);
	lv->nfd = -1;
}

void
live_start(struct live *lv, const char *extra)
{
	ck_assert_msg(h_start_conf(lv->e, &(struct h_conf){ .workers = 2,
	    .udp = "\"127.0.0.1:0\"", .control = lv->ctl, .extra = extra }) == 0,
	    "echod did not start; see %s", lv->e->logpath);
}

int
live_status(const struct live *lv, bool json, char *out, size_t outlen,
    char *err, size_t errlen)
{
	const char *const text[] = { "--status", "-c", lv->e->confpath, NULL };
	const char *const js[] = { "--status", "--json", "-c", lv->e->confpath,
	    NULL };

	return live_run(json ? js : text, out, outlen, err, errlen);
}

/*
 * Runs echod with argv (NULL-terminated, after the program name) and
 * gathers its stdout (and stderr, if err) within 10 s.  Returns the exit
 * status, or -1 (killed after the timeout).
 */
int
live_run(const char *const argv[], char *out, size_t outlen, char *err,
    size_t errlen)
{
	const char *args[16] = { h_echod_path() };
	int po[2], pe[2], st = -1;
	size_t no = 0, ne = 0;
	pid_t pid;

	for (int i = 0; argv[i] && i < 14; i++)
		args[i + 1] = argv[i];
	ck_assert(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0);
	if ((pid = fork()) == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	uint64_t end = h_now_ms() + 10000;
	struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	while (h_now_ms() < end && (p[0].fd != -1 || p[1].fd != -1)) {
		if (poll(p, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			char *b = i ? err : out;
			size_t *n = i ? &ne : &no, len = i ? errlen : outlen;
			char junk[256];
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t r = b && *n + 1 < len ? read(p[i].fd, b + *n, len - 1 - *n) :
			    read(p[i].fd, junk, sizeof(junk));
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else if (b && *n + 1 < len)
				*n += (size_t)r;
		}
	}
	if (out)
		out[no] = '\0';
	if (err)
		err[ne] = '\0';
	for (int i = 0; i < 2; i++)
		if (p[i].fd != -1)
			close(p[i].fd);
	if ((st = h_wait_exit(pid, 2000)) == -1) {
		kill(pid, SIGKILL);
		h_wait_exit(pid, 2000);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* n connections of ping-pong, each len bytes, one after another. */
void
live_load(const struct echod *e, int n, size_t len)
{
	char buf[512];

	ck_assert(len <= sizeof(buf));
	for (int i = 0; i < n; i++) {
		int fd = h_connect(AF_INET, e->tcp4, 2000);
		ck_assert_int_ge(fd, 0);
		h_random(buf, len);
		ck_assert_int_eq(h_echo(fd, buf, len, 2000), 0);
		close(fd);
	}
}

/*
 * The master's WATCHDOG=1, timed as it arrives by a thread reading the
 * fake notify socket, so that a test busy elsewhere does not stretch the
 * gaps it measures.
 */
static struct {
	pthread_t	 t;
	int		 fd;		/* the notify socket */
	atomic_bool	 stop;
	_Atomic uint64_t longest, count, last;
} wd;

static void *
wd_loop(void *arg)
{
	char buf[512];

	(void)arg;
	while (!atomic_load(&wd.stop)) {
		struct pollfd p = { .fd = wd.fd, .events = POLLIN };
		if (poll(&p, 1, 50) != 1)
			continue;
		ssize_t r = recv(wd.fd, buf, sizeof(buf) - 1, 0);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		if (strstr(buf, "WATCHDOG=1") == NULL)
			continue;
		uint64_t now = h_now_ms(), last = atomic_load(&wd.last);
		if (last && now - last > atomic_load(&wd.longest))
			atomic_store(&wd.longest, now - last);
		atomic_store(&wd.last, now);
		atomic_fetch_add(&wd.count, 1);
	}
	return NULL;
}

void
live_wd_start(int nfd)
{
	wd.fd = nfd;
	atomic_store(&wd.stop, false);
	atomic_store(&wd.longest, 0);
	atomic_store(&wd.count, 0);
	atomic_store(&wd.last, 0);
	ck_assert_int_eq(pthread_create(&wd.t, NULL, wd_loop, NULL), 0);
}

/* Stops the thread; the WATCHDOG=1 count, the longest gap in *longest. */
int
live_wd_stop(uint64_t *longest)
{
	atomic_store(&wd.stop, true);
	pthread_join(wd.t, NULL);
	/* the time since the last one counts too */
	uint64_t tail = h_now_ms() - atomic_load(&wd.last);
	*longest = atomic_load(&wd.longest);
	if (tail > *longest)
		*longest = tail;
	return (int)atomic_load(&wd.count);
}

/* A connection that is closed by the other side within ms: true. */
bool
live_closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];

	uint64_t end = h_now_ms() + (uint64_t)ms;
	while (h_now_ms() < end) {
		if (poll(&p, 1, (int)(end - h_now_ms())) == 1) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r == 0 || (r == -1 && errno == ECONNRESET))
				return true;
			if (r == -1)
				return false;
		}
	}
	return false;
}
