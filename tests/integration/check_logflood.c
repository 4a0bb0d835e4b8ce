/*
 * check_logflood.c - no log line lost while the log is behind: echod's
 * stderr is a pipe that the test leaves unread while thousands of clients
 * connect, echo and close at full rate (two lines each), then reads it
 * all.  Every line is there, and echod says it dropped none.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define N_CONNS		3000	/* 6,000 lines: 100 times what the pipe holds */

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

struct out {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
};

/* Reads what the pipe holds now (or, with wait_ms, until EOF or then). */
static bool
out_read(struct out *o, int wait_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)wait_ms;

	for (;;) {
		struct pollfd pfd = { .fd = o->fd, .events = POLLIN };
		uint64_t now = h_now_ms();
		ssize_t n;

		if (o->cap - o->len < 65536) {
			o->cap = o->cap ? o->cap * 2 : 1 << 20;
			ck_assert_ptr_nonnull(o->buf = realloc(o->buf, o->cap + 1));
		}
		if (poll(&pfd, 1, wait_ms && now < end ? (int)(end - now) : 0) <= 0)
			return false;
		if ((n = read(o->fd, o->buf + o->len, o->cap - o->len)) <= 0)
			return n == 0;		/* EOF: echod is gone */
		o->len += (size_t)n;
		o->buf[o->len] = '\0';
	}
}

static unsigned
count(const struct out *o, const char *needle)
{
	unsigned n = 0;

	for (const char *p = o->buf; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_no_line_lost_behind_slow_log)
{
	struct out o = { .fd = -1 };
	int pfd[2], port = 0;
	const char *args[64], *p;

	h_write_conf(&e, "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n"
	    "workers = 2\nlog_connections = true\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	h_argv(&e, h_echod_path(), argv, args, 64);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	if ((e.pid = fork()) == 0) {
		dup2(pfd[1], STDERR_FILENO);
		execv(h_echod_path(), (char *const *)args);
		_exit(127);
	}
	close(pfd[1]);
	o.fd = pfd[0];
	fcntl(o.fd, F_SETFL, O_NONBLOCK);
	for (uint64_t end = h_now_ms() + 10000; strstr(o.buf ? o.buf : "",
	    "ready: ") == NULL; ) {
		ck_assert_msg(h_now_ms() < end, "not ready: %s", o.buf ? o.buf : "");
		out_read(&o, 100);
	}
	ck_assert_ptr_nonnull(p = strstr(o.buf, "listening on tcp 127.0.0.1:"));
	port = atoi(p + strlen("listening on tcp 127.0.0.1:"));
	ck_assert_int_gt(port, 0);

	/* the pipe is not read from here on: it fills after some 600 lines */
	for (int i = 0; i < N_CONNS; i++) {
		int fd = h_connect(AF_INET, port, 5000);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(h_echo(fd, "x", 1, 5000), 0);
		close(fd);
	}
	ck_assert_int_eq(kill(e.pid, SIGTERM), 0);
	ck_assert_msg(out_read(&o, 30000), "no EOF on echod's stderr");
	ck_assert_int_ne(h_wait_exit(e.pid, 10000), -1);
	e.pid = 0;
	ck_assert_uint_eq(count(&o, "tcp connected to 127.0.0.1"), N_CONNS);
	ck_assert_uint_eq(count(&o, "tcp closed 127.0.0.1"), N_CONNS);
	ck_assert_uint_eq(count(&o, "log messages dropped"), 0);
	/* and each process says so */
	ck_assert_uint_eq(count(&o, ": exiting; 0 log lines dropped"), 2);
	ck_assert_uint_eq(count(&o, "stopped; 0 log lines dropped"), 1);
	close(o.fd);
	free(o.buf);
}
END_TEST

Suite *
logflood_suite(void)
{
	Suite *s = suite_create("logflood");
	TCase *tc = tcase_create("logflood");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_no_line_lost_behind_slow_log);
	suite_add_tcase(s, tc);
	return s;
}
