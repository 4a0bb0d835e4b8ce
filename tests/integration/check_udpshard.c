/*
 * check_udpshard.c - each worker's UDP socket of its own (shard.h) in the
 * real echod: every source is answered however the pool changes (a reload
 * to fewer workers, a resize to more, a worker that died and waits to
 * restart), each worker answers some sources, and a socket that joins the
 * group from outside gets nothing.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif

#include "harness.h"
#include "suites.h"

#define SOURCES	64
/* All sources are 127.0.0.1: its bucket must not be what answers. */
#define LIFTED	"udp_rate_limit = 100000\nudp_rate_burst = 10000\n"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static void
start(int workers)
{
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){
	    .udp = "\"127.0.0.1:0\"", .workers = workers, .extra = LIFTED }), 0);
	ck_assert(h_wait_workers(&e, workers, 5000));
}

/* One datagram from each of SOURCES ports, each its own; how many came
 * back within timeout_ms. */
static int
answered(int timeout_ms)
{
	struct sockaddr_in to = h_v4("127.0.0.1", e.udp4);
	struct pollfd p[SOURCES];
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int got = 0, left = SOURCES;
	char buf[16];

	for (int i = 0; i < SOURCES; i++) {
		p[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		p[i].events = POLLIN;
		ck_assert_int_ne(p[i].fd, -1);
		ck_assert_int_eq(sendto(p[i].fd, "shard", 5, 0,
		    (struct sockaddr *)&to, sizeof(to)), 5);
	}
	while (left > 0 && h_now_ms() < end) {
		if (poll(p, SOURCES, (int)(end - h_now_ms())) <= 0)
			continue;
		for (int i = 0; i < SOURCES; i++)
			if (p[i].fd != -1 && (p[i].revents & POLLIN) &&
			    recv(p[i].fd, buf, sizeof(buf), 0) == 5 &&
			    memcmp(buf, "shard", 5) == 0) {
				close(p[i].fd);
				p[i].fd = -1;
				got++, left--;
			}
	}
	for (int i = 0; i < SOURCES; i++)
		if (p[i].fd != -1)
			close(p[i].fd);
	return got;
}

/* Each of two workers answers some of the sources: the datagrams of a
 * worker's exit line ("worker N: udp: K datagrams echoed"). */
START_TEST(test_each_worker_answers)
{
	char line[64];

	start(2);
	ck_assert_int_eq(answered(2000), SOURCES);
	ck_assert_int_eq(h_stop(&e, SIGTERM, 10000), 0);
	for (int w = 0; w < 2; w++) {
		snprintf(line, sizeof(line), "worker %d: udp: ", w);
		ck_assert_msg(h_log_has(&e, line), "no line from worker %d", w);
		snprintf(line, sizeof(line), "worker %d: udp: 0 datagrams", w);
		ck_assert_msg(h_log_lacks(&e, line), "worker %d answered none", w);
	}
}
END_TEST

static int
drain(int fd)
{
	char buf[16];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/*
 * A socket of the same user that joins echod's group gets nothing.  Once
 * it takes the steering off (a member can), the kernel spreads datagrams
 * over every socket: the ones that reach the address's own socket, on
 * which no worker waits, are answered within a tick all the same.
 */
START_TEST(test_stranger_in_the_group)
{
	struct sockaddr_in at;
	int on = 1, off = 0, stranger, got, taken;

	start(2);
	at = h_v4("127.0.0.1", e.udp4);
	stranger = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(setsockopt(stranger, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)), 0);
	ck_assert_msg(bind(stranger, (struct sockaddr *)&at, sizeof(at)) == 0,
	    "bind: %s", strerror(errno));
	ck_assert_int_eq(answered(2000), SOURCES);
	ck_assert_int_eq(drain(stranger), 0);

	ck_assert_int_eq(setsockopt(stranger, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF,
	    &off, sizeof(off)), 0);
	got = answered(3000);
	taken = drain(stranger);
	ck_assert_msg(taken > 0 && got + taken == SOURCES, "unsteered: %d "
	    "answered, %d taken by the stranger, of %d", got, taken, SOURCES);
	close(stranger);
}
END_TEST

/* From 3 workers to 1 by a reload, then to 2 by SIGTTIN: the sockets of
 * workers gone close, none is left unread. */
START_TEST(test_fewer_then_more)
{
	char conf[256];
	int got;

	start(3);
	ck_assert_int_eq(answered(2000), SOURCES);
	snprintf(conf, sizeof(conf), "listen_tcp = {\"127.0.0.1:%d\"}\n"
	    "listen_udp = {\"127.0.0.1:%d\"}\nworkers = 1\n" LIFTED, e.tcp4,
	    e.udp4);
	h_write_conf(&e, conf);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 1 worker",
	    5000));
	ck_assert(h_wait_workers(&e, 1, 10000));
	ck_assert_msg((got = answered(2000)) == SOURCES, "reloaded to 1 worker: "
	    "%d of %d sources answered", got, SOURCES);

	kill(e.pid, SIGTTIN);
	ck_assert(h_wait_log(&e, "workers: 1 -> 2", 5000));
	ck_assert(h_wait_workers(&e, 2, 5000));
	ck_assert_msg((got = answered(2000)) == SOURCES, "resized to 2 workers: "
	    "%d of %d sources answered", got, SOURCES);
	kill(e.pid, SIGTTOU);
	ck_assert(h_wait_log(&e, "workers: 2 -> 1", 5000));
	ck_assert(h_wait_workers(&e, 1, 10000));
	ck_assert_msg((got = answered(2000)) == SOURCES, "resized to 1 worker: "
	    "%d of %d sources answered", got, SOURCES);
}
END_TEST

/*
 * A worker killed: while it waits to restart, its sources go to the other.
 * The master is stopped once it has reaped the dead one, so that no
 * restart can answer for it.  Each worker in turn: the first one forked
 * must not live on in a copy the second holds.
 */
START_TEST(test_dead_worker_sources_go_on)
{
	pid_t w[4];
	size_t off;
	int got;

	start(2);
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(h_workers(e.pid, w, 4), 2);
		off = h_log_size(&e);
		ck_assert_int_eq(kill(w[k], SIGKILL), 0);
		e.mark = off;
		ck_assert(h_wait_log(&e, "restarts in", 5000));
		ck_assert_int_eq(kill(e.pid, SIGSTOP), 0);
		got = answered(2000);
		ck_assert_int_eq(kill(e.pid, SIGCONT), 0);
		ck_assert_msg(got == SOURCES, "worker pid %d dead: %d of %d "
		    "sources answered", (int)w[k], got, SOURCES);
		ck_assert(h_wait_workers(&e, 2, 5000));
		ck_assert_int_eq(answered(2000), SOURCES);
	}
}
END_TEST

Suite *
udpshard_suite(void)
{
	Suite *s = suite_create("udpshard");
	TCase *tc = tcase_create("udpshard");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_each_worker_answers);
	tcase_add_test(tc, test_stranger_in_the_group);
	tcase_add_test(tc, test_fewer_then_more);
	tcase_add_test(tc, test_dead_worker_sources_go_on);
	suite_add_tcase(s, tc);
	return s;
}
