/*
 * control.c - the control socket and its requests.  Its file is made by
 * control_file.c, with umask 0177, so it is 0600 from the moment it
 * exists; the requests are served by reqsrv.c inside the master's loop.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "ctlrecord.h"
#include "util.h"

static size_t
line_complete(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return nl == NULL ? 0 : (size_t)(nl - buf) + 1;
}

static void
answer(void *arg, const char *req, size_t len, struct render_buf *out)
{
	struct control *c = arg;

	while (len > 0 && (req[len - 1] == '\n' || req[len - 1] == '\r'))
		len--;
	if (len == 6 && memcmp(req, "status", 6) == 0)
		c->status(c->arg, false, out);
	else if (len == 11 && memcmp(req, "status json", 11) == 0)
		c->status(c->arg, true, out);
	else if (len == 6 && memcmp(req, "health", 6) == 0)
		render_buf_printf(out, c->stopping ? "stopping\n" : "serving\n");
	else
		render_buf_printf(out, "error: unknown request (try \"status\")\n");
}

void
control_init(struct control *c, void (*status)(void *, bool, struct render_buf *),
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

int
control_open(struct control *c, const char *path, const struct creds *owner,
    char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = control_file_make(path, owner, false, &st, err, errlen)) == -1)
		return -1;
	if (reqsrv_init(&c->srv, CONTROL_MAX_CLIENTS) == -1) {
		int saved = errno;
		close(fd);
		control_file_unlink(path, st.st_dev, st.st_ino);
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	snprintf(c->path, sizeof(c->path), "%s", path);
	reqsrv_set_listeners(&c->srv, &c->fd, 1);
	return 0;
}

int
control_reown(struct control *c, const struct creds *owner, char *err,
    size_t errlen)
{
	struct stat st;
	int fd;

	if (c->fd == -1 || geteuid() != 0)
		return 0;
	if ((fd = control_file_make(c->path, owner, true, &st, err, errlen)) == -1)
		return -1;
	close(c->fd);
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	reqsrv_set_listeners(&c->srv, &c->fd, 1);
	return 0;
}

void
control_close(struct control *c)
{
	if (c->fd == -1)
		return;
	reqsrv_free(&c->srv);
	ctlrecord_clear(c->path);
	control_file_unlink(c->path, c->dev, c->ino);
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
