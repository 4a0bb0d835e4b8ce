/* check_logq.c - the queue of log lines waiting for the log: order kept,
 * a line the log cannot take now stays first, the bound holds. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logq.h"
#include "suites.h"

static char got[64][32];
static unsigned ngot, take_before_again;
static enum logq_emit script_fail_at = LOGQ_SENT;

/* Takes take_before_again records, then says "not now". */
static enum logq_emit
sink(const void *rec, size_t len)
{
	if (take_before_again == 0)
		return LOGQ_AGAIN;
	take_before_again--;
	if (script_fail_at == LOGQ_FAILED && len == 2)
		return LOGQ_FAILED;	/* the two-byte one: never */
	snprintf(got[ngot++], sizeof(got[0]), "%.*s", (int)len, (const char *)rec);
	return LOGQ_SENT;
}

START_TEST(test_order_and_again)
{
	struct logq q;
	unsigned long failed = 0;

	logq_init(&q, 1024);
	ngot = 0;
	ck_assert_int_eq(logq_push(&q, "one", 3), 0);
	ck_assert_int_eq(logq_push(&q, "two", 3), 0);
	ck_assert_int_eq(logq_push(&q, "three", 5), 0);
	take_before_again = 1;
	ck_assert(!logq_drain(&q, sink, &failed));
	ck_assert_uint_eq(ngot, 1);
	ck_assert_int_eq(logq_push(&q, "four", 4), 0);
	take_before_again = 10;
	ck_assert(logq_drain(&q, sink, &failed));
	ck_assert_uint_eq(ngot, 4);
	ck_assert_str_eq(got[0], "one");
	ck_assert_str_eq(got[1], "two");
	ck_assert_str_eq(got[2], "three");
	ck_assert_str_eq(got[3], "four");
	ck_assert_uint_eq(failed, 0);
	free(q.buf);
}
END_TEST

/* A record the log refuses for good is counted and skipped. */
START_TEST(test_failed_counted)
{
	struct logq q;
	unsigned long failed = 0;

	logq_init(&q, 1024);
	ngot = 0;
	logq_push(&q, "aaa", 3);
	logq_push(&q, "bb", 2);
	logq_push(&q, "ccc", 3);
	take_before_again = 10;
	script_fail_at = LOGQ_FAILED;
	ck_assert(logq_drain(&q, sink, &failed));
	script_fail_at = LOGQ_SENT;
	ck_assert_uint_eq(failed, 1);
	ck_assert_uint_eq(ngot, 2);
	ck_assert_str_eq(got[1], "ccc");
	free(q.buf);
}
END_TEST

/* The bound counts lengths too; space freed at the front is reused. */
START_TEST(test_bound_and_reuse)
{
	struct logq q;
	unsigned long failed = 0;
	char rec[100];
	int n = 0;

	memset(rec, 'r', sizeof(rec));
	logq_init(&q, 1000);
	while (logq_push(&q, rec, sizeof(rec)) == 0)
		n++;
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_eq(n, 1000 / (100 + 4));
	ngot = 0;
	take_before_again = 3;
	ck_assert(!logq_drain(&q, sink, &failed));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(logq_push(&q, rec, sizeof(rec)), 0);
	ck_assert_int_eq(logq_push(&q, rec, sizeof(rec)), -1);
	take_before_again = 100;
	ngot = 0;
	ck_assert(logq_drain(&q, sink, &failed));
	ck_assert_uint_eq(ngot, (unsigned)n);
	free(q.buf);
}
END_TEST

Suite *
logq_suite(void)
{
	Suite *s = suite_create("logq");
	TCase *tc = tcase_create("logq");

	tcase_add_test(tc, test_order_and_again);
	tcase_add_test(tc, test_failed_counted);
	tcase_add_test(tc, test_bound_and_reuse);
	suite_add_tcase(s, tc);
	return s;
}
