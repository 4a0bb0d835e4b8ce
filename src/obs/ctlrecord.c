/*
 * ctlrecord.c - the record of where the control socket is (ctlrecord.h).
 * Written by the master, read by `echod --status`, perhaps as root, in a
 * directory the service user owns: so it is opened through safepath.c,
 * never through a link, and its text is checked before it is used.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlrecord.h"
#include "safepath.h"

#define RECORD_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path))
#define RECORD_SIZE	(RECORD_MAX + 4096 + 2)	/* socket, file, newlines */

const char *
ctlrecord_path(void)
{
	const char *p = getenv(CTLRECORD_ENV);

	return p != NULL && p[0] == '/' ? p : CTLRECORD_PATH;
}

static int
closing(int fd, int rc)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return rc;
}

/* As root: the record's directory, made if missing where only root can
 * change the names on the way (the control socket's may be elsewhere). */
static int
open_dir(char *base, size_t baselen)
{
	const char *path = ctlrecord_path();
	bool root = geteuid() == 0, rootonly;
	char dir[RECORD_MAX], dbase[RECORD_MAX];
	int dfd, pfd;

	dfd = safepath_dir(path, root, base, baselen, &rootonly, NULL, 0);
	if (dfd == -1 && root && errno == ENOENT &&
	    snprintf(dir, sizeof(dir), "%s", path) < (int)sizeof(dir)) {
		*strrchr(dir, '/') = '\0';
		pfd = safepath_dir(dir, true, dbase, sizeof(dbase), &rootonly,
		    NULL, 0);
		if (pfd == -1)
			return -1;
		if (!rootonly || (mkdirat(pfd, dbase, 0755) == -1 &&
		    errno != EEXIST))
			return closing(pfd, (errno = rootonly ? errno : EPERM, -1));
		close(pfd);
		dfd = safepath_dir(path, true, base, baselen, &rootonly, NULL, 0);
	}
	if (dfd != -1 && root && !rootonly)
		return closing(dfd, (errno = EPERM, -1));
	return dfd;
}

int
ctlrecord_write(const char *sock, const char *conf)
{
	char base[RECORD_MAX], tmp[RECORD_MAX + 32], line[RECORD_SIZE];
	int dfd, fd, n;

	n = snprintf(line, sizeof(line), "%s\n%s\n", sock, conf ? conf : "");
	if (n >= (int)sizeof(line) || strlen(sock) >= RECORD_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((dfd = open_dir(base, sizeof(base))) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), ".%s.%ld", base, (long)getpid());
	unlinkat(dfd, tmp, 0);	/* ours, left by a crash: a pid is unique */
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1)
		return closing(dfd, -1);
	/* 0644 whatever the umask: a user who may not ask is told so, by
	 * the socket's mode, rather than that nothing runs. */
	if (fchmod(fd, 0644) == -1 || write(fd, line, (size_t)n) != n ||
	    close(fd) == -1 || renameat(dfd, tmp, dfd, base) == -1) {
		int saved = errno;
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
		unlinkat(dfd, tmp, 0);
		errno = saved;
		return closing(dfd, -1);
	}
	return closing(dfd, 0);
}

/* A line of the record: printable ASCII, ending in a newline. */
static const char *
good_line(const char *p, const char *end)
{
	for (; p < end && *p != '\n'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return NULL;
	return p < end ? p : NULL;
}

/* The socket's path, absolute, then the file its master read (or none):
 * --status connects to the one and compares the other. */
static bool
good_record(char *p, size_t n, char **conf)
{
	const char *nl1, *nl2;

	if (n < 3 || p[0] != '/' || (nl1 = good_line(p, p + n)) == NULL ||
	    (size_t)(nl1 - p) >= RECORD_MAX ||
	    (nl2 = good_line(nl1 + 1, p + n)) == NULL || nl2 != p + n - 1)
		return false;
	p[nl1 - p] = p[n - 1] = '\0';
	*conf = p + (nl1 - p) + 1;
	return true;
}

static int
read_at(int dfd, const char *base, char *out, size_t outlen, const char *conf,
    bool any)
{
	struct stat d, st;
	char buf[RECORD_SIZE + 1], *rconf;
	ssize_t n;
	int fd;

	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return errno == ELOOP ? (errno = EBADMSG, -1) : -1;
	if (fstat(fd, &st) == -1 || fstat(dfd, &d) == -1)
		return closing(fd, -1);
	/* Only root or the directory's owner (the service user) wrote it. */
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != d.st_uid))
		return closing(fd, (errno = EBADMSG, -1));
	if ((n = read(fd, buf, sizeof(buf))) == -1)
		return closing(fd, -1);
	if (!good_record(buf, (size_t)n, &rconf) || strlen(buf) >= outlen)
		return closing(fd, (errno = EBADMSG, -1));
	/* Another echod's, read from another file: not the one asked about. */
	if (!any && strcmp(rconf, conf ? conf : "") != 0)
		return closing(fd, (errno = ENOENT, -1));
	memcpy(out, buf, strlen(buf) + 1);
	return closing(fd, 0);
}

static int
record_read(char *out, size_t outlen, const char *conf, bool any)
{
	char base[RECORD_MAX];
	bool rootonly;
	int dfd, rc;

	dfd = safepath_dir(ctlrecord_path(), geteuid() == 0, base, sizeof(base),
	    &rootonly, NULL, 0);
	if (dfd == -1)
		return -1;
	rc = read_at(dfd, base, out, outlen, conf, any);
	return closing(dfd, rc);
}

int
ctlrecord_read(char *out, size_t outlen, const char *conf)
{
	return record_read(out, outlen, conf, false);
}

void
ctlrecord_clear(const char *sock)
{
	char cur[RECORD_MAX], base[RECORD_MAX];
	bool rootonly;
	int dfd;

	if (record_read(cur, sizeof(cur), NULL, true) == -1 || strcmp(cur, sock) != 0)
		return;
	dfd = safepath_dir(ctlrecord_path(), geteuid() == 0, base, sizeof(base),
	    &rootonly, NULL, 0);
	if (dfd == -1)
		return;
	unlinkat(dfd, base, 0);	/* by its directory: no link followed */
	close(dfd);
}
