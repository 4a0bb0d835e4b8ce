/*
 * pidfile.c - the PID file.  The lock is a POSIX record lock (fcntl), which a
 * fork()ed worker does not inherit: killing the master releases it at once,
 * even while workers still run.  The file is prepared under a temporary name,
 * locked and then renamed into place, so a reader never sees it half written.
 * Every name is used relative to its directory, opened by safepath.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pidfile.h"
#include "safepath.h"

static int
lock_fd(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	return fcntl(fd, F_SETLK, &fl);
}

static pid_t
lock_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) == -1 || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid;
}

/* A fresh, exclusive name beside base, made O_EXCL so no link is followed. */
static int
make_temp(int dfd, const char *base, char *tmp, size_t tmplen)
{
	static unsigned serial;
	struct timespec ts;

	for (int i = 0; i < 100; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (snprintf(tmp, tmplen, "%s.%ld.%lx", base, (long)getpid(),
		    (unsigned long)ts.tv_nsec ^ ++serial) >= (int)tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/*
 * Is a live instance holding the file at base?  0 (none, or stale: *fd
 * then holds its lock while we replace it), or -1.  A symbolic link is
 * never opened: it is replaced itself, and its target left alone.
 */
static int
check_current(int dfd, const char *base, int *fd, pid_t *holder)
{
	struct stat st;

	*fd = -1;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (S_ISLNK(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	*fd = openat(dfd, base, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
	    O_NOFOLLOW);
	if (*fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(*fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(*fd);
		errno = EINVAL;
		return -1;
	}
	if (lock_fd(*fd) == -1) {
		int saved = errno;
		*holder = lock_holder(*fd);
		close(*fd);
		errno = (saved == EACCES || saved == EAGAIN) ? EEXIST : saved;
		return -1;
	}
	return 0;
}

static int
create_in(int dfd, const char *base, pid_t *holder)
{
	char tmp[NAME_MAX + 1], buf[32];
	int fd, nfd, len;

	if (check_current(dfd, base, &fd, holder) == -1)
		return -1;
	if ((nfd = make_temp(dfd, base, tmp, sizeof(tmp))) == -1)
		goto fail;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (lock_fd(nfd) == -1 || fchmod(nfd, 0644) == -1 ||
	    write(nfd, buf, (size_t)len) != len ||
	    renameat(dfd, tmp, dfd, base) == -1) {
		int saved = errno;
		unlinkat(dfd, tmp, 0);
		close(nfd);
		errno = saved;
		goto fail;
	}
	if (fd != -1)
		close(fd);
	return nfd;
fail:
	if (fd != -1) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

/*
 * Every name is used relative to the directory, opened by safepath.c: as
 * root, no name on the way that another user can change is followed.
 * Only a regular file is ours to replace: renamed over, /dev/null
 * (pidfile = "/dev/null") would become a file holding our PID.
 */
int
pidfile_create(const char *path, pid_t *holder)
{
	char base[NAME_MAX + 1];
	bool rootonly;
	int dfd, fd;

	*holder = 0;
	dfd = safepath_dir(path, geteuid() == 0, base, sizeof(base), &rootonly,
	    NULL, 0);
	if (dfd == -1)
		return -1;
	fd = create_in(dfd, base, holder);
	int saved = errno;
	close(dfd);
	errno = saved;
	return fd;
}

void
pidfile_remove(const char *path, int fd)
{
	char base[NAME_MAX + 1];
	struct stat a, b;
	bool rootonly;
	int dfd;

	if (fd == -1)
		return;
	/* Only if the name still points at our file. */
	dfd = safepath_dir(path, geteuid() == 0, base, sizeof(base), &rootonly,
	    NULL, 0);
	if (dfd != -1 && fstatat(dfd, base, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlinkat(dfd, base, 0);
	if (dfd != -1)
		close(dfd);
	close(fd);
}
