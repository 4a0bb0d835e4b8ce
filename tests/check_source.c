/* check_source.c - per-source counts across worker slots, /64 grouping,
 * forgetting a dead worker, and the UDP token bucket. */
#include "config.h"

#include <arpa/inet.h>
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

START_TEST(test_keys)
{
	struct source_key a = key("2001:db8:1:2:aaaa::1"), b = key("2001:db8:1:2:bbbb::9");
	struct source_key c = key("2001:db8:1:3::1");

	ck_assert(a.hi == b.hi && a.lo == b.lo);	/* same /64 */
	ck_assert(!(a.hi == c.hi && a.lo == c.lo));
	struct source_key d = key("10.0.0.1"), e = key("10.0.0.2");
	ck_assert(!(d.hi == e.hi && d.lo == e.lo));	/* IPv4: whole address */
	struct source_key f = key("::ffff:10.0.0.1");
	ck_assert(d.hi == f.hi && d.lo == f.lo);
}
END_TEST

START_TEST(test_tcp_counts_across_slots)
{
	struct source_shared *s = source_init(8);
	struct source_key a = key("192.0.2.1"), b = key("192.0.2.2");

	ck_assert_ptr_nonnull(s);
	ck_assert(source_tcp_add(s, 0, &a, +1));
	ck_assert(source_tcp_add(s, 0, &a, +1));
	ck_assert(source_tcp_add(s, 3, &a, +1));
	ck_assert(source_tcp_add(s, 3, &b, +1));
	ck_assert_uint_eq(source_tcp_count(s, &a, 8), 3);
	ck_assert_uint_eq(source_tcp_count(s, &b, 8), 1);
	ck_assert_uint_eq(source_tcp_count(s, &a, 1), 2);	/* slots [0, 1) only */
	ck_assert(source_tcp_add(s, 0, &a, -1));
	ck_assert_uint_eq(source_tcp_count(s, &a, 8), 2);
	/* a dead worker's connections are gone with it */
	source_forget_slot(s, 3);
	ck_assert_uint_eq(source_tcp_count(s, &a, 8), 1);
	ck_assert_uint_eq(source_tcp_count(s, &b, 8), 0);
	/* and its table is usable again */
	ck_assert(source_tcp_add(s, 3, &b, +1));
	ck_assert_uint_eq(source_tcp_count(s, &b, 8), 1);
}
END_TEST

/* Another process (a worker) sees the same counts. */
START_TEST(test_tcp_shared_between_processes)
{
	struct source_shared *s = source_init(4);
	struct source_key a = key("2001:db8::1");
	int st;

	if (fork() == 0) {
		source_tcp_add(s, 1, &a, +1);
		_exit(0);
	}
	wait(&st);
	ck_assert_uint_eq(source_tcp_count(s, &a, 4), 1);
}
END_TEST

START_TEST(test_tcp_table_bounded)
{
	struct source_shared *s = source_init(1);
	char addr[32];
	int added = 0;

	/* more distinct sources than a slot can hold: the excess is refused,
	 * and counts of those held stay right */
	for (int i = 0; i < SOURCE_SLOT_ENTRIES + 10; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		struct source_key k = key(addr);
		added += source_tcp_add(s, 0, &k, +1);
	}
	ck_assert_int_eq(added, SOURCE_SLOT_ENTRIES);
	struct source_key k0 = key("10.0.0.1");
	ck_assert_uint_eq(source_tcp_count(s, &k0, 1), 1);
	/* a source that dropped to zero frees its place for a new one */
	ck_assert(source_tcp_add(s, 0, &k0, -1));
	struct source_key fresh = key("172.16.0.1");
	ck_assert(source_tcp_add(s, 0, &fresh, +1));
	ck_assert_uint_eq(source_tcp_count(s, &fresh, 1), 1);
}
END_TEST

START_TEST(test_udp_bucket)
{
	struct source_shared *s = source_init(1);
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

Suite *
source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("source");

	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_tcp_counts_across_slots);
	tcase_add_test(tc, test_tcp_shared_between_processes);
	tcase_add_test(tc, test_tcp_table_bounded);
	tcase_add_test(tc, test_udp_bucket);
	suite_add_tcase(s, tc);
	return s;
}
