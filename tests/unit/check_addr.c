/* check_addr.c - listen address specs and their formatting. */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "suites.h"
#include "unitlib.h"
#include "util.h"

static int
split(const char *spec, char *host, char *port, const char **err)
{
	return addr_split(spec, host, 256, port, 32, err);
}

START_TEST(test_split_good)
{
	static const struct { const char *spec, *host, *port; } cases[] = {
		{ "127.0.0.1:7", "127.0.0.1", "7" },
		{ "[::1]:7007", "::1", "7007" },
		{ "[::]:7", "::", "7" },
		{ "*:7", "", "7" },
		{ "7", "", "7" },
		{ "localhost:echo", "localhost", "echo" },
		{ "0.0.0.0:0", "0.0.0.0", "0" },
		{ "host:65535", "host", "65535" },
	};
	char host[256], port[32];
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(split(cases[i].spec, host, port, &err) == 0,
		    "%s: %s", cases[i].spec, err);
		ck_assert_str_eq(host, cases[i].host);
		ck_assert_str_eq(port, cases[i].port);
	}
}
END_TEST

START_TEST(test_split_bad)
{
	static const struct { const char *spec, *why; } cases[] = {
		{ "", "empty address" },
		{ "[::1", "missing ']'" },
		{ "[::1]7", "expected ':port'" },
		{ "[]:7", "empty IPv6" },
		{ "::1:7", "brackets" },
		{ ":7", "missing host" },
		{ "host:", "missing port" },
		{ "host:65536", "0..65535" },
		{ "host:999999", "0..65535" },
	};
	char host[256], port[32];
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(split(cases[i].spec, host, port, &err) == -1,
		    "%s accepted", cases[i].spec);
		ck_assert_msg(strstr(err, cases[i].why) != NULL, "%s: got \"%s\"",
		    cases[i].spec, err);
	}
}
END_TEST

START_TEST(test_split_long_host)
{
	char spec[400], host[256], port[32];
	const char *err;

	memset(spec, 'a', 300);
	strcpy(spec + 300, ":7");
	ck_assert_int_eq(addr_split(spec, host, sizeof(host), port, sizeof(port), &err), -1);
	ck_assert_str_eq(err, "host name too long");
}
END_TEST

START_TEST(test_format)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(7) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(7007) };
	char buf[ADDR_STRLEN];

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	addr_format((struct sockaddr *)&in, sizeof(in), buf, sizeof(buf));
	ck_assert_str_eq(buf, "127.0.0.1:7");
	addr_format((struct sockaddr *)&in6, sizeof(in6), buf, sizeof(buf));
	ck_assert_str_eq(buf, "[::1]:7007");
}
END_TEST

/* addr_host_port() writes what getnameinfo(NI_NUMERICHOST |
 * NI_NUMERICSERV) writes, for every kind of address a client can have. */
static void
same_as_getnameinfo(const struct sockaddr *sa, socklen_t len)
{
	char host[NI_MAXHOST], want[NI_MAXHOST], serv[NI_MAXSERV];
	unsigned port;

	ck_assert_int_eq(getnameinfo(sa, len, want, sizeof(want), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV), 0);
	addr_host_port(sa, len, host, sizeof(host), &port);
	ck_assert_str_eq(host, want);
	ck_assert_uint_eq(port, strtoul(serv, NULL, 10));
}

START_TEST(test_host_port)
{
	static const char *v4[] = { "127.0.0.1", "0.0.0.0", "255.255.255.255",
	    "192.0.2.7" };
	static const char *v6[] = { "::1", "::", "2001:db8::7",
	    "::ffff:192.0.2.7", "fe80::1", "2001:db8:1:2:3:4:5:6" };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(65535) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(7) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char host[8];
	unsigned port = 1;

	for (size_t i = 0; i < nitems(v4); i++) {
		ck_assert_int_eq(inet_pton(AF_INET, v4[i], &in.sin_addr), 1);
		same_as_getnameinfo((struct sockaddr *)&in, sizeof(in));
	}
	for (size_t i = 0; i < nitems(v6); i++) {
		ck_assert_int_eq(inet_pton(AF_INET6, v6[i], &in6.sin6_addr), 1);
		same_as_getnameinfo((struct sockaddr *)&in6, sizeof(in6));
	}
	/* scoped: "fe80::1%1" (or the interface's name), the long way */
	in6.sin6_scope_id = 1;
	same_as_getnameinfo((struct sockaddr *)&in6, sizeof(in6));
	/* a host that does not fit, and a family it cannot print: "?" */
	in.sin_addr.s_addr = htonl(0xc0000207);
	addr_host_port((struct sockaddr *)&in, sizeof(in), host, sizeof(host), &port);
	ck_assert_str_eq(host, "?");
	ck_assert_uint_eq(port, 0);
	addr_host_port((struct sockaddr *)&un, sizeof(un), host, sizeof(host), &port);
	ck_assert_str_eq(host, "?");
}
END_TEST


/* Which peers are on this host: loopback by either family, or the address
 * the connection was accepted on; a neighbour on the same network is not. */
START_TEST(test_same_host)
{
	static const struct { const char *peer, *local; bool same; } cases[] = {
		{ "127.0.0.1", "127.0.0.1", true },
		{ "127.1.0.5", "127.0.0.1", true },
		{ "127.0.0.1", "192.0.2.1", true },
		{ "192.0.2.1", "192.0.2.1", true },
		{ "192.0.2.2", "192.0.2.1", false },
		{ "::1", "::1", true },
		{ "::ffff:127.0.0.9", "::ffff:127.0.0.1", true },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.1", true },
		{ "::ffff:192.0.2.1", "192.0.2.1", true },
		{ "::ffff:192.0.2.2", "::ffff:192.0.2.1", false },
		{ "2001:db8::1", "2001:db8::1", true },
		{ "2001:db8::2", "2001:db8::1", false },
		{ "2001:db8::2", "192.0.2.1", false },
		{ "::", "::1", false },
	};
	struct sockaddr_storage p, l;

	for (size_t i = 0; i < nitems(cases); i++)
		ck_assert_msg(addr_same_host(u_sockaddr(&p, cases[i].peer, 7),
		    u_sockaddr(&l, cases[i].local, 7)) == cases[i].same,
		    "%s from %s", cases[i].peer, cases[i].local);
}
END_TEST

Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");

	tcase_add_test(tc, test_split_good);
	tcase_add_test(tc, test_split_bad);
	tcase_add_test(tc, test_split_long_host);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_host_port);
	tcase_add_test(tc, test_same_host);
	suite_add_tcase(s, tc);
	return s;
}
