/*
 * check_handoff_worker.c - the worker's side of the handoff
 * (handoff_worker.c): its connections out to the master in a batch and
 * the answer awaited, adopted ones in, with their state and sockets; the
 * wire format itself is check_handoff_wire.c's.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "handoff_wire.h"
#include "handoff_worker.h"
#include "proxy_conn.h"
#include "suites.h"
#include "unitlib.h"
#include "util.h"

static struct handoff_rec
rec(const char *pend)
{
	struct handoff_rec r = { .bytes = 1, .peerlen = sizeof(struct sockaddr_in) };

	r.peer.in.sin_family = AF_INET;
	r.peer.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.pend = pend;
	r.pend_len = (uint32_t)strlen(pend);
	return r;
}

/* A worker refuses an adopt message whose state does not match. */
START_TEST(test_carry_in_refuses)
{
	struct conn *out[4];
	struct handoff_rec v[2] = { rec("a"), rec("b") };
	const char *why;
	int sv[2], fds[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fds[0] = handoff_encode(v, 2);		/* two records, one socket */
	fds[1] = sv[0];
	ck_assert_int_eq(handoff_worker_in(fds, 2, 0, out, &why), -1);
	ck_assert_str_eq(why, "not a TCP connection");
	ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);	/* taken and closed */
	close(sv[1]);
}
END_TEST

/* A connected TCP socket on loopback (the other end is closed:
 * handoff_worker_in() asks only that it is one). */
static int
tcp_socket(void)
{
	int c, s = u_tcp_pair(&c, NULL, NULL);

	close(c);
	return s;
}

static void
set_in(union sockaddr_any *u, socklen_t *len, uint32_t addr, uint16_t port)
{
	memset(u, 0, sizeof(*u));
	u->in.sin_family = AF_INET;
	u->in.sin_addr.s_addr = htonl(addr);
	u->in.sin_port = htons(port);
	*len = sizeof(u->in);
}

/*
 * A connection that came through a balancer keeps both addresses over a
 * handoff: the client its PROXY header named, and the balancer (the
 * socket's peer, "via" in its log lines); a balancer's own connection stays
 * one (not logged).
 */
START_TEST(test_carry_keeps_the_balancer)
{
	struct conn a = { .bytes = 3 }, b = { .balancer = true }, *out[2];
	struct handoff_rec v[2];
	const char *why = NULL;
	int fds[3];

	set_in(&a.peer, &a.peerlen, 0x0a010203, 4000);		/* 10.1.2.3 */
	set_in(&a.via, &a.vialen, 0x7f000001, 5555);
	set_in(&b.peer, &b.peerlen, 0x7f000001, 5556);
	handoff_worker_rec(&v[0], &a, 0);
	handoff_worker_rec(&v[1], &b, 0);
	/* on the wire, peer is the socket's */
	ck_assert_int_eq(ntohs(v[0].peer.in.sin_port), 5555);
	ck_assert_int_eq(ntohs(v[0].proxy.in.sin_port), 4000);
	fds[0] = handoff_encode(v, 2);
	ck_assert_int_ne(fds[0], -1);
	fds[1] = tcp_socket();
	fds[2] = tcp_socket();
	ck_assert_int_eq(handoff_worker_in(fds, 3, 0, out, &why), 2);
	ck_assert_uint_eq(out[0]->peerlen, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohl(out[0]->peer.in.sin_addr.s_addr), 0x0a010203);
	ck_assert_int_eq(ntohs(out[0]->peer.in.sin_port), 4000);
	ck_assert_uint_eq(out[0]->vialen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(ntohs(out[0]->via.in.sin_port), 5555);
	ck_assert(!out[0]->balancer);
	ck_assert_uint_eq(out[0]->bytes, 3);
	ck_assert(out[1]->balancer);
	ck_assert_uint_eq(out[1]->vialen, 0);
	ck_assert_int_eq(ntohs(out[1]->peer.in.sin_port), 5556);
	for (int i = 0; i < 2; i++) {
		close(out[i]->fd);
		conn_release(out[i]);
		free(out[i]);
	}
}
END_TEST

/* A balancer's connection inside its PROXY header goes over with the part
 * read so far, as the header's bytes (not as echo owed to anyone). */
START_TEST(test_carry_partial_header)
{
	static const char part[] = "PROXY TCP4 192.0.2.7 ";
	struct conn a = { 0 }, *out[1];
	struct handoff_rec v[1];
	const char *why = NULL;
	int fds[2];

	set_in(&a.peer, &a.peerlen, 0x7f000001, 5555);
	ck_assert_int_eq(proxy_conn_start(&a, 1000), 0);
	memcpy(a.px->buf, part, strlen(part));
	a.px->len = strlen(part);
	a.last_ms = 400;
	handoff_worker_rec(&v[0], &a, 1000);
	ck_assert(v[0].proxyin);
	ck_assert_uint_eq(handoff_owed(&v[0]), 0);
	fds[0] = handoff_encode(v, 1);
	fds[1] = tcp_socket();
	ck_assert_int_eq(handoff_worker_in(fds, 2, 5000, out, &why), 1);
	ck_assert_ptr_nonnull(out[0]->px);
	ck_assert_uint_eq(out[0]->px->len, strlen(part));
	ck_assert(memcmp(out[0]->px->buf, part, strlen(part)) == 0);
	ck_assert_ptr_null(out[0]->pend);
	ck_assert_uint_eq(out[0]->last_ms, 4400);	/* came 600 ms ago */
	close(out[0]->fd);
	proxy_conn_end(out[0]);
	free(out[0]);

	proxy_conn_end(&a);
}
END_TEST

/* What came on the channel while the batch waited for its answer. */
struct other_seen {
	int	 calls;
	char	 type;
};

static void
other(void *arg, char type, int *fds, size_t nfds)
{
	struct other_seen *o = arg;

	o->calls++;
	o->type = type;
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
}

/* The port of fd's own end, to tell sockets apart after SCM_RIGHTS. */
static unsigned
local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static struct conn *
open_conn(const char *pend, uint64_t bytes, uint64_t last_ms)
{
	struct conn *c = calloc(1, sizeof(*c));

	c->fd = tcp_socket();
	set_in(&c->peer, &c->peerlen, 0x7f000001, 6000 + (unsigned)bytes);
	c->pend = strdup(pend);
	c->pend_len = (uint32_t)strlen(pend);
	c->bytes = bytes;
	c->last_ms = last_ms;
	return c;
}

/*
 * A batch out over the channel, as the master sees it: one message with
 * the state and the sockets in order; an order that comes before the
 * master's answer is handled, the answer ends the wait.  The same message
 * as an adopt gives the connections back with their state and sockets.
 */
START_TEST(test_batch_out_and_in)
{
	struct conn *v[2] = { open_conn("one", 1, 900), open_conn("two!", 2, 990) };
	struct other_seen seen = { 0 };
	struct handoff_batch b;
	struct conn *out[2];
	int sv[2], got[HANDOFF_MAX_FDS];
	unsigned port[2] = { local_port(v[0]->fd), local_port(v[1]->fd) };
	const char *why = NULL;
	size_t n;
	char type;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	/* the master's side, queued before the worker waits for it */
	ck_assert_int_eq(handoff_send(sv[1], 'q', NULL, 0), 0);
	ck_assert_int_eq(handoff_send(sv[1], HANDOFF_MSG_ACCEPTED, NULL, 0), 0);
	ck_assert_int_eq(handoff_worker_out(sv[0], v, 2, 1000, other, &seen), 1);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.type, 'q');
	ck_assert_int_eq(handoff_recv(sv[1], &type, got, nitems(got), &n), 1);
	ck_assert_int_eq(type, HANDOFF_MSG_BATCH);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(handoff_decode(got[0], 2, &b, &why), 0);
	ck_assert_uint_eq(b.v[0].idle_ms, 100);
	ck_assert_uint_eq(b.v[1].pend_len, 4);
	ck_assert(memcmp(b.v[1].pend, "two!", 4) == 0);
	ck_assert_int_eq(ntohs(b.v[1].peer.in.sin_port), 6002);
	handoff_batch_free(&b);
	for (int i = 0; i < 2; i++)	/* the same sockets, not copies of them */
		ck_assert_uint_eq(local_port(got[i + 1]), port[i]);

	ck_assert_int_eq(handoff_worker_in(got, 3, 5000, out, &why), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(local_port(out[i]->fd), port[i]);
		ck_assert(out[i]->adopted);
		ck_assert_uint_eq(out[i]->pend_len, v[i]->pend_len);
		ck_assert(memcmp(out[i]->pend, v[i]->pend, v[i]->pend_len) == 0);
		ck_assert_uint_eq(out[i]->bytes, v[i]->bytes);
		ck_assert_uint_eq(out[i]->last_ms, 5000 - (1000 - v[i]->last_ms));
		close(out[i]->fd);
		conn_release(out[i]);
		free(out[i]);
		close(v[i]->fd);
		conn_release(v[i]);
		free(v[i]);
	}
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Refused, or the channel gone: the worker keeps its connections. */
START_TEST(test_batch_refused_or_no_master)
{
	struct conn *v[1] = { open_conn("x", 1, 0) };
	struct other_seen seen = { 0 };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(handoff_send(sv[1], HANDOFF_MSG_REFUSED, NULL, 0), 0);
	ck_assert_int_eq(handoff_worker_out(sv[0], v, 1, 0, other, &seen), 0);
	ck_assert_int_ne(fcntl(v[0]->fd, F_GETFD), -1);	/* still ours */
	/* the batch is sent, then the master's end of the channel ends */
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	errno = 0;
	ck_assert_int_eq(handoff_worker_out(sv[0], v, 1, 0, other, &seen), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(seen.calls, 0);
	close(sv[0]);
	close(sv[1]);
	close(v[0]->fd);
	conn_release(v[0]);
	free(v[0]);
}
END_TEST

Suite *
handoff_worker_suite(void)
{
	Suite *s = suite_create("handoff_worker");
	TCase *tc = tcase_create("handoff_worker");

	tcase_add_test(tc, test_carry_in_refuses);
	tcase_add_test(tc, test_carry_keeps_the_balancer);
	tcase_add_test(tc, test_carry_partial_header);
	tcase_add_test(tc, test_batch_out_and_in);
	tcase_add_test(tc, test_batch_refused_or_no_master);
	suite_add_tcase(s, tc);
	return s;
}
