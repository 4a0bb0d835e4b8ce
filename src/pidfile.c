/*
 * pidfile.c - the PID file.  The lock is a POSIX record lock (fcntl), which a
 * fork()ed worker does not inherit: killing the master releases it at once,
 * even while workers still run.  The file is prepared under a temporary name,
 * locked and then renamed into place, so a reader never sees it half written.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidfile.h"

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

int
pidfile_create(const char *path, pid_t *holder)
{
	char tmp[4096], buf[32];
	struct stat st;
	int fd, len;

	*holder = 0;
	/*
	 * Only a regular file is ours to replace: renamed over, /dev/null
	 * (pidfile = "/dev/null") would become a file holding our PID, and
	 * removed at exit.  A symbolic link is replaced itself, never its
	 * target, but must not lead to a device either.
	 */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	/* Is a live instance holding the current file? */
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) != -1) {
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		if (lock_fd(fd) == -1) {
			int saved = errno;
			*holder = lock_holder(fd);
			close(fd);
			errno = (saved == EACCES || saved == EAGAIN) ? EEXIST : saved;
			return -1;
		}
		/* Stale: nobody holds it.  Keep the lock while we replace it. */
	} else if (errno != ENOENT)
		return -1;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	int nfd = mkostemp(tmp, O_CLOEXEC);
	if (nfd == -1)
		goto fail;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (lock_fd(nfd) == -1 || fchmod(nfd, 0644) == -1 ||
	    write(nfd, buf, (size_t)len) != len || rename(tmp, path) == -1) {
		int saved = errno;
		unlink(tmp);
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

void
pidfile_remove(const char *path, int fd)
{
	struct stat a, b;

	if (fd == -1)
		return;
	/* Only if the name still points at our file. */
	if (stat(path, &a) == 0 && fstat(fd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlink(path);
	close(fd);
}
