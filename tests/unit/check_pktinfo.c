/* check_pktinfo.c - a datagram's destination read from its control data
 * (untrusted lengths included), written back as an echo's source, and the
 * socket options asked for only where a socket serves many addresses. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pktinfo.h"
#include "suites.h"

static char ctl[256];
static struct msghdr m;

static void
ctl_reset(void)
{
	memset(ctl, 0, sizeof(ctl));
	memset(&m, 0, sizeof(m));
	m.msg_control = ctl;
}

/* Appends a control message as the kernel writes one; len 0: its own. */
static void
ctl_add(int level, int type, const void *data, size_t size, size_t len)
{
	struct cmsghdr *cm = (struct cmsghdr *)(void *)(ctl + m.msg_controllen);

	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = len ? len : CMSG_LEN(size);
	memcpy(CMSG_DATA(cm), data, size);
	m.msg_controllen += CMSG_SPACE(size);
}

static struct in_pktinfo
in4(const char *spec_dst, const char *addr)
{
	struct in_pktinfo pi = { .ipi_ifindex = 2 };

	inet_pton(AF_INET, spec_dst, &pi.ipi_spec_dst);
	inet_pton(AF_INET, addr, &pi.ipi_addr);
	return pi;
}

static struct in6_pktinfo
in6(const char *addr, unsigned ifindex)
{
	struct in6_pktinfo pi = { .ipi6_ifindex = ifindex };

	inet_pton(AF_INET6, addr, &pi.ipi6_addr);
	return pi;
}

/* What pktinfo_put() writes for pi to a peer of family to, as text
 * ("ip 192.0.2.7 if 0", "ip6 ::ffff:127.0.0.2 if 0"), or "" for none. */
static const char *
put(sa_family_t to, const struct pktinfo *pi)
{
	static char out[96];
	char buf[PKTINFO_TX_SPACE], a[INET6_ADDRSTRLEN];
	struct msghdr h = { .msg_control = buf };
	struct cmsghdr *cm;

	out[0] = '\0';
	if ((h.msg_controllen = pktinfo_put(buf, to, pi)) == 0)
		return out;
	cm = CMSG_FIRSTHDR(&h);
	if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
		struct in_pktinfo p;
		memcpy(&p, CMSG_DATA(cm), sizeof(p));
		ck_assert_uint_eq(p.ipi_addr.s_addr, 0);
		snprintf(out, sizeof(out), "ip %s if %d", inet_ntop(AF_INET,
		    &p.ipi_spec_dst, a, sizeof(a)), p.ipi_ifindex);
	} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
		struct in6_pktinfo p;
		memcpy(&p, CMSG_DATA(cm), sizeof(p));
		snprintf(out, sizeof(out), "ip6 %s if %u", inet_ntop(AF_INET6,
		    &p.ipi6_addr, a, sizeof(a)), p.ipi6_ifindex);
	}
	ck_assert_uint_eq(h.msg_controllen, CMSG_SPACE(cm->cmsg_len - CMSG_LEN(0)));
	return out;
}

/* The destination read back as the echo's source, interface 0. */
static const char *
roundtrip(sa_family_t to)
{
	struct pktinfo pi;

	pktinfo_get(&m, &pi);
	return put(to, &pi);
}

START_TEST(test_ipv4)
{
	struct in_pktinfo p = in4("192.0.2.7", "192.0.2.7");

	ctl_reset();
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET), "ip 192.0.2.7 if 0");
	/* a broadcast: the local address the kernel names for it */
	ctl_reset();
	p = in4("10.0.0.1", "10.0.0.255");
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET), "ip 10.0.0.1 if 0");
	/* queued before the option was set: the header's destination */
	ctl_reset();
	p = in4("0.0.0.0", "127.0.0.2");
	p.ipi_ifindex = 0;
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET), "ip 127.0.0.2 if 0");
	/* no source for these: the kernel chooses */
	ctl_reset();
	p = in4("0.0.0.0", "255.255.255.255");
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET), "");
	ctl_reset();
	p = in4("0.0.0.0", "224.0.0.251");
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET), "");
}
END_TEST

START_TEST(test_ipv6)
{
	struct in6_pktinfo p = in6("2001:db8::7", 3);

	ctl_reset();
	ctl_add(IPPROTO_IPV6, IPV6_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET6), "ip6 2001:db8::7 if 0");
	/* link-local means something on its link only */
	ctl_reset();
	p = in6("fe80::7", 3);
	ctl_add(IPPROTO_IPV6, IPV6_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET6), "ip6 fe80::7 if 3");
	ctl_reset();
	p = in6("ff02::1", 3);
	ctl_add(IPPROTO_IPV6, IPV6_PKTINFO, &p, sizeof(p), 0);
	ck_assert_str_eq(roundtrip(AF_INET6), "");
}
END_TEST

/* A dual-stack socket: IPv4 as ::ffff:a.b.c.d, IP_PKTINFO preferred. */
START_TEST(test_dual_stack)
{
	struct in6_pktinfo p6 = in6("::ffff:127.0.0.2", 0);
	struct in_pktinfo p4 = in4("10.0.0.1", "10.0.0.255");

	ctl_reset();
	ctl_add(IPPROTO_IPV6, IPV6_PKTINFO, &p6, sizeof(p6), 0);
	ck_assert_str_eq(roundtrip(AF_INET6), "ip6 ::ffff:127.0.0.2 if 0");
	p6 = in6("::ffff:10.0.0.255", 2);
	ctl_reset();
	ctl_add(IPPROTO_IPV6, IPV6_PKTINFO, &p6, sizeof(p6), 0);
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p4, sizeof(p4), 0);
	ck_assert_str_eq(roundtrip(AF_INET6), "ip6 ::ffff:10.0.0.1 if 0");
	/* and an IPv4 source never goes to a peer of another family */
	ck_assert_str_eq(roundtrip(AF_INET), "ip 10.0.0.1 if 0");
}
END_TEST

/* Lengths are the sender's word: a message too short is not read. */
START_TEST(test_short_messages)
{
	struct in_pktinfo p = in4("192.0.2.7", "192.0.2.7");
	struct in6_pktinfo p6 = in6("2001:db8::7", 0);

	ctl_reset();
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p, sizeof(p), CMSG_LEN(4));
	ctl_add(IPPROTO_IPV6, IPV6_PKTINFO, &p6, sizeof(p6), CMSG_LEN(16));
	ck_assert_str_eq(roundtrip(AF_INET), "");
	/* one claiming more than the buffer holds, at its end */
	ctl_reset();
	ctl_add(IPPROTO_IP, IP_PKTINFO, &p, sizeof(p), 0);
	m.msg_controllen = CMSG_SPACE(4);
	ck_assert_str_eq(roundtrip(AF_INET), "");
	ctl_reset();
	ck_assert_str_eq(roundtrip(AF_INET), "");
	m.msg_control = NULL;
	m.msg_controllen = 64;
	ck_assert_str_eq(roundtrip(AF_INET), "");
}
END_TEST

static int
opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* Unbound sockets stand for wildcard ones (getsockname says 0.0.0.0). */
START_TEST(test_enable)
{
	struct sockaddr_in lo = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int on = 1, off = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(pktinfo_enable(fd), 1);
	ck_assert_int_eq(opt(fd, IPPROTO_IP, IP_PKTINFO), 1);
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&lo, sizeof(lo)), 0);
	ck_assert_int_eq(pktinfo_enable(fd), 0);
	ck_assert_int_eq(opt(fd, IPPROTO_IP, IP_PKTINFO), 0);
	close(fd);
	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		skip_test("no IPv6");
	ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
	    sizeof(on)), 0);
	ck_assert_int_eq(pktinfo_enable(fd), 1);
	ck_assert_int_eq(opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO), 1);
	ck_assert_int_eq(opt(fd, IPPROTO_IP, IP_PKTINFO), 0);
	ck_assert_int_eq(opt(fd, IPPROTO_IP, IP_FREEBIND), 1);	/* AnyIP */
	close(fd);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
	    sizeof(off)), 0);
	ck_assert_int_eq(pktinfo_enable(fd), 1);
	ck_assert_int_eq(opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO), 1);
	ck_assert_int_eq(opt(fd, IPPROTO_IP, IP_PKTINFO), 1);
	close(fd);
}
END_TEST

Suite *
pktinfo_suite(void)
{
	Suite *s = suite_create("pktinfo");
	TCase *tc = tcase_create("pktinfo");

	tcase_add_test(tc, test_ipv4);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_dual_stack);
	tcase_add_test(tc, test_short_messages);
	tcase_add_test(tc, test_enable);
	suite_add_tcase(s, tc);
	return s;
}
