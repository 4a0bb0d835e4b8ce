/*
 * check_client.c - unit tests of echo-client's modules: the latency
 * histogram, and the address loop that falls through to the next address.
 */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/cl.h"
#include "client/cl_hist.h"
#include "client/cl_net.h"

START_TEST(hist_quantiles)
{
	static struct cl_hist h;
	uint64_t v, p50, p99;

	memset(&h, 0, sizeof(h));
	for (v = 1; v <= 100000; v++)
		cl_hist_add(&h, v * 1000);
	p50 = cl_hist_quantile(&h, 0.5);
	p99 = cl_hist_quantile(&h, 0.99);
	/* Within the 1/32 of a bucket. */
	ck_assert_uint_ge(p50, 50000000 - 50000000 / 32);
	ck_assert_uint_le(p50, 50000000 + 50000000 / 32);
	ck_assert_uint_ge(p99, 99000000 - 99000000 / 32);
	ck_assert_uint_le(p99, 99000000 + 99000000 / 32);
	ck_assert_uint_eq(cl_hist_quantile(&h, 1.0), 100000000);
	ck_assert_uint_eq(h.max, 100000000);
}
END_TEST

START_TEST(hist_small_exact)
{
	static struct cl_hist h, m;

	memset(&h, 0, sizeof(h));
	memset(&m, 0, sizeof(m));
	cl_hist_add(&h, 3);
	cl_hist_add(&m, 7);
	cl_hist_merge(&h, &m);
	ck_assert_uint_eq(h.count, 2);
	ck_assert_uint_eq(cl_hist_quantile(&h, 0.0), 3);
	ck_assert_uint_eq(cl_hist_quantile(&h, 0.99), 7);
	memset(&m, 0, sizeof(m));
	ck_assert_uint_eq(cl_hist_quantile(&m, 0.5), 0);
}
END_TEST

/* A listening socket on 127.0.0.1, and a port where nothing listens. */
static int
listener(struct cl_target *ok, struct cl_target *refused)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd, gone;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	memcpy(&ok->ss, &sin, sizeof(sin));
	ok->len = sizeof(sin);
	ok->family = AF_INET;
	cl_addr_format((struct sockaddr *)&sin, len, ok->name, sizeof(ok->name));

	/* Bound, never listening: connections to it are refused. */
	gone = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = 0;
	ck_assert_int_eq(bind(gone, (struct sockaddr *)&sin, sizeof(sin)), 0);
	len = sizeof(sin);
	ck_assert_int_eq(getsockname(gone, (struct sockaddr *)&sin, &len), 0);
	memcpy(&refused->ss, &sin, sizeof(sin));
	refused->len = sizeof(sin);
	refused->family = AF_INET;
	cl_addr_format((struct sockaddr *)&sin, len, refused->name,
	    sizeof(refused->name));
	return fd;
}

START_TEST(connect_falls_through)
{
	struct cl_target t[2];
	char err[CL_ERRLEN];
	int lfd, fd, used = -1, timedout = -1;

	lfd = listener(&t[1], &t[0]);
	fd = cl_connect_any(t, 2, SOCK_STREAM, 2000, &used, &timedout, err,
	    sizeof(err));
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(used, 1);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(connect_all_refused)
{
	struct cl_target t[2];
	char err[CL_ERRLEN];
	int lfd, used = -1, timedout = -1;

	lfd = listener(&t[1], &t[0]);
	t[1] = t[0];
	ck_assert_int_eq(cl_connect_any(t, 2, SOCK_STREAM, 2000, &used,
	    &timedout, err, sizeof(err)), -1);
	ck_assert_int_eq(timedout, 0);
	/* Both tries are named in the message. */
	ck_assert_ptr_nonnull(strstr(err, "Connection refused; "));
	close(lfd);
}
END_TEST

START_TEST(resolve_numeric)
{
	struct cl_target t[4];
	char err[CL_ERRLEN];

	ck_assert_int_eq(cl_resolve("::1", "7", AF_UNSPEC, SOCK_STREAM, t, 4,
	    err, sizeof(err)), 1);
	ck_assert_str_eq(t[0].name, "[::1]:7");
	ck_assert_int_eq(cl_resolve("127.0.0.1", "echo", AF_INET6, SOCK_STREAM,
	    t, 4, err, sizeof(err)), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("client");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, hist_quantiles);
	tcase_add_test(tc, hist_small_exact);
	tcase_add_test(tc, connect_falls_through);
	tcase_add_test(tc, connect_all_refused);
	tcase_add_test(tc, resolve_numeric);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
