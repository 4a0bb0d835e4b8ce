/* check_title.c - the process titles' text (tests/integration/check_counters.c
 * reads them back from ps). */
#include "config.h"

#include "suites.h"
#include "title.h"

START_TEST(test_formats)
{
	char buf[TITLE_MAX];

	title_format_master(buf, 3, 4, false);
	ck_assert_str_eq(buf, "echod: master (generation 3, 4 workers)");
	title_format_master(buf, 1, 1, false);
	ck_assert_str_eq(buf, "echod: master (generation 1, 1 worker)");
	title_format_master(buf, 7, 0, true);
	ck_assert_str_eq(buf, "echod: master (generation 7, 0 workers, stopping)");
	title_format_worker(buf, 2, 3, false);
	ck_assert_str_eq(buf, "echod: worker 2 (generation 3)");
	title_format_worker(buf, 1, 2, true);
	ck_assert_str_eq(buf, "echod: worker 1 (generation 2, draining)");
	/* the longest fits */
	title_format_master(buf, 4294967295u, 4096, true);
	ck_assert_str_eq(buf,
	    "echod: master (generation 4294967295, 4096 workers, stopping)");
}
END_TEST

Suite *
title_suite(void)
{
	Suite *s = suite_create("title");
	TCase *tc = tcase_create("title");

	tcase_add_test(tc, test_formats);
	suite_add_tcase(s, tc);
	return s;
}
