/*
 * safepath.c - walking to root's files without following another user's
 * names.  A root daemon that does chown(), unlink() or bind() by name in a
 * directory a worker's user can write hands that user any file: he renames
 * a symbolic link (or a directory on the way) over the name between two
 * calls.  Here each name is looked at before it is used, relative to the
 * directory already opened, and one that another user could change stops
 * the walk.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safepath.h"

/* Only root can add, remove or rename names in it. */
static bool
dir_rootonly(const struct stat *d)
{
	return d->st_uid == 0 && (d->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* Only root can change this name in d: a sticky directory (/tmp) lets no
 * one but the entry's and the directory's owners rename or remove it. */
static bool
name_rootonly(const struct stat *d, const struct stat *entry)
{
	if (dir_rootonly(d))
		return true;
	return d->st_uid == 0 && (d->st_mode & S_ISVTX) && entry->st_uid == 0;
}

static int
fail_fd(int fd, int e)
{
	if (fd != -1)
		close(fd);
	errno = e;
	return -1;
}

/*
 * The link name in the directory done (a path) leads to target; rest is
 * what followed it.  The walk starts over on target + rest.
 */
static int
link_splice(char *out, size_t outlen, const char *done, const char *target,
    const char *rest)
{
	int n;

	if (target[0] == '/')
		n = snprintf(out, outlen, "%s/%s", target, rest);
	else
		n = snprintf(out, outlen, "%s/%s/%s", done, target, rest);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Walks dir (absolute) from /, checking each name; see safepath.h. */
static int
walk(const char *dir, bool *rootonly, char *where, size_t wherelen, int links)
{
	char buf[PATH_MAX], done[PATH_MAX] = "", target[PATH_MAX], next[PATH_MAX];
	struct stat dst, est;
	char *p = buf, *slash;
	int fd, nfd;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return fail_fd(-1, ENAMETOOLONG);
	if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &dst) == -1)
		return fail_fd(fd, errno);
	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		if ((slash = strchr(p, '/')) != NULL)
			*slash = '\0';
		if (fstatat(fd, p, &est, AT_SYMLINK_NOFOLLOW) == -1)
			return fail_fd(fd, errno);
		if (!name_rootonly(&dst, &est)) {
			snprintf(where, wherelen, "%s", done[0] ? done : "/");
			return fail_fd(fd, EPERM);
		}
		if (S_ISLNK(est.st_mode)) {
			ssize_t n = readlinkat(fd, p, target, sizeof(target) - 1);
			if (n == -1)
				return fail_fd(fd, errno);
			target[n] = '\0';
			close(fd);
			if (links >= SAFEPATH_MAX_LINKS)
				return fail_fd(-1, ELOOP);
			if (link_splice(next, sizeof(next), done, target,
			    slash ? slash + 1 : "") == -1)
				return fail_fd(-1, ENAMETOOLONG);
			return walk(next, rootonly, where, wherelen, links + 1);
		}
		/* The name cannot have changed since fstatat: only root can. */
		nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd == -1)
			return fail_fd(fd, errno);
		close(fd);
		fd = nfd;
		if (fstat(fd, &dst) == -1)
			return fail_fd(fd, errno);
		size_t len = strlen(done), plen = strlen(p);
		if (len + 1 + plen >= sizeof(done))
			return fail_fd(fd, ENAMETOOLONG);
		done[len] = '/';
		memcpy(done + len + 1, p, plen + 1);
		p = slash ? slash + 1 : p + strlen(p);
	}
	*rootonly = dir_rootonly(&dst);
	return fd;
}

int
safepath_dir(const char *path, bool check, char *base, size_t baselen,
    bool *rootonly, char *where, size_t wherelen)
{
	char dir[PATH_MAX];
	const char *b = strrchr(path, '/');
	int fd;

	*rootonly = false;
	if (where != NULL && wherelen > 0)
		where[0] = '\0';
	b = b == NULL ? path : b + 1;
	if (*b == '\0' || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
		return fail_fd(-1, EINVAL);
	if (snprintf(base, baselen, "%s", b) >= (int)baselen)
		return fail_fd(-1, ENAMETOOLONG);
	if ((size_t)(b - path) >= sizeof(dir))
		return fail_fd(-1, ENAMETOOLONG);
	memcpy(dir, path, (size_t)(b - path));
	dir[b - path] = '\0';
	if (!check) {
		fd = open(dir[0] ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		return fd;
	}
	if (path[0] != '/')
		return fail_fd(-1, EINVAL);
	return walk(dir, rootonly, where ? where : (char[1]){ 0 },
	    where ? wherelen : 1, 0);
}
