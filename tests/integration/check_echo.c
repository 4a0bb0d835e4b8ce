/* check_echo.c - the real echod echoes: exact bytes, many clients at once,
 * UDP at both size limits, bounded memory under a client that never reads. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;

static void
start_default(void)
{
	static const char *const argv[] = { "-f", "-w", "1", "-l", "127.0.0.1:0",
	    "-l", "[::1]:0", NULL };

	h_init(&e);
	ck_assert_msg(h_start(&e, argv, 10000) == 0, "echod did not start; see %s",
	    e.logpath);
	ck_assert_int_gt(e.tcp4, 0);
	ck_assert_int_gt(e.tcp6, 0);
}

static void
stop(void)
{
	h_cleanup(&e);
}

START_TEST(test_4mib_binary)
{
	size_t len = 4 << 20;
	char *buf = malloc(len);
	int fd;

	h_random(buf, len);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_ne(fd, -1);
	ck_assert_msg(h_echo(fd, buf, len, 20000) == 0, "4 MiB did not come back exact");
	close(fd);
	free(buf);
}
END_TEST

START_TEST(test_ipv6_and_nul_bytes)
{
	const char msg[] = "\0\0line without newline\0";
	int fd = h_connect(AF_INET6, e.tcp6, 5000);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, msg, sizeof(msg), 5000), 0);
	close(fd);
}
END_TEST

START_TEST(test_half_close)
{
	char got[100];
	size_t n = 0;
	int fd = h_connect(AF_INET, e.tcp4, 5000);

	ck_assert_int_eq(send(fd, "last words", 10, 0), 10);
	shutdown(fd, SHUT_WR);
	for (ssize_t r; (r = recv(fd, got + n, sizeof(got) - n, 0)) > 0;)
		n += (size_t)r;
	ck_assert_uint_eq(n, 10);	/* everything, then EOF */
	ck_assert_mem_eq(got, "last words", 10);
	close(fd);
}
END_TEST

/* 500 clients at once, each sending its own random bytes. */
START_TEST(test_500_concurrent)
{
	enum { N = 500, LEN = 3000 };
	static int fd[N];
	static unsigned char out[N][LEN], in[N][LEN];
	static size_t sent[N], got[N];
	static struct pollfd pfd[N];
	uint64_t end;
	int done = 0;

	for (int i = 0; i < N; i++) {
		h_random(out[i], LEN);
		fd[i] = h_connect(i % 2 ? AF_INET6 : AF_INET, i % 2 ? e.tcp6 : e.tcp4, 5000);
		ck_assert_msg(fd[i] != -1, "connect %d: %s", i, strerror(errno));
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
		sent[i] = got[i] = 0;
	}
	end = h_now_ms() + 30000;
	while (done < N && h_now_ms() < end) {
		for (int i = 0; i < N; i++) {
			pfd[i].fd = got[i] == LEN ? -1 : fd[i];
			pfd[i].events = POLLIN | (sent[i] < LEN ? POLLOUT : 0);
		}
		if (poll(pfd, N, 200) <= 0)
			continue;
		for (int i = 0; i < N; i++) {
			if ((pfd[i].revents & POLLOUT) && sent[i] < LEN) {
				ssize_t n = send(fd[i], out[i] + sent[i], LEN - sent[i], 0);
				if (n > 0)
					sent[i] += (size_t)n;
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t n = recv(fd[i], in[i] + got[i], LEN - got[i], 0);
				ck_assert_msg(n > 0 || errno == EAGAIN, "client %d lost", i);
				if (n > 0 && (got[i] += (size_t)n) == LEN)
					done++;
			}
		}
	}
	ck_assert_int_eq(done, N);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(memcmp(in[i], out[i], LEN) == 0, "client %d got others' bytes", i);
		close(fd[i]);
	}
}
END_TEST

START_TEST(test_udp_sizes)
{
	static char buf[65507];

	h_random(buf, sizeof(buf));
	ck_assert_int_gt(e.udp4, 0);
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, buf, 1, 2000), 1);
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, buf, 65507, 2000), 65507);
	ck_assert_int_eq(h_udp_echo(AF_INET6, e.udp6, buf, 1, 2000), 1);
	ck_assert_int_eq(h_udp_echo(AF_INET6, e.udp6, buf, 65507, 2000), 65507);
}
END_TEST

/*
 * A client sends up to 64 MiB and never reads: echod stops reading it, its
 * worker's memory stays bounded, and another client is served meanwhile.
 */
START_TEST(test_slow_reader_bounded)
{
	pid_t w[4];
	static char chunk[1 << 16];
	size_t total = 0;
	uint64_t stalled_since = 0, end = h_now_ms() + 20000;
	long before, after;
	int fd, other;

	ck_assert_int_eq(h_workers(e.pid, w, 4), 1);
	before = h_rss_kb(w[0]);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	h_random(chunk, sizeof(chunk));
	/* until 64 MiB are out, or the path has been full for 500 ms */
	while (total < (64u << 20) && h_now_ms() < end) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (n > 0) {
			total += (size_t)n;
			stalled_since = 0;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		if (stalled_since == 0)
			stalled_since = h_now_ms();
		else if (h_now_ms() - stalled_since > 500)
			break;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		poll(&p, 1, 50);
	}
	ck_assert_msg(total < (64u << 20), "echod read 64 MiB it could not send back");
	after = h_rss_kb(w[0]);
	ck_assert_msg(after - before < 4096, "worker grew by %ld kB", after - before);

	other = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(other, "still here", 10, 5000), 0);
	close(other);
	close(fd);
}
END_TEST

START_TEST(test_idle_timeout)
{
	char buf[16];
	int fd;

	h_init(&e);
	const struct h_conf hc = {
	    .extra = "idle_timeout = 1s\nworkers = 1\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(fd, "x", 1, 2000), 0);
	/* no progress: closed after about a second (the recv timeout is 5 s) */
	uint64_t t0 = h_now_ms();
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	ck_assert_uint_ge(h_now_ms() - t0, 900);
	ck_assert(h_wait_log(&e, "idle timeout", 2000));
	close(fd);
	h_cleanup(&e);
}
END_TEST

START_TEST(test_connection_log)
{
	char want[64];
	int fd = h_connect(AF_INET, e.tcp4, 5000);

	ck_assert_int_eq(h_echo(fd, "12345", 5, 2000), 0);
	close(fd);
	/* by default one line, as the connection ends */
	ck_assert(h_wait_log(&e, "tcp closed 127.0.0.1 port ", 2000));
	snprintf(want, sizeof(want), "5 bytes echoed in ");
	ck_assert(h_wait_log(&e, want, 2000));
	ck_assert(h_log_lacks(&e, "tcp connected to"));
}
END_TEST

/* resolve_clients: the "connected" line names the host, from the
 * resolver thread, while the loop goes on. */
START_TEST(test_resolve_clients)
{
	int fd;

	h_init(&e);
	const struct h_conf hc = {
	    .extra = "resolve_clients = true\nworkers = 1\n"
	    "log_connections = both\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(fd, "who", 3, 2000), 0);
	close(fd);
	/* /etc/hosts names 127.0.0.1 on every Debian system */
	ck_assert(h_wait_log(&e, "tcp connected to localhost (127.0.0.1) port ", 5000));
	h_cleanup(&e);
}
END_TEST

Suite *
echo_suite(void)
{
	Suite *s = suite_create("echo");
	TCase *tc = tcase_create("echo");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, start_default, stop);
	tcase_add_test(tc, test_4mib_binary);
	tcase_add_test(tc, test_ipv6_and_nul_bytes);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_500_concurrent);
	tcase_add_test(tc, test_udp_sizes);
	tcase_add_test(tc, test_slow_reader_bounded);
	tcase_add_test(tc, test_connection_log);
	suite_add_tcase(s, tc);
	tc = tcase_create("timeouts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_resolve_clients);
	suite_add_tcase(s, tc);
	return s;
}
