/* check_udpshare.c - the UDP lease: one reader at a time, a lapsed or
 * dead holder replaced, help when the holder cannot keep up; and the
 * sockets out of a worker's epoll set while another reads. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "listen.h"
#include "udpshare.h"
#include "suites.h"

START_TEST(test_lease_one_reader)
{
	_Atomic uint64_t lease = 0;

	ck_assert(udpshare_take(&lease, 0, 1000));
	ck_assert(!udpshare_take(&lease, 1, 1000));
	ck_assert(udpshare_take(&lease, 0, 1010));	/* renewed... */
	ck_assert(!udpshare_take(&lease, 1, 1000 + UDPSHARE_LEASE_MS + 5));
	ck_assert_uint_eq(udpshare_lapse_ms(&lease, 1015),
	    1010 + UDPSHARE_LEASE_MS);
	/* ...until its holder stops reading: then the next one takes it */
	ck_assert(udpshare_take(&lease, 1, 1010 + UDPSHARE_LEASE_MS));
	ck_assert(!udpshare_take(&lease, 0, 1010 + UDPSHARE_LEASE_MS));
	udpshare_release(&lease, 0);			/* not its own: no-op */
	ck_assert(!udpshare_take(&lease, 0, 1010 + UDPSHARE_LEASE_MS));
	udpshare_release(&lease, 1);
	ck_assert_uint_eq(udpshare_lapse_ms(&lease, 2000), 2000);
	ck_assert(udpshare_take(&lease, 0, 2000));
}
END_TEST

/* The holder asks for help when it left datagrams waiting: the others
 * read too, and stop when it says the queue is empty again. */
START_TEST(test_lease_help)
{
	_Atomic uint64_t lease = 0;

	ck_assert(udpshare_take(&lease, 3, 1000));
	udpshare_backlog(&lease, 2, true);		/* not the holder */
	ck_assert(!udpshare_take(&lease, 2, 1001));
	udpshare_backlog(&lease, 3, true);
	ck_assert(udpshare_take(&lease, 2, 1001));
	ck_assert_uint_eq(udpshare_lapse_ms(&lease, 1001), 1001);
	ck_assert(udpshare_take(&lease, 3, 1002));	/* renewal keeps it */
	ck_assert(udpshare_take(&lease, 2, 1002));
	udpshare_backlog(&lease, 3, false);
	ck_assert(!udpshare_take(&lease, 2, 1003));
}
END_TEST

/* A lease no holder could have written (lapsing further than a lease
 * away: the page is writable by every worker) does not lock UDP out. */
START_TEST(test_lease_bogus)
{
	_Atomic uint64_t lease = (uint64_t)5 << 48 | 900000;

	ck_assert(udpshare_take(&lease, 0, 1000));
	lease = UINT64_MAX;
	ck_assert(udpshare_take(&lease, 1, 1000));
}
END_TEST

static int
udp_lo(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, len), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

/* A worker woken while another holds the lease leaves the socket alone
 * (out of its set: no wake-up per datagram) until the lease lapses. */
START_TEST(test_disarm_until_lapse)
{
	struct listener l = { .proto = PROTO_UDP };
	struct listeners ls = { .v = &l, .n = 1 };
	_Atomic uint64_t lease = 0;
	struct epoll_event ev;
	struct sockaddr_in sa;
	struct udpshare u;
	int ep = epoll_create1(EPOLL_CLOEXEC), c = socket(AF_INET, SOCK_DGRAM, 0);

	l.fd = udp_lo(&sa);
	ck_assert_int_eq(udpshare_init(&u, &lease, 1, ep, &ls, 1ULL << 63, 1000), 0);
	ck_assert_int_eq(sendto(c, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)), 1);
	ck_assert_int_eq(epoll_wait(ep, &ev, 1, 2000), 1);
	ck_assert_uint_eq(ev.data.u64, 1ULL << 63);
	ck_assert(udpshare_take(&lease, 0, 1000));	/* slot 0 reads */
	ck_assert(!udpshare_wake(&u, 1001));
	ck_assert(!u.armed);
	ck_assert_int_eq(epoll_wait(ep, &ev, 1, 0), 0);	/* out of the set */
	ck_assert_uint_eq(udpshare_next_ms(&u, 5000), 1000 + UDPSHARE_LEASE_MS);
	udpshare_tick(&u, 1010);
	ck_assert(!u.armed);
	/* slot 0 stopped reading (died): back in when its lease lapses */
	udpshare_tick(&u, 1000 + UDPSHARE_LEASE_MS);
	ck_assert(u.armed);
	ck_assert_int_eq(epoll_wait(ep, &ev, 1, 2000), 1);
	ck_assert(udpshare_wake(&u, 1000 + UDPSHARE_LEASE_MS));
	udpshare_stop(&u);
	ck_assert_uint_eq(lease, 0);
	close(l.fd);
	close(c);
	close(ep);
}
END_TEST

Suite *
udpshare_suite(void)
{
	Suite *s = suite_create("udpshare");
	TCase *tc = tcase_create("udpshare");

	tcase_add_test(tc, test_lease_one_reader);
	tcase_add_test(tc, test_lease_help);
	tcase_add_test(tc, test_lease_bogus);
	tcase_add_test(tc, test_disarm_until_lapse);
	suite_add_tcase(s, tc);
	return s;
}
