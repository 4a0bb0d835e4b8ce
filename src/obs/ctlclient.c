/*
 * ctlclient.c - the client side of the control socket: one request, the
 * whole reply up to EOF, everything within CTLCLIENT_TIMEOUT_MS, shown
 * with any byte that could drive a terminal escaped.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctlclient.h"
#include "util.h"

/* Waits for events on fd until deadline; 0, or -1 with errno (ETIMEDOUT). */
static int
wait_fd(int fd, short events, uint64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		uint64_t now = now_coarse_ms();
		if (now >= deadline_ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		int rc = poll(&pfd, 1, (int)(deadline_ms - now));
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * Writes what the socket said: printable ASCII, tabs and newlines as they
 * are, any other byte as \xNN.  echod sends nothing else (render.c), but
 * whatever answers on the path is another process, and this goes to a
 * terminal.  A failure of out stays in ferror(), which the caller checks.
 */
static void
put_visible(FILE *out, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t')
			putc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
}

static int
unavailable(FILE *err, const char *path, const char *why)
{
	fprintf(err, "echod: no echod answers at %s: %s\n", path, why);
	return EX_UNAVAILABLE;
}

/* The socket is its owner's alone (mode 0600): say who may ask. */
static int
denied(FILE *err, const char *path)
{
	struct passwd *pw;
	struct stat st;

	if (stat(path, &st) == 0 && (pw = getpwuid(st.st_uid)) != NULL)
		fprintf(err, "echod: %s: permission denied: --status needs root "
		    "or the user echod runs as (%s)\n", path, pw->pw_name);
	else
		fprintf(err, "echod: %s: permission denied: --status needs root "
		    "or the user echod runs as\n", path);
	return EX_NOPERM;
}

/* Sends req to the master at path and writes its reply to out: 0, or the
 * exit status of ctlclient.h, said on err. */
static int
request(const char *path, const char *req, FILE *out, FILE *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint64_t deadline = now_coarse_ms() + CTLCLIENT_TIMEOUT_MS;
	char buf[65536];
	size_t got = 0;
	int fd, rc = 0;

	if (path == NULL || path[0] == '\0') {
		fprintf(err, "echod: control_socket is not set: no echod to ask\n");
		return EX_UNAVAILABLE;
	}
	if (strlen(path) >= sizeof(sun.sun_path))
		return unavailable(err, path, strerror(ENAMETOOLONG));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return unavailable(err, path, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 &&
	    (errno != EAGAIN || wait_fd(fd, POLLOUT, deadline) == -1)) {
		rc = errno == EACCES ? denied(err, path) :
		    unavailable(err, path, strerror(errno));
		goto out;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		rc = unavailable(err, path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n > 0) {
			got += (size_t)n;
			if (got == sizeof(buf)) {
				put_visible(out, buf, got);
				got = 0;
			}
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_fd(fd, POLLIN, deadline) == -1) {
			rc = unavailable(err, path, errno == ETIMEDOUT ?
			    "no reply in time" : strerror(errno));
			goto out;
		}
	}
	if (got >= 7 && memcmp(buf, "error: ", 7) == 0) {
		fprintf(err, "echod: ");
		put_visible(err, buf, got);
		rc = 1;
	} else
		put_visible(out, buf, got);
	if (fflush(out) == EOF || ferror(out))
		rc = 1;
out:
	close(fd);
	return rc;
}

int
ctlclient_status(const char *path, bool json, FILE *out, FILE *err)
{
	return request(path, json ? "status json\n" : "status\n", out, err);
}

int
ctlclient_health(const char *path, FILE *out, FILE *err)
{
	char *ans = NULL;
	size_t len = 0;
	FILE *mem;
	int rc;

	if ((mem = open_memstream(&ans, &len)) == NULL) {
		fprintf(err, "echod: %s\n", strerror(errno));
		return 1;
	}
	rc = request(path, "health\n", mem, err);
	if (fclose(mem) == EOF && rc == 0)
		rc = 1;
	if (rc == 0) {
		/* Already in its visible form (request()). */
		fputs(ans, out);
		if (strcmp(ans, "stopping\n") == 0)
			rc = 1;
		else if (strcmp(ans, "serving\n") != 0) {
			fprintf(err, "echod: %s: not a health answer\n", path);
			rc = 1;
		}
		if (fflush(out) == EOF || ferror(out))
			rc = 1;
	}
	free(ans);
	return rc;
}
