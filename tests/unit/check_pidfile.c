/* check_pidfile.c - lock, refusal, stale take-over, removal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidfile.h"
#include "suites.h"

static char dir[64], path[128];

static void
setup(void)
{
	strcpy(dir, "/tmp/echod-pid-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/echod.pid", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static long
read_pid(void)
{
	char buf[32] = { 0 };
	int fd = open(path, O_RDONLY);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_gt(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	return strtol(buf, NULL, 10);
}

START_TEST(test_create_and_remove)
{
	pid_t holder;
	int fd = pidfile_create(path, &holder);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(read_pid(), getpid());
	pidfile_remove(path, fd);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_second_refused)
{
	pid_t holder, child;
	int fd = pidfile_create(path, &holder), st;

	ck_assert_int_ne(fd, -1);
	/* a lock is per process: ask from another one */
	if ((child = fork()) == 0) {
		int r = pidfile_create(path, &holder);
		_exit(r == -1 && errno == EEXIST && holder == getppid() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	/* a child killed by a signal has WEXITSTATUS 0 too */
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
	ck_assert_int_eq(read_pid(), getpid());	/* untouched */
	pidfile_remove(path, fd);
}
END_TEST

START_TEST(test_stale_taken_over)
{
	pid_t holder;
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	ck_assert_int_eq(write(fd, "999999\n", 7), 7);
	close(fd);
	fd = pidfile_create(path, &holder);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(read_pid(), getpid());
	pidfile_remove(path, fd);
}
END_TEST

START_TEST(test_not_ours_not_removed)
{
	pid_t holder;
	int fd = pidfile_create(path, &holder);

	/* someone replaced the file: leave theirs alone */
	unlink(path);
	int other = open(path, O_WRONLY | O_CREAT, 0644);
	close(other);
	pidfile_remove(path, fd);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(test_bad_directory)
{
	pid_t holder;

	ck_assert_int_eq(pidfile_create("/nonexistent/dir/echod.pid", &holder), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* A FIFO or a device at the path is refused and left alone: renamed
 * over, pidfile = "/dev/null" replaced /dev/null with a file.  A link is
 * replaced, never followed. */
START_TEST(test_not_a_regular_file)
{
	char link[160];
	struct stat st;
	pid_t holder;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(pidfile_create(path, &holder), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	unlink(path);

	/* a link is never followed: replaced itself, /dev/null left alone */
	ck_assert_int_eq(symlink("/dev/null", path), 0);
	int lfd = pidfile_create(path, &holder);
	ck_assert_int_ne(lfd, -1);
	ck_assert_int_eq(read_pid(), (long)getpid());
	ck_assert_int_eq(stat("/dev/null", &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	pidfile_remove(path, lfd);

	ck_assert_int_eq(pidfile_create(dir, &holder), -1);
	ck_assert_int_eq(errno, EISDIR);

	/* a link to a regular file: the link is replaced, not its target */
	snprintf(link, sizeof(link), "%s/target", dir);
	ck_assert_int_ne(close(open(link, O_CREAT | O_WRONLY, 0600)), -1);
	ck_assert_int_eq(symlink(link, path), 0);
	int fd = pidfile_create(path, &holder);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(read_pid(), (long)getpid());
	ck_assert_int_eq(stat(link, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	pidfile_remove(path, fd);
	unlink(link);
}
END_TEST

/* As root, a name on the way that another user can change is refused
 * (EPERM), and nothing is written: nobody could rename sub away and put a
 * link to any directory in its place. */
START_TEST(test_others_directory_refused)
{
	const struct passwd *pw;
	char u[96], sub[128], p[160];
	pid_t holder;

	if (geteuid() != 0)
		skip_test("needs root, to make a directory another user owns");
	if ((pw = getpwnam("nobody")) == NULL)
		skip_test("needs the user nobody");
	snprintf(u, sizeof(u), "%s/u", dir);
	snprintf(sub, sizeof(sub), "%s/sub", u);
	snprintf(p, sizeof(p), "%s/echod.pid", sub);
	ck_assert_int_eq(mkdir(u, 0755), 0);
	ck_assert_int_eq(chown(u, pw->pw_uid, pw->pw_gid), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	int fd = pidfile_create(p, &holder);
	int saved = errno;
	pidfile_remove(p, fd);
	rmdir(sub);
	rmdir(u);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(saved, EPERM);
}
END_TEST

Suite *
pidfile_suite(void)
{
	Suite *s = suite_create("pidfile");
	TCase *tc = tcase_create("pidfile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_and_remove);
	tcase_add_test(tc, test_second_refused);
	tcase_add_test(tc, test_stale_taken_over);
	tcase_add_test(tc, test_not_ours_not_removed);
	tcase_add_test(tc, test_bad_directory);
	tcase_add_test(tc, test_not_a_regular_file);
	tcase_add_test(tc, test_others_directory_refused);
	suite_add_tcase(s, tc);
	return s;
}
