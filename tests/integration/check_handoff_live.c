/* check_handoff_live.c - connections that live through reloads and restarts
 * (issue 16): handed from old workers to new ones, and parked in a fake
 * systemd's descriptor store for the next echod, byte-exact. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"
#include "suites.h"

#define CONF_BASE "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" \
	"idle_timeout = 5m\nlog_connections = false\n"

static struct echod e, e2;
static char *e2_env;	/* set: one more variable for the second echod */

/* ---- clients that check every byte ------------------------------------ */

struct cl {
	int		 fd;
	uint8_t		*sent;		/* every byte sent, for the check */
	size_t		 nsent, cap, nrecv;
	uint32_t	 x;		/* the pattern's state */
	bool		 eof;
};

static void
cl_open(struct cl *c, int port, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(AF_INET, port, &ss);

	memset(c, 0, sizeof(*c));
	c->x = (uint32_t)random() | 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(c->fd, -1);
	if (rcvbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&ss, len) == 0,
	    "connect: %s", strerror(errno));
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

static void
cl_close(struct cl *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->sent);
	c->fd = -1;
	c->sent = NULL;
}

static uint8_t
next_byte(struct cl *c)
{
	c->x ^= c->x << 13;
	c->x ^= c->x >> 17;
	c->x ^= c->x << 5;
	return (uint8_t)c->x;
}

/* Sends up to len more bytes, as many as the socket takes now. */
static size_t
cl_send(struct cl *c, size_t len)
{
	uint8_t buf[16384];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		if (c->cap < c->nsent + n) {
			c->cap = (c->nsent + n) * 2;
			c->sent = realloc(c->sent, c->cap);
			ck_assert_ptr_nonnull(c->sent);
		}
		uint32_t save = c->x;
		for (size_t i = 0; i < n; i++)
			buf[i] = next_byte(c);
		ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0) {
			c->x = save;	/* not sent: the pattern goes back */
			break;
		}
		if ((size_t)w < n) {	/* redo the pattern for what went */
			c->x = save;
			for (ssize_t i = 0; i < w; i++)
				next_byte(c);
		}
		memcpy(c->sent + c->nsent, buf, (size_t)w);
		c->nsent += (size_t)w;
		done += (size_t)w;
	}
	return done;
}

/* Reads what is there and checks it against what was sent; false on a
 * wrong byte or more bytes than sent. */
static bool
cl_recv(struct cl *c)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
		if (c->nrecv + (size_t)n > c->nsent ||
		    memcmp(buf, c->sent + c->nrecv, (size_t)n) != 0)
			return false;
		c->nrecv += (size_t)n;
	}
	if (n == 0)
		c->eof = true;
	return true;
}

/* One round trip of len bytes, within timeout_ms. */
static bool
cl_pingpong(struct cl *c, size_t len, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	size_t want = c->nsent + len;

	cl_send(c, len);
	while (c->nrecv < want && h_now_ms() < end && !c->eof) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (c->nsent < want)
			cl_send(c, want - c->nsent);
		poll(&p, 1, 50);
		if (!cl_recv(c))
			return false;
	}
	return c->nrecv == want;
}

/* Writes without reading until echod stops taking bytes: then it holds an
 * unsent echo.  Bounded in bytes and time. */
static void
cl_stall(struct cl *c)
{
	uint64_t end = h_now_ms() + 5000, last = h_now_ms();

	while (h_now_ms() < end && c->nsent < (32u << 20) &&
	    h_now_ms() - last < 300) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		if (cl_send(c, 65536) > 0)
			last = h_now_ms();
		poll(&p, 1, 50);
	}
	ck_assert_msg(h_now_ms() - last >= 300, "echod kept reading");
}

/* Half-closes, reads to the end: every byte exactly once, in order. */
static void
cl_finish(struct cl *c, const char *what, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	shutdown(c->fd, SHUT_WR);
	while (!c->eof && h_now_ms() < end) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		poll(&p, 1, 100);
		ck_assert_msg(cl_recv(c), "%s: a wrong or extra byte at %zu", what,
		    c->nrecv);
	}
	ck_assert_msg(c->eof, "%s: no end after %zu of %zu bytes", what,
	    c->nrecv, c->nsent);
	ck_assert_msg(c->nrecv == c->nsent, "%s: %zu of %zu bytes came back",
	    what, c->nrecv, c->nsent);
}

/* ---- a fake systemd: the notify socket and its descriptor store ------- */

struct stored {
	char	 name[64];
	int	 fd;
};

static struct fake {
	int		 fd;
	char		 path[128], env[160];
	struct stored	*v;
	size_t		 n, cap;
	char		 (*removed)[64];
	size_t		 nremoved, capremoved;
	size_t		 most_fds;	/* in one message */
	size_t		 messages_with_fds;
	char		 status[512];	/* the last STATUS= */
} fk;

static void
fake_open(const struct echod *ed)
{
	int big = 8 << 20;

	memset(&fk, 0, sizeof(fk));
	snprintf(fk.path, sizeof(fk.path), "%s/notify", ed->dir);
	fk.fd = h_notify_socket(ed, SOCK_CLOEXEC, fk.env, sizeof(fk.env));
	ck_assert_int_ne(fk.fd, -1);
	setsockopt(fk.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
}

static void
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
static bool
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

static size_t
fake_count(const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < fk.n; i++)
		n += strncmp(fk.v[i].name, prefix, strlen(prefix)) == 0;
	return n;
}

/* Forgets what the store holds under name, as if never stored. */
static void
fake_forget(const char *name)
{
	for (size_t i = 0; i < fk.n; i++)
		if (strcmp(fk.v[i].name, name) == 0 && fk.v[i].fd != -1) {
			close(fk.v[i].fd);
			fk.v[i].fd = -1;
		}
}

/* How many descriptors the store holds under name now. */
static size_t
fake_holds(const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < fk.n; i++)
		n += strcmp(fk.v[i].name, name) == 0 && fk.v[i].fd != -1;
	return n;
}

static bool
fake_removed(const char *name)
{
	for (size_t i = 0; i < fk.nremoved; i++)
		if (strcmp(fk.removed[i], name) == 0)
			return true;
	return false;
}

/* Serves the fake socket until pid exits; its wait status, or -1. */
static int
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
static bool
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
static pid_t
spawn_with_store(struct echod *x, const char *const argv[])
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
		    "PATH=/usr/sbin:/usr/bin:/sbin:/bin", e2_env, NULL };
		execve(args[0], (char *const *)args, env);
		_exit(127);
	}
	free(fds);
	free(names);
	x->pid = pid;
	return pid;
}

/* The first echod, under the fake systemd, with a restart pending. */
static void
start_parking(const char *conf, const char *fdstore)
{
	static char env_store[64];
	static char *env[8];

	fake_open(&e);
	snprintf(env_store, sizeof(env_store), "FDSTORE=%s", fdstore);
	env[0] = fk.env;
	env[1] = env_store;
	env[2] = "ECHOD_TEST_RESTART_PENDING=1";
	env[3] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	env[4] = NULL;
	e.envp = env;
	h_write_conf(&e, conf);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	h_spawn(&e, argv);
	ck_assert_msg(fake_until_log(&e, "ready: ", 10000), "echod did not start");
	h_parse_ports(&e);
}

/* The second echod, from the store, in its own scratch directory. */
static void
start_from_store(const char *conf, bool expect_ready)
{
	h_init(&e2);
	h_write_conf(&e2, conf);
	const char *const argv[] = { "-f", "-c", e2.confpath, NULL };
	spawn_with_store(&e2, argv);
	if (expect_ready)
		ck_assert_msg(fake_until_log(&e2, "ready: ", 10000),
		    "the second echod did not start; see %s", e2.logpath);
}

static void
setup(void)
{
	h_init(&e);
	memset(&e2, 0, sizeof(e2));
	e2.pid = -1;
	e2_env = NULL;
	fk.fd = -1;
	srandom((unsigned)h_now_ms());
}

static void
teardown(void)
{
	h_cleanup(&e);
	if (e2.dir[0])
		h_cleanup(&e2);
	fake_close();
}

/* ---- reload ------------------------------------------------------------ */

/* Waits until the master has exactly want workers (the old ones gone). */
static bool
workers_become(struct echod *x, int want, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	pid_t w[64];

	while (h_now_ms() < end) {
		if (h_workers(x->pid, w, 64) == want)
			return true;
		h_tick();
	}
	return false;
}

#define NPING	12
#define NSTALL	3

/* More reloads than POOL_MAX_DRAINING (3), each handing everything over;
 * clients mid-stream, some holding unsent echo in echod, live past
 * shutdown_timeout: every byte arrives once, in order. */
START_TEST(test_reloads_keep_connections)
{
	struct cl ping[NPING], stall[NSTALL];
	char want[64];

	h_write_conf(&e, "workers = 2\nshutdown_timeout = 1s\n" CONF_BASE);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert(h_start(&e, argv, 10000) == 0);
	for (int i = 0; i < NPING; i++) {
		cl_open(&ping[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&ping[i], 100, 3000));
	}
	for (int i = 0; i < NSTALL; i++) {
		cl_open(&stall[i], e.tcp4, 4096);
		cl_stall(&stall[i]);
	}
	uint64_t first = h_now_ms();
	for (int r = 1; r <= 5; r++) {
		kill(e.pid, SIGHUP);
		snprintf(want, sizeof(want), "configuration reloaded: generation %d",
		    r + 1);
		ck_assert_msg(h_wait_log(&e, want, 10000), "reload %d", r);
		ck_assert_msg(workers_become(&e, 2, 10000),
		    "reload %d: the old workers did not hand over and exit", r);
		for (int i = 0; i < NPING; i++)
			ck_assert_msg(cl_pingpong(&ping[i], 1 + (size_t)random() % 3000,
			    5000), "reload %d: client %d lost its echo", r, i);
	}
	/* The unsent echo travelled: a non-zero count was handed over. */
	ck_assert(h_log_has(&e, "handed to generation 6"));
	ck_assert_msg(!h_log_has(&e, " (0 bytes unsent) handed to generation 2") ||
	    h_log_has(&e, "bytes unsent) handed to generation 2"), "no unsent bytes");
	/* Past shutdown_timeout (1 s) twice over since the first reload. */
	while (h_now_ms() - first < 2500)
		for (int i = 0; i < NPING; i++)
			ck_assert(cl_pingpong(&ping[i], 64, 5000));
	ck_assert(!h_log_has(&e, "shutdown timeout"));
	ck_assert(!h_log_has(&e, "refused"));
	for (int i = 0; i < NSTALL; i++) {
		cl_finish(&stall[i], "stalled client", 20000);
		cl_close(&stall[i]);
	}
	for (int i = 0; i < NPING; i++) {
		cl_finish(&ping[i], "ping-pong client", 5000);
		cl_close(&ping[i]);
	}
}
END_TEST

/* A new generation whose first worker dies before it is ready: the old
 * worker keeps serving meanwhile, and hands over only to a ready one. */
START_TEST(test_reload_new_generation_fails)
{
	const char *shim_path, *preload = h_crashshim_preload(&shim_path);
	static char env_pre[512], env_once[256];
	static char *env[5];
	char once[160];
	struct cl c;

	if (preload == NULL)
		skip_test("no crash shim at %s", shim_path);
	snprintf(once, sizeof(once), "%s/crash-once", e.dir);
	snprintf(env_pre, sizeof(env_pre), "%s", preload);
	snprintf(env_once, sizeof(env_once), "CRASHSHIM_ONCE=%s", once);
	env[0] = env_pre;
	env[1] = env_once;
	env[2] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	/* under ASan, a preloaded shim comes before its runtime */
	env[3] = "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0";
	env[4] = NULL;
	e.envp = env;
	h_write_conf(&e, "workers = 1\nshutdown_timeout = 30s\n" CONF_BASE);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert(h_start(&e, argv, 10000) == 0);
	cl_open(&c, e.tcp4, 0);
	ck_assert(cl_pingpong(&c, 1000, 3000));

	/* the next worker to start dies in its set-up, slowly */
	int fd = open(once, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ne(fd, -1);
	close(fd);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2", 10000));
	ck_assert_msg(h_wait_log(&e, "exited with status 70", 10000),
	    "the new worker did not fail");
	/* the old worker still serves: nobody was ready to take it */
	ck_assert(cl_pingpong(&c, 1000, 3000));
	ck_assert_msg(h_wait_log(&e, "handed to generation 2", 10000),
	    "no handoff to the respawned worker");
	ck_assert(workers_become(&e, 1, 10000));
	ck_assert(cl_pingpong(&c, 1000, 3000));
	cl_finish(&c, "client", 5000);
	cl_close(&c);
}
END_TEST

/* ---- restart through the descriptor store ------------------------------ */

#define NPARK	300	/* past one message's 253 descriptors */

/* SIGTERM with a restart pending: every connection, with its unsent
 * echo, goes to the store in batches; the next echod takes them from
 * LISTEN_FDS, serves them byte-exact and removes them from the store. */
START_TEST(test_restart_through_store)
{
	static struct cl c[NPARK], st[2];

	start_parking("workers = 1\nshutdown_timeout = 10s\n" CONF_BASE, "1000");
	for (int i = 0; i < NPARK; i++) {
		cl_open(&c[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&c[i], 50, 3000));
	}
	for (int i = 0; i < 2; i++) {
		cl_open(&st[i], e.tcp4, 4096);
		cl_stall(&st[i]);
	}
	uint64_t t0 = h_now_ms();
	kill(e.pid, SIGTERM);
	int status = fake_until_exit(e.pid, 10000);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the first echod did not exit 0");
	e.pid = -1;
	/* no drain: parking does not wait out shutdown_timeout */
	timing_assert(h_now_ms() - t0 < 5000, "took %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	ck_assert_uint_eq(fake_count("echod-c-"), NPARK + 2);
	ck_assert_uint_eq(fake_count("echod-s-"), 2);	/* 302 = 252 + 50 */
	ck_assert_uint_le(fk.most_fds, 253);
	ck_assert(h_log_has(&e, "parked with systemd"));

	/* clients keep talking while nobody serves them */
	for (int i = 0; i < NPARK; i++)
		cl_send(&c[i], 10);
	start_from_store("workers = 2\n" CONF_BASE, true);
	ck_assert(h_log_has(&e2, "302 connections taken back"));
	for (int i = 0; i < NPARK; i++)
		ck_assert_msg(cl_pingpong(&c[i], 100, 5000), "client %d", i);
	/* every connection's name is removed from the store; the
	 * configuration stays there for the next start */
	uint64_t end = h_now_ms() + 5000;
	size_t left;
	do {
		while (fake_one(50))
			;
		left = 0;
		for (size_t i = 0; i < fk.n; i++)
			left += strcmp(fk.v[i].name, "echod-conf") != 0 &&
			    !fake_removed(fk.v[i].name);
	} while (left > 0 && h_now_ms() < end);
	for (size_t i = 0; i < fk.n; i++)
		ck_assert_msg(strcmp(fk.v[i].name, "echod-conf") == 0 ||
		    fake_removed(fk.v[i].name), "%s not removed", fk.v[i].name);
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);
	/* the new echod holds the only copy: a half-close ends it */
	for (int i = 0; i < 2; i++) {
		cl_finish(&st[i], "stalled client", 20000);
		cl_close(&st[i]);
	}
	for (int i = 0; i < NPARK; i++) {
		cl_finish(&c[i], "client", 5000);
		cl_close(&c[i]);
	}
}
END_TEST

/* FDSTORE caps what is stored, state included; the rest end gracefully. */
START_TEST(test_store_cap)
{
	struct cl c[20];
	size_t ended = 0;

	start_parking("workers = 1\n" CONF_BASE, "11");
	for (int i = 0; i < 20; i++) {
		cl_open(&c[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&c[i], 100, 3000));
	}
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	/* the configuration kept beside them counts too */
	ck_assert_uint_eq(fake_count("echod-c-") + fake_count("echod-s-") +
	    fake_holds("echod-conf"), 11);
	ck_assert(h_log_has(&e, "descriptor store full (FDSTORE=11)"));
	/* the 10 not stored were shut down, each after all its echo */
	for (int i = 0; i < 20; i++) {
		struct pollfd p = { .fd = c[i].fd, .events = POLLIN };
		poll(&p, 1, 200);
		ck_assert(cl_recv(&c[i]));
		ended += c[i].eof;
		if (c[i].eof)
			ck_assert_uint_eq(c[i].nrecv, c[i].nsent);
		cl_close(&c[i]);
	}
	ck_assert_uint_eq(ended, 11);	/* 9 stored, with 1 state and the conf */
}
END_TEST

/* No restart pending: SIGTERM drains as always, no connection is stored. */
START_TEST(test_stop_drains)
{
	static char *env[4];
	struct cl c;

	fake_open(&e);
	env[0] = fk.env;
	env[1] = "FDSTORE=100";
	env[2] = "ECHOD_TEST_RESTART_PENDING=0";
	env[3] = NULL;
	e.envp = env;
	h_write_conf(&e, "workers = 1\n" CONF_BASE);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	h_spawn(&e, argv);
	ck_assert(fake_until_log(&e, "ready: ", 10000));
	h_parse_ports(&e);
	cl_open(&c, e.tcp4, 0);
	ck_assert(cl_pingpong(&c, 100, 3000));
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_log(&e, "stopping gracefully", 5000));
	ck_assert(cl_pingpong(&c, 100, 3000));	/* still served while draining */
	cl_finish(&c, "draining client", 5000);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	/* no connection: only the configuration, which systemd drops itself
	 * when the unit stops with no job */
	ck_assert_uint_eq(fake_count("echod-c-") + fake_count("echod-s-"), 0);
	cl_close(&c);
}
END_TEST

/* The next echod refuses its configuration (exit 78): it still sends the
 * unsent echo it took, shuts the connections and empties the store. */
START_TEST(test_failed_start_ends_stored)
{
	struct cl c[3];

	start_parking("workers = 1\n" CONF_BASE, "100");
	for (int i = 0; i < 3; i++) {
		cl_open(&c[i], e.tcp4, 4096);
		cl_stall(&c[i]);
	}
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	ck_assert_uint_eq(fake_count("echod-c-"), 3);
	/* nothing good stored to fall back to (see test_restart_refused_file) */
	fake_forget("echod-conf");
	start_from_store("workers = lots\n", false);
	int status = fake_until_exit(e2.pid, 10000);
	e2.pid = -1;
	ck_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 78);
	for (size_t i = 0; i < fk.n; i++)
		ck_assert_msg(strcmp(fk.v[i].name, "echod-conf") == 0 ||
		    fake_removed(fk.v[i].name), "%s", fk.v[i].name);
	/* all the echo echod had read, then the end: no more than that */
	for (int i = 0; i < 3; i++) {
		uint64_t end = h_now_ms() + 10000;
		while (!c[i].eof && h_now_ms() < end) {
			struct pollfd p = { .fd = c[i].fd, .events = POLLIN };
			poll(&p, 1, 100);
			ck_assert(cl_recv(&c[i]));
		}
		ck_assert_msg(c[i].eof, "client %d not ended", i);
		ck_assert_uint_gt(c[i].nrecv, 0);
		cl_close(&c[i]);
	}
	ck_assert(h_log_has(&e2, "ending 3 connections"));
}
END_TEST

/* `echod --status [--json] -c file`'s output in out, or false. */
static bool
status_of(const char *file, bool json, char *out, size_t len)
{
	char cmd[600];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s --status %s -c %s", h_echod_path(),
	    json ? "--json" : "", file);
	if ((p = popen(cmd, "re")) == NULL)
		return false;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p) == 0;
}

/*
 * A restart onto a file with a typo: the new echod says why the file is
 * refused, exactly as -t would, then serves with the configuration the
 * echod before it stored, connections included, and says so in STATUS
 * and --status.  The fixed file and a reload put it back on the file.
 */
START_TEST(test_restart_refused_file)
{
	char conf[512], out[8192], want[512];
	struct cl c[3];

	snprintf(conf, sizeof(conf), "workers = 1\ncontrol_socket = \"%s/ctl\"\n"
	    CONF_BASE, e.dir);
	start_parking(conf, "100");
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);
	for (int i = 0; i < 3; i++) {
		cl_open(&c[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&c[i], 100, 3000));
	}
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);	/* left for the next */
	e2_env = "FDSTORE=100";
	start_from_store("workers = lots\n", true);
	ck_assert(h_log_has(&e2, "echod.conf:1: workers: must be 1..1024 or "
	    "auto, got \"lots\""));
	ck_assert(h_log_has(&e2, "serving the last good configuration"));
	ck_assert(h_log_has(&e2, "3 connections taken back"));
	for (int i = 0; i < 3; i++)
		ck_assert_msg(cl_pingpong(&c[i], 100, 5000), "client %d", i);
	ck_assert_msg(fake_until_log(&e2, "ready: 1 worker", 1000) ||
	    strncmp(fk.status, "FALLBACK: ", 10) == 0, "STATUS: %s", fk.status);
	for (uint64_t end = h_now_ms() + 5000; h_now_ms() < end &&
	    strncmp(fk.status, "FALLBACK: ", 10) != 0;)
		fake_one(50);
	ck_assert_msg(strstr(fk.status, e2.confpath) != NULL &&
	    strncmp(fk.status, "FALLBACK: ", 10) == 0, "STATUS: %s", fk.status);
	/* --status, through e's file: it names the control socket that the
	 * stored configuration, e's, made */
	ck_assert_msg(status_of(e.confpath, false, out, sizeof(out)), "%s", out);
	snprintf(want, sizeof(want), "\nconfig: fallback (%s refused: %s:1: "
	    "workers: must be 1..1024 or auto, got \"lots\"); ", e2.confpath,
	    e2.confpath);
	ck_assert_msg(strstr(out, want) != NULL, "--status: %s", out);
	ck_assert_msg(status_of(e.confpath, true, out, sizeof(out)), "%s", out);
	ck_assert_msg(strstr(out, "\"config\": {\"fallback\": true, \"file\": "),
	    "--status --json: %s", out);
	/* fixed: a reload reads the file, and keeps it as the good one */
	size_t stored = fk.n;
	snprintf(conf, sizeof(conf), "workers = 2\ncontrol_socket = \"%s/ctl\"\n"
	    CONF_BASE, e.dir);
	h_write_conf(&e2, conf);
	kill(e2.pid, SIGHUP);
	ck_assert(fake_until_log(&e2, "the stored configuration is replaced", 5000));
	ck_assert(fake_until_log(&e2, "ready: 2 workers", 10000));
	while (fake_one(50))
		;
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);
	ck_assert_uint_gt(fk.n, stored);
	for (uint64_t end = h_now_ms() + 7000; h_now_ms() < end &&
	    strncmp(fk.status, "FALLBACK: ", 10) == 0;)
		fake_one(50);
	ck_assert_msg(strncmp(fk.status, "FALLBACK: ", 10) != 0, "STATUS: %s",
	    fk.status);
	ck_assert_msg(status_of(e.confpath, false, out, sizeof(out)), "%s", out);
	ck_assert_msg(strstr(out, "config: fallback") == NULL, "--status: %s", out);
	for (int i = 0; i < 3; i++) {
		ck_assert(cl_pingpong(&c[i], 100, 5000));
		cl_close(&c[i]);
	}
}
END_TEST

/* A store whose state does not parse: the socket is ended and removed,
 * never served with bytes missing; echod starts anyway. */
START_TEST(test_bad_stored_state)
{
	int ls, cfd, sfd, mfd;
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	char buf[8];

	fake_open(&e);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	getsockname(ls, (struct sockaddr *)&sa, &len);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sa, len), 0);
	sfd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	close(ls);
	mfd = memfd_create("garbage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_eq(write(mfd, "not a state, not at all", 23), 23);
	fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW);
	fk.v = calloc(2, sizeof(*fk.v));
	fk.cap = fk.n = 2;
	strcpy(fk.v[0].name, "echod-s-1");
	fk.v[0].fd = mfd;
	strcpy(fk.v[1].name, "echod-c-1");
	fk.v[1].fd = sfd;
	start_from_store("workers = 1\n" CONF_BASE, true);
	ck_assert(h_log_has(&e2, "stored connection echod-s-1: state of unknown format"));
	ck_assert(h_log_has(&e2, "stored connection echod-c-1: no state stored with it"));
	uint64_t end = h_now_ms() + 5000;
	while (fk.nremoved < 2 && h_now_ms() < end)
		fake_one(50);
	ck_assert(fake_removed("echod-c-1") && fake_removed("echod-s-1"));
	/* the store's copy is gone too: the client sees the end */
	struct pollfd p = { .fd = cfd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(recv(cfd, buf, sizeof(buf), 0), 0);
	close(cfd);
}
END_TEST

/* ---- a worker that talks out of turn ---------------------------------- */

/* The worker's end of its channel to the master: the one unix SEQPACKET
 * socket among its descriptors, taken with pidfd_getfd(2) (the tests run
 * as root).  -1 if there is none or the kernel cannot. */
static int
worker_channel(pid_t w)
{
	char path[64], link[64], line[256];
	unsigned long seq[16], ino;
	size_t nseq = 0;
	int num = -1, pidfd, fd;
	FILE *f = fopen("/proc/net/unix", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL && nseq < nitems(seq)) {
		unsigned type;

		if (sscanf(line, "%*s %*s %*s %*s %x %*s %lu", &type, &ino) == 2 &&
		    type == SOCK_SEQPACKET)
			seq[nseq++] = ino;
	}
	fclose(f);
	for (int k = 0; k < 1024 && num == -1; k++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)w, k);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		for (size_t j = 0; j < nseq; j++)
			if (seq[j] == ino)
				num = k;
	}
	if (num == -1 || (pidfd = (int)syscall(SYS_pidfd_open, w, 0)) == -1)
		return -1;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, num, 0);
	close(pidfd);
	return fd;
}

/* Count of needle in the log. */
static int
log_count(const char *needle)
{
	char buf[1 << 16];
	int fd = open(e.logpath, O_RDONLY), n = 0;
	ssize_t len;

	ck_assert_int_ne(fd, -1);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	for (char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/*
 * A worker (its unprivileged user could have taken it over) floods its
 * channel with messages the master never asked for: the master says so once,
 * kills it, starts another, and goes on answering - it neither logs a line
 * per message nor stays in the loop reading them.
 */
START_TEST(test_channel_flood_kills_the_worker)
{
	pid_t w[2], w2[2];
	int fd, sent = 0;
	uint64_t end;

	h_write_conf(&e, CONF_BASE "workers = 1\ncontrol_socket = \"\"\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert_int_eq(h_workers(e.pid, w, 2), 1);
	fd = worker_channel(w[0]);
	ck_assert_msg(fd != -1, "no channel in worker %ld: %s", (long)w[0],
	    strerror(errno));
	end = h_now_ms() + 3000;
	while (sent < 100000 && h_now_ms() < end) {
		if (send(fd, "Z", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
			sent++;
		else if (errno == EAGAIN)
			h_tick();
		else
			break;		/* the master closed its end: reaped */
	}
	ck_assert_int_gt(sent, 1);
	ck_assert(h_wait_log(&e, "an unknown message (0x5a) on its channel; "
	    "killing it", 5000));
	/* another worker, which echoes */
	end = h_now_ms() + 10000;
	while (!(h_workers(e.pid, w2, 2) == 1 && w2[0] != w[0]) && h_now_ms() < end)
		h_tick();
	ck_assert_int_ne(w2[0], w[0]);
	int c = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(c, "still here", 10, 5000), 0);
	close(c);
	close(fd);
	ck_assert_int_eq(log_count("on its channel"), 1);
}
END_TEST

Suite *
handoff_live_suite(void)
{
	Suite *s = suite_create("handoff-live");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reloads_keep_connections);
	tcase_add_test(tc, test_reload_new_generation_fails);
	tcase_add_test(tc, test_channel_flood_kills_the_worker);
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_restart_through_store);
	tcase_add_test(tc, test_store_cap);
	tcase_add_test(tc, test_stop_drains);
	tcase_add_test(tc, test_failed_start_ends_stored);
	tcase_add_test(tc, test_restart_refused_file);
	tcase_add_test(tc, test_bad_stored_state);
	suite_add_tcase(s, tc);
	return s;
}
