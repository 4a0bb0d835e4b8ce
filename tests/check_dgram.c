/* check_dgram.c - batches on real sockets: slots, sources, MSG_TRUNC. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dgram.h"
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
	struct dgram_batch b;
	int fs = udp_lo(&s), f1 = udp_lo(&c1), f2 = udp_lo(&c2);

	ck_assert_int_eq(dgram_init(&b, 2, 200), 0);
	ck_assert_int_eq(dgram_recv(fs, &b), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(sendto(f1, "one", 3, 0, (struct sockaddr *)&s, sizeof(s)), 3);
	ck_assert_int_eq(sendto(f2, big, sizeof(big), 0, (struct sockaddr *)&s,
	    sizeof(s)), (ssize_t)sizeof(big));
	ck_assert_int_eq(sendto(f1, "three", 5, 0, (struct sockaddr *)&s, sizeof(s)), 5);
	ck_assert_int_eq(dgram_recv(fs, &b), 2);
	ck_assert_uint_eq(dgram_len(&b, 0), 3);
	ck_assert(dgram_whole(&b, 0));
	ck_assert_mem_eq(dgram_data(&b, 0), "one", 3);
	ck_assert_uint_eq(((const struct sockaddr_in *)dgram_from(&b, 0))->sin_port,
	    c1.sin_port);
	ck_assert_uint_eq(dgram_len(&b, 1), sizeof(big));
	ck_assert(!dgram_whole(&b, 1));
	ck_assert_uint_eq(((const struct sockaddr_in *)dgram_from(&b, 1))->sin_port,
	    c2.sin_port);
	ck_assert_int_eq(dgram_recv(fs, &b), 1);
	ck_assert_mem_eq(dgram_data(&b, 0), "three", 5);
	/* queued back: sent in one call, to the right source */
	dgram_queue(&b, 0);
	struct dgram_sent r = dgram_send(fs, &b);
	ck_assert_uint_eq(r.sent, 1);
	ck_assert_uint_eq(r.bytes, 5);
	ck_assert_uint_eq(r.dropped, 0);
	char in[16];
	ck_assert_int_eq(recv(f1, in, sizeof(in), 0), 5);
	ck_assert_mem_eq(in, "three", 5);
	dgram_free(&b);
	close(fs);
	close(f1);
	close(f2);
}
END_TEST

Suite *
dgram_suite(void)
{
	Suite *s = suite_create("dgram");
	TCase *tc = tcase_create("dgram");

	tcase_add_test(tc, test_recv_slots);
	suite_add_tcase(s, tc);
	return s;
}
