/* check_balancer.c - echod behind a balancer that speaks the PROXY
 * protocol: the test plays the balancer (proxy_from = 127.0.0.1/32) and
 * sends the headers itself, v1 and v2, whole, split and broken. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static const uint8_t v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* echod on 127.0.0.1 and ::1, the test's 127.0.0.1 its balancer; one
 * worker unless extra says otherwise, so that one worker's counts are all
 * of them. */
static void
start(const char *extra)
{
	char text[1024];

	snprintf(text, sizeof(text), "log_level = debug\n"
	    "log_connections = both\n"
	    "proxy_from = {\"127.0.0.1/32\"}\n%s", extra);
	/* workers = 1 unless extra sets it (h_start_conf()) */
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){
	    .tcp = "\"127.0.0.1:0\", \"[::1]:0\"", .workers = 1,
	    .extra = text }), 0);
}

static int
balancer(void)
{
	int fd = h_connect(AF_INET, e.tcp4, 2000), one = 1;

	ck_assert_msg(fd != -1, "connect: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads until EOF or len bytes (2 s at most each read); how many came. */
static size_t
recv_upto(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = recv(fd, buf + got, len - got, 0)) > 0)
		got += (size_t)n;
	return got;
}

/* The connection ends (EOF or reset) with nothing echoed. */
static void
closed_silent(int fd)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	ck_assert_msg(n == 0 || (n == -1 && errno == ECONNRESET),
	    "not closed silently: %zd (%s)", n, n == -1 ? strerror(errno) : "");
	close(fd);
}

static size_t
v2_inet(uint8_t *out, uint8_t cmd, const char *src, unsigned sport)
{
	memcpy(out, v2sig, 12);
	out[12] = cmd;
	out[13] = 0x11;
	out[14] = 0;
	out[15] = 12;
	inet_pton(AF_INET, src, out + 16);
	inet_pton(AF_INET, "127.0.0.1", out + 20);
	out[24] = (uint8_t)(sport >> 8);
	out[25] = (uint8_t)sport;
	out[26] = 0;
	out[27] = 7;
	return 28;
}

START_TEST(test_v1_v2_echoed)
{
	static const char v1[] = "PROXY TCP4 10.1.2.3 127.0.0.1 4000 7\r\nhello";
	uint8_t v2[64];
	char buf[64];
	size_t n;
	int fd;

	start("");
	/* v1, the first data in the same segment as the header */
	fd = balancer();
	send_all(fd, v1, strlen(v1));
	shutdown(fd, SHUT_WR);
	ck_assert_uint_eq(recv_upto(fd, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp connected to 10.1.2.3 port 4000 via "
	    "127.0.0.1 port ", 5000));
	ck_assert(h_wait_log(&e, "tcp closed 10.1.2.3 port 4000 via 127.0.0.1 "
	    "port ", 5000));
	ck_assert(h_wait_log(&e, ": 5 bytes echoed", 100));

	/* v2, then more data on the connection */
	fd = balancer();
	n = v2_inet(v2, 0x21, "198.18.0.9", 4001);
	memcpy(v2 + n, "abc", 3);
	send_all(fd, v2, n + 3);
	ck_assert_uint_eq(recv_upto(fd, buf, 3), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	ck_assert_int_eq(h_echo(fd, "defgh", 5, 2000), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp connected to 198.18.0.9 port 4001 via "
	    "127.0.0.1 port ", 5000));
	ck_assert(h_wait_log(&e, ": 8 bytes echoed", 5000));

	/* more data with the header than a header may take: all of it back,
	 * in order */
	{
		static char big[4000], back[4000];
		size_t hl = strlen(v1) - 5;

		h_random(big, sizeof(big));
		memcpy(big, v1, hl);
		fd = balancer();
		send_all(fd, big, sizeof(big));
		ck_assert_uint_eq(recv_upto(fd, back, sizeof(big) - hl),
		    sizeof(big) - hl);
		ck_assert_int_eq(memcmp(back, big + hl, sizeof(big) - hl), 0);
		close(fd);
	}
}
END_TEST

START_TEST(test_split_byte_by_byte)
{
	static const char v1[] = "PROXY TCP6 2001:db8::7 ::1 4002 7\r\n";
	uint8_t v2[64];
	struct pollfd p;
	char buf[8];
	size_t n;
	int fd;

	start("");
	fd = balancer();
	for (size_t i = 0; i < strlen(v1); i++)
		send_all(fd, v1 + i, 1);
	ck_assert_int_eq(h_echo(fd, "xyz", 3, 2000), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp connected to 2001:db8::7 port 4002 via "
	    "127.0.0.1 port ", 5000));

	/* v2, all but its last byte: no echo of anything yet, then the rest */
	fd = balancer();
	n = v2_inet(v2, 0x21, "198.18.0.10", 4003);
	for (size_t i = 0; i + 1 < n; i++)
		send_all(fd, v2 + i, 1);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 200), 0);
	send_all(fd, v2 + n - 1, 1);
	ck_assert_int_eq(h_echo(fd, "q", 1, 2000), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp connected to 198.18.0.10 port 4003", 5000));
	ck_assert(h_log_lacks(&e, "PROXY header refused"));
	(void)buf;
}
END_TEST

/* A header that never completes is closed after proxy_timeout; the
 * worker serves others meanwhile. */
START_TEST(test_timeout)
{
	uint64_t t0, dt;
	int fd, other;

	start("proxy_timeout = 600ms\n");
	fd = balancer();
	send_all(fd, "PROXY TCP4 10.", 14);
	t0 = h_now_ms();
	/* the only worker still echoes for a client that is no balancer */
	other = h_connect_from(AF_INET, 0x7f000002, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(other, "still here", 10, 2000), 0);
	close(other);
	closed_silent(fd);
	dt = h_now_ms() - t0;
	ck_assert_msg(dt >= 500, "closed after %llu ms, before proxy_timeout 600 ms",
	    (unsigned long long)dt);
	timing_assert(dt < 2000 + 600,
	    "closed after %llu ms, proxy_timeout 600 ms", (unsigned long long)dt);
	ck_assert(h_wait_log(&e, "tcp 127.0.0.1 port ", 5000));
	ck_assert(h_wait_log(&e, ": closed, PROXY header refused: not complete "
	    "within proxy_timeout (1 so far)", 100));
}
END_TEST

/* A stop does not wait proxy_timeout for a header: shutdown_timeout
 * closes a waiting connection like an established one. */
START_TEST(test_stop_does_not_wait_for_headers)
{
	int fd, other, status;

	start("proxy_timeout = 1h\nshutdown_timeout = 300ms\n");
	fd = balancer();
	send_all(fd, "PROXY ", 6);
	/* one worker takes its queue in order: once this later client is
	 * echoed, the balancer's connection has been accepted too */
	other = h_connect_from(AF_INET, 0x7f000002, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(other, "x", 1, 2000), 0);
	close(other);
	status = h_stop(&e, SIGTERM, 5000);
	ck_assert_msg(status != -1, "echod still draining after 5 s");
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(h_log_has(&e, "closed, PROXY header refused: shutdown timeout "
	    "(1 so far)"));
	closed_silent(fd);
}
END_TEST

START_TEST(test_garbage_closed)
{
	static const char *const bad[][2] = {
		{ "GET / HTTP/1.0\r\n\r\n", "not a PROXY header (1 so far)" },
		{ "PROXY TCP4 10.1.2.3 127.0.0.1 99999 7\r\nhello",
		    "v1: bad port (2 so far)" },
		{ "PROXY UNKNOWN but no end", "connection closed inside the "
		    "header (3 so far)" },
	};
	uint8_t v2[64];
	int fd;

	start("");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = balancer();
		send_all(fd, bad[i][0], strlen(bad[i][0]));
		shutdown(fd, SHUT_WR);
		closed_silent(fd);
		ck_assert_msg(h_wait_log(&e, bad[i][1], 5000), "%s", bad[i][1]);
	}
	/* v2 that is too long: refused on its length, the rest never sent */
	fd = balancer();
	v2_inet(v2, 0x21, "10.1.2.3", 1);
	v2[14] = 0x10;
	send_all(fd, v2, 16);
	closed_silent(fd);
	ck_assert(h_wait_log(&e, "v2: header longer than 1024 bytes (4 so far)",
	    5000));
	ck_assert(h_log_lacks(&e, "tcp connected to 127.0.0.1"));
}
END_TEST

/*
 * allow/deny and per-source limits judge the header's client; the
 * balancer itself is in neither list and needs no entry.
 */
START_TEST(test_lists_judge_the_client)
{
	static const char denied[] = "PROXY TCP4 192.0.2.7 127.0.0.1 4004 7\r\n"
	    "secret";
	static const char ok[] = "PROXY TCP4 10.9.9.9 127.0.0.1 4005 7\r\n";
	char buf[64];
	int fd, a, b;

	start("allow = {\"10.0.0.0/8\", \"192.0.2.0/24\"}\n"
	    "deny = {\"192.0.2.0/24\"}\nmax_connections_per_source = 1\n"
	    "workers = 2\n");
	fd = balancer();
	send_all(fd, denied, strlen(denied));
	ck_assert_uint_eq(recv_upto(fd, buf, sizeof(buf)), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp refused 192.0.2.7 port 4004 via 127.0.0.1 "
	    "port ", 5000));
	ck_assert(h_wait_log(&e, ": denied by deny", 100));
	/* a dual-stack balancer's IPv4 client: judged and logged as IPv4 */
	fd = balancer();
	send_all(fd, "PROXY TCP6 ::ffff:192.0.2.8 ::1 4007 7\r\nx", 41);
	ck_assert_uint_eq(recv_upto(fd, buf, sizeof(buf)), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp refused 192.0.2.8 port 4007 via 127.0.0.1 "
	    "port ", 5000));

	/* one connection per source: the header's source, not the balancer */
	a = balancer();
	send_all(a, ok, strlen(ok));
	ck_assert_int_eq(h_echo(a, "a", 1, 2000), 0);
	b = balancer();
	send_all(b, ok, strlen(ok));
	send_all(b, "b", 1);
	closed_silent(b);
	ck_assert(h_wait_log(&e, "tcp refused 10.9.9.9 port 4005 via 127.0.0.1 "
	    "port ", 5000));
	ck_assert(h_wait_log(&e, ": too many connections from this source", 100));
	b = balancer();
	send_all(b, "PROXY TCP4 10.9.9.8 127.0.0.1 4006 7\r\n", 38);
	ck_assert_int_eq(h_echo(b, "b", 1, 2000), 0);
	close(a);
	close(b);
}
END_TEST

/* v2 LOCAL and v1 UNKNOWN: the balancer's own connection, served as it. */
/*
 * A reload hands connections to the new generation (issue 16): one that came
 * through the balancer is still logged as its client, via the balancer, and
 * the balancer's own is still not logged.
 */
START_TEST(test_reload_keeps_the_balancer)
{
	uint8_t v2[64];
	int fd, local;

	start("");
	fd = balancer();
	send_all(fd, "PROXY TCP4 10.1.2.3 127.0.0.1 4000 7\r\n", 38);
	ck_assert_int_eq(h_echo(fd, "before", 6, 2000), 0);
	local = balancer();
	memcpy(v2, v2sig, 12);
	memcpy(v2 + 12, "\x20\x00\x00\x00" "ping", 8);
	send_all(local, v2, 20);
	ck_assert_uint_eq(recv_upto(local, (char *)v2, 4), 4);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "2 connections (0 bytes unsent) handed to "
	    "generation 2", 5000));
	ck_assert_int_eq(h_echo(fd, "after", 5, 2000), 0);
	ck_assert_int_eq(h_echo(local, "pong", 4, 2000), 0);
	close(local);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp closed 10.1.2.3 port 4000 via 127.0.0.1 "
	    "port ", 5000));
	ck_assert(h_wait_log(&e, ": 11 bytes echoed", 100));
	ck_assert(h_log_lacks(&e, "tcp closed 127.0.0.1 port "));
}
END_TEST

START_TEST(test_local_is_the_balancer)
{
	uint8_t v2[64];
	int fd;

	start("allow = {\"10.0.0.0/8\"}\n");
	fd = balancer();
	memcpy(v2, v2sig, 12);
	memcpy(v2 + 12, "\x20\x00\x00\x00" "ping", 8);
	send_all(fd, v2, 20);
	ck_assert_uint_eq(recv_upto(fd, (char *)v2, 4), 4);
	ck_assert_int_eq(memcmp(v2, "ping", 4), 0);
	close(fd);
	fd = balancer();
	send_all(fd, "PROXY UNKNOWN\r\n", 15);
	ck_assert_int_eq(h_echo(fd, "pong", 4, 2000), 0);
	close(fd);
	/* The balancer's own connections (its health checks, every few
	 * hundred ms) are served but not logged: a client's connection,
	 * logged after them, shows the log has caught up. */
	fd = balancer();
	send_all(fd, "PROXY TCP4 10.1.2.3 127.0.0.1 4000 7\r\n", 38);
	ck_assert_int_eq(h_echo(fd, "next", 4, 2000), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp closed 10.1.2.3 port 4000", 5000));
	ck_assert(h_log_lacks(&e, "tcp connected to 127.0.0.1 port "));
	ck_assert(h_log_lacks(&e, "tcp closed 127.0.0.1 port "));
}
END_TEST

/*
 * stop_delay: after SIGTERM the balancer's health check (LOCAL, then an
 * echo) is closed unanswered, so the balancer takes the host out, while a
 * client's connection through it is still accepted and echoed.
 */
START_TEST(test_stop_delay_fails_health_checks)
{
	uint8_t v2[64];
	int fd;

	start("stop_delay = 10m\nworkers = 2\n");
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "failing health checks", 10000));
	for (int i = 0; i < 4; i++) {	/* whichever worker takes it */
		fd = balancer();
		memcpy(v2, v2sig, 12);
		memcpy(v2 + 12, "\x20\x00\x00\x00" "health\n", 11);
		send_all(fd, v2, 23);
		closed_silent(fd);
		fd = balancer();
		send_all(fd, "PROXY TCP4 10.1.2.3 127.0.0.1 4000 7\r\n", 38);
		ck_assert_int_eq(h_echo(fd, "client", 6, 2000), 0);
		close(fd);
	}
	ck_assert(h_log_lacks(&e, "stopping gracefully"));
}
END_TEST

/* Not from a balancer: a PROXY header is only data, echoed. */
START_TEST(test_header_from_others_echoed)
{
	static const char v1[] = "PROXY TCP4 10.1.2.3 127.0.0.1 4000 7\r\n";
	int fd;

	start("");
	fd = h_connect(AF_INET6, e.tcp6, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, v1, strlen(v1), 2000), 0);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp connected to ::1 port ", 5000));
	ck_assert(h_log_lacks(&e, "10.1.2.3"));
}
END_TEST

/* A balancer's TCP check connects and closes: counted, logged at debug
 * only, never as a refused header; a reset too. */
START_TEST(test_health_check)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	start("");
	fd = balancer();
	close(fd);
	ck_assert(h_wait_log(&e, "tcp health check from 127.0.0.1 port ", 5000));
	ck_assert(h_wait_log(&e, ": closed before sending a byte (1 so far)", 100));
	fd = balancer();
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	ck_assert(h_wait_log(&e, "(2 so far)", 5000));
	ck_assert(h_log_lacks(&e, "PROXY header refused"));
	ck_assert(h_log_lacks(&e, "tcp closed 127.0.0.1"));
}
END_TEST

Suite *
balancer_suite(void)
{
	Suite *s = suite_create("balancer");
	TCase *tc = tcase_create("proxy protocol");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_v1_v2_echoed);
	tcase_add_test(tc, test_split_byte_by_byte);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_stop_does_not_wait_for_headers);
	tcase_add_test(tc, test_garbage_closed);
	tcase_add_test(tc, test_lists_judge_the_client);
	tcase_add_test(tc, test_local_is_the_balancer);
	tcase_add_test(tc, test_reload_keeps_the_balancer);
	tcase_add_test(tc, test_header_from_others_echoed);
	tcase_add_test(tc, test_health_check);
	tcase_add_test(tc, test_stop_delay_fails_health_checks);
	suite_add_tcase(s, tc);
	return s;
}
