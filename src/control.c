/*
 * control.c - the control socket's file and its requests.  The file is
 * made with umask 0177, so it is 0600 from the moment it exists; the
 * requests are served by reqsrv.c inside the master's loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "privdrop.h"
#include "util.h"

static size_t
line_complete(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return nl == NULL ? 0 : (size_t)(nl - buf) + 1;
}

static void
answer(void *arg, const char *req, size_t len, struct expo_buf *out)
{
	struct control *c = arg;

	while (len > 0 && (req[len - 1] == '\n' || req[len - 1] == '\r'))
		len--;
	if (len == 6 && memcmp(req, "status", 6) == 0)
		c->status(c->arg, false, out);
	else if (len == 11 && memcmp(req, "status json", 11) == 0)
		c->status(c->arg, true, out);
	else if (len == 6 && memcmp(req, "health", 6) == 0)
		expo_buf_printf(out, c->stopping ? "stopping\n" : "serving\n");
	else
		expo_buf_printf(out, "error: unknown request (try \"status\")\n");
}

void
control_init(struct control *c, void (*status)(void *, bool, struct expo_buf *),
    void *arg)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->status = status;
	c->arg = arg;
	c->srv.max_request = CONTROL_MAX_REQUEST;
	c->srv.timeout_ms = CONTROL_TIMEOUT_MS;
	c->srv.complete = line_complete;
	c->srv.reply = answer;
	c->srv.arg = c;
}

void
control_stopping(struct control *c)
{
	c->stopping = true;
}

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

int
control_open(struct control *c, const char *path, const struct creds *owner,
    char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return fail(err, errlen, path, "%s%s", "");
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (make_dir(path, err, errlen) == -1 || clear_path(&sun, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return fail(err, errlen, path, "%s%s", "");
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || listen(fd, 64) == -1 ||
	    (owner != NULL && geteuid() == 0 &&
	    chown(path, owner->uid, owner->gid) == -1) ||
	    stat(path, &st) == -1 || reqsrv_init(&c->srv, CONTROL_MAX_CLIENTS) == -1) {
		int saved = errno;
		if (rc == 0)
			unlink(path);
		close(fd);
		errno = saved;
		return fail(err, errlen, path, "%s%s", "");
	}
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	snprintf(c->path, sizeof(c->path), "%s", path);
	reqsrv_set_listeners(&c->srv, &c->fd, 1);
	return 0;
}

void
control_close(struct control *c)
{
	struct stat st;

	if (c->fd == -1)
		return;
	reqsrv_free(&c->srv);
	if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	close(c->fd);
	c->fd = -1;
	c->path[0] = '\0';
}

void
control_move(struct control *c, struct control *from)
{
	bool stopping = c->stopping;

	control_close(c);
	*c = *from;
	c->srv.arg = c;		/* answer() finds the struct through it */
	c->stopping = stopping;	/* a reload during stop_delay still fails checks */
	from->fd = -1;
	from->path[0] = '\0';
	memset(&from->srv, 0, sizeof(from->srv));
}

size_t
control_fds(const struct control *c, int *out)
{
	struct pollfd pfd[1 + CONTROL_MAX_CLIENTS];
	size_t n = control_pollfds(c, pfd, nitems(pfd));

	for (size_t i = 0; i < n; i++)
		out[i] = pfd[i].fd;
	return n;
}

size_t
control_pollfds(const struct control *c, struct pollfd *pfd, size_t max)
{
	return c->fd == -1 ? 0 : reqsrv_pollfds(&c->srv, pfd, max);
}

int
control_next_timeout(const struct control *c, uint64_t now_ms)
{
	return c->fd == -1 ? -1 : reqsrv_next_timeout(&c->srv, now_ms);
}

void
control_run(struct control *c, uint64_t now_ms)
{
	if (c->fd != -1)
		reqsrv_run(&c->srv, now_ms);
}
