/*
 * check_reqsrv.c - the request server's bounds that its users (the control
 * socket, the metrics process) cannot show on their own: nothing is read
 * after the reply, each byte of a request is looked at once however it is
 * sliced, and a listener that fails for want of descriptors rests instead
 * of spinning.  The replies themselves are check_control.c's.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reqsrv.h"
#include "suites.h"

static struct reqsrv srv;
static int lfd = -1, port;
static size_t shown;		/* bytes complete() was shown */
static int starved_calls, starved_err;
static uint64_t starved_rests;

static size_t
line(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	shown += len;
	return nl == NULL ? 0 : (size_t)(nl - buf) + 1;
}

/* The reply: how long the request was. */
static void
reply(void *arg, const char *req, size_t len, struct render_buf *out)
{
	(void)arg;
	(void)req;
	render_buf_printf(out, "%zu\n", len);
}

static void
starved(void *arg, int err, uint64_t rests)
{
	(void)arg;
	starved_calls++;
	starved_err = err;
	starved_rests = rests;
}

static void
setup(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	memset(&srv, 0, sizeof(srv));
	ck_assert_int_eq(reqsrv_init(&srv, 4), 0);
	srv.max_request = 4096;
	srv.timeout_ms = 5000;
	srv.complete = line;
	srv.reply = reply;
	srv.starved = starved;
	reqsrv_set_listeners(&srv, &lfd, 1);
	shown = 0;
	starved_calls = 0;
}

static void
teardown(void)
{
	reqsrv_free(&srv);
	close(lfd);
}

static int
client(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	/* a byte written is a byte sent */
	ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Runs the server until fd has its whole reply and EOF (2 s at most). */
static const char *
answer(int fd, uint64_t now_ms)
{
	static char buf[64];
	size_t n = 0;

	for (int i = 0; i < 400; i++) {
		reqsrv_run(&srv, now_ms);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5) != 1)
			continue;
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

/* A client that keeps sending after it has its reply is not read from:
 * it is gone from the server when the reply is written. */
START_TEST(test_nothing_read_after_reply)
{
	char junk[65536];
	int fd = client();
	bool refused = false;

	memset(junk, 'x', sizeof(junk));
	ck_assert_int_eq(write(fd, "ping\n", 5), 5);
	ck_assert_str_eq(answer(fd, 1000), "5\n");
	ck_assert_int_eq(reqsrv_busy(&srv), 0);
	ck_assert_uint_eq(srv.served, 1);
	/* what it sends now meets a closed socket */
	for (int i = 0; i < 100 && !refused; i++) {
		reqsrv_run(&srv, 1000);
		ssize_t w = send(fd, junk, sizeof(junk),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		refused = w == -1 && (errno == EPIPE || errno == ECONNRESET);
		if (!refused)
			poll(NULL, 0, 5);
	}
	ck_assert_msg(refused, "the server still takes what is sent");
	ck_assert_int_eq(reqsrv_busy(&srv), 0);
	close(fd);
}
END_TEST

/* A request sent a byte at a time is looked at a byte at a time (and a
 * few again), not whole at each byte: 4096 bytes cost 4096 looks, not
 * eight million. */
START_TEST(test_sliced_request_seen_once)
{
	char req[4000];
	int fd = client();

	memset(req, 'a', sizeof(req) - 1);
	req[sizeof(req) - 1] = '\n';
	reqsrv_run(&srv, 1000);
	ck_assert_int_eq(reqsrv_busy(&srv), 1);
	for (size_t i = 0; i + 1 < sizeof(req); i++) {
		ck_assert_int_eq(write(fd, req + i, 1), 1);
		/* until the server has it */
		for (size_t before = shown; shown == before; )
			reqsrv_run(&srv, 1000);
	}
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	ck_assert_str_eq(answer(fd, 1000), "4000\n");
	ck_assert_msg(shown <= (REQSRV_LOOKBACK + 1) * sizeof(req),
	    "complete() was shown %zu bytes of a %zu-byte request", shown,
	    sizeof(req));
	close(fd);
}
END_TEST

/* The lowest descriptor number free now. */
static int
lowest_free(void)
{
	int fd = dup(0);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

/* Out of descriptors the listener stays readable: it leaves the poll set
 * for REQSRV_REST_MS, is tried again then, and is back once accept()
 * works.  The caller hears once when it starts and once when it ends. */
START_TEST(test_emfile_rests)
{
	struct rlimit old, low;
	struct pollfd pfd[8];
	int fd;

	if (!test_forked())
		skip_test("lowers RLIMIT_NOFILE: needs CK_FORK=yes");
	fd = client();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = (struct rlimit){ .rlim_cur = (rlim_t)lowest_free(),
	    .rlim_max = old.rlim_max };
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);

	reqsrv_run(&srv, 1000);
	ck_assert_uint_eq(srv.rests, 1);
	ck_assert_int_eq(starved_calls, 1);
	ck_assert_int_eq(starved_err, EMFILE);
	/* resting: not polled, and poll() wakes when the rest ends */
	ck_assert_uint_eq(reqsrv_pollfds(&srv, pfd, 8), 0);
	ck_assert_int_eq(reqsrv_next_timeout(&srv, 1000), REQSRV_REST_MS);
	reqsrv_run(&srv, 1000 + REQSRV_REST_MS - 1);
	ck_assert_uint_eq(srv.rests, 1);
	/* still out of descriptors: another rest, said no more */
	reqsrv_run(&srv, 1000 + REQSRV_REST_MS);
	ck_assert_uint_eq(srv.rests, 2);
	ck_assert_int_eq(starved_calls, 1);

	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	reqsrv_run(&srv, 1000 + 2 * REQSRV_REST_MS);
	ck_assert_int_eq(reqsrv_busy(&srv), 1);
	ck_assert_int_eq(starved_calls, 2);
	ck_assert_int_eq(starved_err, 0);
	ck_assert_uint_eq(starved_rests, 2);
	ck_assert_uint_eq(reqsrv_pollfds(&srv, pfd, 8), 2);
	ck_assert_int_eq(write(fd, "x\n", 2), 2);
	ck_assert_str_eq(answer(fd, 1000 + 2 * REQSRV_REST_MS), "2\n");
	close(fd);
}
END_TEST

Suite *
reqsrv_suite(void)
{
	Suite *s = suite_create("reqsrv");
	TCase *tc = tcase_create("reqsrv");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_nothing_read_after_reply);
	tcase_add_test(tc, test_sliced_request_seen_once);
	tcase_add_test(tc, test_emfile_rests);
	suite_add_tcase(s, tc);
	return s;
}
