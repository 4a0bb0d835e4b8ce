/*
 * check_udpcount.c - UDP counters are exact under load: with two workers
 * reading one socket in batches, every datagram sent is accounted for once,
 * as echoed, refused (loop guard), denied, over the rate, dropped, too
 * large, or dropped by the kernel before echod read it (the socket's drop
 * count in /proc/net/udp); and what echod says it echoed is what came back.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define N_GOOD		8	/* sources that stay under the ceiling */
#define PER_GOOD	800	/* echoes each, WINDOW in flight: under the
				 * ceiling's burst */
#define WINDOW		16
#define N_SIDE		100	/* from the denied source, and from port 19 */
#define N_FLOOD		8000	/* from one source, past the ceiling */
#define FLOOD_CHUNK	100
#define RUN_MS		30000	/* the whole exchange, however slow the host */

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

struct src {
	int		 fd;
	uint64_t	 sent, got, got_bytes;
};

static int
src_open(struct src *s, const char *addr, int port, int dport)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)dport) };
	int big = 4 << 20;

	memset(s, 0, sizeof(*s));
	inet_pton(AF_INET, addr, &in.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if ((s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	/* room for every echo: a loss here would be the test's, not echod's */
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) == -1)
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(s->fd, (struct sockaddr *)&in, sizeof(in)) == -1 ||
	    connect(s->fd, (struct sockaddr *)&to, sizeof(to)) == -1) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	return 0;
}

static void
src_send(struct src *s, unsigned n)
{
	char buf[64];

	for (unsigned i = 0; i < n; i++) {
		memset(buf, (int)(s->sent & 0x7f), sizeof(buf));
		if (send(s->fd, buf, 1 + s->sent % sizeof(buf), 0) > 0)
			s->sent++;
	}
}

static void
src_drain(struct src *s)
{
	char buf[128];
	ssize_t n;

	while ((n = recv(s->fd, buf, sizeof(buf), 0)) > 0) {
		s->got++;
		s->got_bytes += (uint64_t)n;
	}
}

/* The receive queues and the kernel's drop counts of the UDP sockets
 * bound to addr:port (/proc/net/udp), summed: the listener's and the
 * workers' own (shard.h); false if there is none. */
static bool
socket_state_of(in_addr_t addr, int port, uint64_t *queued, uint64_t *drops)
{
	char line[512], want[32];
	bool found = false;
	FILE *f = fopen("/proc/net/udp", "r");

	/* the address as the kernel prints it: its bytes as one number */
	snprintf(want, sizeof(want), "%08X:%04X", (unsigned)addr, port);
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char local[64];
		unsigned long tx, rx;
		unsigned long long d;
		char *last;

		if (sscanf(line, " %*d: %63s %*s %*x %lx:%lx", local, &tx, &rx) != 3 ||
		    strcmp(local, want) != 0)
			continue;
		/* drops: the last field */
		line[strcspn(line, "\n")] = '\0';
		while ((last = strrchr(line, ' ')) != NULL && last[1] == '\0')
			*last = '\0';
		ck_assert(last != NULL && sscanf(last, " %llu", &d) == 1);
		if (!found)
			*queued = *drops = 0;
		*queued += rx;
		*drops += d;
		found = true;
	}
	fclose(f);
	return found;
}

static bool
socket_state(int port, uint64_t *queued, uint64_t *drops)
{
	return socket_state_of(htonl(INADDR_LOOPBACK), port, queued, drops);
}

/* What the kernel dropped at a client's socket: echoes echod did send. */
static uint64_t
src_drops(const struct src *s)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	uint64_t queued, drops = 0;

	ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&in, &len), 0);
	ck_assert(socket_state_of(in.sin_addr.s_addr, ntohs(in.sin_port),
	    &queued, &drops));
	return drops;
}

struct totals {
	uint64_t	echoed, bytes, refused, denied, limited, dropped, large;
	int		lines;
};

/* The workers' "udp: ..." lines, summed. */
static struct totals
logged(void)
{
	struct totals t = { 0 };
	char line[1024];
	FILE *f = fopen(e.logpath, "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, ": udp: ");
		unsigned long long v[7];

		if (p == NULL)
			continue;
		ck_assert_msg(sscanf(p, ": udp: %llu datagrams echoed (%llu bytes), "
		    "%llu refused by the loop guard, %llu denied, %llu over the "
		    "rate, %llu dropped, %llu too large", &v[0], &v[1], &v[2],
		    &v[3], &v[4], &v[5], &v[6]) == 7, "unparsed: %s", line);
		t.echoed += v[0];
		t.bytes += v[1];
		t.refused += v[2];
		t.denied += v[3];
		t.limited += v[4];
		t.dropped += v[5];
		t.large += v[6];
		t.lines++;
	}
	fclose(f);
	return t;
}

/* echod with two workers on UDP only, and the well-behaved sources. */
static void
start_with_sources(struct src *good, struct pollfd *pfd)
{
	const struct h_conf hc = {
	    .extra = "listen_tcp = {}\nlisten_udp = {\"127.0.0.1:0\"}\n"
	    "workers = 2\nudp_rate_limit = 0\ndeny = {\"127.0.0.66/32\"}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	h_parse_ports(&e);
	ck_assert_int_gt(e.udp4, 0);

	for (int i = 0; i < N_GOOD; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "127.0.0.%d", 10 + i);
		ck_assert_int_eq(src_open(&good[i], addr, 0, e.udp4), 0);
		pfd[i] = (struct pollfd){ .fd = good[i].fd, .events = POLLIN };
	}
}

/* The refused sources first, a few at a time, so that the kernel drops
 * none of them and their counts can be exact. */
static void
send_refused(struct src *denied, struct src *guard, bool have_guard,
    uint64_t end)
{
	for (int k = 0; k < N_SIDE; k += 20) {
		uint64_t queued = 1, drops = 1;

		src_send(denied, 20);
		if (have_guard)
			src_send(guard, 20);
		while (socket_state(e.udp4, &queued, &drops) && queued > 0) {
			ck_assert_msg(h_now_ms() < end, "not read");
			poll(NULL, 0, 5);
		}
		ck_assert_uint_eq(drops, 0);
	}
}

/* The well-behaved sources keep WINDOW in flight; the flood goes out in
 * chunks between their rounds. */
static void
exchange(struct src *good, struct pollfd *pfd, struct src *flood,
    uint64_t end)
{
	for (int i = 0; i < N_GOOD; i++)
		src_send(&good[i], WINDOW);
	for (;;) {
		bool done = flood->sent >= N_FLOOD;

		for (int i = 0; i < N_GOOD; i++) {
			uint64_t before = good[i].got;
			src_drain(&good[i]);
			if (good[i].got < PER_GOOD)
				src_send(&good[i], (unsigned)(good[i].got - before));
			if (good[i].got < PER_GOOD)
				done = false;
		}
		if (flood->sent < N_FLOOD)
			src_send(flood, FLOOD_CHUNK);
		src_drain(flood);
		if (done)
			break;
		ck_assert_msg(h_now_ms() < end, "the exchange took over %d ms",
		    RUN_MS);
		/* nothing came back for a while: the kernel dropped some
		 * (the flood fills the socket); put the window back */
		if (poll(pfd, N_GOOD, 200) == 0)
			for (int i = 0; i < N_GOOD; i++)
				if (good[i].got < PER_GOOD)
					src_send(&good[i], WINDOW);
	}
}

/* Stops echod once it has read everything (what a draining worker leaves
 * in the socket is nobody's count); the kernel's drops on its socket. */
static uint64_t
stop_when_read(uint64_t end)
{
	uint64_t queued = 1, kernel = 0;

	while (socket_state(e.udp4, &queued, &kernel) && queued > 0) {
		ck_assert_msg(h_now_ms() < end, "%" PRIu64 " bytes still queued",
		    queued);
		poll(NULL, 0, 10);
	}
	ck_assert_uint_eq(queued, 0);
	ck_assert_int_eq(h_stop(&e, SIGTERM, 20000), 0);
	return kernel;
}

START_TEST(test_counters_exact_2_workers)
{
	struct src good[N_GOOD], denied, guard, flood;
	struct pollfd pfd[N_GOOD];
	uint64_t sent = 0, got = 0, got_bytes = 0, end, kernel;
	bool have_guard;

	start_with_sources(good, pfd);
	ck_assert_int_eq(src_open(&denied, "127.0.0.66", 0, e.udp4), 0);
	ck_assert_int_eq(src_open(&flood, "127.0.0.77", 0, e.udp4), 0);
	/* chargen's port: the loop guard; binding it needs root */
	have_guard = src_open(&guard, "127.0.0.1", 19, e.udp4) == 0;
	end = h_now_ms() + RUN_MS;
	send_refused(&denied, &guard, have_guard, end);
	exchange(good, pfd, &flood, end);
	kernel = stop_when_read(end);
	/* echod is gone: what came back is all that will */
	src_drain(&flood);
	src_drain(&denied);
	if (have_guard)
		src_drain(&guard);
	uint64_t lost = src_drops(&flood);	/* echoes the kernel dropped */
	for (int i = 0; i < N_GOOD; i++) {
		src_drain(&good[i]);	/* the window still in flight */
		lost += src_drops(&good[i]);
		sent += good[i].sent;
		got += good[i].got;
		got_bytes += good[i].got_bytes;
		ck_assert_uint_ge(good[i].got, PER_GOOD);
		close(good[i].fd);
	}
	sent += flood.sent + denied.sent + (have_guard ? guard.sent : 0);
	got += flood.got + denied.got + (have_guard ? guard.got : 0);
	got_bytes += flood.got_bytes;
	ck_assert_uint_eq(denied.got, 0);
	if (have_guard)
		ck_assert_uint_eq(guard.got, 0);

	struct totals t = logged();
	ck_assert_int_ge(t.lines, 1);
	/* what echod sent is what came back, and what the clients' kernel
	 * dropped (a full receive buffer: a GSO run's segments are charged
	 * to it whole) */
	ck_assert_msg(t.echoed == got + lost, "echoed %" PRIu64 ", %" PRIu64
	    " came back, %" PRIu64 " dropped by the clients' kernel", t.echoed,
	    got, lost);
	if (lost == 0)
		ck_assert_uint_eq(t.bytes, got_bytes);
	ck_assert_uint_eq(t.denied, N_SIDE);
	ck_assert_uint_eq(t.refused, have_guard ? N_SIDE : 0);
	ck_assert_uint_eq(t.dropped, 0);
	ck_assert_uint_eq(t.large, 0);
	ck_assert_msg(t.limited > 0, "the flood of %d never reached the ceiling",
	    N_FLOOD);
	/* every datagram once: echod's counters plus the kernel's drops */
	ck_assert_uint_eq(t.echoed + t.refused + t.denied + t.limited +
	    t.dropped + t.large + kernel, sent);
	close(flood.fd);
	close(denied.fd);
	if (have_guard)
		close(guard.fd);
}
END_TEST

Suite *
udpcount_suite(void)
{
	Suite *s = suite_create("udpcount");
	TCase *tc = tcase_create("udpcount");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_counters_exact_2_workers);
	suite_add_tcase(s, tc);
	return s;
}
