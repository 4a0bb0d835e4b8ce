/* check_handoff_timing.c - the handoff against time (issue 21): reloads
 * faster than workers start, a balancer's connection caught inside its
 * PROXY header, and the idle clock of adopted connections.  Beside
 * check_handoff_live.c, which is long enough. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
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

#define CONF_BASE "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" \
	"log_connections = false\n"

static struct echod e;

static void setup(void) { h_init(&e); srandom((unsigned)h_now_ms()); }
static void teardown(void) { h_cleanup(&e); }

static void
start(const char *conf)
{
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){ .extra = conf }), 0);
}

/* Waits until the master has exactly want workers (the old ones gone). */
static bool
workers_become(int want, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	pid_t w[256];

	while (h_now_ms() < end) {
		if (h_workers(e.pid, w, 256) == want)
			return true;
		h_tick();
	}
	return false;
}

/* The local port of a connected socket. */
static int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ck_assert(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * Bytes the server's end of a loopback connection has not read yet, from
 * /proc/net/tcp (port: the server's, peer_port: the client's); -1 if the
 * socket is not listed.
 */
static long
server_rx_queue(int port, int peer_port)
{
	char line[512];
	long rx = -1;
	FILE *f = fopen("/proc/net/tcp", "re");

	ck_assert_ptr_nonnull(f);
	while (rx == -1 && fgets(line, sizeof(line), f) != NULL) {
		unsigned lp, rp, tx, q;
		if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %x:%x", &lp, &rp, &tx,
		    &q) == 4 && (int)lp == port && (int)rp == peer_port)
			rx = (long)q;
	}
	fclose(f);
	return rx;
}

/* Until the clock reads at_ms: a point in the test's own timeline. */
static void
until(uint64_t at_ms)
{
	uint64_t now;

	while ((now = h_now_ms()) < at_ms)
		poll(NULL, 0, (int)(at_ms - now));
}

#define NIDLE	200
#define NHUP	40

/*
 * Reloads a few milliseconds apart, faster than a generation starts: each
 * batch finds the newest generation not ready yet.  None of it may cut a
 * connection (echod(8)): every one still echoes once the reloads are done,
 * well past shutdown_timeout.
 */
START_TEST(test_reload_burst_cuts_nothing)
{
	static int fd[NIDLE];
	int cut = 0, first = -1;

	/* 3 s: a loaded CI starts the last generation in time */
	start("workers = 2\nshutdown_timeout = 3s\nidle_timeout = 5m\n"
	    CONF_BASE);
	for (int i = 0; i < NIDLE; i++) {
		fd[i] = h_connect(AF_INET, e.tcp4, 3000);
		ck_assert_msg(fd[i] != -1, "connect %d: %s", i, strerror(errno));
		ck_assert_int_eq(h_echo(fd[i], "hi", 2, 3000), 0);
	}
	for (int r = 0; r < NHUP; r++) {
		kill(e.pid, SIGHUP);
		poll(NULL, 0, (int)(random() % 4));	/* 0-3 ms apart */
	}
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	ck_assert_msg(workers_become(2, 30000), "old generations still there");
	for (int i = 0; i < NIDLE; i++) {
		if (h_echo(fd[i], "still here", 10, 3000) != 0) {
			cut++;
			first = first == -1 ? i : first;
		}
		close(fd[i]);
	}
	ck_assert_msg(cut == 0, "%d of %d connections cut by %d reloads (first: "
	    "%d); see %s", cut, NIDLE, NHUP, first, e.logpath);
	ck_assert(h_log_lacks(&e, "handoff refused"));
}
END_TEST

/*
 * A balancer's connection whose PROXY header is half read at the reload
 * goes over with the half read: the old worker exits at once (not after
 * shutdown_timeout), the header completes on the new worker, and the
 * client's data is echoed.  A plain client beside it goes over as well.
 */
START_TEST(test_partial_header_goes_over)
{
	static const char head[] = "PROXY TCP4 192.0.2.7 ";
	static const char tail[] = "198.51.100.1 40000 7\r\nhello";
	char got[5];
	pid_t old[8];
	int bal, plain;

	start("workers = 1\nshutdown_timeout = 20s\nproxy_timeout = 30s\n"
	    "idle_timeout = 5m\nproxy_from = {\"127.0.0.1/32\"}\n" CONF_BASE);
	ck_assert_int_eq(h_workers(e.pid, old, 8), 1);
	bal = h_connect_from(AF_INET, 0x7f000001, e.tcp4, 2000);
	plain = h_connect_from(AF_INET, 0x7f000002, e.tcp4, 2000);
	ck_assert(bal != -1 && plain != -1);
	ck_assert_int_eq(send(bal, head, strlen(head), 0), (ssize_t)strlen(head));
	ck_assert_int_eq(h_echo(plain, "plain", 5, 2000), 0);
	/* The old worker has read the half header: it is in echod's hands,
	 * not in the socket. */
	uint64_t end = h_now_ms() + 3000;
	while (server_rx_queue(e.tcp4, local_port(bal)) != 0 && h_now_ms() < end)
		h_tick();
	ck_assert_int_eq(server_rx_queue(e.tcp4, local_port(bal)), 0);

	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	end = h_now_ms() + 5000;
	while (h_pid_alive(old[0]) && h_now_ms() < end)
		h_tick();
	ck_assert_msg(!h_pid_alive(old[0]), "the old worker still holds the "
	    "balancer's connection; see %s", e.logpath);
	ck_assert_int_eq(send(bal, tail, strlen(tail), 0), (ssize_t)strlen(tail));
	ck_assert_int_eq(recv(bal, got, sizeof(got), MSG_WAITALL), 5);
	ck_assert(memcmp(got, "hello", 5) == 0);
	ck_assert_int_eq(h_echo(bal, "more", 4, 2000), 0);
	ck_assert_int_eq(h_echo(plain, "again", 5, 2000), 0);
	ck_assert(h_log_lacks(&e, "PROXY header refused"));
	close(bal);
	close(plain);
}
END_TEST

#define NIDLECL		20
#define IDLE_MS		3000
#define RELOAD_AT_MS	1800
#define MARGIN_MS	700	/* a loop turn, coarse clocks, a loaded CI */

/*
 * The idle clock is the client's: connections idle since t=0 and handed
 * over at t=1.8 s close at t=3 s, although the new worker holds one it
 * accepted itself after them (idle since the reload, due at t=4.8 s).
 */
START_TEST(test_adopted_keep_their_idle_clock)
{
	int fd[NIDLECL], fresh;
	uint64_t t0, closed[NIDLECL];

	start("workers = 1\nidle_timeout = 3s\nshutdown_timeout = 20s\n"
	    CONF_BASE);
	for (int i = 0; i < NIDLECL; i++) {
		fd[i] = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert(fd[i] != -1);
	}
	for (int i = 0; i < NIDLECL; i++)
		ck_assert_int_eq(h_echo(fd[i], "x", 1, 2000), 0);
	t0 = h_now_ms();	/* the last byte any of them saw */
	until(t0 + RELOAD_AT_MS);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 5000));
	/* The new worker's own, before the old one's arrive (the master
	 * sees it ready on its next turn). */
	fresh = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert(fresh != -1);
	ck_assert_int_eq(h_echo(fresh, "y", 1, 2000), 0);
	ck_assert(h_wait_log(&e, "handed to generation 2", 5000));
	for (int i = 0; i < NIDLECL; i++) {
		struct pollfd p = { .fd = fd[i], .events = POLLIN };
		uint64_t now = h_now_ms(), end = t0 + IDLE_MS + MARGIN_MS;
		char c;

		ck_assert_msg(poll(&p, 1, now < end ? (int)(end - now) : 0) == 1,
		    "client %d still open %llu ms after its last byte "
		    "(idle_timeout 3 s)", i, (unsigned long long)(h_now_ms() - t0));
		ck_assert_int_eq(recv(fd[i], &c, 1, 0), 0);
		closed[i] = h_now_ms() - t0;
		close(fd[i]);
	}
	for (int i = 0; i < NIDLECL; i++)
		ck_assert_msg(closed[i] + 50 >= IDLE_MS, "client %d closed after "
		    "%llu ms", i, (unsigned long long)closed[i]);
	close(fresh);
}
END_TEST

Suite *
handoff_timing_suite(void)
{
	Suite *s = suite_create("handoff-timing");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reload_burst_cuts_nothing);
	tcase_add_test(tc, test_partial_header_goes_over);
	tcase_add_test(tc, test_adopted_keep_their_idle_clock);
	suite_add_tcase(s, tc);
	return s;
}
