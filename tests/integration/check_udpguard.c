/* check_udpguard.c - the UDP guard under load, beside check_guard.c: a
 * flood from many workers held to the rate, the largest datagrams of each
 * family, and a loop between two echo servers that dies. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "stresslib.h"
#include "util.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static void
start(const char *extra)
{
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){
	    .udp = "\"127.0.0.1:0\"", .extra = extra }), 0);
}

/* CPU time of a process in ns (schedstat), to see what little work does. */
static uint64_t
cpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

/*
 * Issue 11 #1: one source floods at about 20,000 datagrams/s for 2.5 s; the
 * answers stay within burst + rate * T however many workers share the
 * bucket, and are not far below it either.  T for the ceiling runs from the
 * first datagram sent to the last answer received (a worker behind the
 * sender still answers, legitimately, what its bucket refilled meanwhile);
 * for the floor, to the last datagram sent.  The source sends from PORTS
 * ports in turn: the bucket is the address's, and each worker reads the
 * datagrams of some ports (shard.h).  Each worker's CPU shows that several
 * read: a flood that one worker took alone proves nothing, and is repeated
 * from a new source (a new bucket).  Returns how many workers read.
 */
enum { RATE = 500, BURST = 100, PPS = 20000, RUN_MS = 2500, BURST_DGRAMS = 400,
    PORTS = 16 };

/* Counts what came back on fds; the time of the last answer into *tans. */
static uint64_t
collect(const int *fds, uint64_t *tans)
{
	uint64_t n = 0;
	char buf[64];

	for (int i = 0; i < PORTS; i++)
		while (recv(fds[i], buf, sizeof(buf), 0) > 0) {
			n++;
			if (tans != NULL)
				*tans = now_usec();
		}
	return n;
}

static int
udp_flood(int workers, const pid_t *w, const char *srcip)
{
	struct sockaddr_in src = h_v4(srcip, 0);
	int fds[PORTS], big = 8 << 20;
	uint64_t before[8], t0, t1 = 0, tans = 0, sent = 0, answers = 0;

	struct sockaddr_in dst = h_v4("127.0.0.1", e.udp4);
	for (int i = 0; i < workers; i++)
		before[i] = cpu_ns(w[i]);
	for (int i = 0; i < PORTS; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		ck_assert_int_eq(bind(fds[i], (struct sockaddr *)&src,
		    sizeof(src)), 0);
	}
	t0 = now_usec();
	for (;;) {
		uint64_t t = now_usec();

		if (t - t0 >= RUN_MS * 1000ULL)
			break;
		/* paced, in bursts of BURST_DGRAMS, as in a real flood */
		uint64_t due = (t - t0) * PPS / 1000000;
		if (due >= sent + BURST_DGRAMS)
			while (sent < due && sendto(fds[sent % PORTS], "flood", 5, 0,
			    (struct sockaddr *)&dst, sizeof(dst)) == 5) {
				sent++;
				t1 = now_usec();
			}
		answers += collect(fds, NULL);
	}
	for (;;) {
		struct pollfd p[PORTS];
		for (int i = 0; i < PORTS; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(p, PORTS, 300) < 1)
			break;	/* quiet for 300 ms: everything that comes, came */
		answers += collect(fds, &tans);
	}
	for (int i = 0; i < PORTS; i++)
		close(fds[i]);

	double T = (double)(t1 - t0) / 1e6, allowed = BURST + RATE * T;
	double Tans = (double)(tans > t1 ? tans - t0 : t1 - t0) / 1e6;
	double ceiling = BURST + RATE * Tans;
	int busy = 0;
	uint64_t most = 0, d[8];
	for (int i = 0; i < workers; i++) {
		d[i] = cpu_ns(w[i]) - before[i];
		most = d[i] > most ? d[i] : most;
	}
	for (int i = 0; i < workers; i++)
		busy += d[i] * 20 >= most && d[i] >= 5000000;	/* not just ticking */
	fprintf(stderr, "# %d workers: %llu sent in %.3f s, %llu answered, "
	    "limit %.0f to %.0f; %d workers busy:", workers,
	    (unsigned long long)sent, T, (unsigned long long)answers, allowed,
	    ceiling, busy);
	for (int i = 0; i < workers; i++)
		fprintf(stderr, " %.1f", d[i] / 1e6);
	fprintf(stderr, " ms\n");
	ck_assert_msg(sent > (uint64_t)(allowed * 4), "sent only %llu",
	    (unsigned long long)sent);
	ck_assert_msg(answers <= ceiling * 1.01 + 2,
	    "%d workers: %llu answers, the limit allows %.0f (answers for %.3f s)",
	    workers, (unsigned long long)answers, ceiling, Tans);
	ck_assert_msg(answers >= allowed * 0.8,
	    "%d workers: only %llu answers of the %.0f allowed",
	    workers, (unsigned long long)answers, allowed);
	return busy;
}

static void
udp_flood_within_limit(int workers)
{
	static const char *const sources[] = { "127.0.0.6", "127.0.0.7",
	    "127.0.0.8", "127.0.0.9" };
	int want = workers > 1 ? 2 : 1, busy = 0;
	char conf[128];
	pid_t w[8];

	snprintf(conf, sizeof(conf), "workers = %d\nudp_rate_limit = %d\n"
	    "udp_rate_burst = %d\n", workers, RATE, BURST);
	start(conf);
	ck_assert_int_eq(h_workers(e.pid, w, 8), workers);
	for (size_t i = 0; i < nitems(sources) && busy < want; i++)
		busy = udp_flood(workers, w, sources[i]);
	ck_assert_msg(busy >= want, "only %d of %d workers read the socket, "
	    "in %zu floods", busy, workers, nitems(sources));
}

START_TEST(test_udp_rate_limit_1_worker) { udp_flood_within_limit(1); }
END_TEST
START_TEST(test_udp_rate_limit_2_workers) { udp_flood_within_limit(2); }
END_TEST
START_TEST(test_udp_rate_limit_4_workers) { udp_flood_within_limit(4); }
END_TEST

/* Issue 11 #13: the largest datagrams of each family come back whole. */
START_TEST(test_udp_largest_datagrams)
{
	static char big[65527];

	const struct h_conf hc = {
	    .extra = "listen_tcp = {}\n"
	    "listen_udp = {\"127.0.0.1:0\", \"[::1]:0\"}\nworkers = 1\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	h_random(big, sizeof(big));
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, big, 65507, 2000), 65507);
	ck_assert_int_eq(h_udp_echo(AF_INET6, e.udp6, big, 65508, 2000), 65508);
	ck_assert_int_eq(h_udp_echo(AF_INET6, e.udp6, big, 65509, 2000), 65509);
	ck_assert_int_eq(h_udp_echo(AF_INET6, e.udp6, big, 65527, 2000), 65527);
}
END_TEST

/* One datagram from 127.0.0.1:sport to 127.0.0.1:dport, the source forged
 * (needs root: a raw socket). */
static int
inject(int sport, int dport)
{
	struct {
		struct iphdr	ip;
		struct udphdr	udp;
		char		data[4];
	} pkt = {
		.ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
		    .tot_len = htons(sizeof(pkt)), .saddr = htonl(INADDR_LOOPBACK),
		    .daddr = htonl(INADDR_LOOPBACK) },
		.udp = { .source = htons((uint16_t)sport), .dest = htons((uint16_t)dport),
		    .len = htons(sizeof(pkt) - sizeof(pkt.ip)) },
		.data = "loop",
	};
	struct sockaddr_in to = h_v4("127.0.0.1", 0);
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW), one = 1, rc = -1;

	if (fd != -1 && setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) == 0 &&
	    sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) ==
	    (ssize_t)sizeof(pkt))
		rc = 0;
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * Issue 11 #15: two echo servers on unprivileged ports, the limit off, and
 * one forged datagram from one to the other.  The built-in ceiling stops
 * the ping-pong within a second: both workers did some work, then go quiet.
 */
START_TEST(test_udp_loop_between_servers_dies)
{
	struct echod b;
	pid_t wa, wb;

	if (geteuid() != 0)
		skip_test("forging a datagram needs root");
	start("workers = 1\nudp_rate_limit = 0\n");
	h_init(&b);
	const struct h_conf hc = {
	    .extra = "listen_tcp = {}\nlisten_udp = {\"127.0.0.1:0\"}\n"
	    "workers = 1\nudp_rate_limit = 0\n" };
	ck_assert_int_eq(h_start_conf(&b, &hc), 0);
	ck_assert_int_eq(h_workers(e.pid, &wa, 1), 1);
	ck_assert_int_eq(h_workers(b.pid, &wb, 1), 1);

	uint64_t t0 = h_now_ms(), base = cpu_ns(wa) + cpu_ns(wb);
	uint64_t at[64], cpu[64], quiet_at = 0;
	int n = 0;
	ck_assert_int_eq(inject(e.udp4, b.udp4), 0);
	/* a sample every 100 ms; quiet: under 1 ms of CPU in 300 ms */
	while (n < 64 && quiet_at == 0 && h_now_ms() - t0 < 4000) {
		uint64_t next = h_now_ms() + 100;
		while (h_now_ms() < next)
			h_tick();
		at[n] = h_now_ms();
		cpu[n] = cpu_ns(wa) + cpu_ns(wb) - base;
		if (n >= 3 && cpu[n] - cpu[n - 3] < 1000000)
			quiet_at = at[n - 3];
		n++;
	}
	fprintf(stderr, "# loop: %.1f ms of CPU; quiet %lld ms after the datagram\n",
	    cpu[n - 1] / 1e6, quiet_at ? (long long)(quiet_at - t0) : -1LL);
	h_cleanup(&b);
	ck_assert_msg(cpu[n - 1] >= 2000000, "the loop never ran (%.1f ms of CPU)",
	    cpu[n - 1] / 1e6);
	ck_assert_msg(quiet_at != 0 && quiet_at - t0 <= 1200,
	    "the datagram still bounces between the two servers");
}
END_TEST

Suite *
udpguard_suite(void)
{
	Suite *s = suite_create("udp-guard");
	TCase *tc = tcase_create("udp-guard");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_udp_rate_limit_1_worker);
	tcase_add_test(tc, test_udp_rate_limit_2_workers);
	tcase_add_test(tc, test_udp_rate_limit_4_workers);
	tcase_add_test(tc, test_udp_largest_datagrams);
	tcase_add_test(tc, test_udp_loop_between_servers_dies);
	suite_add_tcase(s, tc);
	return s;
}
