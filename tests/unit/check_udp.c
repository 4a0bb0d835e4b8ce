/* check_udp.c - the loop guard and datagram echo on loopback; batches
 * judged datagram by datagram and sent in order, through scripted
 * recvmmsg/sendmmsg (udp_batch_ops). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "admit.h"
#include "conf.h"
#include "conn.h"
#include "udp_batch.h"
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

/* udp_echo() over a batch whose slots hold slotlen bytes. */
static int
echo_with(int fd, size_t slotlen, const struct admit_policy *p,
    struct udp_counters *cnt)
{
	struct udp_batch b;
	int rc;

	ck_assert_int_eq(udp_batch_init(&b, UDP_BATCH, slotlen), 0);
	rc = udp_echo(fd, fd, &b, p, cnt);
	udp_batch_free(&b);
	return rc;
}

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
			ck_assert_int_eq(echo_with(s, sizeof(buf), NULL, &cnt), 0);
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
	ck_assert_int_eq(echo_with(s, sizeof(buf), NULL, &cnt), 0);
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
	ck_assert_int_eq(echo_with(s, sizeof(buf), NULL, &cnt), 0);
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
	ck_assert_int_eq(echo_with(s, sizeof(buf), &p, &cnt), 0);
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
	ck_assert_int_eq(echo_with(s, sizeof(buf), &p, &cnt), 0);
	ck_assert_uint_eq(cnt.denied, 1);
	ck_assert_uint_eq(cnt.limited, 1);
	ck_assert_uint_eq(cnt.echoed, 2);
	ck_assert_int_eq(poll(&pfd, 1, 100), 0);
	close(s);
	close(cl);
}
END_TEST

/* A datagram the scripted recvmmsg hands over. */
struct fake_dg {
	const char	*addr;
	uint16_t	 port;
	size_t		 len;		/* past the slot: MSG_TRUNC */
	char		 fill;		/* its bytes, to tell echoes apart */
};

static const struct fake_dg *fake_in;
static unsigned fake_nin, fake_pos;
/* sendmmsg: call k takes up to script[k] (0: all), or fails with errno
 * -script[k]; past the script it takes all */
static int fake_script[8];
static unsigned fake_calls;
static char fake_out[256];	/* the fill of each echo, in the order sent */
static unsigned fake_nout;

static int
fake_recv(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	unsigned k = 0;

	(void)fd;
	ck_assert(flags & MSG_TRUNC);
	ck_assert(flags & MSG_DONTWAIT);
	for (; k < n && fake_pos < fake_nin; k++) {
		const struct fake_dg *d = &fake_in[fake_pos++];
		struct msghdr *h = &v[k].msg_hdr;
		struct sockaddr_in in = { .sin_family = AF_INET,
		    .sin_port = htons(d->port) };
		size_t cap = h->msg_iov[0].iov_len;

		inet_pton(AF_INET, d->addr, &in.sin_addr);
		ck_assert_uint_ge(h->msg_namelen, sizeof(in));
		memcpy(h->msg_name, &in, sizeof(in));
		h->msg_namelen = sizeof(in);
		memset(h->msg_iov[0].iov_base, d->fill, d->len < cap ? d->len : cap);
		v[k].msg_len = (unsigned)d->len;
		if (d->len > cap)
			h->msg_flags |= MSG_TRUNC;
	}
	if (k == 0) {
		errno = EAGAIN;
		return -1;
	}
	return (int)k;
}

static int
fake_send(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	int rule = fake_calls < 8 ? fake_script[fake_calls] : 0;
	unsigned take = rule > 0 && (unsigned)rule < n ? (unsigned)rule : n;

	(void)fd;
	(void)flags;
	fake_calls++;
	if (rule < 0) {
		errno = -rule;
		return -1;
	}
	for (unsigned k = 0; k < take; k++) {
		const char *b = v[k].msg_hdr.msg_iov[0].iov_base;
		const struct sockaddr_in *to = v[k].msg_hdr.msg_name;

		ck_assert_uint_eq(v[k].msg_hdr.msg_namelen, sizeof(*to));
		ck_assert_uint_ne(ntohs(to->sin_port), 0);
		ck_assert_uint_lt(fake_nout, sizeof(fake_out));
		ck_assert_uint_gt(v[k].msg_hdr.msg_iov[0].iov_len, 0);
		fake_out[fake_nout++] = b[0];
		v[k].msg_len = (unsigned)v[k].msg_hdr.msg_iov[0].iov_len;
	}
	return (int)take;
}

static const struct udp_batch_ops fake_ops = { fake_recv, fake_send };

static void
fake_reset(const struct fake_dg *in, unsigned n, const int *script,
    unsigned nscript)
{
	fake_in = in;
	fake_nin = n;
	fake_pos = fake_calls = fake_nout = 0;
	memset(fake_script, 0, sizeof(fake_script));
	if (nscript > 0)	/* script may be NULL then */
		memcpy(fake_script, script, nscript * sizeof(*script));
	memset(fake_out, 0, sizeof(fake_out));
}

/* udp_echo() over the scripted calls, slots of 100 bytes. */
static int
fake_echo(const struct admit_policy *p, struct udp_counters *cnt)
{
	struct udp_batch b;
	int rc;

	ck_assert_int_eq(udp_batch_init(&b, UDP_BATCH, 100), 0);
	b.ops = &fake_ops;
	rc = udp_echo(-1, -1, &b, p, cnt);
	udp_batch_free(&b);
	return rc;
}

/*
 * One batch holding every kind of refusal between echoes: each datagram is
 * judged on its own (the guard, the lists, the per-source rate, the size),
 * the counters say exactly what happened to each, and the echoes go back
 * in the order the datagrams came.
 */
START_TEST(test_batch_mixed)
{
	static const struct fake_dg in[] = {
		{ "127.0.0.1", 40000, 10, 'a' },
		{ "127.0.0.1", 19, 10, 'X' },		/* loop guard */
		{ "127.0.0.2", 40000, 20, 'b' },
		{ "10.1.2.3", 40000, 10, 'X' },		/* denied */
		{ "127.0.0.1", 40001, 101, 'X' },	/* too large */
		{ "127.0.0.1", 40002, 100, 'c' },	/* just fits */
		{ "127.0.0.3", 40000, 1, 'd' },
		{ "127.0.0.3", 40000, 1, 'e' },
		{ "127.0.0.3", 40000, 1, 'X' },		/* over its rate */
		{ "127.0.0.2", 5353, 1, 'X' },		/* loop guard (mDNS) */
		{ "127.0.0.4", 40000, 3, 'f' },
	};
	struct cidr deny;
	const char *err;
	struct conf c = { .udp_rate_limit = 1, .udp_rate_burst = 2 };
	struct admit_policy p = { .conf = &c, .sources = source_init(1, 64),
	    .now_ms = 1000 };
	struct udp_counters cnt = { 0 };

	ck_assert_ptr_nonnull(p.sources);
	ck_assert_int_eq(acl_parse("10.0.0.0/8", &deny, &err), 0);
	c.deny = &deny;
	c.n_deny = 1;
	/* 127.0.0.1 spends its burst of 2 on 'a' and 'c' */
	fake_reset(in, sizeof(in) / sizeof(in[0]), NULL, 0);
	ck_assert_int_eq(fake_echo(&p, &cnt), 0);
	ck_assert_str_eq(fake_out, "abcdef");
	ck_assert_uint_eq(cnt.echoed, 6);
	ck_assert_uint_eq(cnt.bytes, 10 + 20 + 100 + 1 + 1 + 3);
	ck_assert_uint_eq(cnt.refused, 2);
	ck_assert_uint_eq(cnt.denied, 1);
	ck_assert_uint_eq(cnt.truncated, 1);
	ck_assert_uint_eq(cnt.limited, 1);
	ck_assert_uint_eq(cnt.dropped, 0);
	ck_assert_uint_eq(fake_calls, 1);	/* one sendmmsg for the batch */
}
END_TEST

/* More than a batch waiting: full batches are read again, up to
 * UDP_ROUNDS, and udp_echo() says when it left some behind. */
START_TEST(test_batch_rounds)
{
	static struct fake_dg in[UDP_BATCH * UDP_ROUNDS + 1];
	struct udp_counters cnt = { 0 };

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		in[i] = (struct fake_dg){ "127.0.0.1", 40000, 1, 'a' };
	fake_reset(in, UDP_BATCH * UDP_ROUNDS - 1, NULL, 0);
	ck_assert_int_eq(fake_echo(NULL, &cnt), 0);
	ck_assert_uint_eq(cnt.echoed, UDP_BATCH * UDP_ROUNDS - 1);
	memset(&cnt, 0, sizeof(cnt));
	fake_reset(in, sizeof(in) / sizeof(in[0]), NULL, 0);
	ck_assert_int_eq(fake_echo(NULL, &cnt), 1);
	ck_assert_uint_eq(cnt.echoed, UDP_BATCH * UDP_ROUNDS);
	ck_assert_uint_eq(fake_pos, UDP_BATCH * UDP_ROUNDS);	/* one left */
}
END_TEST

/*
 * A sendmmsg that stops part-way: what it took counts as echoed, the
 * datagram it failed on is dropped and counted when the error is its own
 * destination's (EPERM from a firewall, EHOSTUNREACH), the rest go on in
 * order; when the socket is full (EAGAIN, ENOBUFS) the rest are dropped
 * and counted.  echoed + dropped is always what was admitted.
 */
START_TEST(test_batch_partial_send)
{
	static const struct fake_dg in[] = {
		{ "127.0.0.1", 40000, 1, 'a' }, { "127.0.0.1", 40000, 2, 'b' },
		{ "127.0.0.1", 40000, 3, 'c' }, { "127.0.0.1", 40000, 4, 'd' },
		{ "127.0.0.1", 40000, 5, 'e' }, { "127.0.0.1", 40000, 6, 'f' },
		{ "127.0.0.1", 40000, 7, 'g' }, { "127.0.0.1", 40000, 8, 'h' },
	};
	const unsigned n = sizeof(in) / sizeof(in[0]);
	struct udp_counters cnt = { 0 };

	/* takes 2, refuses c, takes 1, interrupted, refuses e, takes the rest */
	const int s1[] = { 2, -EPERM, 1, -EINTR, -EHOSTUNREACH, 0 };
	fake_reset(in, n, s1, 6);
	ck_assert_int_eq(fake_echo(NULL, &cnt), 0);
	ck_assert_str_eq(fake_out, "abdfgh");
	ck_assert_uint_eq(cnt.echoed, 6);
	ck_assert_uint_eq(cnt.bytes, 1 + 2 + 4 + 6 + 7 + 8);
	ck_assert_uint_eq(cnt.dropped, 2);

	/* takes 3, then the socket is full: the 5 left are dropped */
	const int s2[] = { 3, -EAGAIN };
	memset(&cnt, 0, sizeof(cnt));
	fake_reset(in, n, s2, 2);
	ck_assert_int_eq(fake_echo(NULL, &cnt), 0);
	ck_assert_str_eq(fake_out, "abc");
	ck_assert_uint_eq(cnt.echoed, 3);
	ck_assert_uint_eq(cnt.dropped, 5);
	ck_assert_uint_eq(fake_calls, 2);

	/* full from the first call (ENOBUFS): all dropped, one call */
	const int s3[] = { -ENOBUFS };
	memset(&cnt, 0, sizeof(cnt));
	fake_reset(in, n, s3, 1);
	ck_assert_int_eq(fake_echo(NULL, &cnt), 0);
	ck_assert_uint_eq(cnt.echoed, 0);
	ck_assert_uint_eq(cnt.dropped, n);
	ck_assert_uint_eq(fake_calls, 1);
}
END_TEST

/* Real recvmmsg/sendmmsg: datagrams from several sources, queued before
 * echod reads, come back whole and in order to each source. */
START_TEST(test_batch_real_order)
{
	static char out[64], in[64];
	struct udp_counters cnt = { 0 };
	union sockaddr_any srv, cli[3];
	socklen_t len, clen;
	int s = bound_lo(AF_INET, &srv, &len), c[3];

	ck_assert_int_ne(s, -1);
	for (int k = 0; k < 3; k++) {
		c[k] = bound_lo(AF_INET, &cli[k], &clen);
		ck_assert_int_ne(c[k], -1);
	}
	for (int i = 0; i < 30; i++) {
		snprintf(out, sizeof(out), "%d:%d", i % 3, i);
		ck_assert_int_eq(sendto(c[i % 3], out, strlen(out), 0, &srv.sa, len),
		    (ssize_t)strlen(out));
	}
	ck_assert_int_eq(echo_with(s, 100, NULL, &cnt), 0);
	ck_assert_uint_eq(cnt.echoed, 30);
	for (int i = 0; i < 30; i++) {
		struct pollfd pfd = { .fd = c[i % 3], .events = POLLIN };
		ssize_t n;

		snprintf(out, sizeof(out), "%d:%d", i % 3, i);
		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		n = recv(c[i % 3], in, sizeof(in) - 1, 0);
		ck_assert_int_eq(n, (ssize_t)strlen(out));
		in[n] = '\0';
		ck_assert_str_eq(in, out);
	}
	close(s);
	for (int k = 0; k < 3; k++)
		close(c[k]);
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
	tcase_add_test(tc, test_batch_mixed);
	tcase_add_test(tc, test_batch_rounds);
	tcase_add_test(tc, test_batch_partial_send);
	tcase_add_test(tc, test_batch_real_order);
	suite_add_tcase(s, tc);
	return s;
}
