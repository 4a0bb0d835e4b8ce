/* check_source_tcp.c - per-source counts across worker slots, seen from
 * another process, the capacity rule, many sources, churn, and forgetting
 * a dead worker. */
#include "config.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_source.h"
#include "source_tcp.h"
#include "suites.h"

static uint64_t
count(struct source_shared *s, struct source_key k, unsigned nslots)
{
	uint64_t n;

	ck_assert_int_eq(source_tcp_count(s, &k, nslots, &n), 0);
	return n;
}

START_TEST(test_tcp_counts_across_slots)
{
	struct source_shared *s = source_init(8, 64);
	struct source_key a = srctest_key("192.0.2.1"), b = srctest_key("192.0.2.2");

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
	struct source_key a = srctest_key("2001:db8::1");
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
		struct source_key k = srctest_nth(i);
		ck_assert_msg(source_tcp_add(s, 0, &k, +1) == 0, "source %d", i);
		if (i % 3 == 0)
			ck_assert_int_eq(source_tcp_add(s, 0, &k, +1), 0);
	}
	for (int i = 0; i < CAP; i++)
		ck_assert_uint_eq(count(s, srctest_nth(i), 2), i % 3 == 0 ? 2 : 1);
	struct source_key more = srctest_key("172.16.0.1");
	errno = 0;
	ck_assert_int_eq(source_tcp_add(s, 0, &more, +1), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_uint_eq(count(s, more, 2), 0);
	/* another worker has its own room */
	ck_assert_int_eq(source_tcp_add(s, 1, &more, +1), 0);
	/* a source whose last connection closed frees its place */
	struct source_key k1 = srctest_nth(1);
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
	struct source_key loopback6 = srctest_key("::1");

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(source_tcp_add(s, 0, &loopback6, +1), 0);
	for (int i = 0; i < ROUNDS; i++) {
		struct source_key k = srctest_nth(i), old = srctest_nth(i - LIVE);
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
		ck_assert_uint_eq(count(s, srctest_nth(i), 1), 1);
	ck_assert_uint_eq(count(s, loopback6, 1), 1);
}
END_TEST

Suite *
source_tcp_suite(void)
{
	Suite *s = suite_create("source_tcp");
	TCase *tc = tcase_create("source_tcp");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tcp_counts_across_slots);
	tcase_add_test(tc, test_tcp_shared_between_processes);
	tcase_add_test(tc, test_tcp_capacity_rule);
	tcase_add_test(tc, test_tcp_many_sources);
	tcase_add_test(tc, test_tcp_churn);
	suite_add_tcase(s, tc);
	return s;
}
