/* check_admit.c - the one admission path: allow/deny for both protocols,
 * the per-source connection limit across worker slots (and its fail-closed
 * edge), and the UDP rate verdict. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "admit.h"
#include "conf.h"
#include "source.h"
#include "source_tcp.h"
#include "util.h"
#include "suites.h"
#include "unitlib.h"

/* Room for a few addresses at once: each call returns its own. */
static const struct sockaddr *
sa(const char *addr)
{
	static struct sockaddr_storage ring[8];
	static unsigned next;

	return u_sockaddr(&ring[next++ % nitems(ring)], addr, 40000);
}

static struct cidr
cidr(const char *s)
{
	struct cidr c;
	const char *err;

	ck_assert_msg(acl_parse(s, &c, &err) == 0, "%s: %s", s, err);
	return c;
}

static uint64_t
open_from(struct source_shared *s, const char *addr, unsigned nslots)
{
	struct source_key k;
	uint64_t n;

	ck_assert(source_key(sa(addr), &k));
	ck_assert_int_eq(source_tcp_count(s, &k, nslots, &n), 0);
	return n;
}

static enum admit_verdict
tcp(const struct admit_policy *p, const char *addr, bool *counted)
{
	return admit_client(p, ADMIT_TCP, sa(addr), counted);
}

static enum admit_verdict
udp(const struct admit_policy *p, const char *addr)
{
	return admit_client(p, ADMIT_UDP, sa(addr), NULL);
}

/* The lists decide alike for both protocols, before any counting. */
START_TEST(test_allow_deny)
{
	struct cidr allow[] = { cidr("127.0.0.0/8"), cidr("2001:db8::/32") };
	struct cidr deny[] = { cidr("127.0.0.2"), cidr("2001:db8:bad::/48") };
	struct conf c = { .allow = allow, .n_allow = nitems(allow),
	    .deny = deny, .n_deny = nitems(deny), .max_connections_per_source = 5 };
	struct source_shared *s = source_init(2, 64);
	struct admit_policy p = { .conf = &c, .sources = s, .slot = 0,
	    .nslots = 2, .now_ms = 1000 };
	static const struct { const char *addr; enum admit_verdict v; } cases[] = {
		{ "127.0.0.1", ADMIT_OK },
		{ "127.0.0.2", ADMIT_DENIED },		/* deny wins over allow */
		{ "203.0.113.9", ADMIT_NOT_ALLOWED },	/* not on the allow list */
		{ "::ffff:127.0.0.3", ADMIT_OK },	/* mapped IPv4 is IPv4 */
		{ "2001:db8:1::1", ADMIT_OK },
		{ "2001:db8:bad::1", ADMIT_DENIED },
		{ "::1", ADMIT_NOT_ALLOWED },
	};
	bool counted;

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < nitems(cases); i++) {
		counted = true;
		ck_assert_msg(tcp(&p, cases[i].addr, &counted) == cases[i].v,
		    "tcp %s", cases[i].addr);
		ck_assert(counted == (cases[i].v == ADMIT_OK));
		ck_assert_msg(udp(&p, cases[i].addr) == cases[i].v, "udp %s",
		    cases[i].addr);
	}
	/* a refused client was never counted */
	ck_assert_uint_eq(open_from(s, "127.0.0.2", 2), 0);
	ck_assert_uint_eq(open_from(s, "127.0.0.1", 2), 1);
	/* no lists: everyone */
	struct conf open = { 0 };
	p.conf = &open;
	ck_assert_int_eq(tcp(&p, "203.0.113.9", &counted), ADMIT_OK);
	ck_assert_int_eq(udp(&p, "203.0.113.9"), ADMIT_OK);
	/* the log says which list refused */
	ck_assert_str_eq(admit_reason(ADMIT_DENIED), "denied by deny");
	ck_assert_str_eq(admit_reason(ADMIT_NOT_ALLOWED), "not in allow");
}
END_TEST

/* max_connections_per_source counts the pool: two workers' slots. */
START_TEST(test_source_limit_across_slots)
{
	struct conf c = { .max_connections_per_source = 3 };
	struct source_shared *s = source_init(2, 64);
	struct admit_policy w0 = { .conf = &c, .sources = s, .slot = 0, .nslots = 2 };
	struct admit_policy w1 = { .conf = &c, .sources = s, .slot = 1, .nslots = 2 };
	bool counted;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(tcp(&w0, "192.0.2.1", &counted), ADMIT_OK);
	ck_assert(counted);
	ck_assert_int_eq(tcp(&w1, "192.0.2.1", &counted), ADMIT_OK);
	ck_assert_int_eq(tcp(&w0, "192.0.2.1", &counted), ADMIT_OK);
	ck_assert_uint_eq(open_from(s, "192.0.2.1", 2), 3);
	/* the fourth is refused in either worker, and leaves no count */
	ck_assert_int_eq(tcp(&w1, "192.0.2.1", &counted), ADMIT_SOURCE_LIMIT);
	ck_assert(!counted);
	ck_assert_int_eq(tcp(&w0, "192.0.2.1", &counted), ADMIT_SOURCE_LIMIT);
	ck_assert_uint_eq(open_from(s, "192.0.2.1", 2), 3);
	ck_assert_str_eq(admit_reason(ADMIT_SOURCE_LIMIT),
	    "too many connections from this source");
	/* another source has its own count */
	ck_assert_int_eq(tcp(&w1, "192.0.2.2", &counted), ADMIT_OK);
	/* IPv6 counts by /64 */
	ck_assert_int_eq(tcp(&w0, "2001:db8:1:2::1", &counted), ADMIT_OK);
	ck_assert_int_eq(tcp(&w1, "2001:db8:1:2::2", &counted), ADMIT_OK);
	ck_assert_int_eq(tcp(&w0, "2001:db8:1:2:ffff::3", &counted), ADMIT_OK);
	ck_assert_int_eq(tcp(&w1, "2001:db8:1:2::4", &counted), ADMIT_SOURCE_LIMIT);
	ck_assert_int_eq(tcp(&w1, "2001:db8:1:3::4", &counted), ADMIT_OK);
	/* one closing in worker 1 makes room in worker 0 */
	admit_release(&w1, sa("192.0.2.1"));
	ck_assert_uint_eq(open_from(s, "192.0.2.1", 2), 2);
	ck_assert_int_eq(tcp(&w0, "192.0.2.1", &counted), ADMIT_OK);
	ck_assert(counted);
	ck_assert_uint_eq(open_from(s, "192.0.2.1", 2), 3);
	/* no limit: admitted and still counted, for a limit set by reload */
	c.max_connections_per_source = 0;
	ck_assert_int_eq(tcp(&w1, "192.0.2.1", &counted), ADMIT_OK);
	ck_assert(counted);
	ck_assert_uint_eq(open_from(s, "192.0.2.1", 2), 4);
}
END_TEST

/* A worker whose table cannot count one more source refuses it while a
 * limit is set (fail closed), and admits it uncounted when none is. */
START_TEST(test_untracked_fails_closed)
{
	enum { CAP = 64 };
	struct conf c = { .max_connections_per_source = 1 };
	struct source_shared *s = source_init(2, CAP);
	struct admit_policy w0 = { .conf = &c, .sources = s, .slot = 0, .nslots = 2 };
	struct admit_policy w1 = { .conf = &c, .sources = s, .slot = 1, .nslots = 2 };
	char addr[32];
	bool counted;

	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < CAP; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		ck_assert_msg(tcp(&w0, addr, &counted) == ADMIT_OK, "%s", addr);
	}
	ck_assert_int_eq(tcp(&w0, "172.16.0.1", &counted), ADMIT_UNTRACKED);
	ck_assert(!counted);
	ck_assert_str_eq(admit_reason(ADMIT_UNTRACKED),
	    "too many distinct sources in this worker");
	ck_assert_uint_eq(open_from(s, "172.16.0.1", 2), 0);
	/* the other worker has room of its own */
	ck_assert_int_eq(tcp(&w1, "172.16.0.1", &counted), ADMIT_OK);
	ck_assert(counted);
	c.max_connections_per_source = 0;
	ck_assert_int_eq(tcp(&w0, "172.16.0.2", &counted), ADMIT_OK);
	ck_assert(!counted);
	/* an address that is not IP has nothing to count it by */
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	c.max_connections_per_source = 1;
	counted = true;
	ck_assert_int_eq(admit_client(&w0, ADMIT_TCP, (struct sockaddr *)&un,
	    &counted), ADMIT_OK);
	ck_assert(!counted);
}
END_TEST

/* UDP: the source's rate, and the ceiling when udp_rate_limit is 0. */
START_TEST(test_udp_rate)
{
	struct cidr deny[] = { cidr("198.51.100.9") };
	struct conf c = { .udp_rate_limit = 10, .udp_rate_burst = 3,
	    .deny = deny, .n_deny = 1 };
	struct source_shared *s = source_init(1, 64);
	struct admit_policy p = { .conf = &c, .sources = s, .now_ms = 1000000 };

	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(udp(&p, "198.51.100.7"), ADMIT_OK);
	ck_assert_int_eq(udp(&p, "198.51.100.7"), ADMIT_RATE_LIMITED);
	ck_assert_str_eq(admit_reason(ADMIT_RATE_LIMITED), "over the source's rate");
	/* another source has its own bucket; a denied one spends nothing */
	ck_assert_int_eq(udp(&p, "198.51.100.8"), ADMIT_OK);
	ck_assert_int_eq(udp(&p, "198.51.100.9"), ADMIT_DENIED);
	/* 10/s: one more after 100 ms, not two */
	p.now_ms += 100;
	ck_assert_int_eq(udp(&p, "198.51.100.7"), ADMIT_OK);
	ck_assert_int_eq(udp(&p, "198.51.100.7"), ADMIT_RATE_LIMITED);
	/* off: the ceiling still holds a source to its burst at one instant */
	c.udp_rate_limit = 0;
	c.udp_rate_burst = 0;
	int ok = 0;
	for (int i = 0; i < ADMIT_UDP_CEILING_BURST + 10; i++)
		ok += udp(&p, "203.0.113.1") == ADMIT_OK;
	ck_assert_int_eq(ok, ADMIT_UDP_CEILING_BURST);
	/* counting TCP is not UDP's business */
	ck_assert_uint_eq(open_from(s, "198.51.100.7", 1), 0);
}
END_TEST

/* TCP: new connections per second per source, pool-wide, before any
 * counting; a source's UDP bucket is not its TCP one. */
START_TEST(test_tcp_rate)
{
	struct conf c = { .tcp_rate_limit = 10, .tcp_rate_burst = 3,
	    .udp_rate_limit = 10, .udp_rate_burst = 3 };
	struct source_shared *s = source_init(2, 64);
	struct admit_policy w0 = { .conf = &c, .sources = s, .slot = 0,
	    .nslots = 2, .now_ms = 5000 };
	struct admit_policy w1 = w0;
	bool counted;

	ck_assert_ptr_nonnull(s);
	w1.slot = 1;
	/* the burst, spent from two workers */
	ck_assert_int_eq(tcp(&w0, "198.51.100.7", &counted), ADMIT_OK);
	ck_assert_int_eq(tcp(&w1, "198.51.100.7", &counted), ADMIT_OK);
	ck_assert_int_eq(tcp(&w0, "198.51.100.7", &counted), ADMIT_OK);
	counted = true;
	ck_assert_int_eq(tcp(&w1, "198.51.100.7", &counted), ADMIT_CONN_RATE);
	ck_assert(!counted);
	ck_assert_uint_eq(open_from(s, "198.51.100.7", 2), 3);
	ck_assert_str_eq(admit_reason(ADMIT_CONN_RATE),
	    "over the source's connection rate");
	/* UDP and other sources have buckets of their own */
	ck_assert_int_eq(udp(&w0, "198.51.100.7"), ADMIT_OK);
	ck_assert_int_eq(tcp(&w0, "198.51.100.8", &counted), ADMIT_OK);
	/* 10/s: one more after 100 ms, not two */
	w0.now_ms += 100;
	ck_assert_int_eq(tcp(&w0, "198.51.100.7", &counted), ADMIT_OK);
	ck_assert_int_eq(tcp(&w0, "198.51.100.7", &counted), ADMIT_CONN_RATE);
	/* 0: no limit */
	c.tcp_rate_limit = 0;
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(tcp(&w0, "198.51.100.7", &counted), ADMIT_OK);
}
END_TEST

Suite *
admit_suite(void)
{
	Suite *s = suite_create("admit");
	TCase *tc = tcase_create("admit");

	tcase_add_test(tc, test_allow_deny);
	tcase_add_test(tc, test_source_limit_across_slots);
	tcase_add_test(tc, test_untracked_fails_closed);
	tcase_add_test(tc, test_udp_rate);
	tcase_add_test(tc, test_tcp_rate);
	suite_add_tcase(s, tc);
	return s;
}
