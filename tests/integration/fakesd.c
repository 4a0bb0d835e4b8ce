/* fakesd.c - see fakesd.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "fakesd.h"
#include "harness.h"

struct fake fk = { .fd = -1 };

void
fake_open(const struct echod *ed)
{
	int big = 8 << 20;

	memset(&fk, 0, sizeof(fk));
	snprintf(fk.path, sizeof(fk.path), "%s/notify", ed->dir);
	fk.fd = h_notify_socket(ed, SOCK_CLOEXEC, fk.env, sizeof(fk.env));
	ck_assert_int_ne(fk.fd, -1);
	setsockopt(fk.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
}

void
fake_close(void)
{
	for (size_t i = 0; i < fk.n; i++)
		if (fk.v[i].fd != -1)
			close(fk.v[i].fd);
	free(fk.v);
	free(fk.removed);
	if (fk.fd != -1)
		close(fk.fd);
	unlink(fk.path);
	memset(&fk, 0, sizeof(fk));
	fk.fd = -1;
}

static const char *
field(const char *msg, const char *key, char *out, size_t len)
{
	const char *p = msg;

	while (p && *p) {
		if (strncmp(p, key, strlen(key)) == 0) {
			p += strlen(key);
			snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
			return out;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

/* Handles one message as systemd 252 would; false if none came. */
bool
fake_one(int timeout_ms)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 768)];
	} u;
	char msg[4096], name[64], flag[8];
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct pollfd p = { .fd = fk.fd, .events = POLLIN };
	int fds[768];
	size_t nfds = 0;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	if ((n = recvmsg(fk.fd, &mh, MSG_CMSG_CLOEXEC)) < 0)
		return false;
	msg[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds + nfds, CMSG_DATA(c), k * sizeof(int));
			nfds += k;
		}
	field(msg, "STATUS=", fk.status, sizeof(fk.status));
	if (nfds > 0) {
		fk.messages_with_fds++;
		if (nfds > fk.most_fds)
			fk.most_fds = nfds;
	}
	if (field(msg, "FDSTORE=", flag, sizeof(flag)) && strcmp(flag, "1") == 0) {
		if (!field(msg, "FDNAME=", name, sizeof(name)))
			strcpy(name, "stored");
		for (size_t i = 0; i < nfds; i++) {
			if (fk.n == fk.cap) {
				fk.cap = fk.cap ? fk.cap * 2 : 64;
				fk.v = realloc(fk.v, fk.cap * sizeof(*fk.v));
			}
			snprintf(fk.v[fk.n].name, sizeof(fk.v[0].name), "%s", name);
			fk.v[fk.n++].fd = fds[i];
		}
		return true;
	}
	for (size_t i = 0; i < nfds; i++)	/* BARRIER=1's pipe, and others */
		close(fds[i]);
	if (field(msg, "FDSTOREREMOVE=", flag, sizeof(flag)) &&
	    field(msg, "FDNAME=", name, sizeof(name))) {
		if (fk.nremoved == fk.capremoved) {
			fk.capremoved = fk.capremoved ? fk.capremoved * 2 : 64;
			fk.removed = realloc(fk.removed, fk.capremoved * 64);
		}
		snprintf(fk.removed[fk.nremoved++], 64, "%s", name);
		for (size_t i = 0; i < fk.n; i++)	/* systemd closes its copy */
			if (strcmp(fk.v[i].name, name) == 0 && fk.v[i].fd != -1) {
				close(fk.v[i].fd);
				fk.v[i].fd = -1;
			}
	}
	return true;
}

size_t
fake_count(const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < fk.n; i++)
		n += strncmp(fk.v[i].name, prefix, strlen(prefix)) == 0;
	return n;
}

/* Forgets what the store holds under name, as if never stored. */
void
fake_forget(const char *name)
{
	for (size_t i = 0; i < fk.n; i++)
		if (strcmp(fk.v[i].name, name) == 0 && fk.v[i].fd != -1) {
			close(fk.v[i].fd);
			fk.v[i].fd = -1;
		}
}

/* How many descriptors the store holds under name now. */
size_t
fake_holds(const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < fk.n; i++)
		n += strcmp(fk.v[i].name, name) == 0 && fk.v[i].fd != -1;
	return n;
}

bool
fake_removed(const char *name)
{
	for (size_t i = 0; i < fk.nremoved; i++)
		if (strcmp(fk.removed[i], name) == 0)
			return true;
	return false;
}

/* Serves the fake socket until pid exits; its wait status, or -1. */
int
fake_until_exit(pid_t pid, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int st;

	while (h_now_ms() < end) {
		while (fake_one(20))
			;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			while (fake_one(0))
				;
			return st;
		}
	}
	return -1;
}

/* Serves the fake socket until needle is in e's log. */
bool
fake_until_log(struct echod *x, const char *needle, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	while (h_now_ms() < end) {
		while (fake_one(20))
			;
		if (h_wait_log(x, needle, 0))
			return true;
	}
	return false;
}

/*
 * Starts echod as systemd would after a restart: what the store holds at
 * 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID, and
 * NOTIFY_SOCKET the fake.
 */
pid_t
fake_spawn(struct echod *x, const char *const argv[], char *more_env)
{
	const char *args[64];
	size_t n = 0, namelen = 16;
	int *fds = calloc(fk.n + 1, sizeof(int));
	pid_t pid;

	for (size_t i = 0; i < fk.n; i++)
		if (fk.v[i].fd != -1) {
			fds[n++] = fk.v[i].fd;
			namelen += strlen(fk.v[i].name) + 1;
		}
	char *names = calloc(1, namelen + 32);
	strcpy(names, "LISTEN_FDNAMES=");
	for (size_t i = 0, k = 0; i < fk.n; i++)
		if (fk.v[i].fd != -1) {
			if (k++ > 0)
				strcat(names, ":");
			strcat(names, fk.v[i].name);
		}
	h_argv(x, h_echod_path(), argv, args, 64);
	if ((pid = fork()) == 0) {
		char nfds[32], lpid[32];
		int log = open(x->logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(log, STDERR_FILENO);
		dup2(log, STDOUT_FILENO);
		/* out of the way first, then into place */
		for (size_t i = 0; i < n; i++)
			fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, (int)(n + 64));
		for (size_t i = 0; i < n; i++)
			dup2(fds[i], 3 + (int)i);
		close_range(3 + (unsigned)n, ~0U, 0);
		snprintf(nfds, sizeof(nfds), "LISTEN_FDS=%zu", n);
		snprintf(lpid, sizeof(lpid), "LISTEN_PID=%ld", (long)getpid());
		char *env[] = { fk.env, nfds, lpid, names,
		    "PATH=/usr/sbin:/usr/bin:/sbin:/bin", more_env, NULL };
		execve(args[0], (char *const *)args, env);
		_exit(127);
	}
	free(fds);
	free(names);
	x->pid = pid;
	return pid;
}
