/*
 * check_rootpath.c - root never follows a name another user can change:
 * the control socket made in a directory the workers' user owns, while
 * that user keeps renaming a symbolic link to a root file over its name,
 * leaves the root file root's; and a reload that changes user gives the
 * control socket to the new user, whose --status then works.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "stresslib.h"
#include "suites.h"

#define RELOADS		100
#define RACE_MS		30000

static struct echod e;
static pid_t racer = -1;

static void
setup(void)
{
	h_init(&e);
}

static void
teardown(void)
{
	if (racer > 0) {
		kill(racer, SIGKILL);
		(void)h_wait_exit(racer, 5000);
		racer = -1;
	}
	h_cleanup(&e);
}

/* A copy of name's entry, or NULL. */
static bool
user(const char *name, struct passwd *out)
{
	const struct passwd *p = getpwnam(name);

	if (p != NULL)
		*out = *p;
	return p != NULL;
}

static void
write_conf(const char *user, const char *ctl)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\nuser = \"%s\"\ncontrol_socket = \"%s\"\n", user, ctl);
	h_write_conf(&e, conf);
}

/* echod started on the file write_conf(user, ctl) writes. */
static void
start(const char *user, const char *ctl)
{
	ck_assert_msg(h_start_conf(&e, &(struct h_conf){ .workers = 1,
	    .user = user, .control = ctl }) == 0, "echod did not start");
}

/*
 * The attacker, as the user: a link to victim ready beside each name,
 * renamed over the name the moment inotify says a socket was made there,
 * and taken away again once it has stood 2 ms, so that the next reload
 * binds.
 */
static void
race(const char *dir, const char *victim, uid_t uid, gid_t gid)
{
	char name[2][160], ready[2][160];
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t planted[2] = { 0, 0 }, end = h_now_ms() + RACE_MS;
	struct stat st;
	int in;

	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 || setuid(uid) == -1)
		_exit(2);
	if ((in = inotify_init1(IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(in, dir, IN_CREATE) == -1)
		_exit(3);
	for (int i = 0; i < 2; i++) {
		snprintf(name[i], sizeof(name[i]), "%s/control%d", dir, i);
		snprintf(ready[i], sizeof(ready[i]), "%s/.link%d", dir, i);
	}
	while (h_now_ms() < end) {
		struct pollfd p = { .fd = in, .events = POLLIN };
		for (int i = 0; i < 2; i++) {
			if (lstat(ready[i], &st) == -1)
				(void)symlink(victim, ready[i]);
			if (planted[i] != 0 && h_now_ms() > planted[i] + 2 &&
			    lstat(name[i], &st) == 0 && S_ISLNK(st.st_mode)) {
				(void)unlink(name[i]);
				planted[i] = 0;
			}
		}
		if (poll(&p, 1, 1) <= 0)
			continue;
		ssize_t n = read(in, ev, sizeof(ev));
		for (char *q = ev; n > 0 && q < ev + n;) {
			const struct inotify_event *iev = (const void *)q;
			for (int i = 0; i < 2 && iev->len > 0; i++)
				if (strcmp(iev->name, strrchr(name[i], '/') + 1) == 0 &&
				    rename(ready[i], name[i]) == 0)
					planted[i] = h_now_ms();
			q += sizeof(*iev) + iev->len;
		}
	}
	_exit(0);
}

/* Runs echod --status -c conf as pw; its exit status, or -1. */
static int
status_as(const struct passwd *pw)
{
	const char *const argv[] = { "--status", "-c", e.confpath, NULL };

	return h_exec_as(&e, pw->pw_uid, pw->pw_gid, argv, NULL, NULL);
}

/*
 * A reload under attack ends one way or the other: "configuration
 * reloaded", or "reload failed" where the control socket could not be made
 * (a reload is all or nothing: the old socket stays).
 */
static bool
reload_ended(int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	do {
		if (h_wait_log(&e, "configuration reloaded", 0) ||
		    h_wait_log(&e, "reload failed", 0))
			return true;
	} while (h_now_ms() < end);
	return false;
}

/*
 * As root with user = nobody and the control socket in a directory that
 * nobody owns (a /run/echod made by the package for its user): every
 * reload moves the socket between two names there, and nobody races a
 * link to a root file over each.  The root file stays root's.
 */
START_TEST(test_symlink_race_never_chowns)
{
	char dir[128], victim[128], ctl[2][160];
	struct passwd nobody, *pw = &nobody;
	struct stat st;
	int fd, n = 0;

	if (geteuid() != 0)
		skip_test("needs root, to run echod with user = nobody");
	if (!user("nobody", pw))
		skip_test("needs the user nobody");

	snprintf(dir, sizeof(dir), "%s/run", e.dir);
	snprintf(victim, sizeof(victim), "%s/victim", e.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chown(dir, pw->pw_uid, pw->pw_gid), 0);
	ck_assert_int_ne(fd = open(victim, O_CREAT | O_WRONLY | O_CLOEXEC, 0644), -1);
	close(fd);
	for (int i = 0; i < 2; i++)
		snprintf(ctl[i], sizeof(ctl[i]), "%s/control%d", dir, i);
	start("nobody", ctl[0]);
	if ((racer = fork()) == 0)
		race(dir, victim, pw->pw_uid, pw->pw_gid);
	ck_assert_int_gt(racer, 0);
	uint64_t end = h_now_ms() + RACE_MS - 2000;
	for (n = 1; n <= RELOADS && h_now_ms() < end; n++) {
		write_conf("nobody", ctl[n % 2]);
		kill(e.pid, SIGHUP);
		ck_assert_msg(reload_ended(10000), "reload %d did not end", n);
		ck_assert_int_eq(stat(victim, &st), 0);
		ck_assert_msg(st.st_uid == 0 && st.st_gid == 0,
		    "reload %d gave %s to uid %ld", n, victim, (long)st.st_uid);
	}
	ck_assert_int_gt(n, 10);
	/* the attacker gone, the next reload makes it there, nobody's */
	kill(racer, SIGKILL);
	ck_assert_int_ne(h_wait_exit(racer, 5000), -1);
	racer = -1;
	for (int i = 0; i < 2; i++)
		(void)unlink(ctl[i]);
	write_conf("nobody", ctl[n % 2]);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	ck_assert_int_eq(lstat(ctl[n % 2], &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_uid, pw->pw_uid);
	ck_assert_int_eq(status_as(pw), 0);
}
END_TEST

/*
 * A reload from user = daemon to user = nobody: the control socket
 * (same path) becomes nobody's, and nobody's --status answers; daemon's
 * no longer does.
 */
START_TEST(test_reload_gives_socket_to_new_user)
{
	struct passwd d, nobody, *pw = &nobody;
	char ctl[128];
	struct stat st;

	if (geteuid() != 0)
		skip_test("needs root, to run echod with two users");
	if (!user("daemon", &d) || !user("nobody", pw))
		skip_test("needs the users daemon and nobody");

	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	start("daemon", ctl);
	ck_assert_int_eq(stat(ctl, &st), 0);
	ck_assert_int_eq(st.st_uid, d.pw_uid);
	ck_assert_int_eq(status_as(&d), 0);

	write_conf("nobody", ctl);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	ck_assert_int_eq(stat(ctl, &st), 0);
	ck_assert_int_eq(st.st_uid, pw->pw_uid);
	ck_assert_int_eq(st.st_gid, pw->pw_gid);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(status_as(pw), 0);
	ck_assert_int_ne(status_as(&d), 0);
}
END_TEST

/* Whether pid is a child echod forked from the master to make the socket
 * as the user: it still has the master's title. */
static bool
is_helper(pid_t pid)
{
	char path[64], cmd[32] = "";
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	return n > 0 && strncmp(cmd, "echod: master", 13) == 0;
}

/*
 * The user stops every helper the master forks, as he may: they are his
 * processes.  Its exit status is how many it stopped.
 */
static volatile sig_atomic_t stopped;

static void
on_term(int sig)
{
	(void)sig;
	_exit(stopped > 255 ? 255 : (int)stopped);
}

static void
stop_helpers(pid_t master, uid_t uid, gid_t gid)
{
	char path[64], buf[4096];
	uint64_t end = h_now_ms() + RACE_MS;

	signal(SIGTERM, on_term);
	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 || setuid(uid) == -1)
		_exit(0);
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
	    (long)master, (long)master);
	while (h_now_ms() < end) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd != -1)
			close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (char *p = buf, *q; *p; p = q) {
			long pid = strtol(p, &q, 10);
			if (q == p)
				break;
			if (is_helper((pid_t)pid) && kill((pid_t)pid, SIGSTOP) == 0)
				stopped++;
		}
	}
	_exit(stopped > 255 ? 255 : (int)stopped);
}

/*
 * The user stops the child that makes the socket as him, as he may: the
 * master waits on it at most 2 s for its answer, then kills it, and every
 * reload ends.
 */
/* Why the helper's tests cannot run here, or NULL. */
static const char *
helper_unfit(struct passwd *pw)
{
	if (geteuid() != 0)
		return "needs root, to run echod with user = nobody";
	if (!user("nobody", pw))
		return "needs the user nobody";
	return NULL;
}

/* echod as root with user nobody and its control socket ctl[0] in a
 * directory nobody owns, so that a helper makes it; and the racer, as
 * nobody, stopping every helper. */
static void
start_with_stopper(const struct passwd *pw, char ctl[2][160])
{
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/run", e.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chown(dir, pw->pw_uid, pw->pw_gid), 0);
	for (int i = 0; i < 2; i++)
		snprintf(ctl[i], 160, "%s/control%d", dir, i);
	start("nobody", ctl[0]);
	if ((racer = fork()) == 0)
		stop_helpers(e.pid, pw->pw_uid, pw->pw_gid);
	ck_assert_int_gt(racer, 0);
}

START_TEST(test_stopped_helper_bounded)
{
	char ctl[2][160];
	struct passwd nobody, *pw = &nobody;
	const char *why = helper_unfit(pw);
	int n;

	if (why != NULL)
		skip_test("%s", why);
	start_with_stopper(pw, ctl);
	for (n = 1; n <= 4; n++) {
		write_conf("nobody", ctl[n % 2]);
		kill(e.pid, SIGHUP);
		ck_assert_msg(reload_ended(10000), "reload %d did not end", n);
	}
	kill(racer, SIGTERM);
	int st = h_wait_exit(racer, 5000);
	racer = -1;
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) > 0,
	    "no helper was stopped (status %d)", st);
}
END_TEST

/* pid's state letter (/proc/PID/stat), or 0. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' ? p[2] : 0;
}

/* A child of master the user stopped (so it runs as him by now): its pid,
 * or -1. */
static pid_t
stopped_helper(pid_t master)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
	    (long)master, (long)master);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf, *q; *p; p = q) {
		long pid = strtol(p, &q, 10);
		if (q == p)
			break;
		if (is_helper((pid_t)pid) && proc_state((pid_t)pid) == 'T')
			return (pid_t)pid;
	}
	return -1;
}

/*
 * The child that makes the socket as the user holds none of the master's
 * sockets (its listeners, the workers' channels): only the one it answers
 * on, and the control socket it makes.
 */
START_TEST(test_helper_holds_nothing_of_the_master)
{
	char ctl[2][160];
	struct passwd nobody, *pw = &nobody;
	const char *why = helper_unfit(pw);
	int seen = 0;

	if (why != NULL)
		skip_test("%s", why);
	start_with_stopper(pw, ctl);
	for (int n = 1; n <= 4 && seen == 0; n++) {
		uint64_t end = h_now_ms() + 1500;
		pid_t h = -1;

		write_conf("nobody", ctl[n % 2]);
		kill(e.pid, SIGHUP);
		while (h == -1 && h_now_ms() < end)
			if ((h = stopped_helper(e.pid)) == -1)
				poll(NULL, 0, 5);
		if (h != -1) {
			unsigned long ino[64];
			size_t held = sl_socket_inodes(h, ino, 64);
			ck_assert_msg(held >= 1 && held <= 2, "the helper (pid %ld) "
			    "holds %zu sockets", (long)h, held);
			seen++;
		}
		ck_assert_msg(reload_ended(10000), "reload %d did not end", n);
	}
	ck_assert_msg(seen > 0, "no stopped helper was seen");
}
END_TEST

Suite *
rootpath_suite(void)
{
	Suite *s = suite_create("rootpath");
	TCase *tc = tcase_create("rootpath");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_symlink_race_never_chowns);
	tcase_add_test(tc, test_reload_gives_socket_to_new_user);
	tcase_add_test(tc, test_stopped_helper_bounded);
	tcase_add_test(tc, test_helper_holds_nothing_of_the_master);
	suite_add_tcase(s, tc);
	return s;
}
