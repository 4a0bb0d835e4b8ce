/*
 * check_shard.c - the UDP sockets of the workers' own (shard.c) on real
 * loopback sockets: which socket each source's datagrams reach as shards
 * open and close, that the listener's own socket and a stranger in the
 * group get none, and that without shards the listener gets them all.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "shard.h"
#include "suites.h"

#define SOURCES	64

static struct listeners ls;
static char err[256];

static void
note(bool added, const struct listener *l)
{
	(void)added;
	(void)l;
}

static void
setup(void)
{
	memset(&ls, 0, sizeof(ls));
}

static void
teardown(void)
{
	listen_close_all(&ls);
}

/* One UDP listener on host:0; its bound address into *to. */
static struct listener *
listener(const char *spec)
{
	char *udp[] = { (char *)spec };
	const struct listen_spec want = { .udp = udp, .n_udp = 1, .backlog = 16 };

	ck_assert_msg(listen_reconcile(&ls, &want, note, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_uint_eq(ls.n, 1);
	return &ls.v[0];
}

/* Datagrams waiting on fd, read and counted. */
static int
drain(int fd)
{
	char buf[64];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/*
 * One datagram from each of SOURCES sockets (a port each) to l; got[k] is
 * what socket k of fds received (-1 ended).  Returns the total, which must
 * be SOURCES: every one lands on some socket of the group.
 */
static int
spray(const struct listener *l, const int *fds, int *got)
{
	int total = 0, k;

	for (int i = 0; i < SOURCES; i++) {
		int s = socket(l->bound.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ne(s, -1);
		ck_assert_int_eq(sendto(s, "x", 1, 0,
		    (const struct sockaddr *)&l->bound, l->bound_len), 1);
		close(s);
	}
	/* loopback delivers in sendto(): everything is queued by now */
	for (k = 0; fds[k] != -1; k++)
		total += got[k] = drain(fds[k]);
	return total;
}

/* Shards of ranks 0..n-1; fds: the listener's, then theirs, -1 ended. */
static void
open_ranks(struct listener *l, size_t n, int *fds)
{
	fds[0] = l->fd;
	for (size_t r = 0; r < n; r++) {
		ck_assert_msg(shard_open(l, r) == 0, "rank %zu: %s", r,
		    strerror(errno));
		fds[r + 1] = shard_fd(l, r);
	}
	fds[n + 1] = -1;
}

static void
spread(const char *spec)
{
	struct listener *l = listener(spec);
	int fds[8], got[8];

	ck_assert(shard_able(l));
	open_ranks(l, 3, fds);
	ck_assert_uint_eq(shard_count(l), 3);
	ck_assert_int_eq(spray(l, fds, got), SOURCES);
	ck_assert_int_eq(got[0], 0);	/* the listener's own: nothing */
	for (int k = 1; k <= 3; k++)
		ck_assert_msg(got[k] >= SOURCES / 12, "rank %d got %d of %d",
		    k - 1, got[k], SOURCES);
}

START_TEST(test_spread_ipv4) { spread("127.0.0.1:0"); }
END_TEST

START_TEST(test_spread_ipv6) { spread("[::1]:0"); }
END_TEST

/* A closed shard's sources go to the others (a dead worker's), none to
 * the listener's socket; opened again, it gets its share back. */
START_TEST(test_close_and_reopen)
{
	struct listener *l = listener("127.0.0.1:0");
	int fds[8], got[8], live[8];

	open_ranks(l, 3, fds);
	shard_close(l, 1);
	ck_assert_int_eq(shard_fd(l, 1), -1);
	ck_assert_uint_eq(shard_count(l), 2);
	live[0] = l->fd, live[1] = shard_fd(l, 0), live[2] = shard_fd(l, 2);
	live[3] = -1;
	ck_assert_int_eq(spray(l, live, got), SOURCES);
	ck_assert_int_eq(got[0], 0);
	ck_assert_int_gt(got[1], 0);
	ck_assert_int_gt(got[2], 0);

	open_ranks(l, 3, fds);
	ck_assert_int_eq(spray(l, fds, got), SOURCES);
	ck_assert_int_eq(got[0], 0);
	ck_assert_int_gt(got[2], 0);
}
END_TEST

/* A socket of the same user that joins the group gets nothing while
 * shards are open. */
START_TEST(test_stranger_gets_nothing)
{
	struct listener *l = listener("127.0.0.1:0");
	int fds[8], got[8], on = 1, stranger;

	open_ranks(l, 2, fds);
	stranger = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(setsockopt(stranger, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)), 0);
	ck_assert_int_eq(bind(stranger, (const struct sockaddr *)&l->bound,
	    l->bound_len), 0);
	fds[3] = stranger, fds[4] = -1;
	ck_assert_int_eq(spray(l, fds, got), SOURCES);
	ck_assert_int_eq(got[3], 0);
	ck_assert_int_eq(got[0], 0);
	close(stranger);
}
END_TEST

/* Trimmed to none, or given up, the listener's socket gets everything. */
START_TEST(test_none_left)
{
	struct listener *l = listener("127.0.0.1:0");
	int fds[8], got[8], alone[2];

	open_ranks(l, 2, fds);
	shard_trim(l, 1);
	ck_assert_uint_eq(shard_count(l), 1);
	ck_assert_int_eq(shard_fd(l, 1), -1);
	shard_trim(l, 0);
	ck_assert_uint_eq(shard_count(l), 0);
	alone[0] = l->fd, alone[1] = -1;
	ck_assert_int_eq(spray(l, alone, got), SOURCES);

	open_ranks(l, 2, fds);
	shard_give_up(l);
	ck_assert(!shard_able(l));
	ck_assert_uint_eq(shard_count(l), 0);
	ck_assert_int_eq(shard_open(l, 0), -1);
	ck_assert_int_eq(errno, EOPNOTSUPP);
	ck_assert_int_eq(spray(l, alone, got), SOURCES);
}
END_TEST

/* A socket bound without SO_REUSEPORT (systemd's, without ReusePort=yes)
 * cannot have shards, and a TCP listener never does. */
START_TEST(test_not_able)
{
	struct listener tcp = { .fd = -1, .proto = PROTO_TCP, .reuseport = true };
	struct listener *l = listener("127.0.0.1:0");

	ck_assert(!shard_able(&tcp));
	ck_assert(shard_able(l));
	l->reuseport = false;
	ck_assert_int_eq(shard_open(l, 0), -1);
	ck_assert_int_eq(errno, EOPNOTSUPP);
}
END_TEST

Suite *
shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("shard");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_spread_ipv4);
	tcase_add_test(tc, test_spread_ipv6);
	tcase_add_test(tc, test_close_and_reopen);
	tcase_add_test(tc, test_stranger_gets_nothing);
	tcase_add_test(tc, test_none_left);
	tcase_add_test(tc, test_not_able);
	suite_add_tcase(s, tc);
	return s;
}
