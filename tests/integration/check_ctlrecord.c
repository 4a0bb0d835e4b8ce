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
static char ctl[128], rec[128], recenv[160];
static struct h_capture cap;	/* the last status()'s output */
static const char *asked;	/* the file --status is given */

static void
setup(void)
{
	h_init(&e);
	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	snprintf(rec, sizeof(rec), "%s/control.where", e.dir);
	snprintf(recenv, sizeof(recenv), "ECHOD_CONTROL_RECORD=%s", rec);
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
	/* the file conf(ctl, "") writes */
	ck_assert_msg(h_start_conf(&e, &(struct h_conf){ .workers = 1,
	    .control = ctl }) == 0, "echod did not start");
	ck_assert_msg(access(rec, F_OK) == 0, "no record at %s", rec);
}

/* echod --status -c FILE as uid (-1: as we are), its output in cap; the
 * exit status, or -1.  The record is the scratch directory's. */
static int
status(uid_t uid, gid_t gid)
{
	const char *const argv[] = { "--status", "-c", asked, NULL };

	return h_exec_as(&e, uid, gid, argv, recenv, &cap);
}

START_TEST(test_status_broken_file)
{
	start();
	conf(ctl, "no_such_key = 1\n");
	ck_assert_int_eq(status((uid_t)-1, 0), 0);
	ck_assert_msg(strstr(cap.out, "total: ") != NULL, "stdout: %s", cap.out);
	ck_assert_msg(strstr(cap.err, e.confpath) && strstr(cap.err, ":5:") &&
	    strstr(cap.err, "no_such_key") && strstr(cap.err, rec), "stderr: %s",
	    cap.err);
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
	ck_assert_msg(strstr(cap.out, "total: ") != NULL, "stdout: %s", cap.out);
	ck_assert_msg(strstr(cap.err, other) && strstr(cap.err, ctl), "stderr: %s",
	    cap.err);
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
	ck_assert_msg(strstr(cap.err, "permission denied: --status needs root or "
	    "the user echod runs as (root)") != NULL, "stderr: %s", cap.err);
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
	ck_assert_msg(strstr(cap.out, "total: ") == NULL, "stdout: %s", cap.out);
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
