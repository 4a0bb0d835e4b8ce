/* check_turn.c - the order of a worker's turn and a stream's share of it,
 * on batches of events made up here. */
#include "config.h"

#include <stdint.h>

#include "suites.h"
#include "turn.h"
#include "util.h"

/* In these batches, an odd tag is a streaming read. */
static bool
odd(const struct epoll_event *ev)
{
	return ev->data.u64 & 1;
}

static void
batch(struct epoll_event *evs, const uint64_t *tags, int n)
{
	for (int i = 0; i < n; i++)
		evs[i].data.u64 = tags[i];
}

/*
 * Every short event of a batch is served before any stream, however
 * epoll ordered them, and each part keeps epoll's order (round robin
 * among the streams, as epoll rotates its ready list).
 */
START_TEST(test_short_first)
{
	static const uint64_t tags[] = { 1, 3, 2, 5, 4, 6, 7, 8 };
	static const uint64_t want[] = { 2, 4, 6, 8, 1, 3, 5, 7 };
	struct epoll_event evs[nitems(tags)], scratch[nitems(tags)];

	batch(evs, tags, nitems(tags));
	ck_assert_int_eq(turn_order(evs, nitems(tags), scratch, odd), 4);
	for (size_t i = 0; i < nitems(want); i++)
		ck_assert_uint_eq(evs[i].data.u64, want[i]);
}
END_TEST

/* All streams, or none: nothing moves. */
START_TEST(test_one_kind)
{
	static const uint64_t streams[] = { 9, 3, 5 }, shorts[] = { 4, 2 };
	struct epoll_event evs[3], scratch[3];

	batch(evs, streams, 3);
	ck_assert_int_eq(turn_order(evs, 3, scratch, odd), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(evs[i].data.u64, streams[i]);
	batch(evs, shorts, 2);
	ck_assert_int_eq(turn_order(evs, 2, scratch, odd), 2);
	ck_assert_uint_eq(evs[0].data.u64, 4);
	ck_assert_uint_eq(evs[1].data.u64, 2);
	ck_assert_int_eq(turn_order(evs, 0, scratch, odd), 0);
}
END_TEST

/*
 * The share: unlimited (0) only when streams were alone this turn and the
 * last; else the quantum, or the round if that is smaller.
 */
START_TEST(test_share)
{
	ck_assert_uint_eq(turn_share(0, 0, 65536), 0);
	ck_assert_uint_eq(turn_share(3, 0, 65536), TURN_QUANTUM);
	ck_assert_uint_eq(turn_share(0, 1, 65536), TURN_QUANTUM);
	ck_assert_uint_eq(turn_share(1, 1, 4096), 4096);
	ck_assert_uint_le(TURN_QUANTUM, 65536);
}
END_TEST

Suite *
turn_suite(void)
{
	Suite *s = suite_create("turn");
	TCase *tc = tcase_create("turn");

	tcase_add_test(tc, test_short_first);
	tcase_add_test(tc, test_one_kind);
	tcase_add_test(tc, test_share);
	suite_add_tcase(s, tc);
	return s;
}
