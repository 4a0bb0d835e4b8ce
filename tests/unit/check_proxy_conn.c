/* check_proxyin.c - reading a balancer's header off a socket: split over
 * reads, the data after it kept for the echo, the client and the balancer
 * swapped in, health checks, a header cut short, the bound on what is
 * buffered, out of memory, and the queue's deadlines. */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "failalloc.h"
#include "proxy_conn.h"
#include "suites.h"

static int sv[2];
static struct conn c;

/* c is the balancer 127.0.0.1:5555's connection, waiting for a header. */
static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	memset(&c, 0, sizeof(c));
	c.fd = sv[0];
	c.peer.in.sin_family = AF_INET;
	c.peer.in.sin_port = htons(5555);
	inet_pton(AF_INET, "127.0.0.1", &c.peer.in.sin_addr);
	c.peerlen = sizeof(c.peer.in);
	ck_assert_int_eq(proxy_conn_start(&c, 1000), 0);
}

static void
teardown(void)
{
	proxy_conn_end(&c);
	conn_release(&c);
	close(sv[0]);
	close(sv[1]);
}

static void
put(const void *buf, size_t len)
{
	ck_assert_int_eq(write(sv[1], buf, len), (ssize_t)len);
}

static enum proxy_conn_step
step(const char **why)
{
	struct proxy_header h;

	*why = "";
	return proxy_conn_read(&c, &h, why);
}

static void
assert_addr(const union sockaddr_any *a, const char *host, unsigned port)
{
	char buf[64];

	ck_assert_int_eq(a->sa.sa_family, AF_INET);
	inet_ntop(AF_INET, &a->in.sin_addr, buf, sizeof(buf));
	ck_assert_str_eq(buf, host);
	ck_assert_uint_eq(ntohs(a->in.sin_port), port);
}

START_TEST(test_expected)
{
	struct cidr v[2];
	struct conf conf = { .proxy_from = v, .n_proxy_from = 2 };
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	const char *err;

	ck_assert_int_eq(acl_parse("127.0.0.1", &v[0], &err), 0);
	ck_assert_int_eq(acl_parse("10.0.0.0/8", &v[1], &err), 0);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	ck_assert(proxy_conn_expected(&conf, (struct sockaddr *)&in));
	inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
	ck_assert(!proxy_conn_expected(&conf, (struct sockaddr *)&in));
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
	ck_assert(proxy_conn_expected(&conf, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	ck_assert(!proxy_conn_expected(&conf, (struct sockaddr *)&in6));
	conf.n_proxy_from = 0;
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	ck_assert(!proxy_conn_expected(&conf, (struct sockaddr *)&in));
}
END_TEST

START_TEST(test_split_then_data)
{
	static const char hdr[] = "PROXY TCP4 10.1.2.3 127.0.0.1 4000 7\r\n";
	const char *why;
	char via[96];

	for (size_t i = 0; i + 1 < strlen(hdr); i++) {
		put(hdr + i, 1);
		ck_assert_int_eq(step(&why), PROXY_CONN_MORE);
		ck_assert_int_eq(step(&why), PROXY_CONN_MORE);	/* nothing new */
	}
	put("\nhello", 6);
	ck_assert_int_eq(step(&why), PROXY_CONN_DONE);
	ck_assert_ptr_null(c.px);
	ck_assert_uint_eq(c.pend_len, 5);
	ck_assert_int_eq(memcmp(c.pend + c.pend_off, "hello", 5), 0);
	assert_addr(&c.peer, "10.1.2.3", 4000);
	assert_addr(&c.via, "127.0.0.1", 5555);
	ck_assert_str_eq(proxy_conn_via(&c, via, sizeof(via)),
	    " via 127.0.0.1 port 5555");
}
END_TEST

START_TEST(test_local_keeps_the_balancer)
{
	static const uint8_t v2[] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a,
	    0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00 };
	const char *why;
	char via[96];

	put(v2, sizeof(v2));
	ck_assert_int_eq(step(&why), PROXY_CONN_DONE);
	ck_assert_uint_eq(c.pend_len, 0);
	ck_assert_uint_eq(c.vialen, 0);
	assert_addr(&c.peer, "127.0.0.1", 5555);
	ck_assert_str_eq(proxy_conn_via(&c, via, sizeof(via)), "");
}
END_TEST

START_TEST(test_health_check_and_cut_short)
{
	const char *why;

	ck_assert_int_eq(step(&why), PROXY_CONN_MORE);	/* nothing yet */
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(step(&why), PROXY_CONN_SILENT);
	teardown();
	setup();
	put("PROXY TCP4", 10);
	ck_assert_int_eq(step(&why), PROXY_CONN_MORE);
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(step(&why), PROXY_CONN_BAD);
	ck_assert_str_eq(why, "connection closed inside the header");
	teardown();
	setup();
	put("GET / HTTP/1.0\r\n", 16);
	ck_assert_int_eq(step(&why), PROXY_CONN_BAD);
	ck_assert_str_eq(why, "not a PROXY header");
	ck_assert_uint_eq(c.pend_len, 0);
}
END_TEST

/* Never more than PROXY_MAX_HEADER bytes taken off the socket. */
START_TEST(test_bounded)
{
	uint8_t buf[3000] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
	    0x55, 0x49, 0x54, 0x0a, 0x21, 0x11 };
	const char *why;
	char rest[3000];

	/* the longest header: INET, then one TLV padding it to 1024 bytes */
	buf[14] = (PROXY_MAX_HEADER - 16) >> 8;
	buf[15] = (PROXY_MAX_HEADER - 16) & 0xff;
	buf[28] = 0x04;
	buf[29] = (PROXY_MAX_HEADER - 16 - 12 - 3) >> 8;
	buf[30] = (PROXY_MAX_HEADER - 16 - 12 - 3) & 0xff;
	memset(buf + PROXY_MAX_HEADER, 'd', sizeof(buf) - PROXY_MAX_HEADER);
	put(buf, sizeof(buf));
	ck_assert_int_eq(step(&why), PROXY_CONN_DONE);
	ck_assert_uint_eq(c.pend_len, 0);	/* read exactly the header */
	ck_assert_int_eq(read(sv[0], rest, sizeof(rest)),
	    (ssize_t)(sizeof(buf) - PROXY_MAX_HEADER));
	teardown();
	setup();
	buf[15] += 1;	/* one byte too long: refused on the length field */
	put(buf, sizeof(buf));
	ck_assert_int_eq(step(&why), PROXY_CONN_BAD);
	ck_assert_str_eq(why, "v2: header longer than 1024 bytes");
}
END_TEST

START_TEST(test_out_of_memory)
{
	static const char hdr[] = "PROXY TCP4 10.1.2.3 127.0.0.1 4000 7\r\nhi";
	struct conn d = { .fd = -1 };
	const char *why;

	failalloc_arm(1);
	ck_assert_int_eq(proxy_conn_start(&d, 0), -1);
	failalloc_disarm();
	ck_assert_ptr_null(d.px);
	put(hdr, strlen(hdr));
	failalloc_arm(1);	/* the copy of "hi" */
	ck_assert_int_eq(step(&why), PROXY_CONN_FAIL);
	failalloc_disarm();
	ck_assert_ptr_nonnull(c.px);	/* still the caller's to end */
	ck_assert_uint_eq(c.vialen, 0);
}
END_TEST

START_TEST(test_queue)
{
	struct conn_list q = { NULL, NULL };
	struct conn a = { 0 }, b = { 0 }, d = { 0 };

	ck_assert_int_eq(proxy_conn_start(&a, 100), 0);
	ck_assert_int_eq(proxy_conn_start(&b, 200), 0);
	ck_assert_int_eq(proxy_conn_start(&d, 300), 0);
	ck_assert_uint_eq(proxy_conn_queue_next_ms(&q, 50), 50);
	ck_assert_ptr_null(proxy_conn_queue_expired(&q, 1000));
	conn_list_append(&q, &a);
	conn_list_append(&q, &b);
	conn_list_append(&q, &d);
	ck_assert_uint_eq(proxy_conn_queue_next_ms(&q, 1000), 100);
	ck_assert_uint_eq(proxy_conn_queue_next_ms(&q, 50), 50);
	ck_assert_ptr_null(proxy_conn_queue_expired(&q, 99));
	ck_assert_ptr_eq(proxy_conn_queue_expired(&q, 100), &a);
	conn_list_unlink(&q, &b);	/* from the middle */
	conn_list_unlink(&q, &a);
	ck_assert_ptr_null(proxy_conn_queue_expired(&q, 250));
	ck_assert_ptr_eq(proxy_conn_queue_expired(&q, 300), &d);
	conn_list_unlink(&q, &d);
	ck_assert_ptr_null(q.head);
	ck_assert_ptr_null(q.tail);
	proxy_conn_end(&a);
	proxy_conn_end(&b);
	proxy_conn_end(&d);
}
END_TEST

Suite *
proxy_conn_suite(void)
{
	Suite *s = suite_create("proxy_conn");
	TCase *tc = tcase_create("read");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_expected);
	tcase_add_test(tc, test_split_then_data);
	tcase_add_test(tc, test_local_keeps_the_balancer);
	tcase_add_test(tc, test_health_check_and_cut_short);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_out_of_memory);
	tcase_add_test(tc, test_queue);
	suite_add_tcase(s, tc);
	return s;
}
