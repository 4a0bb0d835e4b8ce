/* check_logbudget.c - the per-source log budget, by counting: the clock is
 * the caller's now_ms, so nothing here waits. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "logbudget.h"
#include "source.h"
#include "suites.h"

static struct sockaddr_in
v4(const char *a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };

	ck_assert_int_eq(inet_pton(AF_INET, a, &sin.sin_addr), 1);
	return sin;
}

static bool
take(struct logbudget *b, enum logbudget_kind k, const char *a, uint64_t now)
{
	struct sockaddr_in sin = v4(a);

	return logbudget_take(b, k, (struct sockaddr *)&sin, sizeof(sin), now);
}

static struct logbudget b0, b1;

/* A source's burst, then its rate; what it may not write is counted and
 * said once, when due, with its count and its words. */
START_TEST(test_source_budget)
{
	struct source_shared *s = source_init(2, 64);
	struct logbudget_limits lim = { .source_rate = 10, .source_burst = 5 };
	char line[LOGBUDGET_LINE_MAX];
	int ok = 0;

	ck_assert_ptr_nonnull(s);
	logbudget_init(&b0, s, &lim);
	for (int i = 0; i < 12350; i++)
		ok += take(&b0, LOGBUDGET_CONN, "192.0.2.7", 1000);
	ck_assert_int_eq(ok, 5);
	ck_assert(take(&b0, LOGBUDGET_REFUSAL, "192.0.2.8", 1000));	/* its own */
	ck_assert(!take(&b0, LOGBUDGET_REFUSAL, "192.0.2.7", 1000));
	ck_assert_uint_eq(b0.suppressed, 12346);
	/* 10/s: one more 100 ms later, not two */
	ck_assert(take(&b0, LOGBUDGET_CONN, "192.0.2.7", 1100));
	ck_assert(!take(&b0, LOGBUDGET_DATAGRAM, "192.0.2.7", 1100));
	ck_assert(!logbudget_summary(&b0, 10999, false, line));
	ck_assert(logbudget_summary(&b0, 11000, false, line));
	ck_assert_str_eq(line, "192.0.2.7: 12,345 connection lines, 1 refusals, "
	    "1 denied datagrams not logged in the last 10 s");
	ck_assert(!logbudget_summary(&b0, 11000, false, line));
	ck_assert_uint_eq(b0.due_ms, 0);
	ck_assert(!logbudget_summary(&b0, 99000, true, line));
}
END_TEST

/*
 * A source flooding two workers for 40 s: the lines written stay within
 * its budget pool-wide, and summaries come at most one per 10 s whichever
 * worker holds the count; none is lost at the end.
 */
START_TEST(test_flood_two_workers)
{
	struct source_shared *s = source_init(2, 64);
	struct logbudget_limits lim = { .source_rate = 10, .source_burst = 100,
	    .pool_rate = 200 };
	char line[LOGBUDGET_LINE_MAX];
	uint64_t written = 0, summaries = 0, last = 0, said = 0;
	uint64_t t0 = 50000, t;

	ck_assert_ptr_nonnull(s);
	logbudget_init(&b0, s, &lim);
	logbudget_init(&b1, s, &lim);
	for (t = t0; t < t0 + 40000; t++) {
		for (int i = 0; i < 7; i++) {	/* 14,000 lines/s */
			written += take(&b0, LOGBUDGET_CONN, "192.0.2.7", t);
			written += take(&b1, LOGBUDGET_CONN, "192.0.2.7", t);
		}
		for (struct logbudget *b = &b0; b; b = b == &b0 ? &b1 : NULL)
			while (logbudget_summary(b, t, false, line)) {
				ck_assert_msg(summaries == 0 || t - last >= 10000,
				    "two summaries %llu ms apart",
				    (unsigned long long)(t - last));
				ck_assert(strncmp(line, "192.0.2.7: ", 11) == 0);
				summaries++;
				last = t;
			}
	}
	ck_assert_uint_le(written, 100 + 10 * 40);
	ck_assert_uint_ge(written, 100 + 10 * 39);
	ck_assert_uint_le(summaries, 4);
	ck_assert_uint_ge(summaries, 3);
	/* every line not written is in a summary, or said at exit */
	for (struct logbudget *b = &b0; b; b = b == &b0 ? &b1 : NULL)
		while (logbudget_summary(b, t, true, line))
			said++;
	ck_assert_uint_ge(said, 1);
	ck_assert_uint_eq(b0.suppressed + b1.suppressed + written, 2 * 7 * 40000);
}
END_TEST

/* Many sources each within their budget cannot together pass the pool's
 * cap; each one held back has its own count. */
START_TEST(test_pool_cap)
{
	struct source_shared *s = source_init(1, 64);
	struct logbudget_limits lim = { .source_rate = 10, .source_burst = 10,
	    .pool_rate = 50 };
	char line[LOGBUDGET_LINE_MAX], addr[32];
	int ok = 0, lines = 0;

	ck_assert_ptr_nonnull(s);
	logbudget_init(&b0, s, &lim);
	for (int i = 0; i < 200; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		ok += take(&b0, LOGBUDGET_CONN, addr, 7000);
	}
	ck_assert_int_eq(ok, 50);
	ck_assert_uint_eq(b0.suppressed, 150);
	/* the summaries are lines too: the pool's refill lets them out */
	for (uint64_t t = 17000; t < 17000 + 10000; t += 100)
		while (logbudget_summary(&b0, t, false, line))
			lines++;
	ck_assert_int_eq(lines, 150);
}
END_TEST

/* More held-back sources than the table names are one "other sources". */
START_TEST(test_table_full)
{
	struct source_shared *s = source_init(1, 64);
	struct logbudget_limits lim = { .source_rate = 1, .source_burst = 1 };
	char line[LOGBUDGET_LINE_MAX], addr[32];
	unsigned long long total = 0, n;
	bool other = false;

	ck_assert_ptr_nonnull(s);
	logbudget_init(&b0, s, &lim);
	for (int i = 0; i < 2 * LOGBUDGET_SOURCES; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		ck_assert(take(&b0, LOGBUDGET_CONN, addr, 1000));
		ck_assert(!take(&b0, LOGBUDGET_CONN, addr, 1000));
	}
	while (logbudget_summary(&b0, 1000, true, line)) {
		char *p = strstr(line, ": ");

		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(sscanf(p + 2, "%llu", &n), 1);
		total += n;
		other |= strncmp(line, "other sources: ", 15) == 0;
	}
	ck_assert(other);
	ck_assert_uint_eq(total, 2 * LOGBUDGET_SOURCES);
}
END_TEST

/* No limits, or no budget at all: every line is written. */
START_TEST(test_off)
{
	struct source_shared *s = source_init(1, 64);
	struct logbudget_limits lim = { 0 };

	ck_assert_ptr_nonnull(s);
	logbudget_init(&b0, s, &lim);
	for (int i = 0; i < 10000; i++) {
		ck_assert(take(&b0, LOGBUDGET_CONN, "192.0.2.1", 1000));
		ck_assert(take(NULL, LOGBUDGET_CONN, "192.0.2.1", 1000));
	}
	ck_assert_uint_eq(b0.suppressed, 0);
}
END_TEST

Suite *
logbudget_suite(void)
{
	Suite *s = suite_create("logbudget");
	TCase *tc = tcase_create("logbudget");

	tcase_add_test(tc, test_source_budget);
	tcase_add_test(tc, test_pool_cap);
	tcase_add_test(tc, test_table_full);
	tcase_add_test(tc, test_off);
	suite_add_tcase(s, tc);
	/* 560,000 lines through the budget: a minute under memcheck, which
	 * the tests above already give the same code paths */
	tc = tcase_create("flood");
	tcase_set_tags(tc, "no-valgrind");
	tcase_add_test(tc, test_flood_two_workers);
	suite_add_tcase(s, tc);
	return s;
}
