/*
 * check_privdrop.c - looking the user and group up, and what a switch may
 * do: unknown names are refused naming which one; without root only the
 * user the process already is works (a no-op); as root, the switch drops
 * for good.  Every test runs in its own process (Check's fork mode), so a
 * test may change its own credentials.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privdrop.h"
#include "suites.h"

static char err[256];
static const char *which;
static struct creds c;

static void
setup(void)
{
	err[0] = '\0';
	which = NULL;
	memset(&c, 0, sizeof(c));
}

/* The name of the user and group this process runs as. */
static void
self(char *user, size_t ulen, char *group, size_t glen)
{
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(getegid());

	ck_assert_ptr_nonnull(pw);
	ck_assert_ptr_nonnull(gr);
	snprintf(user, ulen, "%s", pw->pw_name);
	snprintf(group, glen, "%s", gr->gr_name);
}

/* A test that changes this process's credentials runs in a process of its
 * own, never in the runner's (CK_FORK=no, as under valgrind). */
#define NEEDS_FORK() do {						\
	if (!test_forked())						\
		skip_test("changes credentials: needs CK_FORK=yes");	\
} while (0)

/* Root no more: nobody, for the tests of an unprivileged echod. */
static void
become_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(setgroups(0, NULL), 0);
	ck_assert_int_eq(setgid(pw->pw_gid), 0);
	ck_assert_int_eq(setuid(pw->pw_uid), 0);
}

/* A child of the master dies with it, and sees whether it is still there. */
START_TEST(test_child_tied_to_master)
{
	char why[256];
	int st, sig = 0;
	pid_t child = fork();

	ck_assert_int_ne(child, -1);
	if (child == 0) {
		/* its parent is the master: tied, and told so */
		if (privdrop_child(NULL, getppid(), why, sizeof(why)) != 0 ||
		    prctl(PR_GET_PDEATHSIG, &sig) == -1 || sig != SIGKILL)
			_exit(2);
		/* another master: already gone, as far as it knows */
		_exit(privdrop_child(NULL, getppid() + 1, why, sizeof(why)) == 1 ?
		    0 : 3);
	}
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "0x%x", st);
}
END_TEST

START_TEST(test_unknown_user)
{
	ck_assert_int_eq(privdrop_resolve("nosuchuser-echod", NULL, &c, &which,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(which, "user");
	ck_assert_str_eq(err, "no such user");
}
END_TEST

START_TEST(test_unknown_group)
{
	char user[64], group[64];

	self(user, sizeof(user), group, sizeof(group));
	ck_assert_int_eq(privdrop_resolve(user, "nosuchgroup-echod", &c, &which,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(which, "group");
	ck_assert_str_eq(err, "no such group");
}
END_TEST

/* Switching to the user and group the process already is: allowed, and
 * applying it changes nothing (as root, "root" stays root). */
START_TEST(test_self_is_noop)
{
	char user[64], group[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (uid == 0)
		NEEDS_FORK();	/* initgroups() */
	self(user, sizeof(user), group, sizeof(group));
	for (int with_group = 0; with_group < 2; with_group++) {
		ck_assert_msg(privdrop_resolve(user, with_group ? group : NULL, &c,
		    &which, err, sizeof(err)) == 0, "%s", err);
		ck_assert_ptr_null(which);
		ck_assert_str_eq(c.user, user);
		ck_assert_uint_eq(c.uid, uid);
		ck_assert_uint_eq(c.gid, gid);
		ck_assert_msg(privdrop_apply(&c, err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_eq(geteuid(), uid);
		ck_assert_uint_eq(getuid(), uid);
		ck_assert_uint_eq(getegid(), gid);
	}
}
END_TEST

/* Without root, another user or group is refused with the reason. */
START_TEST(test_unprivileged_cannot_switch)
{
	struct passwd *root = getpwuid(0);

	if (geteuid() == 0) {
		NEEDS_FORK();
		become_nobody();
	}
	ck_assert_ptr_nonnull(root);
	ck_assert_int_eq(privdrop_resolve(root->pw_name, NULL, &c, &which, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(which, "user");
	ck_assert_ptr_nonnull(strstr(err, "switching users needs root, and echod "
	    "runs as uid "));

	/* itself, with another group */
	struct passwd *me = getpwuid(geteuid());
	struct group *gr = getgrgid(0);
	ck_assert_ptr_nonnull(me);
	ck_assert_ptr_nonnull(gr);
	ck_assert_int_eq(privdrop_resolve(me->pw_name, gr->gr_name, &c, &which,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(which, "group");
	ck_assert_ptr_nonnull(strstr(err, "switching groups needs root, and "
	    "echod runs as gid "));
}
END_TEST

/* As root: the switch happens, supplementary groups included (root's are
 * replaced by the user's own), for good. */
START_TEST(test_root_drops_for_good)
{
	struct passwd *pw = getpwnam("nobody");
	gid_t groups[64], want[64], roots[] = { 0, 1 };
	int n, nwant = 64;

	if (geteuid() != 0)
		skip_test("switching users needs root");
	NEEDS_FORK();
	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(setgroups(2, roots), 0);	/* what root had */
	ck_assert_int_ne(getgrouplist("nobody", pw->pw_gid, want, &nwant), -1);
	ck_assert_msg(privdrop_resolve("nobody", NULL, &c, &which, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(privdrop_apply(&c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(getuid(), pw->pw_uid);
	ck_assert_uint_eq(geteuid(), pw->pw_uid);
	ck_assert_uint_eq(getgid(), pw->pw_gid);
	ck_assert_uint_eq(getegid(), pw->pw_gid);
	n = getgroups(64, groups);
	ck_assert_int_eq(n, nwant);
	for (int i = 0; i < n; i++) {
		bool found = false;
		for (int k = 0; k < nwant && !found; k++)
			found = groups[i] == want[k];
		ck_assert_msg(found, "still in group %ld", (long)groups[i]);
	}
	errno = 0;
	ck_assert_int_eq(setuid(0), -1);
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

/* As root without CAP_SETUID (its effective set cleared): refused. */
START_TEST(test_root_without_capability)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (geteuid() != 0)
		skip_test("needs root to lose a capability");
	NEEDS_FORK();
	ck_assert_int_eq(syscall(SYS_capget, &h, d), 0);
	d[CAP_TO_INDEX(CAP_SETUID)].effective &= ~CAP_TO_MASK(CAP_SETUID);
	ck_assert_int_eq(syscall(SYS_capset, &h, d), 0);
	ck_assert_int_eq(privdrop_resolve("nobody", NULL, &c, &which, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(which, "user");
	ck_assert_str_eq(err, "switching users needs CAP_SETUID and CAP_SETGID, "
	    "which echod does not have");
}
END_TEST

Suite *
privdrop_suite(void)
{
	Suite *s = suite_create("privdrop");
	TCase *tc = tcase_create("privdrop");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_child_tied_to_master);
	tcase_add_test(tc, test_unknown_user);
	tcase_add_test(tc, test_unknown_group);
	tcase_add_test(tc, test_self_is_noop);
	tcase_add_test(tc, test_unprivileged_cannot_switch);
	tcase_add_test(tc, test_root_drops_for_good);
	tcase_add_test(tc, test_root_without_capability);
	suite_add_tcase(s, tc);
	return s;
}
