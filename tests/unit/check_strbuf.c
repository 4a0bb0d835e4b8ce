/*
 * check_strbuf.c - the appender writes what snprintf(3) writes, piece for
 * piece, cut where snprintf cuts for every size of buffer, and never past
 * it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "strbuf.h"
#include "suites.h"
#include "util.h"

#define GUARD	0x5a

static const uint64_t values[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 12345,
    65535, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1, 1000000000000ULL,
    UINT64_C(9999999999999999999), UINT64_C(10000000000000000000),
    (uint64_t)INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX };

START_TEST(test_numbers_as_printf)
{
	char got[64], want[64];
	struct strbuf b;

	for (size_t i = 0; i < nitems(values); i++) {
		strbuf_init(&b, got, sizeof(got));
		strbuf_put_u64(&b, values[i]);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)values[i]);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(b.len, strlen(want));
		for (unsigned w = 0; w <= 25; w++) {
			strbuf_init(&b, got, sizeof(got));
			strbuf_put_u64_pad(&b, values[i], w);
			snprintf(want, sizeof(want), "%0*llu", (int)w,
			    (unsigned long long)values[i]);
			ck_assert_msg(strcmp(got, want) == 0, "%%0%ullu of %"
			    PRIu64 ": \"%s\", not \"%s\"", w, values[i], got, want);
		}
	}
	/* the milliseconds of a duration, as "%03llu" */
	for (uint64_t ms = 0; ms < 1000; ms++) {
		strbuf_init(&b, got, sizeof(got));
		strbuf_put_u64_pad(&b, ms, 3);
		snprintf(want, sizeof(want), "%03llu", (unsigned long long)ms);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

/* Whatever the size, the buffer holds snprintf's bytes, NUL-terminated,
 * and nothing past it is touched; trunc says whether it was cut. */
START_TEST(test_cut_as_snprintf)
{
	static const char *why[] = { "", "x", "Connection reset by peer" };
	char want[256], full[256], got[300];
	struct strbuf b;

	for (size_t k = 0; k < nitems(why); k++) {
		int n = snprintf(full, sizeof(full), "tcp closed %s port %u: "
		    "%llu bytes%c%03llu%s", "2001:db8::7", 65535U,
		    (unsigned long long)UINT64_MAX, '.', 7ULL, why[k]);

		ck_assert_int_lt(n, (int)sizeof(full));
		for (size_t cap = 0; cap <= (size_t)n + 2; cap++) {
			memset(got, GUARD, sizeof(got));
			strbuf_init(&b, got, cap);
			strbuf_put_str(&b, "tcp closed ");
			strbuf_put_str(&b, "2001:db8::7");
			strbuf_put_mem(&b, " port ", 6);
			strbuf_put_u64(&b, 65535);
			strbuf_put_mem(&b, ": ", 2);
			strbuf_put_u64(&b, UINT64_MAX);
			strbuf_put_str(&b, " bytes");
			strbuf_put_char(&b, '.');
			strbuf_put_u64_pad(&b, 7, 3);
			strbuf_put_str(&b, why[k]);
			for (size_t i = cap; i < sizeof(got); i++)
				ck_assert_msg((unsigned char)got[i] == GUARD,
				    "cap %zu: byte %zu written", cap, i);
			ck_assert(b.trunc == ((size_t)n >= cap));
			if (cap == 0) {
				ck_assert_uint_eq(b.len, 0);
				continue;
			}
			snprintf(want, cap, "%s", full);
			ck_assert_uint_eq(b.len, strlen(want));
			ck_assert_msg(memcmp(got, want, b.len + 1) == 0,
			    "cap %zu: \"%s\", not \"%s\"", cap, got, want);
		}
	}
}
END_TEST

/* Once cut, a later piece adds nothing, even one that would fit. */
START_TEST(test_cut_stays_cut)
{
	char buf[8];
	struct strbuf b;

	strbuf_init(&b, buf, sizeof(buf));
	strbuf_put_str(&b, "12345");
	ck_assert(!b.trunc);
	strbuf_put_str(&b, "6789");
	ck_assert(b.trunc);
	strbuf_put_char(&b, 'x');
	strbuf_put_u64(&b, 0);
	ck_assert_str_eq(buf, "1234567");
	ck_assert_uint_eq(b.len, 7);
}
END_TEST

Suite *
strbuf_suite(void)
{
	Suite *s = suite_create("strbuf");
	TCase *tc = tcase_create("strbuf");

	tcase_add_test(tc, test_numbers_as_printf);
	tcase_add_test(tc, test_cut_as_snprintf);
	tcase_add_test(tc, test_cut_stays_cut);
	suite_add_tcase(s, tc);
	return s;
}
