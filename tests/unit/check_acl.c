/* check_acl.c - CIDR parsing and matching, both families. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "acl.h"
#include "suites.h"
#include "unitlib.h"

static struct sockaddr_storage ss;

static const struct sockaddr *
sa(const char *addr)
{
	return u_sockaddr(&ss, addr, 0);
}

START_TEST(test_parse)
{
	static const struct { const char *s, *err; } cases[] = {
		{ "10.0.0.0/8", NULL }, { "127.0.0.1", NULL }, { "0.0.0.0/0", NULL },
		{ "::1", NULL }, { "2001:db8::/32", NULL }, { "::/0", NULL },
		{ "10.0.0.0/33", "prefix length must be 0..32" },
		{ "::/129", "prefix length must be 0..128" },
		{ "10.0.0.0/", "prefix length must be 0..32" },
		{ "10.0.0.0/x", "prefix length must be 0..32" },
		{ "10.1.2.3/8", "address has bits set past the prefix length" },
		{ "example.org", "not an IPv4 or IPv6 address" },
		{ "", "not an IPv4 or IPv6 address" },
	};
	struct cidr c;
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = acl_parse(cases[i].s, &c, &err);
		if (cases[i].err == NULL)
			ck_assert_msg(rc == 0, "%s: %s", cases[i].s, err);
		else {
			ck_assert_msg(rc == -1, "%s accepted", cases[i].s);
			ck_assert_str_eq(err, cases[i].err);
		}
	}
}
END_TEST

START_TEST(test_match)
{
	struct cidr v[3];
	const char *err;

	acl_parse("10.0.0.0/8", &v[0], &err);
	acl_parse("192.0.2.128/25", &v[1], &err);
	acl_parse("2001:db8::/32", &v[2], &err);
	ck_assert(acl_match(v, 3, sa("10.255.1.2")));
	ck_assert(!acl_match(v, 3, sa("11.0.0.1")));
	ck_assert(acl_match(v, 3, sa("192.0.2.128")));
	ck_assert(acl_match(v, 3, sa("192.0.2.255")));
	ck_assert(!acl_match(v, 3, sa("192.0.2.127")));
	ck_assert(acl_match(v, 3, sa("2001:db8:ffff::1")));
	ck_assert(!acl_match(v, 3, sa("2001:db9::1")));
	/* an IPv4-mapped address is the IPv4 address */
	ck_assert(acl_match(v, 3, sa("::ffff:10.1.1.1")));
	ck_assert(!acl_match(v, 0, sa("10.1.1.1")));
}
END_TEST

START_TEST(test_permits)
{
	struct cidr allow[1], deny[1];
	const char *err;

	acl_parse("127.0.0.0/8", &allow[0], &err);
	acl_parse("127.0.0.2", &deny[0], &err);
	ck_assert(acl_permits(NULL, 0, NULL, 0, sa("203.0.113.9")));	/* no lists */
	ck_assert(acl_permits(allow, 1, deny, 1, sa("127.0.0.1")));
	ck_assert(!acl_permits(allow, 1, deny, 1, sa("127.0.0.2")));	/* deny wins */
	ck_assert(!acl_permits(allow, 1, deny, 1, sa("203.0.113.9")));	/* not allowed */
	ck_assert(acl_permits(NULL, 0, deny, 1, sa("203.0.113.9")));
	ck_assert(!acl_permits(NULL, 0, deny, 1, sa("127.0.0.2")));
}
END_TEST

Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("acl");

	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_permits);
	suite_add_tcase(s, tc);
	return s;
}
