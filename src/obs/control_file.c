/*
 * control_file.c - the control socket's file: made where no name on the
 * way can be changed by another user than root, or else by a child that
 * switched to the socket's owner for good; removed only while it is ours.
 * See safepath.c for why root never follows such a name.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "privdrop.h"
#include "safepath.h"
#include "util.h"

static int
fail(char *err, size_t errlen, const char *path, const char *fmt, const char *what)
{
	int saved = errno;
	char why[256];

	snprintf(why, sizeof(why), fmt, what, strerror(saved));
	snprintf(err, errlen, "control socket %s: %s", path, why);
	errno = saved;
	return -1;
}

/* The directory, made if missing (one level: /run/echod, not /run). */
static int
make_dir(const char *path, char *err, size_t errlen)
{
	char dir[CONTROL_MAX_PATH];

	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return fail(err, errlen, path, "cannot make directory %s: %s", dir);
	return 0;
}

/* What is at path now: 0 nothing (or a stale socket, removed), -1 with
 * errno EADDRINUSE (a live one) or another reason. */
static int
clear_path(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	const char *path = sun->sun_path;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : fail(err, errlen, path, "%s%s", "");
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		snprintf(err, errlen, "control socket %s: exists and is not a "
		    "socket; not replaced", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return fail(err, errlen, path, "%s%s", "");
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int saved = errno;
	close(fd);
	/* Refused: nobody listens, the file is left over.  Anything else
	 * (a full backlog included) may be a live echod. */
	if (rc == -1 && saved == ECONNREFUSED) {
		if (unlink(path) == -1 && errno != ENOENT)
			return fail(err, errlen, path, "removing a stale one: %s%s", "");
		return 0;
	}
	errno = EADDRINUSE;
	snprintf(err, errlen, "control socket %s: another process answers "
	    "there (another echod?); not replaced", path);
	return -1;
}

/*
 * Where the socket is made and how: the path; tmp, when it replaces ours
 * (a new owner), is bound first and renamed over it; dfd and name, when
 * root makes it in a directory only root can change, to give it to owner.
 */
struct making {
	struct sockaddr_un	 sun, tmp;
	bool			 replace;
	int			 dfd;
	char			 name[CONTROL_MAX_PATH], tmpname[CONTROL_MAX_PATH];
	const struct creds	*owner;
};

/*
 * By name, with this process's rights: as the owner (a helper process), as
 * a daemon that is not root, or as root where only root can change a name
 * on the way.  Returns the listening socket and the file's stat in st.
 */
static int
make_by_name(const struct making *mk, struct stat *st, char *err, size_t errlen)
{
	const struct sockaddr_un *at = mk->replace ? &mk->tmp : &mk->sun;
	const char *path = mk->sun.sun_path;
	mode_t old;
	int fd, rc;

	if (make_dir(path, err, errlen) == -1)
		return -1;
	if (mk->replace ? unlink(at->sun_path) == -1 && errno != ENOENT :
	    clear_path(&mk->sun, err, errlen) == -1)
		return mk->replace ? fail(err, errlen, path, "%s%s", "") : -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return fail(err, errlen, path, "%s%s", "");
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)at, sizeof(*at));
	umask(old);
	if (rc == -1 || listen(fd, 64) == -1 ||
	    (mk->owner != NULL && mk->dfd != -1 &&
	    fchownat(mk->dfd, mk->replace ? mk->tmpname : mk->name,
	    mk->owner->uid, mk->owner->gid, AT_SYMLINK_NOFOLLOW) == -1) ||
	    (mk->replace && rename(at->sun_path, path) == -1) ||
	    stat(path, st) == -1) {
		int saved = errno;
		if (rc == 0)
			unlink(at->sun_path);
		close(fd);
		errno = saved;
		return fail(err, errlen, path, "%s%s", "");
	}
	return fd;
}

/* What the helper process tells the master, besides the descriptor. */
struct made {
	int	 err_no;	/* 0: made */
	dev_t	 dev;
	ino_t	 ino;
	char	 err[200];
};

/* One datagram: r, and fd (if not -1) beside it. */
static void
send_made(int sock, const struct made *r, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = (void *)r, .iov_len = sizeof(*r) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd != -1) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) == -1 && errno == EINTR)
		;
}

/* Its size, or -1; *fd the one descriptor sent, or -1 (more: refused). */
static ssize_t
recv_made(int sock, struct made *r, int *fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	bool bad = false;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n > 0 && c != NULL;
	    c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[4];
		memcpy(got, CMSG_DATA(c), k * sizeof(int));
		for (size_t i = 0; i < k; i++) {
			if (*fd == -1)
				*fd = got[i];
			else {
				close(got[i]);
				bad = true;
			}
		}
	}
	if (n > 0 && (bad || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))) {
		if (*fd != -1)
			close(*fd);
		*fd = -1;
		return -1;
	}
	return n;
}

static void
helper(const struct making *mk, int sock)
{
	struct made r = { 0 };
	struct stat st;
	int fd = -1;

	/* None of the master's descriptors goes over to the user: a worker's
	 * UDP socket kept open here would stay in its group, unread, if that
	 * worker died meanwhile (shard.h). */
	if (sock > 3)
		(void)close_range(3, (unsigned)sock - 1, 0);
	(void)close_range((unsigned)sock + 1, ~0U, 0);
	if (privdrop_apply(mk->owner, r.err, sizeof(r.err)) == -1) {
		r.err_no = errno ? errno : EPERM;
		snprintf(r.err, sizeof(r.err), "control socket %s: cannot "
		    "switch to user %s", mk->sun.sun_path, mk->owner->user);
	} else if ((fd = make_by_name(mk, &st, r.err, sizeof(r.err))) == -1)
		r.err_no = errno ? errno : EIO;
	else {
		r.dev = st.st_dev;
		r.ino = st.st_ino;
	}
	send_made(sock, &r, fd);
	_exit(0);
}

/*
 * The helper's answer, read as from any other process: its text made
 * printable, its descriptor a listening AF_UNIX socket, or refused.
 */
static int
take_answer(int sock, const char *path, struct stat *st, char *err,
    size_t errlen)
{
	struct made r;
	int fd = -1, v, dom;
	socklen_t vl = sizeof(v), dl = sizeof(dom);
	ssize_t n = recv_made(sock, &r, &fd);

	if (n != (ssize_t)sizeof(r)) {
		if (fd != -1)
			close(fd);
		errno = EPROTO;
		return fail(err, errlen, path, "the helper process ended "
		    "without an answer%s%s", "");
	}
	r.err[sizeof(r.err) - 1] = '\0';
	for (char *p = r.err; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	if (r.err_no != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		snprintf(err, errlen, "%s", r.err);
		errno = r.err_no ? r.err_no : EPROTO;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == -1 || !v ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == -1 ||
	    dom != AF_UNIX) {
		close(fd);
		errno = EPROTO;
		return fail(err, errlen, path, "the helper process sent no "
		    "listening socket%s%s", "");
	}
	st->st_dev = r.dev;
	st->st_ino = r.ino;
	return fd;
}

/* Whether the helper answered (or ended) within CONTROL_HELPER_MS. */
static bool
answered(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	uint64_t end = now_coarse_ms() + CONTROL_HELPER_MS;
	int rc;

	do {
		uint64_t now = now_coarse_ms();
		int left = now >= end ? 0 : (int)(end - now);
		rc = poll(&p, 1, left);
	} while (rc == -1 && errno == EINTR);
	return rc > 0;
}

/* As the owner, in a child process that switched to it for good, so that
 * root does nothing by a name another user can change. */
static int
make_as_owner(const struct making *mk, struct stat *st, char *err,
    size_t errlen)
{
	const char *path = mk->sun.sun_path;
	int sp[2], fd, status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp) == -1)
		return fail(err, errlen, path, "%s%s", "");
	if ((pid = fork()) == -1) {
		close(sp[0]);
		close(sp[1]);
		return fail(err, errlen, path, "%s%s", "");
	}
	if (pid == 0) {
		close(sp[0]);
		helper(mk, sp[1]);
	}
	close(sp[1]);
	if (answered(sp[0]))
		fd = take_answer(sp[0], path, st, err, errlen);
	else {
		errno = ETIMEDOUT;
		fd = fail(err, errlen, path, "the helper process did not "
		    "answer within 2 s%s%s", "");
	}
	int saved = errno;
	close(sp[0]);
	/* The user can stop his own process, before its answer or after:
	 * the master never waits on him.  Not reaped yet, pid is still it. */
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	errno = saved;
	return fd;
}

/* As root, its directory made if missing and only root can change the
 * names on the way: mkdirat() in the directory verified. */
static int
root_make_dir(const char *path)
{
	char dir[CONTROL_MAX_PATH], base[CONTROL_MAX_PATH];
	bool rootonly;
	int pfd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	pfd = safepath_dir(dir, true, base, sizeof(base), &rootonly, NULL, 0);
	if (pfd == -1)
		return -1;
	rc = rootonly ? mkdirat(pfd, base, 0755) : (errno = EPERM, -1);
	int saved = errno;
	close(pfd);
	errno = saved;
	return rc == -1 && saved != EEXIST ? -1 : 0;
}

/*
 * As root: root makes it only where every name on the way, the socket's
 * own included, is one only root can change; elsewhere the owner does.
 */
static int
make_as_root(struct making *mk, struct stat *st, char *err, size_t errlen)
{
	const char *path = mk->sun.sun_path;
	char where[CONTROL_MAX_PATH];
	bool rootonly;
	int fd;

	mk->dfd = safepath_dir(path, true, mk->name, sizeof(mk->name), &rootonly,
	    where, sizeof(where));
	if (mk->dfd == -1 && (errno == ENOENT || errno == ENOTDIR)) {
		if (root_make_dir(path) == 0)
			mk->dfd = safepath_dir(path, true, mk->name,
			    sizeof(mk->name), &rootonly, where, sizeof(where));
		else if (errno != EPERM) {
			snprintf(where, sizeof(where), "%s", path);
			return fail(err, errlen, path,
			    "cannot make directory %s: %s", dirname(where));
		}
	}
	if (mk->dfd != -1 && rootonly) {
		fd = make_by_name(mk, st, err, errlen);
		int saved = errno;
		close(mk->dfd);
		mk->dfd = -1;
		errno = saved;
		return fd;
	}
	if (mk->dfd != -1) {
		snprintf(where, sizeof(where), "%s", path);
		dirname(where);
		close(mk->dfd);
		mk->dfd = -1;
	} else if (errno != EPERM)
		return fail(err, errlen, path, "%s%s", "");
	if (mk->owner != NULL)
		return make_as_owner(mk, st, err, errlen);
	errno = EPERM;
	snprintf(err, errlen, "control socket %s: %s can be changed by a user "
	    "other than root, and no user is set to make it as; not made",
	    path, where[0] ? where : "a directory on the way");
	return -1;
}

static int
making_init(struct making *mk, const char *path, const struct creds *owner,
    bool replace, char *err, size_t errlen)
{
	memset(mk, 0, sizeof(*mk));
	mk->sun.sun_family = mk->tmp.sun_family = AF_UNIX;
	mk->dfd = -1;
	mk->owner = owner;
	mk->replace = replace;
	if (strlen(path) >= sizeof(mk->sun.sun_path) || (replace &&
	    snprintf(mk->tmp.sun_path, sizeof(mk->tmp.sun_path), "%s.%ld", path,
	    (long)getpid()) >= (int)sizeof(mk->tmp.sun_path))) {
		errno = ENAMETOOLONG;
		return fail(err, errlen, path, "%s%s", "");
	}
	memcpy(mk->sun.sun_path, path, strlen(path) + 1);
	if (replace) {
		const char *b = strrchr(mk->tmp.sun_path, '/');
		snprintf(mk->tmpname, sizeof(mk->tmpname), "%s",
		    b ? b + 1 : mk->tmp.sun_path);
	}
	return 0;
}

int
control_file_make(const char *path, const struct creds *owner, bool replace,
    struct stat *st, char *err, size_t errlen)
{
	struct making mk;

	if (making_init(&mk, path, owner, replace, err, errlen) == -1)
		return -1;
	if (geteuid() != 0)
		return make_by_name(&mk, st, err, errlen);
	return make_as_root(&mk, st, err, errlen);
}

/*
 * Unlinks path if it is still the file dev/ino, through its directory as
 * safepath.c opens it.  As root where another user can change a name on
 * the way, it stays: the next start replaces it as a stale one.
 */
void
control_file_unlink(const char *path, dev_t dev, ino_t ino)
{
	char base[CONTROL_MAX_PATH];
	struct stat st;
	bool rootonly;
	int dfd;

	dfd = safepath_dir(path, geteuid() == 0, base, sizeof(base), &rootonly,
	    NULL, 0);
	if (dfd == -1)
		return;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == dev && st.st_ino == ino)
		unlinkat(dfd, base, 0);
	close(dfd);
}
