/* check_source.c - per-source counts across worker slots, /64 grouping,
 * forgetting a dead worker, and the UDP token bucket. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source.h"
#include "suites.h"

static struct source_key
key(const char *addr)
{
	struct sockaddr_storage ss = { 0 };
	struct source_key k;

	if (strchr(addr, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &in6->sin6_addr);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &in->sin_addr);
	}
	ck_assert(source_key((struct sockaddr *)&ss, &k));
	return k;
}

static bool
same(struct source_key a, struct source_key b)
{
	return a.id == b.id && a.v6 == b.v6;
}

static uint64_t
count(struct source_shared *s, struct source_key k, unsigned nslots)
{
	uint64_t n;

	ck_assert_int_eq(source_tcp_count(s, &k, nslots, &n), 0);
	return n;
}

static struct source_key
nth(int i)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255,
	    i & 255);
	return key(addr);
}

START_TEST(test_keys)
{
	struct source_key a = key("2001:db8:1:2:aaaa::1"), b = key("2001:db8:1:2:bbbb::9");
	struct source_key c = key("2001:db8:1:3::1");

	ck_assert(same(a, b));		/* same /64 */
	ck_assert(!same(a, c));
	struct source_key d = key("10.0.0.1"), e = key("10.0.0.2");
	ck_assert(!same(d, e));		/* IPv4: whole address */
	struct source_key f = key("::ffff:10.0.0.1");
	ck_assert(same(d, f));
	/* ::1 is in ::/64, whose key is all zeroes: still a key like others */
	struct source_key g = key("::1"), h = key("0.0.0.0");
	ck_assert(!same(g, h));
}
END_TEST

START_TEST(test_tcp_counts_across_slots)
{
	struct source_shared *s = source_init(8, 64);
	struct source_key a = key("192.0.2.1"), b = key("192.0.2.2");

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(source_tcp_add(s, 0, &a, +1), 0);
	ck_assert_int_eq(source_tcp_add(s, 0, &a, +1), 0);
	ck_assert_int_eq(source_tcp_add(s, 3, &a, +1), 0);
	ck_assert_int_eq(source_tcp_add(s, 3, &b, +1), 0);
	ck_assert_uint_eq(count(s, a, 8), 3);
	ck_assert_uint_eq(count(s, b, 8), 1);
	ck_assert_uint_eq(count(s, a, 1), 2);	/* slots [0, 1) only */
	ck_assert_int_eq(source_tcp_add(s, 0, &a, -1), 0);
	ck_assert_uint_eq(count(s, a, 8), 2);
	/* a dead worker's connections are gone with it */
	source_forget_slot(s, 3);
	ck_assert_uint_eq(count(s, a, 8), 1);
	ck_assert_uint_eq(count(s, b, 8), 0);
	/* and its table is usable again */
	ck_assert_int_eq(source_tcp_add(s, 3, &b, +1), 0);
	ck_assert_uint_eq(count(s, b, 8), 1);
}
END_TEST

/* Another process (a worker) sees the same counts. */
START_TEST(test_tcp_shared_between_processes)
{
	struct source_shared *s = source_init(4, 64);
	struct source_key a = key("2001:db8::1");
	int st;

	if (fork() == 0) {
		source_tcp_add(s, 1, &a, +1);
		_exit(0);
	}
	wait(&st);
	ck_assert_uint_eq(count(s, a, 4), 1);
}
END_TEST

START_TEST(test_tcp_capacity_rule)
{
	ck_assert_uint_eq(source_tcp_capacity(0), SOURCE_TCP_MIN);
	ck_assert_uint_eq(source_tcp_capacity(1000), 1024);
	ck_assert_uint_eq(source_tcp_capacity(1024), 1024);
	ck_assert_uint_eq(source_tcp_capacity(1025), 2048);
	ck_assert_uint_eq(source_tcp_capacity(65536), SOURCE_TCP_MAX);
	ck_assert_uint_eq(source_tcp_capacity(UINT64_MAX), SOURCE_TCP_MAX);
}
END_TEST

/* Issue 11 #16: past 1,024 distinct sources counting went on silently
 * failing.  Every source up to the capacity counts, exactly; past it the
 * add fails (the caller refuses), and a source leaving makes room. */
START_TEST(test_tcp_many_sources)
{
	enum { CAP = 4096 };
	struct source_shared *s = source_init(2, CAP);

	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < CAP; i++) {
		struct source_key k = nth(i);
		ck_assert_msg(source_tcp_add(s, 0, &k, +1) == 0, "source %d", i);
		if (i % 3 == 0)
			ck_assert_int_eq(source_tcp_add(s, 0, &k, +1), 0);
	}
	for (int i = 0; i < CAP; i++)
		ck_assert_uint_eq(count(s, nth(i), 2), i % 3 == 0 ? 2 : 1);
	struct source_key more = key("172.16.0.1");
	errno = 0;
	ck_assert_int_eq(source_tcp_add(s, 0, &more, +1), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_uint_eq(count(s, more, 2), 0);
	/* another worker has its own room */
	ck_assert_int_eq(source_tcp_add(s, 1, &more, +1), 0);
	/* a source whose last connection closed frees its place */
	struct source_key k1 = nth(1);
	ck_assert_int_eq(source_tcp_add(s, 0, &k1, -1), 0);
	ck_assert_int_eq(source_tcp_add(s, 0, &more, +1), 0);
	ck_assert_uint_eq(count(s, more, 2), 2);
	ck_assert_uint_eq(count(s, k1, 2), 0);
}
END_TEST

/* Sources come and go far more often than the table has entries: the
 * tombstones they leave never fill it, and counts stay exact. */
START_TEST(test_tcp_churn)
{
	enum { CAP = 64, LIVE = 48, ROUNDS = 20000 };
	struct source_shared *s = source_init(1, CAP);
	struct source_key loopback6 = key("::1");

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(source_tcp_add(s, 0, &loopback6, +1), 0);
	for (int i = 0; i < ROUNDS; i++) {
		struct source_key k = nth(i), old = nth(i - LIVE);
		ck_assert_msg(source_tcp_add(s, 0, &k, +1) == 0, "round %d", i);
		if (i >= LIVE) {
			ck_assert_int_eq(source_tcp_add(s, 0, &old, -1), 0);
			ck_assert_uint_eq(count(s, old, 1), 0);
		}
		if (i % 997 == 0) {	/* ::1 leaves and comes back */
			ck_assert_int_eq(source_tcp_add(s, 0, &loopback6, -1), 0);
			ck_assert_uint_eq(count(s, loopback6, 1), 0);
			ck_assert_int_eq(source_tcp_add(s, 0, &loopback6, +1), 0);
		}
	}
	for (int i = ROUNDS - LIVE; i < ROUNDS; i++)
		ck_assert_uint_eq(count(s, nth(i), 1), 1);
	ck_assert_uint_eq(count(s, loopback6, 1), 1);
}
END_TEST

START_TEST(test_udp_bucket)
{
	struct source_shared *s = source_init(1, 64);
	struct source_key a = key("198.51.100.7"), b = key("198.51.100.8");
	uint64_t t = 1000000;
	int ok = 0;

	/* burst 5, then nothing until time passes */
	for (int i = 0; i < 10; i++)
		ok += source_udp_allow(s, &a, 10, 5, t);
	ck_assert_int_eq(ok, 5);
	/* another source is not affected */
	ck_assert(source_udp_allow(s, &b, 10, 5, t));
	/* 10 per second: one token after 100 ms, not before */
	ck_assert(!source_udp_allow(s, &a, 10, 5, t + 99));
	ck_assert(source_udp_allow(s, &a, 10, 5, t + 100));
	ck_assert(!source_udp_allow(s, &a, 10, 5, t + 100));
	/* refills up to the burst, not beyond */
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += source_udp_allow(s, &a, 10, 5, t + 60000);
	ck_assert_int_eq(ok, 5);
}
END_TEST

/*
 * Issue 11 #1: workers' loop clocks differ by a few milliseconds, and one
 * that reads a time older than the bucket's must not refill it.  Callers
 * take turns with clocks up to 5 ms apart, going back and forth, for a
 * simulated 10 s: no more than burst + rate * T get through, and no fewer
 * than rate * T (the limit is not "nothing").
 */
START_TEST(test_udp_skewed_clocks)
{
	static const struct { uint32_t rate, burst; } cases[] = {
		{ 100, 20 }, { 1000, 1 }, { 3, 7 }, { 5000, 1000 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct source_shared *s = source_init(1, 64);
		struct source_key a = key("203.0.113.9");
		uint32_t rate = cases[c].rate, burst = cases[c].burst;
		uint64_t t0 = 86400000, lo = UINT64_MAX, hi = 0, ok = 0;

		for (uint64_t ms = 5; ms < 10000; ms++) {
			/* four callers: on time, 5 ms late, and two that jump
			 * back and forth within those 5 ms */
			uint64_t now[] = { t0 + ms, t0 + ms - 5,
			    t0 + ms - (ms * 7 % 6), t0 + ms - (ms % 2) * 5 };
			for (size_t i = 0; i < 4; i++) {
				for (int j = 0; j < 3; j++)
					ok += source_udp_allow(s, &a, rate, burst, now[i]);
				lo = now[i] < lo ? now[i] : lo;
				hi = now[i] > hi ? now[i] : hi;
			}
		}
		uint64_t bound = burst + rate * (hi - lo) / 1000;
		ck_assert_msg(ok <= bound, "rate %u burst %u: %llu allowed, at most %llu",
		    rate, burst, (unsigned long long)ok, (unsigned long long)bound);
		/* the callers on time alone are owed all but the first 5 ms */
		ck_assert_msg(ok >= rate * (hi - lo - 5) / 1000 - 1,
		    "rate %u burst %u: only %llu allowed", rate, burst,
		    (unsigned long long)ok);
	}
}
END_TEST

/* A source pushed out of its bucket by many others finds its debt again:
 * eviction is no way around the limit. */
START_TEST(test_udp_eviction_keeps_debt)
{
	struct source_shared *s = source_init(1, 64);
	struct source_key a = key("203.0.113.10");
	uint64_t t = 3600000;
	int ok = 0;

	for (int i = 0; i < 50; i++)
		ok += source_udp_allow(s, &a, 1, 10, t);
	ck_assert_int_eq(ok, 10);
	/* four times as many sources as there are buckets */
	for (int i = 0; i < 4 * SOURCE_UDP_ENTRIES; i++) {
		struct source_key k = nth(i);
		source_udp_allow(s, &k, 1, 10, t + 1000);
	}
	ok = 0;
	for (int i = 0; i < 50; i++)
		ok += source_udp_allow(s, &a, 1, 10, t + 1000);
	ck_assert_int_le(ok, 1);	/* one second refilled one token */
}
END_TEST

/* Workers seeing a new source at the same moment: one bucket between them. */
START_TEST(test_udp_new_source_race)
{
	enum { PROCS = 4, KEYS = 3000, BURST = 2 };
	struct source_shared *s = source_init(1, 64);
	_Atomic uint32_t *got = mmap(NULL, KEYS * sizeof(*got),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid[PROCS];

	ck_assert(got != MAP_FAILED);
	for (int p = 0; p < PROCS; p++)
		if ((pid[p] = fork()) == 0) {
			for (int i = 0; i < KEYS; i++) {
				struct source_key k = nth(i);
				for (int j = 0; j < BURST; j++)
					if (source_udp_allow(s, &k, 1, BURST, 1000))
						atomic_fetch_add(&got[i], 1);
			}
			_exit(0);
		}
	for (int p = 0; p < PROCS; p++)
		waitpid(pid[p], NULL, 0);
	for (int i = 0; i < KEYS; i++)
		ck_assert_msg(got[i] == BURST, "source %d: %u answered", i, got[i]);
}
END_TEST

Suite *
source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("source");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_tcp_counts_across_slots);
	tcase_add_test(tc, test_tcp_shared_between_processes);
	tcase_add_test(tc, test_tcp_capacity_rule);
	tcase_add_test(tc, test_tcp_many_sources);
	tcase_add_test(tc, test_tcp_churn);
	tcase_add_test(tc, test_udp_bucket);
	tcase_add_test(tc, test_udp_skewed_clocks);
	tcase_add_test(tc, test_udp_eviction_keeps_debt);
	tcase_add_test(tc, test_udp_new_source_race);
	suite_add_tcase(s, tc);
	return s;
}
