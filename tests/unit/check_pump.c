/*
 * check_pump.c - the echo round over real loopback TCP pairs: zero-copy
 * and copy paths, byte order, what is kept when the client does not read
 * (never more than one round), EOF, errors, and the copy path standing in
 * when there is no pipe (descriptors, a pipe size the budget refuses, or
 * splice itself refused).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pump.h"
#include "suites.h"
#include "unitlib.h"

#define ROUND	(64 * 1024)

static int cli, srv;	/* the client's end; the echo server's end */
static struct pump pump;

static void
setup(void)
{
	/* both ends non-blocking */
	srv = u_tcp_pair(&cli, NULL, NULL);
	fcntl(cli, F_SETFL, O_NONBLOCK);
	fcntl(srv, F_SETFL, O_NONBLOCK);
}

static void
teardown(void)
{
	pump_free(&pump);
	close(cli);
	close(srv);
}

static size_t
pipe_bytes(void)
{
	int n = -1;

	ck_assert(pump_spliced(&pump));
	ck_assert_int_eq(ioctl(pump.pipe[0], FIONREAD, &n), 0);
	return (size_t)n;
}

static void
pattern(unsigned char *p, size_t len, unsigned seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

/* Waits (bounded) until fd is readable. */
static void
wait_in(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
}

START_TEST(test_small_copied)
{
	const char msg[] = "ping\0pong\n";
	char got[sizeof(msg)];
	size_t sent, restlen;
	char *rest;

	ck_assert_int_eq(pump_init(&pump, ROUND), 0);
	ck_assert_int_eq(send(cli, msg, sizeof(msg), 0), sizeof(msg));
	wait_in(srv);
	ck_assert_int_eq(pump_echo(&pump, srv, false, &sent, &rest, &restlen),
	    sizeof(msg));
	ck_assert_uint_eq(sent, sizeof(msg));
	ck_assert_ptr_null(rest);
	wait_in(cli);
	ck_assert_int_eq(recv(cli, got, sizeof(got), 0), sizeof(msg));
	ck_assert_mem_eq(got, msg, sizeof(msg));
	ck_assert_int_eq(pump_echo(&pump, srv, true, &sent, &rest, &restlen), -1);
	ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

/*
 * A large random stream, both paths by turns, the client reading as it
 * goes: every byte comes back once and in order, whatever each round
 * leaves over; no round reads more than a round, nor keeps more.
 */
static void
stream(size_t total, bool alternate)
{
	unsigned char *out = malloc(total), *in = malloc(total);
	char *pend = NULL;
	size_t sent = 0, got = 0, poff = 0, plen = 0;
	long rounds = 0, partials = 0;
	int small = 16 * 1024;

	/* small buffers: many rounds are cut short */
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(srv, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	pattern(out, total, (unsigned)total);
	while (got < total && rounds++ < 10000000) {
		ssize_t n;
		size_t before = sent + got + poff;


		if (sent < total && (n = send(cli, out + sent,
		    total - sent > 300000 ? 300000 : total - sent, 0)) > 0)
			sent += (size_t)n;
		if (plen > 0) {
			n = send(srv, pend + poff, plen, MSG_NOSIGNAL);
			if (n > 0) {
				poff += (size_t)n;
				plen -= (size_t)n;
			}
			if (plen == 0) {
				free(pend);
				pend = NULL;
			}
		} else {
			size_t s, rl;
			char *r;
			n = pump_echo(&pump, srv, alternate ? rounds & 1 : true,
			    &s, &r, &rl);
			if (n == -1)
				ck_assert_int_eq(errno, EAGAIN);
			ck_assert_int_ne(n, 0);
			if (n > 0) {
				ck_assert_uint_le((size_t)n, ROUND);
				ck_assert_uint_eq(s + rl, (size_t)n);
				ck_assert_uint_le(rl, ROUND);
				if (r != NULL) {
					partials++;
					pend = r;
					poff = 0;
					plen = rl;
				}
			}
			if (pump_spliced(&pump))
				ck_assert_uint_eq(pipe_bytes(), 0);
		}
		if ((n = recv(cli, in + got, total - got, 0)) > 0)
			got += (size_t)n;
		/*
		 * Nothing moved: on a loaded machine loopback delivery runs
		 * late (ksoftirqd), and spinning would spend the round bound
		 * on EAGAIN.  Wait until a side can move instead.
		 */
		if (sent + got + poff == before) {
			struct pollfd pfd[2] = {
				{ .fd = cli, .events = POLLIN |
				    (sent < total ? POLLOUT : 0) },
				{ .fd = srv, .events = POLLIN |
				    (plen > 0 ? POLLOUT : 0) },
			};
			poll(pfd, 2, 100);
		}
	}
	ck_assert_uint_eq(got, total);
	ck_assert_mem_eq(in, out, total);
	ck_assert_int_gt(partials, 0);
	free(pend);
	free(out);
	free(in);
}

START_TEST(test_stream_spliced)
{
	ck_assert_int_eq(pump_init(&pump, ROUND), 0);
	ck_assert(pump_spliced(&pump));
	stream(32 << 20, false);
}
END_TEST

START_TEST(test_stream_mixed)
{
	ck_assert_int_eq(pump_init(&pump, ROUND), 0);
	stream(8 << 20, true);
}
END_TEST

/*
 * A client that sends and never reads, with little room in both socket
 * buffers: rounds go on until the socket takes less than a round; what is
 * kept is the rest of that round only (the pipe is empty), and once the
 * client reads, the kept bytes come in their place.
 */
static void
partial(bool zerocopy, size_t round)
{
	enum { TOTAL = 8 << 20 };
	unsigned char *out = malloc(TOTAL), *in = malloc(TOTAL);
	int small = 4096;	/* the least: the socket takes a fraction of a round */
	size_t sent = 0, echoed = 0, got = 0, s, rl = 0;
	char *r = NULL;
	ssize_t n;

	ck_assert_int_eq(pump_init(&pump, round), 0);
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(srv, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	pattern(out, TOTAL, 7);
	/* a full receive queue first: the round that is cut short is a full one */
	for (int i = 0; i < 100000; i++) {
		if ((n = send(cli, out + sent, TOTAL - sent, 0)) > 0)
			sent += (size_t)n;
		else if (i > 100)
			break;
	}
	ck_assert_uint_gt(sent, 2 * round);
	for (int i = 0; i < 100000 && r == NULL; i++) {
		if ((n = send(cli, out + sent, TOTAL - sent, 0)) > 0)
			sent += (size_t)n;
		n = pump_echo(&pump, srv, zerocopy, &s, &r, &rl);
		if (n == -1) {
			ck_assert_int_eq(errno, EAGAIN);
			continue;
		}
		ck_assert_int_gt(n, 0);
		echoed += s;
	}
	ck_assert_ptr_nonnull(r);	/* the client's buffers filled up */
	ck_assert_uint_eq(s + rl, (size_t)n);	/* nothing lost */
	ck_assert_uint_gt(rl, 0);
	ck_assert_msg(rl <= round, "kept %zu bytes, more than a round", rl);
	if (zerocopy)
		ck_assert_uint_eq(pipe_bytes(), 0);
	/* the client reads: first what the socket took, then the kept rest,
	 * which goes out as the client makes room */
	size_t off = 0;
	for (long i = 0; i < 10000000 && got < echoed + rl; i++) {
		if (off < rl && (n = send(srv, r + off, rl - off,
		    MSG_NOSIGNAL)) > 0)
			off += (size_t)n;
		if ((n = recv(cli, in + got, echoed + rl - got, 0)) > 0)
			got += (size_t)n;
	}
	ck_assert_uint_eq(got, echoed + rl);
	ck_assert_mem_eq(in, out, echoed + rl);
	free(r);
	free(out);
	free(in);
}

START_TEST(test_partial_spliced)
{
	partial(true, 4 * ROUND);
}
END_TEST

START_TEST(test_partial_copied)
{
	partial(false, 4 * ROUND);
}
END_TEST

START_TEST(test_eof)
{
	size_t s, rl;
	char *r;

	ck_assert_int_eq(pump_init(&pump, ROUND), 0);
	ck_assert_int_eq(send(cli, "x", 1, 0), 1);
	shutdown(cli, SHUT_WR);
	wait_in(srv);
	ck_assert_int_eq(pump_echo(&pump, srv, true, &s, &r, &rl), 1);
	ck_assert_int_eq(pump_echo(&pump, srv, true, &s, &r, &rl), 0);
	ck_assert_int_eq(pump_echo(&pump, srv, false, &s, &r, &rl), 0);
}
END_TEST

/* The echo cannot be sent (our side is shut): the round fails with EPIPE
 * and the bytes read are not left in the pipe for the next connection. */
START_TEST(test_send_error_drains_pipe)
{
	char buf[8192];
	size_t s, rl;
	char *r;

	signal(SIGPIPE, SIG_IGN);	/* as in a worker: splice has no MSG_NOSIGNAL */
	ck_assert_int_eq(pump_init(&pump, ROUND), 0);
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(send(cli, buf, sizeof(buf), 0), sizeof(buf));
	shutdown(srv, SHUT_WR);
	wait_in(srv);
	errno = 0;
	ck_assert_int_eq(pump_echo(&pump, srv, true, &s, &r, &rl), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(pipe_bytes(), 0);
}
END_TEST

/* No descriptors for a pipe: the copy path echoes; a pipe is tried again
 * after PUMP_RETRY rounds and used once there is room. */
START_TEST(test_no_pipe_emfile)
{
	struct rlimit was, rl;
	int fds[64], nfds = 0, fd;
	size_t s, restlen;
	char *rest, got[4];

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	rl = was;
	rl.rlim_cur = (rlim_t)(srv > cli ? srv : cli) + 8;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (nfds < 64 && (fd = dup(0)) != -1)
		fds[nfds++] = fd;
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_int_eq(pump_init(&pump, ROUND), 0);
	ck_assert(!pump_spliced(&pump));
	ck_assert_int_eq(send(cli, "abc", 3, 0), 3);
	wait_in(srv);
	ck_assert_int_eq(pump_echo(&pump, srv, true, &s, &rest, &restlen), 3);
	ck_assert_uint_eq(s, 3);
	wait_in(cli);
	ck_assert_int_eq(recv(cli, got, sizeof(got), 0), 3);
	ck_assert_mem_eq(got, "abc", 3);
	while (nfds > 0)
		close(fds[--nfds]);
	for (int i = 0; i < PUMP_RETRY + 1 && !pump_spliced(&pump); i++)
		pump_echo(&pump, srv, true, &s, &rest, &restlen);
	ck_assert(pump_spliced(&pump));
	setrlimit(RLIMIT_NOFILE, &was);
}
END_TEST

/* In a forked child: "abc" from the client through the pump and back.
 * 0, or the step that failed (4..6), for the child's exit status. */
static int
child_round(void)
{
	size_t s, restlen;
	char *rest, got[4];

	if (send(cli, "abc", 3, 0) != 3)
		return 4;
	wait_in(srv);
	if (pump_echo(&pump, srv, true, &s, &rest, &restlen) != 3 || s != 3)
		return 5;
	wait_in(cli);
	if (recv(cli, got, sizeof(got), 0) != 3 || memcmp(got, "abc", 3))
		return 6;
	return 0;
}

/* The forked child exited 0: each step of its round passed. */
static void
child_passed(pid_t pid)
{
	int st;

	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: 0x%x", st);
}

/* A pipe of buffer_size is refused (past pipe-max-size, for a user
 * without CAP_SYS_RESOURCE, as when the pipe budget is spent): the copy
 * path echoes instead, and no pipe is kept. */
START_TEST(test_pipe_size_refused)
{
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
	unsigned long max = 0;
	pid_t pid;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%lu", &max), 1);
	fclose(f);
	if (max > (8UL << 20))
		return;		/* buffer_size cannot exceed it here */
	/* in a child: it may have to give up root for the limit to apply */
	if ((pid = fork()) == 0) {
		if (geteuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1))
			_exit(2);
		if (pump_init(&pump, 2 * max) == -1 || pump_spliced(&pump))
			_exit(3);
		_exit(child_round());
	}
	child_passed(pid);
}
END_TEST

/* splice() refused (a seccomp filter, as a service manager may set one):
 * the round is copied instead, and the pump stops trying the pipe. */
START_TEST(test_splice_refused)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_splice, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
			_exit(2);
		if (pump_init(&pump, ROUND) == -1 || !pump_spliced(&pump))
			_exit(3);
		if ((st = child_round()) != 0)
			_exit(st);
		_exit(pump_spliced(&pump) ? 7 : 0);
	}
	child_passed(pid);
}
END_TEST

Suite *
pump_suite(void)
{
	Suite *s = suite_create("pump");
	TCase *tc = tcase_create("pump");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_small_copied);
	tcase_add_test(tc, test_stream_spliced);
	tcase_add_test(tc, test_stream_mixed);
	tcase_add_test(tc, test_partial_spliced);
	tcase_add_test(tc, test_partial_copied);
	tcase_add_test(tc, test_eof);
	tcase_add_test(tc, test_send_error_drains_pipe);
	tcase_add_test(tc, test_no_pipe_emfile);
	tcase_add_test(tc, test_pipe_size_refused);
	tcase_add_test(tc, test_splice_refused);
	suite_add_tcase(s, tc);
	return s;
}
