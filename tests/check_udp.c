/* check_udp.c - the loop guard and datagram echo on loopback. */
#include "config.h"

#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "admit.h"
#include "conf.h"
#include "conn.h"
#include "source.h"
#include "udp.h"
#include "suites.h"

static struct sockaddr_in
sin_port(uint16_t port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	return in;
}

START_TEST(test_guard)
{
	static const struct { uint16_t port; bool ok; } cases[] = {
		{ 0, false }, { 7, false }, { 13, false }, { 19, false },
		{ 37, false }, { 123, false }, { 1023, false }, { 1024, true },
		{ 1900, false }, { 3702, false }, { 5353, false }, { 5683, false },
		{ 11211, false }, { 40000, true },
		{ 65535, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_in in = sin_port(cases[i].port);
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
		    .sin6_port = htons(cases[i].port) };
		ck_assert_msg(udp_source_allowed((struct sockaddr *)&in) == cases[i].ok,
		    "port %u", cases[i].port);
		ck_assert(udp_source_allowed((struct sockaddr *)&in6) == cases[i].ok);
	}
	struct sockaddr un = { .sa_family = AF_UNIX };
	ck_assert(!udp_source_allowed(&un));
}
END_TEST

static int
bound_udp(uint16_t port)
{
	struct sockaddr_in in = sin_port(port);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (bind(fd, (struct sockaddr *)&in, sizeof(in)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A socket on the loopback of family, port 0; its address in *sa. */
static int
bound_lo(int family, union sockaddr_any *sa, socklen_t *len)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		sa->in.sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &sa->in.sin_addr);
		*len = sizeof(sa->in);
	} else {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_addr = in6addr_loopback;
		*len = sizeof(sa->in6);
	}
	if (fd == -1 || bind(fd, &sa->sa, *len) == -1 ||
	    getsockname(fd, &sa->sa, len) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Every size up to each family's largest comes back whole: issue 11 #13,
 * IPv6 datagrams of 65509..65527 bytes came back cut to 65508.
 */
START_TEST(test_echo_sizes)
{
	static char buf[UDP_MAX_DATAGRAM], out[UDP_MAX_DATAGRAM], in[UDP_MAX_DATAGRAM + 1];
	static const struct { int family; size_t max; } fam[] = {
		{ AF_INET, 65507 }, { AF_INET6, 65527 },
	};

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 13);
	for (size_t f = 0; f < 2; f++) {
		struct udp_counters cnt = { 0 };
		union sockaddr_any srv, cli;
		socklen_t len, clen;
		int s = bound_lo(fam[f].family, &srv, &len);
		int c = bound_lo(fam[f].family, &cli, &clen);
		const size_t sizes[] = { 1, 1000, 65507, 65508, fam[f].max };

		if (s == -1 && fam[f].family == AF_INET6)
			continue;	/* no IPv6 here */
		ck_assert_int_ne(s, -1);
		ck_assert_int_ne(c, -1);
		for (size_t k = 0; k < 5; k++) {
			struct pollfd pfd = { .fd = c, .events = POLLIN };
			size_t n = sizes[k] > fam[f].max ? fam[f].max : sizes[k];

			ck_assert_int_eq(sendto(c, out, n, 0, &srv.sa, len), (ssize_t)n);
			ck_assert_int_eq(udp_echo(s, buf, sizeof(buf), NULL, &cnt), 0);
			ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
			ck_assert_int_eq(recv(c, in, sizeof(in), 0), (ssize_t)n);
			ck_assert_mem_eq(in, out, n);
		}
		ck_assert_uint_eq(cnt.echoed, 5);
		ck_assert_uint_eq(cnt.truncated, 0);
		close(s);
		close(c);
	}
}
END_TEST

/* A datagram larger than the buffer is dropped and counted, never echoed
 * cut short. */
START_TEST(test_echo_never_truncates)
{
	static char buf[100], out[1000], in[1000];
	struct udp_counters cnt = { 0 };
	union sockaddr_any srv, cli;
	socklen_t len, clen;
	int s = bound_lo(AF_INET, &srv, &len), c = bound_lo(AF_INET, &cli, &clen);
	struct pollfd pfd = { .fd = c, .events = POLLIN };

	ck_assert_int_ne(s, -1);
	ck_assert_int_eq(sendto(c, out, sizeof(out), 0, &srv.sa, len), sizeof(out));
	ck_assert_int_eq(sendto(c, out, 10, 0, &srv.sa, len), 10);
	ck_assert_int_eq(udp_echo(s, buf, sizeof(buf), NULL, &cnt), 0);
	ck_assert_uint_eq(cnt.truncated, 1);
	ck_assert_uint_eq(cnt.echoed, 1);
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_eq(recv(c, in, sizeof(in), 0), 10);	/* only the small one */
	ck_assert_int_eq(poll(&pfd, 1, 100), 0);
	close(s);
	close(c);
}
END_TEST

START_TEST(test_echo_refuses_service_port)
{
	static char buf[UDP_MAX_DATAGRAM];
	struct udp_counters cnt = { 0 };
	union sockaddr_any srv;
	socklen_t len = sizeof(srv);
	int s = bound_udp(0), c = bound_udp(19);	/* chargen's port */

	if (c == -1) {
		close(s);
		skip_test("binding port 19 needs root");
	}
	getsockname(s, &srv.sa, &len);
	ck_assert_int_eq(sendto(c, "x", 1, 0, &srv.sa, len), 1);
	struct pollfd spfd = { .fd = s, .events = POLLIN };
	ck_assert_int_eq(poll(&spfd, 1, 2000), 1);
	ck_assert_int_eq(udp_echo(s, buf, sizeof(buf), NULL, &cnt), 0);
	ck_assert_uint_eq(cnt.refused, 1);
	ck_assert_uint_eq(cnt.echoed, 0);
	struct pollfd pfd = { .fd = c, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 200), 0);
	close(s);
	close(c);
}
END_TEST

/* Each datagram passes admission: a denied source and one over its rate
 * get no answer, and each refusal is counted as what it was. */
START_TEST(test_echo_admits)
{
	static char buf[100], in[100];
	struct cidr deny;
	const char *err;
	struct conf c = { .udp_rate_limit = 1, .udp_rate_burst = 2 };
	struct admit_policy p = { .conf = &c, .sources = source_init(1, 64),
	    .now_ms = 1000 };
	struct udp_counters cnt = { 0 };
	union sockaddr_any srv, cli;
	socklen_t len, clen;
	int s = bound_lo(AF_INET, &srv, &len), cl = bound_lo(AF_INET, &cli, &clen);
	struct pollfd pfd = { .fd = cl, .events = POLLIN };
	struct pollfd spfd = { .fd = s, .events = POLLIN };

	ck_assert_ptr_nonnull(p.sources);
	ck_assert_int_ne(s, -1);
	ck_assert_int_ne(cl, -1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sendto(cl, "abc", 3, 0, &srv.sa, len), 3);
	ck_assert_int_eq(poll(&spfd, 1, 2000), 1);
	ck_assert_int_eq(udp_echo(s, buf, sizeof(buf), &p, &cnt), 0);
	ck_assert_uint_eq(cnt.echoed, 2);	/* the burst */
	ck_assert_uint_eq(cnt.limited, 1);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		ck_assert_int_eq(recv(cl, in, sizeof(in), 0), 3);
	}
	ck_assert_int_eq(acl_parse("127.0.0.0/8", &deny, &err), 0);
	c.deny = &deny;
	c.n_deny = 1;
	p.now_ms += 10000;	/* the bucket is full again: the list refuses */
	ck_assert_int_eq(sendto(cl, "abc", 3, 0, &srv.sa, len), 3);
	ck_assert_int_eq(poll(&spfd, 1, 2000), 1);
	ck_assert_int_eq(udp_echo(s, buf, sizeof(buf), &p, &cnt), 0);
	ck_assert_uint_eq(cnt.denied, 1);
	ck_assert_uint_eq(cnt.limited, 1);
	ck_assert_uint_eq(cnt.echoed, 2);
	ck_assert_int_eq(poll(&pfd, 1, 100), 0);
	close(s);
	close(cl);
}
END_TEST

Suite *
udp_suite(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("udp");

	tcase_add_test(tc, test_guard);
	tcase_add_test(tc, test_echo_sizes);
	tcase_add_test(tc, test_echo_never_truncates);
	tcase_add_test(tc, test_echo_refuses_service_port);
	tcase_add_test(tc, test_echo_admits);
	suite_add_tcase(s, tc);
	return s;
}
