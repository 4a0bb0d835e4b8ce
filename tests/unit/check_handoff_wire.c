/* check_handoff_wire.c - the handoff's wire format (handoff_wire.c), its
 * checks on what arrives, the channel messages, and restartjob.c's test
 * seam.  The worker's side is check_handoff_worker.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handoff_wire.h"
#include "restartjob.h"
#include "suites.h"
#include "util.h"

static struct handoff_rec
rec(const char *pend)
{
	struct handoff_rec r = { .id = 7, .bytes = 1234, .start_us = 99,
	    .idle_ms = 5, .peerlen = sizeof(struct sockaddr_in) };

	r.peer.in.sin_family = AF_INET;
	r.peer.in.sin_port = htons(4242);
	r.peer.in.sin_addr.s_addr = htonl(0x7f000001);
	r.pend = pend;
	r.pend_len = pend ? (uint32_t)strlen(pend) : 0;
	return r;
}

/* Encodes v into a fresh buffer of *len bytes. */
static char *
encode(const struct handoff_rec *v, size_t n, size_t *len)
{
	char *buf;

	*len = handoff_encoded_len(v, n);
	buf = malloc(*len);
	handoff_encode_buf(v, n, buf);
	return buf;
}

START_TEST(test_roundtrip)
{
	struct handoff_rec v[2] = { rec("unsent"), rec(NULL) };
	struct handoff_batch b;
	const char *why = NULL;
	size_t len;
	char *buf;

	v[1].peerlen = sizeof(struct sockaddr_in6);
	v[1].peer.in6.sin6_family = AF_INET6;
	v[1].peer.in6.sin6_addr = in6addr_loopback;
	v[1].proxy = v[0].peer;
	v[1].proxylen = v[0].peerlen;
	v[0].rd_eof = true;
	buf = encode(v, 2, &len);
	ck_assert_int_eq(handoff_decode_buf(buf, len, 2, &b, &why), 0);
	ck_assert_uint_eq(b.n, 2);
	ck_assert_uint_eq(b.v[0].pend_len, 6);
	ck_assert(memcmp(b.v[0].pend, "unsent", 6) == 0);
	ck_assert(b.v[0].rd_eof);
	ck_assert_uint_eq(b.v[0].bytes, 1234);
	ck_assert_uint_eq(b.v[0].start_us, 99);
	ck_assert_uint_eq(b.v[0].idle_ms, 5);
	ck_assert_uint_eq(b.v[0].id, 7);
	ck_assert_int_eq(ntohs(b.v[0].peer.in.sin_port), 4242);
	ck_assert_int_eq(b.v[1].peer.sa.sa_family, AF_INET6);
	ck_assert_uint_eq(b.v[1].proxylen, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(b.v[1].pend_len, 0);
	handoff_batch_free(&b);
	/* HANDOFF_ANY: the count is the state's own */
	ck_assert_int_eq(handoff_decode_buf(buf, len, HANDOFF_ANY, &b, &why), 0);
	ck_assert_uint_eq(b.n, 2);
	handoff_batch_free(&b);
	free(buf);
}
END_TEST

/* Offsets in the format (handoff_wire.c): header 16 bytes, then per record
 * u64 id, bytes, start_us, idle_ms (32), u32 pend_len (32), u16 flags (36),
 * u8 peerlen (38), u8 proxylen (39), peer (40), proxy (68), pend (96). */
#define H		16
#define R_PENDLEN	(H + 32)
#define R_FLAGS		(H + 36)
#define R_PEERLEN	(H + 38)
#define R_PROXYLEN	(H + 39)
#define R_PEER		(H + 40)

static void
expect_bad(const char *buf, size_t len, size_t expect, const char *want)
{
	struct handoff_batch b;
	const char *why = NULL;

	ck_assert_int_eq(handoff_decode_buf(buf, len, expect, &b, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, want) != NULL, "want \"%s\", got \"%s\"",
	    want, why);
	ck_assert_ptr_null(b.v);
}

START_TEST(test_malformed)
{
	struct handoff_rec v[1] = { rec("abc") };
	size_t len;
	char *good = encode(v, 1, &len), *buf = malloc(len + 8);
	uint32_t u32;
	uint16_t u16;

#define FRESH()	memcpy(buf, good, len)
	FRESH();
	expect_bad(buf, 3, 1, "shorter than its header");
	buf[0] ^= 0x55;
	expect_bad(buf, len, 1, "unknown format");
	FRESH();
	u16 = HANDOFF_VERSION + 1;
	memcpy(buf + 4, &u16, 2);
	expect_bad(buf, len, 1, "another version");
	FRESH();
	expect_bad(buf, len, 2, "do not match in number");
	expect_bad(buf, len, 0, "do not match in number");
	u32 = 100000;				/* a count past any batch */
	memcpy(buf + 8, &u32, 4);
	expect_bad(buf, len, HANDOFF_ANY, "do not match in number");
	FRESH();
	expect_bad(buf, H + 50, 1, "cut short");
	expect_bad(buf, len - 1, 1, "out of bounds");
	FRESH();
	u32 = 0xffffffffu;			/* unsent length past the end */
	memcpy(buf + R_PENDLEN, &u32, 4);
	expect_bad(buf, len, 1, "out of bounds");
	FRESH();
	u32 = HANDOFF_MAX_PEND + 1;		/* and past the bound */
	memcpy(buf + R_PENDLEN, &u32, 4);
	expect_bad(buf, len, 1, "out of bounds");
	FRESH();
	u16 = 0x8000;
	memcpy(buf + R_FLAGS, &u16, 2);
	expect_bad(buf, len, 1, "unknown flags");
	FRESH();
	buf[R_PEERLEN] = 27;			/* IPv4 at IPv6's length */
	expect_bad(buf, len, 1, "invalid address");
	FRESH();
	buf[R_PEERLEN] = (char)200;		/* past the room */
	expect_bad(buf, len, 1, "invalid address");
	FRESH();
	u16 = AF_UNIX;
	memcpy(buf + R_PEER, &u16, 2);
	expect_bad(buf, len, 1, "invalid address");
	FRESH();
	buf[R_PROXYLEN] = 3;
	expect_bad(buf, len, 1, "invalid address");
	FRESH();
	memcpy(buf + len, "xx", 2);
	expect_bad(buf, len + 2, 1, "trailing bytes");
	/* nothing unsent and the client done: nothing to hand over */
	struct handoff_rec done = rec(NULL);
	done.rd_eof = true;
	free(good);
	good = encode(&done, 1, &len);
	memcpy(buf, good, len);
	expect_bad(buf, len, 1, "finished connection");
#undef FRESH
	free(good);
	free(buf);
}
END_TEST

/* An unsent echo longer than any buffer_size is refused even when the
 * bytes are there. */
START_TEST(test_pend_bound)
{
	size_t big = HANDOFF_MAX_PEND + 1, len;
	char *pend = calloc(1, big), *buf;
	struct handoff_rec r = rec(NULL);

	r.pend = pend;
	r.pend_len = (uint32_t)big;
	buf = encode(&r, 1, &len);
	expect_bad(buf, len, 1, "out of bounds");
	r.pend_len = HANDOFF_MAX_PEND;		/* the edge itself is fine */
	free(buf);
	buf = encode(&r, 1, &len);
	struct handoff_batch b;
	const char *why;
	ck_assert_int_eq(handoff_decode_buf(buf, len, 1, &b, &why), 0);
	handoff_batch_free(&b);
	free(buf);
	free(pend);
}
END_TEST

/* The memfd: sealed by the writer, or refused by the reader. */
START_TEST(test_memfd_sealed)
{
	struct handoff_rec v[1] = { rec("pending bytes") };
	struct handoff_batch b;
	const char *why;
	size_t len;
	char *buf = encode(v, 1, &len);
	int fd = handoff_encode(v, 1);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "x", 1), -1);	/* sealed */
	ck_assert_int_eq(handoff_decode(fd, 1, &b, &why), 0);
	ck_assert(memcmp(b.v[0].pend, "pending bytes", 13) == 0);
	handoff_batch_free(&b);
	close(fd);

	fd = memfd_create("unsealed", MFD_CLOEXEC);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(handoff_decode(fd, 1, &b, &why), -1);
	ck_assert_str_eq(why, "state not in a sealed memfd");
	close(fd);
	free(buf);
}
END_TEST

START_TEST(test_check_socket)
{
	int sv[2], ls, pfd[2];
	const char *why;
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(handoff_check_socket(sv[0], &why), -1);
	ck_assert_str_eq(why, "not a TCP connection");
	ls = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(ls, 1), 0);
	ck_assert_int_eq(handoff_check_socket(ls, &why), -1);	/* a listener */
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(handoff_check_socket(pfd[0], &why), -1);
	ck_assert_str_eq(why, "not a socket");
	socklen_t l = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &l);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, l), 0);
	ck_assert_int_eq(handoff_check_socket(c, &why), 0);
	int u = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(handoff_check_socket(u, &why), -1);
	ck_assert_str_eq(why, "not connected");
	close(sv[0]); close(sv[1]); close(ls); close(pfd[0]); close(pfd[1]);
	close(c); close(u);
}
END_TEST

/* Messages with descriptors on a channel, and orders without. */
START_TEST(test_channel_messages)
{
	int sv[2], fds[HANDOFF_MAX_FDS], got[HANDOFF_MAX_FDS];
	size_t n;
	char type;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	for (int i = 0; i < HANDOFF_MAX_FDS; i++)
		fds[i] = STDERR_FILENO;
	ck_assert_int_eq(handoff_send(sv[0], 'B', fds, HANDOFF_MAX_FDS), 0);
	ck_assert_int_eq(handoff_send(sv[0], 'B', fds, HANDOFF_MAX_FDS + 1), -1);
	ck_assert_int_eq(write(sv[0], "D", 1), 1);	/* an order, as pool_order() */
	ck_assert_int_eq(handoff_recv(sv[1], &type, got, nitems(got), &n), 1);
	ck_assert_int_eq(type, 'B');
	ck_assert_uint_eq(n, HANDOFF_MAX_FDS);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_ne(fcntl(got[i], F_GETFD) & FD_CLOEXEC, 0);
		close(got[i]);
	}
	ck_assert_int_eq(handoff_recv(sv[1], &type, got, nitems(got), &n), 1);
	ck_assert_int_eq(type, 'D');
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(handoff_recv(sv[1], &type, got, nitems(got), &n), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* more descriptors than the reader takes: all closed, EPROTO */
	ck_assert_int_eq(handoff_send(sv[0], 'C', fds, 3), 0);
	ck_assert_int_eq(handoff_recv(sv[1], &type, got, 2, &n), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_uint_eq(n, 0);
	close(sv[0]);
	ck_assert_int_eq(handoff_recv(sv[1], &type, got, nitems(got), &n), 0);
	close(sv[1]);
}
END_TEST

/*
 * A state inside a PROXY header says only that: the receiver refuses one
 * that says more than a partial header can - a judged header, a flag of
 * its own, a length no header reaches.
 */
START_TEST(test_partial_header_bounds)
{
	struct handoff_rec v[1] = { rec("PROXY TCP4 192.0.2.7 ") };
	struct handoff_batch b;
	const char *why = NULL;
	size_t len;
	char *buf;

	v[0].proxyin = true;
	ck_assert_uint_eq(handoff_owed(&v[0]), 0);	/* no echo owed */
	buf = encode(v, 1, &len);
	ck_assert_int_eq(handoff_decode_buf(buf, len, 1, &b, &why), 0);
	ck_assert(b.v[0].proxyin);
	handoff_batch_free(&b);
	buf[R_FLAGS] |= 0x02;				/* and a balancer's own */
	expect_bad(buf, len, 1, "impossible PROXY header");
	free(buf);
	v[0].proxy = v[0].peer;				/* and a header's client */
	v[0].proxylen = v[0].peerlen;
	buf = encode(v, 1, &len);
	expect_bad(buf, len, 1, "impossible PROXY header");
	free(buf);
	v[0].proxylen = 0;
	char *big = calloc(1, HANDOFF_MAX_PROXYIN);
	v[0].pend = big;				/* longer than a header */
	v[0].pend_len = HANDOFF_MAX_PROXYIN;
	buf = encode(v, 1, &len);
	expect_bad(buf, len, 1, "impossible PROXY header");
	free(buf);
	free(big);
}
END_TEST

START_TEST(test_restartjob_seam)
{
	char why[128];

	setenv(RESTARTJOB_TEST_ENV, "1", 1);
	ck_assert_int_eq(restartjob_pending(why, sizeof(why)), 1);
	setenv(RESTARTJOB_TEST_ENV, "0", 1);
	ck_assert_int_eq(restartjob_pending(why, sizeof(why)), 0);
	unsetenv(RESTARTJOB_TEST_ENV);
}
END_TEST

Suite *
handoff_wire_suite(void)
{
	Suite *s = suite_create("handoff_wire");
	TCase *tc = tcase_create("handoff_wire");

	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_pend_bound);
	tcase_add_test(tc, test_memfd_sealed);
	tcase_add_test(tc, test_check_socket);
	tcase_add_test(tc, test_channel_messages);
	tcase_add_test(tc, test_partial_header_bounds);
	tcase_add_test(tc, test_restartjob_seam);
	suite_add_tcase(s, tc);
	return s;
}
