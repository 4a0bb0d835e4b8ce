/* check_balance.c - the fair-share rule at its edges: when a worker steps
 * back, when it comes back, and how long it waits to look again. */
#include "config.h"

#include "balance.h"
#include "suites.h"

/* mine, against one serving peer holding `other`, armed or not */
static bool
over2(uint64_t mine, uint64_t other, bool armed, bool out)
{
	struct balance b;

	balance_init(&b, mine);
	balance_add_peer(&b, other, armed);
	return balance_over_share(&b, out);
}

/* Two workers, the peer at 10: in, it steps back past 25 (120% of the
 * average plus 4); out, it stays back while over 16 (110% plus 2). */
START_TEST(test_thresholds)
{
	ck_assert(!over2(25, 10, true, false));
	ck_assert(over2(26, 10, true, false));
	ck_assert(!over2(16, 10, true, true));
	ck_assert(over2(17, 10, true, true));
	/* between the two: the hysteresis keeps what it was doing */
	for (uint64_t m = 17; m <= 25; m++) {
		ck_assert_msg(!over2(m, 10, true, false), "in at %llu",
		    (unsigned long long)m);
		ck_assert_msg(over2(m, 10, true, true), "out at %llu",
		    (unsigned long long)m);
	}
	/* even: never over, whatever the count */
	ck_assert(!over2(0, 0, true, false));
	ck_assert(!over2(0, 0, true, true));
	ck_assert(!over2(1000, 1000, true, true));
}
END_TEST

/* Never steps back alone: one worker, or no peer accepting. */
START_TEST(test_needs_an_armed_peer)
{
	struct balance b;

	balance_init(&b, 1000);
	ck_assert(!balance_over_share(&b, false));
	ck_assert(!balance_over_share(&b, true));
	ck_assert(!over2(1000, 0, false, false));
	ck_assert(!over2(1000, 0, false, true));
	ck_assert(over2(1000, 0, true, false));
	/* three workers, one of them accepting, is enough */
	balance_init(&b, 1000);
	balance_add_peer(&b, 0, false);
	balance_add_peer(&b, 0, false);
	ck_assert(!balance_over_share(&b, false));
	balance_add_peer(&b, 0, true);
	ck_assert(balance_over_share(&b, false));
}
END_TEST

/* Three workers, two of them empty (just respawned): the busy one steps
 * back past 6, the slack's 4 times 300 over 180. */
START_TEST(test_empty_peers)
{
	struct balance b;

	for (uint64_t m = 0; m <= 8; m++) {
		balance_init(&b, m);
		balance_add_peer(&b, 0, true);
		balance_add_peer(&b, 0, false);
		ck_assert_msg(balance_over_share(&b, false) == (m > 6), "%llu",
		    (unsigned long long)m);
	}
}
END_TEST

START_TEST(test_recheck)
{
	ck_assert_uint_eq(balance_recheck_ms(0, false), BALANCE_RECHECK_MS);
	ck_assert_uint_eq(balance_recheck_ms(200, false), BALANCE_RECHECK_MS);
	ck_assert_uint_eq(balance_recheck_ms(BALANCE_RECHECK_MS, true),
	    2 * BALANCE_RECHECK_MS);
	ck_assert_uint_eq(balance_recheck_ms(100, true), 200);
	ck_assert_uint_eq(balance_recheck_ms(101, true), BALANCE_RECHECK_MAX_MS);
	ck_assert_uint_eq(balance_recheck_ms(BALANCE_RECHECK_MAX_MS, true),
	    BALANCE_RECHECK_MAX_MS);
	/* from the first look, doubling reaches the cap and stays */
	uint64_t t = balance_recheck_ms(0, false);
	for (int i = 0; i < 10; i++)
		t = balance_recheck_ms(t, true);
	ck_assert_uint_eq(t, BALANCE_RECHECK_MAX_MS);
}
END_TEST

Suite *
balance_suite(void)
{
	Suite *s = suite_create("balance");
	TCase *tc = tcase_create("balance");

	tcase_add_test(tc, test_thresholds);
	tcase_add_test(tc, test_needs_an_armed_peer);
	tcase_add_test(tc, test_empty_peers);
	tcase_add_test(tc, test_recheck);
	suite_add_tcase(s, tc);
	return s;
}
