/* check_dgram.c - batches: slots, sources, MSG_TRUNC on real sockets;
 * GSO runs (one message per run of echoes to one destination), on real
 * sockets and through scripted sendmmsg: order, refusal, partial sends,
 * one source per run. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "udp_batch.h"
#include "suites.h"

static int
udp_lo(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, len), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

/* Each slot gets one datagram with its source and real length; one past
 * its slot is flagged, not cut short silently; cap bounds one call. */
START_TEST(test_recv_slots)
{
	static char big[300];
	struct sockaddr_in s, c1, c2;
	struct udp_batch b;
	int fs = udp_lo(&s), f1 = udp_lo(&c1), f2 = udp_lo(&c2);

	ck_assert_int_eq(udp_batch_init(&b, 2, 200), 0);
	ck_assert_int_eq(udp_batch_recv(fs, &b), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(sendto(f1, "one", 3, 0, (struct sockaddr *)&s, sizeof(s)), 3);
	ck_assert_int_eq(sendto(f2, big, sizeof(big), 0, (struct sockaddr *)&s,
	    sizeof(s)), (ssize_t)sizeof(big));
	ck_assert_int_eq(sendto(f1, "three", 5, 0, (struct sockaddr *)&s, sizeof(s)), 5);
	ck_assert_int_eq(udp_batch_recv(fs, &b), 2);
	ck_assert_uint_eq(udp_batch_len(&b, 0), 3);
	ck_assert(udp_batch_whole(&b, 0));
	ck_assert_mem_eq(udp_batch_data(&b, 0), "one", 3);
	ck_assert_uint_eq(((const struct sockaddr_in *)udp_batch_from(&b, 0))->sin_port,
	    c1.sin_port);
	ck_assert_uint_eq(udp_batch_len(&b, 1), sizeof(big));
	ck_assert(!udp_batch_whole(&b, 1));
	ck_assert_uint_eq(((const struct sockaddr_in *)udp_batch_from(&b, 1))->sin_port,
	    c2.sin_port);
	ck_assert_int_eq(udp_batch_recv(fs, &b), 1);
	ck_assert_mem_eq(udp_batch_data(&b, 0), "three", 5);
	/* queued back: sent in one call, to the right source */
	udp_batch_queue(&b, 0);
	struct udp_batch_sent r = udp_batch_send(fs, &b);
	ck_assert_uint_eq(r.sent, 1);
	ck_assert_uint_eq(r.bytes, 5);
	ck_assert_uint_eq(r.dropped, 0);
	char in[16];
	ck_assert_int_eq(recv(f1, in, sizeof(in), 0), 5);
	ck_assert_mem_eq(in, "three", 5);
	udp_batch_free(&b);
	close(fs);
	close(f1);
	close(f2);
}
END_TEST

/* Queues n fake echoes in b: to port ports[k], of length lens[k], whose
 * bytes are fills[k]. */
static void
fake_batch(struct udp_batch *b, const uint16_t *ports, const size_t *lens,
    const char *fills, unsigned n)
{
	b->n = n;
	b->ntx = 0;
	for (unsigned k = 0; k < n; k++) {
		struct sockaddr_in *in = &b->from[k].in;

		memset(in, 0, sizeof(*in));
		in->sin_family = AF_INET;
		in->sin_port = htons(ports[k]);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		b->rx[k].msg_hdr.msg_namelen = sizeof(*in);
		b->rx[k].msg_len = (unsigned)lens[k];
		memset(udp_batch_data(b, k), fills[k], lens[k]);
		udp_batch_queue(b, k);
	}
}

static char sent[128];		/* "a|bb|c": datagrams, '|' between messages */
static int gso_script[8];	/* per call: >0 take at most, <0 fail -errno */
static unsigned gso_calls;

static int
gso_send(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	int rule = gso_calls < 8 ? gso_script[gso_calls] : 0;
	unsigned take = rule > 0 && (unsigned)rule < n ? (unsigned)rule : n;

	(void)fd;
	(void)flags;
	gso_calls++;
	if (rule < 0) {
		errno = -rule;
		return -1;
	}
	for (unsigned k = 0; k < take; k++) {
		struct msghdr *h = &v[k].msg_hdr;
		struct cmsghdr *cm = h->msg_controllen ? CMSG_FIRSTHDR(h) : NULL;

		if (h->msg_iovlen > 1) {
			uint16_t seg;
			ck_assert_ptr_nonnull(cm);
			ck_assert_int_eq(cm->cmsg_level, SOL_UDP);
			ck_assert_int_eq(cm->cmsg_type, UDP_SEGMENT);
			memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
			ck_assert_uint_eq(seg, h->msg_iov[0].iov_len);
		} else
			ck_assert(cm == NULL || cm->cmsg_level != SOL_UDP);
		for (size_t i = 0; i < h->msg_iovlen; i++)
			sent[strlen(sent)] = ((char *)h->msg_iov[i].iov_base)[0];
		/* the message's source, if set: 192.0.2.n as a capital */
		for (; cm != NULL; cm = CMSG_NXTHDR(h, cm))
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				ck_assert_int_eq(pi.ipi_ifindex, 0);
				sent[strlen(sent)] = (char)('A' - 1 +
				    (ntohl(pi.ipi_spec_dst.s_addr) & 0xff));
			}
		sent[strlen(sent)] = '|';
	}
	return (int)take;
}

static int
no_recv(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	(void)fd; (void)v; (void)n; (void)flags;
	errno = EAGAIN;
	return -1;
}

static const struct udp_batch_ops gso_ops = { no_recv, gso_send };

static void
gso_reset(const int *script, unsigned n)
{
	memset(sent, 0, sizeof(sent));
	memset(gso_script, 0, sizeof(gso_script));
	if (n > 0)		/* script may be NULL then */
		memcpy(gso_script, script, n * sizeof(*script));
	gso_calls = 0;
}

/* Runs of one destination and one length become one message each; the
 * order of the echoes is the order they were queued. */
START_TEST(test_gso_runs)
{
	static const uint16_t ports[] = { 5000, 5000, 5000, 6000, 5000, 5000, 5000 };
	static const size_t lens[] = { 10, 10, 10, 10, 10, 20, 2000 };
	struct udp_batch b;
	struct udp_batch_sent r;

	ck_assert_int_eq(udp_batch_init(&b, 8, 2048), 0);
	b.ops = &gso_ops;
	b.gso = true;
	fake_batch(&b, ports, lens, "abcdefg", 7);
	gso_reset(NULL, 0);
	r = udp_batch_send(-1, &b);
	/* a 2000-byte echo is past UDP_BATCH_GSO_MAX_SEG: alone */
	ck_assert_str_eq(sent, "abc|d|e|f|g|");
	ck_assert_uint_eq(r.sent, 7);
	ck_assert_uint_eq(r.bytes, 50 + 20 + 2000);
	ck_assert_uint_eq(r.dropped, 0);
	ck_assert_uint_eq(gso_calls, 1);
	udp_batch_free(&b);
}
END_TEST

/* What the kernel says of datagram k's destination: 192.0.2.n. */
static void
fake_dst(struct udp_batch *b, unsigned k, unsigned n)
{
	struct msghdr *h = &b->rx[k].msg_hdr;
	struct in_pktinfo pi = { .ipi_ifindex = 2 };
	struct cmsghdr *cm;

	pi.ipi_addr.s_addr = htonl(0xc0000200 | n);
	pi.ipi_spec_dst = pi.ipi_addr;
	h->msg_controllen = CMSG_SPACE(sizeof(pi));
	cm = CMSG_FIRSTHDR(h);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
}

/* Echoes to one client sent to two of our addresses go back from each,
 * with interface 0: a GSO run has one source, so the source splits it. */
START_TEST(test_gso_runs_by_source)
{
	static const uint16_t ports[] = { 5000, 5000, 5000, 5000, 5000 };
	static const size_t lens[] = { 10, 10, 10, 10, 10 };
	static const unsigned dst[] = { 1, 1, 2, 2, 1 };
	struct udp_batch b;
	struct udp_batch_sent r;

	ck_assert_int_eq(udp_batch_init(&b, 8, 2048), 0);
	b.ops = &gso_ops;
	b.gso = true;
	for (unsigned k = 0; k < 5; k++)
		fake_dst(&b, k, dst[k]);
	fake_batch(&b, ports, lens, "abcde", 5);
	gso_reset(NULL, 0);
	r = udp_batch_send(-1, &b);
	ck_assert_str_eq(sent, "abA|cdB|eA|");
	ck_assert_uint_eq(r.sent, 5);
	/* one by one (GSO refused), each keeps its own source */
	b.gso = false;
	fake_batch(&b, ports, lens, "abcde", 5);
	gso_reset(NULL, 0);
	r = udp_batch_send(-1, &b);
	ck_assert_str_eq(sent, "aA|bA|cB|dB|eA|");
	udp_batch_free(&b);
}
END_TEST

/* A kernel that refuses GSO: the run goes out one by one, nothing lost,
 * and GSO stays off; a full socket drops the rest of the batch, counted. */
START_TEST(test_gso_refused_and_partial)
{
	static const uint16_t ports[] = { 5000, 5000, 5000, 6000, 6000 };
	static const size_t lens[] = { 10, 10, 10, 10, 10 };
	struct udp_batch b;
	struct udp_batch_sent r;

	ck_assert_int_eq(udp_batch_init(&b, 8, 2048), 0);
	b.ops = &gso_ops;
	b.gso = true;
	fake_batch(&b, ports, lens, "abcde", 5);
	const int s1[] = { -EINVAL };
	gso_reset(s1, 1);
	r = udp_batch_send(-1, &b);
	ck_assert_str_eq(sent, "a|b|c|d|e|");
	ck_assert_uint_eq(r.sent, 5);
	ck_assert_uint_eq(r.dropped, 0);
	ck_assert(!b.gso);

	/* the first run goes, then the socket is full: the second run is
	 * dropped whole, and counted */
	b.gso = true;
	fake_batch(&b, ports, lens, "abcde", 5);
	const int s2[] = { 1, -EAGAIN };
	gso_reset(s2, 2);
	r = udp_batch_send(-1, &b);
	ck_assert_str_eq(sent, "abc|");
	ck_assert_uint_eq(r.sent, 3);
	ck_assert_uint_eq(r.bytes, 30);
	ck_assert_uint_eq(r.dropped, 2);
	ck_assert_int_eq(r.error, EAGAIN);

	/* a run its destination refuses (EPERM) is dropped, the next goes */
	fake_batch(&b, ports, lens, "abcde", 5);
	const int s3[] = { -EPERM };
	gso_reset(s3, 1);
	r = udp_batch_send(-1, &b);
	ck_assert_str_eq(sent, "de|");
	ck_assert_uint_eq(r.sent, 2);
	ck_assert_uint_eq(r.dropped, 3);
	ck_assert(b.gso);
	udp_batch_free(&b);
}
END_TEST

/* On a real socket, a GSO run arrives as separate datagrams, whole and in
 * order (a receiver without UDP_GRO never sees them merged). */
START_TEST(test_gso_real)
{
	struct sockaddr_in s, c;
	struct udp_batch b;
	char out[100], in[200];
	int fs = udp_lo(&s), fc = udp_lo(&c);

	ck_assert_int_eq(udp_batch_init(&b, 16, 2048), 0);
	b.gso = true;
	for (int i = 0; i < 10; i++) {
		memset(out, 'a' + i, sizeof(out));
		ck_assert_int_eq(sendto(fc, out, i == 9 ? 50 : 100, 0,
		    (struct sockaddr *)&s, sizeof(s)), i == 9 ? 50 : 100);
	}
	for (unsigned got = 0; got < 10; ) {
		struct pollfd pfd = { .fd = fs, .events = POLLIN };
		int n;

		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		ck_assert_int_gt(n = udp_batch_recv(fs, &b), 0);
		for (int k = 0; k < n; k++)
			udp_batch_queue(&b, (unsigned)k);
		struct udp_batch_sent r = udp_batch_send(fs, &b);
		ck_assert_uint_eq(r.sent, (unsigned)n);
		got += (unsigned)n;
	}
	ck_assert(b.gso);	/* loopback does GSO */
	for (int i = 0; i < 10; i++) {
		struct pollfd pfd = { .fd = fc, .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		ck_assert_int_eq(recv(fc, in, sizeof(in), 0), i == 9 ? 50 : 100);
		for (int k = 0; k < (i == 9 ? 50 : 100); k++)
			ck_assert_int_eq(in[k], 'a' + i);
	}
	udp_batch_free(&b);
	close(fs);
	close(fc);
}
END_TEST

Suite *
udp_batch_suite(void)
{
	Suite *s = suite_create("udp_batch");
	TCase *tc = tcase_create("udp_batch");

	tcase_add_test(tc, test_recv_slots);
	tcase_add_test(tc, test_gso_runs);
	tcase_add_test(tc, test_gso_runs_by_source);
	tcase_add_test(tc, test_gso_refused_and_partial);
	tcase_add_test(tc, test_gso_real);
	suite_add_tcase(s, tc);
	return s;
}
