/*
 * check_ctlrecord.c - `echod --status` finds the running master whatever
 * its file now says: broken, or naming another control socket, through the
 * record the master keeps (ctlrecord.h, here in the scratch directory);
 * and a user the socket's mode refuses is told who may ask.
 */
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "suites.h"

static struct echod e;
static char ctl[128], rec[128], out[8192], err[8192];
static const char *asked;	/* the file --status is given */

static void
setup(void)
{
	h_init(&e);
	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	snprintf(rec, sizeof(rec), "%s/control.where", e.dir);
	asked = e.confpath;
}

static void
teardown(void)
{
	h_cleanup(&e);
}

static void
conf(const char *socket, const char *extra)
{
	char text[1024];

	snprintf(text, sizeof(text), "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\ncontrol_socket = \"%s\"\n%s", socket, extra);
	h_write_conf(&e, text);
}

static void
start(void)
{
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };

	conf(ctl, "");
	ck_assert_msg(h_start(&e, argv, 10000) == 0, "echod did not start");
	ck_assert_msg(access(rec, F_OK) == 0, "no record at %s", rec);
}

static void
slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd == -1 ? 0 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd != -1)
		close(fd);
}

/* echod --status -c FILE as uid (-1: as we are), its output in out and
 * err; the exit status, or -1. */
static int
status(uid_t uid, gid_t gid)
{
	char po[160], pe[160];
	pid_t pid;
	int st;

	snprintf(po, sizeof(po), "%s/status.out", e.dir);
	snprintf(pe, sizeof(pe), "%s/status.err", e.dir);
	/* opened here, as root: the build tree may be one the user cannot
	 * enter (mktemp -d is 0700), and only the socket's mode is tested */
	int bin = open(h_echod_path(), O_RDONLY | O_CLOEXEC);
	if ((pid = fork()) == 0) {
		char *const argv[] = { "echod", "--status", "-c", (char *)asked,
		    NULL };
		extern char **environ;

		int o = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int r = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o == -1 || r == -1 || dup2(o, 1) == -1 || dup2(r, 2) == -1)
			_exit(126);
		if (uid != (uid_t)-1 && (setgroups(0, NULL) == -1 ||
		    setgid(gid) == -1 || setuid(uid) == -1))
			_exit(126);
		setenv("ECHOD_CONTROL_RECORD", rec, 1);
		fexecve(bin, argv, environ);
		_exit(127);
	}
	close(bin);
	st = h_wait_exit(pid, 10000);
	slurp(po, out, sizeof(out));
	slurp(pe, err, sizeof(err));
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_status_broken_file)
{
	start();
	conf(ctl, "no_such_key = 1\n");
	ck_assert_int_eq(status((uid_t)-1, 0), 0);
	ck_assert_msg(strstr(out, "total: ") != NULL, "stdout: %s", out);
	ck_assert_msg(strstr(err, e.confpath) && strstr(err, ":5:") &&
	    strstr(err, "no_such_key") && strstr(err, rec), "stderr: %s", err);
	/* A clean exit takes its record away: nothing stale to ask. */
	ck_assert_int_eq(h_stop(&e, SIGTERM, 10000) & 0x7f, 0);
	ck_assert_msg(access(rec, F_OK) == -1, "the record outlived echod");
	ck_assert_int_eq(status((uid_t)-1, 0), 78);
}
END_TEST

START_TEST(test_status_moved_socket)
{
	char other[160];

	start();
	snprintf(other, sizeof(other), "%s/control.new", e.dir);
	conf(other, "");	/* edited, not reloaded */
	ck_assert_int_eq(status((uid_t)-1, 0), 0);
	ck_assert_msg(strstr(out, "total: ") != NULL, "stdout: %s", out);
	ck_assert_msg(strstr(err, other) && strstr(err, ctl), "stderr: %s", err);
}
END_TEST

START_TEST(test_status_not_root)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		skip_test("needs root, to ask as another user");
	if ((pw = getpwnam("nobody")) == NULL)
		skip_test("needs the user nobody");
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	start();
	ck_assert(chmod(e.dir, 0755) == 0 && chmod(e.confpath, 0644) == 0);
	ck_assert_int_eq(status(uid, gid), 77);
	ck_assert_msg(strstr(err, "permission denied: --status needs root or "
	    "the user echod runs as (root)") != NULL, "stderr: %s", err);
}
END_TEST

/* Another echod's record (it read another file) is never the answer: the
 * echod asked about is the one that read the file given. */
START_TEST(test_status_other_file)
{
	char other[160];
	FILE *f;

	start();
	snprintf(other, sizeof(other), "%s/other.conf", e.dir);
	ck_assert((f = fopen(other, "w")) != NULL);
	fprintf(f, "control_socket = \"%s/nothing\"\n", e.dir);
	ck_assert(fclose(f) == 0);
	asked = other;
	ck_assert_int_eq(status((uid_t)-1, 0), 69);
	ck_assert_msg(strstr(out, "total: ") == NULL, "stdout: %s", out);
}
END_TEST

Suite *
ctlrecord_suite(void)
{
	Suite *s = suite_create("ctlrecord");
	TCase *tc = tcase_create("status");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_status_broken_file);
	tcase_add_test(tc, test_status_moved_socket);
	tcase_add_test(tc, test_status_not_root);
	tcase_add_test(tc, test_status_other_file);
	suite_add_tcase(s, tc);
	return s;
}
