/* check_conn.c - the connection state machine over a real socket pair. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "pump.h"
#include "suites.h"
#include "unitlib.h"
#include "util.h"

#define BUFSZ	4096

static int sv[2];	/* sv[0]: the client; sv[1]: the conn's socket */
static struct conn c;
static struct pump pump;

static void
setup(void)
{
	int small = 4096;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	memset(&c, 0, sizeof(c));
	c.fd = sv[1];
	ck_assert_int_eq(pump_init(&pump, BUFSZ), 0);
}

static void
teardown(void)
{
	conn_release(&c);
	pump_free(&pump);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(test_echo_binary)
{
	const char msg[] = "abc\0def\n\xff";
	char got[sizeof(msg)];

	ck_assert_int_eq(write(sv[0], msg, sizeof(msg)), sizeof(msg));
	ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
	ck_assert_int_eq(read(sv[0], got, sizeof(got)), sizeof(msg));
	ck_assert_mem_eq(got, msg, sizeof(msg));
	ck_assert_uint_eq(c.bytes, sizeof(msg));
	ck_assert_ptr_null(c.pend);
	ck_assert_uint_eq(conn_events(&c), EPOLLIN);
}
END_TEST

START_TEST(test_nothing_to_read)
{
	ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
	ck_assert_uint_eq(c.bytes, 0);
}
END_TEST

START_TEST(test_half_close)
{
	ck_assert_int_eq(write(sv[0], "x", 1), 1);
	shutdown(sv[0], SHUT_WR);
	ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
	ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_DONE);
	ck_assert(c.rd_eof);
}
END_TEST

/*
 * The client writes without reading: the conn keeps at most one read's
 * worth, stops reading (EPOLLOUT only) and, once the client reads, delivers
 * every byte in order.
 */
START_TEST(test_backpressure_in_order)
{
	enum { TOTAL = 256 * 1024 };
	unsigned char *out = malloc(TOTAL), *in = malloc(TOTAL);
	size_t sent = 0, got = 0;
	int rounds = 0;

	for (size_t i = 0; i < TOTAL; i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	while (got < TOTAL && rounds++ < 1000000) {
		ssize_t n;
		bool reading = rounds > 200;	/* first, a client that never reads */

		if (sent < TOTAL && (n = write(sv[0], out + sent, TOTAL - sent)) > 0)
			sent += (size_t)n;
		if (conn_events(&c) == EPOLLOUT)
			ck_assert_int_eq(conn_writable(&c), CONN_KEEP);
		else
			ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
		ck_assert_uint_le(c.pend_len, BUFSZ);
		if (!reading && rounds == 200) {
			/* stuck: the echo is not being read */
			ck_assert_uint_eq(conn_events(&c), EPOLLOUT);
			ck_assert_ptr_nonnull(c.pend);
			size_t before = c.pend_len;
			ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
			ck_assert_uint_eq(c.pend_len, before);
		}
		if (reading && (n = read(sv[0], in + got, TOTAL - got)) > 0)
			got += (size_t)n;
	}
	ck_assert_uint_eq(got, TOTAL);
	ck_assert_mem_eq(in, out, TOTAL);
	ck_assert_uint_eq(c.bytes, TOTAL);
	ck_assert_ptr_null(c.pend);
	free(out);
	free(in);
}
END_TEST

START_TEST(test_peer_gone)
{
	int big = 1 << 20;
	char *junk = calloc(1, big);

	/* Fill the echo path, then vanish: sending fails, the conn says so. */
	ck_assert_int_gt(write(sv[0], junk, 2048), 0);
	close(sv[0]);
	sv[0] = open("/dev/null", O_RDONLY);
	enum conn_step st = conn_readable(&c, &pump, 0);
	ck_assert(st == CONN_FAIL);
	ck_assert(errno == EPIPE || errno == ECONNRESET);
	free(junk);
}
END_TEST

/*
 * The drain's deadline: conn_shut() sends what the socket takes of the
 * unsent echo, then end of file; what the client still sends is read and
 * dropped until its own end of file.
 */
START_TEST(test_shut_then_discard)
{
	char buf[BUFSZ], scratch[512];
	size_t got = 0;
	ssize_t n;

	/* a client that does not read: an echo is left unsent */
	memset(buf, 'e', sizeof(buf));
	while (c.pend == NULL && write(sv[0], buf, sizeof(buf)) > 0)
		ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
	ck_assert_ptr_nonnull(c.pend);
	ck_assert_int_eq(conn_shut(&c), 0);
	ck_assert(c.shut);
	ck_assert_ptr_null(c.pend);		/* what did not fit is dropped */
	ck_assert_uint_eq(conn_events(&c), EPOLLIN);
	/* the client reads every byte echoed, then end of file */
	while ((n = read(sv[0], buf, sizeof(buf))) > 0)
		got += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(got, c.bytes);
	/* its next bytes are dropped, not echoed; its close ends it */
	ck_assert_int_eq(write(sv[0], "more", 4), 4);
	ck_assert_int_eq(conn_discard(&c, scratch, sizeof(scratch)), CONN_KEEP);
	ck_assert_uint_eq(c.bytes, got);
	shutdown(sv[0], SHUT_WR);
	ck_assert_int_eq(conn_discard(&c, scratch, sizeof(scratch)), CONN_DONE);
}
END_TEST

/*
 * A stream's share of a turn (turn.h): a connection that streams reads no
 * more than its budget, by counting the bytes left in its receive queue,
 * and stays a stream though that read was short of a round; alone
 * (budget 0) it takes more than one round.
 */
START_TEST(test_stream_share)
{
	char buf[3 * BUFSZ];
	int queued;

	memset(buf, 's', sizeof(buf));
	ck_assert_int_eq(write(sv[0], buf, sizeof(buf)), sizeof(buf));
	c.streaming = true;
	ck_assert_int_eq(conn_readable(&c, &pump, 1000), CONN_KEEP);
	ck_assert_uint_eq(c.bytes + c.pend_len, 1000);
	ck_assert_int_eq(ioctl(c.fd, FIONREAD, &queued), 0);
	ck_assert_int_eq(queued, sizeof(buf) - 1000);
	ck_assert(c.streaming);
	/* the client reads its echo; alone, the stream takes rounds */
	while (c.pend_len > 0) {
		while (read(sv[0], buf, sizeof(buf)) > 0)
			;
		ck_assert_int_eq(conn_writable(&c), CONN_KEEP);
	}
	ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
	ck_assert_int_eq(ioctl(c.fd, FIONREAD, &queued), 0);
	ck_assert_uint_eq(c.bytes + c.pend_len, sizeof(buf) - queued);
	ck_assert_uint_gt(c.bytes + c.pend_len, 1000 + BUFSZ / 2);
}
END_TEST

/*
 * A stream whose read comes short, but not small, stays a stream (spliced,
 * and taking turns); a small read ends it.  By the flag, not by timing.
 */
START_TEST(test_stream_hysteresis)
{
	static char buf[3 * CONN_STREAM_LOW];
	struct pump big;

	ck_assert_int_eq(pump_init(&big, 4 * sizeof(buf)), 0);
	memset(buf, 'h', sizeof(buf));
	c.streaming = true;
	/* a third of a round: short, not small */
	ck_assert_int_eq(write(sv[0], buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(conn_readable(&c, &big, 0), CONN_KEEP);
	ck_assert_uint_eq(c.bytes + c.pend_len, sizeof(buf));
	ck_assert(c.streaming);
	while (c.pend_len > 0) {
		while (read(sv[0], buf, sizeof(buf)) > 0)
			;
		ck_assert_int_eq(conn_writable(&c), CONN_KEEP);
	}
	/* a message */
	ck_assert_int_eq(write(sv[0], "ping", 4), 4);
	ck_assert_int_eq(conn_readable(&c, &big, 0), CONN_KEEP);
	ck_assert(!c.streaming);
	pump_free(&big);
}
END_TEST

/* The list's last_ms in order, head to tail, and its links both ways. */
static void
expect_order(const struct conn_list *l, const uint64_t *want, size_t n)
{
	const struct conn *at = l->head, *prev = NULL;
	size_t i = 0;

	for (; at != NULL; prev = at, at = at->next, i++) {
		ck_assert_uint_lt(i, n);
		ck_assert_uint_eq(at->last_ms, want[i]);
		ck_assert_ptr_eq(at->prev, prev);
	}
	ck_assert_uint_eq(i, n);
	ck_assert_ptr_eq(l->tail, prev);
}

/*
 * Adopted connections go where their idle clock puts them, not behind
 * those the worker accepted since: expiry looks only at the head.  Out of
 * order in the batch, older than all, between, equal, newer than all.
 */
START_TEST(test_list_merge_by_idle_clock)
{
	static const uint64_t mine[] = { 100, 200, 300 };
	static const uint64_t adopted[] = { 250, 5, 300, 400, 150, 0 };
	static const uint64_t want[] = { 0, 5, 100, 150, 200, 250, 300, 300, 400 };
	struct conn k[nitems(mine) + nitems(adopted)], *v[nitems(adopted)];
	struct conn_list l = { NULL, NULL }, e = { NULL, NULL };

	memset(k, 0, sizeof(k));
	for (size_t i = 0; i < nitems(mine); i++) {
		k[i].last_ms = mine[i];
		conn_list_append(&l, &k[i]);
	}
	for (size_t i = 0; i < nitems(adopted); i++) {
		v[i] = &k[nitems(mine) + i];
		v[i]->last_ms = adopted[i];
	}
	conn_list_merge(&l, v, nitems(adopted));
	expect_order(&l, want, nitems(want));
	/* nothing into an empty list, then two into it */
	conn_list_merge(&e, v, 0);
	ck_assert_ptr_null(e.head);
	v[0]->last_ms = 9;
	v[1]->last_ms = 3;
	conn_list_merge(&e, v, 2);
	expect_order(&e, (const uint64_t[]){ 3, 9 }, 2);
}
END_TEST

/* One streamed round of a fresh connection on fd with the given ends;
 * returns where it found the peer. */
static enum conn_host
streamed(int client, int fd, const union sockaddr_any *peer,
    const char *via)
{
	char buf[BUFSZ];
	struct conn t = { .fd = fd, .streaming = true };
	struct sockaddr_storage ss;

	t.peer = *peer;
	if (via != NULL) {
		memcpy(&t.via, u_sockaddr(&ss, via, 7), sizeof(t.via.in));
		t.vialen = sizeof(t.via.in);
	}
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(write(client, buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(conn_readable(&t, &pump, 0), CONN_KEEP);
	ck_assert_uint_eq(t.bytes + t.pend_len, sizeof(buf));
	while (read(client, buf, sizeof(buf)) > 0 || t.pend_len > 0)
		if (t.pend_len > 0)
			ck_assert_int_eq(conn_writable(&t), CONN_KEEP);
	conn_release(&t);
	return t.host;
}

/*
 * Where the peer is, asked once a connection streams (conn.c copies a
 * stream from this host, splices one from elsewhere): loopback is this
 * host; the fixture's pair, with no address, is not; through a balancer,
 * the balancer's address decides, not the client's.  A message is never
 * asked about: the connection's first read costs no extra call.
 */
START_TEST(test_stream_host)
{
	union sockaddr_any peer, far;
	struct sockaddr_storage ss;
	socklen_t plen;
	int fds[2];

	memcpy(&far, u_sockaddr(&ss, "192.0.2.7", 40000), sizeof(far.in));
	ck_assert_int_eq(write(sv[0], "ping", 4), 4);
	ck_assert_int_eq(conn_readable(&c, &pump, 0), CONN_KEEP);
	ck_assert_int_eq(c.host, CONN_HOST_UNKNOWN);
	ck_assert_int_eq(streamed(sv[0], sv[1], &far, NULL), CONN_HOST_OTHER);
	plen = sizeof(peer);
	fds[1] = u_tcp_pair(&fds[0], &peer.sa, &plen);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	ck_assert_int_eq(streamed(fds[0], fds[1], &peer, NULL), CONN_HOST_SAME);
	ck_assert_int_eq(streamed(fds[0], fds[1], &far, NULL), CONN_HOST_OTHER);
	ck_assert_int_eq(streamed(fds[0], fds[1], &far, "127.0.0.1"),
	    CONN_HOST_SAME);
	ck_assert_int_eq(streamed(fds[0], fds[1], &peer, "192.0.2.9"),
	    CONN_HOST_OTHER);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("conn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_echo_binary);
	tcase_add_test(tc, test_nothing_to_read);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_backpressure_in_order);
	tcase_add_test(tc, test_peer_gone);
	tcase_add_test(tc, test_shut_then_discard);
	tcase_add_test(tc, test_stream_share);
	tcase_add_test(tc, test_stream_hysteresis);
	tcase_add_test(tc, test_stream_host);
	tcase_add_test(tc, test_list_merge_by_idle_clock);
	suite_add_tcase(s, tc);
	return s;
}
