/* check_source.c - the key a client address counts under (/64 grouping),
 * and the helpers the source_tcp and source_udp suites share. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "check_source.h"
#include "source.h"
#include "suites.h"
#include "unitlib.h"

struct source_key
srctest_key(const char *addr)
{
	struct sockaddr_storage ss;
	struct source_key k;

	ck_assert(source_key(u_sockaddr(&ss, addr, 0), &k));
	return k;
}

struct source_key
srctest_nth(int i)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255,
	    i & 255);
	return srctest_key(addr);
}

static bool
same(struct source_key a, struct source_key b)
{
	return a.id == b.id && a.v6 == b.v6;
}


START_TEST(test_keys)
{
	struct source_key a = srctest_key("2001:db8:1:2:aaaa::1"), b = srctest_key("2001:db8:1:2:bbbb::9");
	struct source_key c = srctest_key("2001:db8:1:3::1");

	ck_assert(same(a, b));		/* same /64 */
	ck_assert(!same(a, c));
	struct source_key d = srctest_key("10.0.0.1"), e = srctest_key("10.0.0.2");
	ck_assert(!same(d, e));		/* IPv4: whole address */
	struct source_key f = srctest_key("::ffff:10.0.0.1");
	ck_assert(same(d, f));
	/* ::1 is in ::/64, whose key is all zeroes: still a key like others */
	struct source_key g = srctest_key("::1"), h = srctest_key("0.0.0.0");
	ck_assert(!same(g, h));
}
END_TEST

Suite *
source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("source");

	tcase_add_test(tc, test_keys);
	suite_add_tcase(s, tc);
	return s;
}
