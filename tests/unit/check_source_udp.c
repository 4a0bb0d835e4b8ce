/* check_source_udp.c - the per-source rate buckets: burst and refill,
 * skewed worker clocks, eviction that keeps the debt, and a race to claim. */
#include "config.h"

#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_source.h"
#include "source_udp.h"
#include "suites.h"

START_TEST(test_udp_bucket)
{
	struct source_shared *s = source_init(1, 64);
	struct source_key a = srctest_key("198.51.100.7"), b = srctest_key("198.51.100.8");
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
		struct source_key a = srctest_key("203.0.113.9");
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
	struct source_key a = srctest_key("203.0.113.10");
	uint64_t t = 3600000;
	int ok = 0;

	for (int i = 0; i < 50; i++)
		ok += source_udp_allow(s, &a, 1, 10, t);
	ck_assert_int_eq(ok, 10);
	/* four times as many sources as there are buckets */
	for (int i = 0; i < 4 * SOURCE_UDP_ENTRIES; i++) {
		struct source_key k = srctest_nth(i);
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
				struct source_key k = srctest_nth(i);
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
source_udp_suite(void)
{
	Suite *s = suite_create("source_udp");
	TCase *tc = tcase_create("source_udp");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_udp_bucket);
	tcase_add_test(tc, test_udp_skewed_clocks);
	tcase_add_test(tc, test_udp_eviction_keeps_debt);
	tcase_add_test(tc, test_udp_new_source_race);
	suite_add_tcase(s, tc);
	return s;
}
