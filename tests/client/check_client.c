/*
 * check_client.c - unit tests of echo-client's modules: the strict
 * readers of its numeric arguments, the latency histogram, the address
 * loop that falls through to the next address, the waits and read
 * loops it shares; and the load generator's datagram mode and bulk window
 * against servers in this process that echo right, drop, repeat or alter.
 */
#include "config.h"

#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "client/cl.h"
#include "client/cl_args.h"
#include "client/cl_bconn.h"
#include "client/cl_bdgram.h"
#include "client/cl_bench.h"
#include "client/cl_hist.h"
#include "client/cl_net.h"
#include "client/cl_probe.h"
#include "util.h"

/* Every numeric argument: in range, out of range, negative, garbage, empty. */
START_TEST(args_port)
{
	static const struct { const char *s; int ok; unsigned v; const char *why; } c[] = {
		{ "7", 1, 7, NULL },
		{ "1", 1, 1, NULL },
		{ "65535", 1, 65535, NULL },
		{ "07", 1, 7, NULL },
		{ "echo", 1, 7, NULL },
		{ "99999", 0, 0, "out of range (1..65535)" },	/* not 34463 */
		{ "65536", 0, 0, "out of range (1..65535)" },
		{ "0", 0, 0, "out of range (1..65535)" },	/* no port 0 to connect to */
		{ "18446744073709551623", 0, 0, "out of range (1..65535)" },
		{ "-1", 0, 0, "negative" },
		{ "", 0, 0, "empty" },
		{ "7x", 0, 0, "trailing garbage \"x\" after the number" },
		{ "7 ", 0, 0, "trailing garbage \" \" after the number" },
		{ " 7", 0, 0, "not a number" },
		{ "+7", 0, 0, "not a number" },
		{ "0x7", 0, 0, "trailing garbage \"x7\" after the number" },
		{ "no-such-service", 0, 0, "not a port number (1..65535) nor a service known for tcp" },
	};
	char why[128];
	uint16_t port;
	size_t i;

	for (i = 0; i < nitems(c); i++) {
		why[0] = '\0';
		port = 0;
		ck_assert_msg(cl_arg_port(c[i].s, "tcp", &port, why, sizeof(why)) ==
		    (c[i].ok ? 0 : -1), "port \"%s\": %s", c[i].s, why);
		if (c[i].ok)
			ck_assert_uint_eq(port, c[i].v);
		else
			ck_assert_str_eq(why, c[i].why);
	}
}
END_TEST

START_TEST(args_uint_size)
{
	char why[128];
	uint64_t v;

	ck_assert_int_eq(cl_arg_uint("100000", 1, 100000, &v, why, sizeof(why)), 0);
	ck_assert_uint_eq(v, 100000);
	ck_assert_int_eq(cl_arg_uint("100001", 1, 100000, &v, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "out of range (1..100000)");
	ck_assert_int_eq(cl_arg_uint("0", 1, 64, &v, why, sizeof(why)), -1);
	ck_assert_int_eq(cl_arg_uint("-0", 1, 64, &v, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "negative");
	ck_assert_int_eq(cl_arg_uint("5k", 1, 64, &v, why, sizeof(why)), -1);
	/* 2^64 + 1 must not wrap to 1. */
	ck_assert_int_eq(cl_arg_uint("18446744073709551617", 1, UINT64_MAX - 1,
	    &v, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "out of range (1..18446744073709551614)");

	ck_assert_int_eq(cl_arg_size("16k", 1, 1 << 20, &v, why, sizeof(why)), 0);
	ck_assert_uint_eq(v, 16384);
	ck_assert_int_eq(cl_arg_size("1M", 1, 1 << 20, &v, why, sizeof(why)), 0);
	ck_assert_uint_eq(v, 1 << 20);
	ck_assert_int_eq(cl_arg_size("1025k", 1, 1 << 20, &v, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "out of range (1..1m)");
	/* 2^44 MiB is 2^64 bytes: saturates, does not wrap to 0. */
	ck_assert_int_eq(cl_arg_size("17592186044416m", 0, 1 << 20, &v, why,
	    sizeof(why)), -1);
	ck_assert_int_eq(cl_arg_size("0", 1, 1 << 20, &v, why, sizeof(why)), -1);
	ck_assert_int_eq(cl_arg_size("1kb", 1, 1 << 20, &v, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "trailing garbage \"kb\" after the number");
	ck_assert_int_eq(cl_arg_size("k", 1, 1 << 20, &v, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "not a number");
}
END_TEST

START_TEST(args_ms)
{
	static const struct { const char *s; long long ms; } ok[] = {
		{ "10", 10000 }, { "0.5", 500 }, { "2s", 2000 }, { "250ms", 250 },
		{ "0", 0 }, { "0ms", 0 }, { "1.5ms", 2 }, { "0.0005", 1 }, { ".25", 250 },
		{ "1000000", 1000000000LL },
	};
	static const struct { const char *s; const char *why; } bad[] = {
		{ "", "empty" },
		{ "-1", "negative" },
		{ "-0", "negative" },
		{ "0.1ms", "shorter than 1 ms" },	/* not "for ever" */
		{ "0.0004", "shorter than 1 ms" },
		{ "1000001", "out of range (0 ms..1000000 s)" },
		{ "18446744073709551616", "out of range (0 ms..1000000 s)" },
		{ "nan", "not a duration (write 10, 0.5, 2s or 250ms)" },
		{ "inf", "not a duration (write 10, 0.5, 2s or 250ms)" },
		{ "0x10", "not a duration (write 10, 0.5, 2s or 250ms)" },
		{ "1e3", "not a duration (write 10, 0.5, 2s or 250ms)" },
		{ " 5", "not a duration (write 10, 0.5, 2s or 250ms)" },
		{ "5m", "not a duration (write 10, 0.5, 2s or 250ms)" },
		{ ".", "not a duration (write 10, 0.5, 2s or 250ms)" },
	};
	char why[128], buf[32];
	uint64_t v;
	size_t i;

	for (i = 0; i < nitems(ok); i++) {
		ck_assert_msg(cl_arg_ms(ok[i].s, 0, 1000000000ULL, &v, why,
		    sizeof(why)) == 0, "\"%s\": %s", ok[i].s, why);
		ck_assert_uint_eq(v, (uint64_t)ok[i].ms);
	}
	for (i = 0; i < nitems(bad); i++) {
		ck_assert_msg(cl_arg_ms(bad[i].s, 0, 1000000000ULL, &v, why,
		    sizeof(why)) == -1, "\"%s\" accepted", bad[i].s);
		ck_assert_str_eq(why, bad[i].why);
	}
	ck_assert_int_eq(cl_arg_ms("0", 1, 1000, &v, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "out of range (1 ms..1 s)");
	ck_assert_str_eq(cl_fmt_ms(10000, buf, sizeof(buf)), "10 s");
	ck_assert_str_eq(cl_fmt_ms(300, buf, sizeof(buf)), "300 ms");
	ck_assert_str_eq(cl_fmt_ms(1500, buf, sizeof(buf)), "1.5 s");
	ck_assert_str_eq(cl_fmt_ms(1250, buf, sizeof(buf)), "1.25 s");
	ck_assert_str_eq(cl_fmt_ms(1005, buf, sizeof(buf)), "1.005 s");
}
END_TEST

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
	addr_format((struct sockaddr *)&sin, len, ok->name, sizeof(ok->name));

	/* Bound, never listening: connections to it are refused. */
	gone = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = 0;
	ck_assert_int_eq(bind(gone, (struct sockaddr *)&sin, sizeof(sin)), 0);
	len = sizeof(sin);
	ck_assert_int_eq(getsockname(gone, (struct sockaddr *)&sin, &len), 0);
	memcpy(&refused->ss, &sin, sizeof(sin));
	refused->len = sizeof(sin);
	refused->family = AF_INET;
	addr_format((struct sockaddr *)&sin, len, refused->name,
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

/* cl_wait(): ready is 1, a deadline passed is 0, and not before it. */
START_TEST(wait_ready_or_deadline)
{
	int fds[2];
	uint64_t t0;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_uint_eq(cl_deadline(0), 0);
	t0 = now_nsec();
	ck_assert_int_eq(cl_wait(fds[0], POLLIN, cl_deadline(50)), 0);
	ck_assert_uint_ge(now_nsec() - t0, 50 * 1000000ULL);
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	ck_assert_int_eq(cl_wait(fds[0], POLLIN, 0), 1);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* read_full() (src/common): what was asked for, or less at end of file. */
START_TEST(read_full_until_eof)
{
	char buf[16];
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "abc", 3), 3);
	ck_assert_int_eq(write(fds[1], "de", 2), 2);
	ck_assert_int_eq(read_full(fds[0], buf, 4), 4);
	ck_assert_int_eq(memcmp(buf, "abcd", 4), 0);
	close(fds[1]);
	ck_assert_int_eq(read_full(fds[0], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'e');
	ck_assert_int_eq(read_full(fds[0], buf, sizeof(buf)), 0);
	close(fds[0]);
}
END_TEST


/* A target at addr, port 7. */
static void
target_at(struct cl_target *t, const char *addr)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&t->ss;

	memset(t, 0, sizeof(*t));
	in->sin_family = AF_INET;
	in->sin_port = htons(7);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	t->len = sizeof(*in);
	t->family = AF_INET;
}

/* -b -u notes a loss that looks like echod's per-source limit: lost
 * datagrams while one address could send past 100 a second; not when
 * nothing was lost, nor when the round trip alone keeps it below. */
START_TEST(bdgram_hint_server_limit)
{
	static struct cl_bench_result r;
	struct cl_bench_opts o = { .udp = 1, .conns = 8 };
	struct cl_target lo, far;
	char buf[320];

	target_at(&lo, "127.0.0.1");
	target_at(&far, "192.0.2.1");
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 100; i++)
		cl_hist_add(&r.lat, 50000);	/* 50 us: 20000/s a source */
	o.target = &lo;
	ck_assert_int_eq(cl_bdgram_hint(&o, &r, buf, sizeof(buf)), -1);
	r.lost = 3;
	ck_assert_int_eq(cl_bdgram_hint(&o, &r, buf, sizeof(buf)), 0);
	ck_assert_msg(strstr(buf, "3 datagrams lost while each source address "
	    "could send about 20") && strstr(buf, "udp_rate_limit"), "%s", buf);

	memset(&r.lat, 0, sizeof(r.lat));
	for (int i = 0; i < 100; i++)
		cl_hist_add(&r.lat, 20000000);	/* 20 ms: 50/s a source */
	ck_assert_int_eq(cl_bdgram_hint(&o, &r, buf, sizeof(buf)), -1);
	/* elsewhere the 8 sources share this host's address: 400/s */
	o.target = &far;
	ck_assert_int_eq(cl_bdgram_hint(&o, &r, buf, sizeof(buf)), 0);
	ck_assert_msg(strstr(buf, "about 4"), "%s", buf);
}
END_TEST

/* Each echo is judged against the datagram in flight, and only it. */
START_TEST(bdgram_verdicts)
{
	static char block[CL_BCONN_BLOCK_LEN];
	char d[64], e[64];
	size_t at;

	cl_bconn_block_fill(block);
	cl_bdgram_fill(d, sizeof(d), block, 5, 9);
	ck_assert_int_eq(cl_bdgram_check(d, 64, 64, block, 5, 9, &at), CL_BDG_OK);
	/* An earlier one of the same source, whole: late, not wrong. */
	cl_bdgram_fill(e, sizeof(e), block, 5, 7);
	ck_assert_int_eq(cl_bdgram_check(e, 64, 64, block, 5, 9, &at), CL_BDG_LATE);
	/* A later one never was sent; another source's is not ours. */
	cl_bdgram_fill(e, sizeof(e), block, 5, 10);
	ck_assert_int_eq(cl_bdgram_check(e, 64, 64, block, 5, 9, &at), CL_BDG_BAD);
	ck_assert_uint_eq(at, 7);
	cl_bdgram_fill(e, sizeof(e), block, 6, 9);
	ck_assert_int_eq(cl_bdgram_check(e, 64, 64, block, 5, 9, &at), CL_BDG_BAD);
	ck_assert_uint_eq(at, 3);
	/* One byte of the payload altered, or the datagram cut short. */
	memcpy(e, d, sizeof(d));
	e[40] ^= 0x10;
	ck_assert_int_eq(cl_bdgram_check(e, 64, 64, block, 5, 9, &at), CL_BDG_BAD);
	ck_assert_uint_eq(at, 40);
	ck_assert_int_eq(cl_bdgram_check(d, 63, 64, block, 5, 9, &at), CL_BDG_BAD);
	ck_assert_uint_eq(at, 63);
	/* A late one altered is wrong, not late. */
	cl_bdgram_fill(e, sizeof(e), block, 5, 7);
	e[20] ^= 1;
	ck_assert_int_eq(cl_bdgram_check(e, 64, 64, block, 5, 9, &at), CL_BDG_BAD);
}
END_TEST

/* A UDP echo server on a thread, right or wrong on purpose. */
enum userv_mode { U_GOOD, U_FLIP, U_DROP, U_TWICE };
struct userv {
	int		 fd;
	enum userv_mode	 mode;
	atomic_int	 stop;
	pthread_t	 th;
	unsigned	 n;
	uint32_t	 sources[64];	/* distinct client addresses seen */
	unsigned	 nsources;
};

static void
userv_saw(struct userv *u, const struct sockaddr_in *from)
{
	for (unsigned i = 0; i < u->nsources; i++)
		if (u->sources[i] == from->sin_addr.s_addr)
			return;
	if (u->nsources < nitems(u->sources))
		u->sources[u->nsources++] = from->sin_addr.s_addr;
}

static void *
userv_main(void *arg)
{
	struct userv *u = arg;
	struct pollfd p = { .fd = u->fd, .events = POLLIN };
	struct sockaddr_in from;
	socklen_t fl;
	char buf[2048];
	ssize_t n;

	while (!atomic_load(&u->stop)) {
		if (poll(&p, 1, 50) != 1)
			continue;
		fl = sizeof(from);
		n = recvfrom(u->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		userv_saw(u, &from);
		u->n++;
		if (u->mode == U_DROP && u->n % 50 == 0)
			continue;
		if (u->mode == U_FLIP && u->n == 100)
			buf[n - 1] ^= 0x40;
		sendto(u->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
		if (u->mode == U_TWICE && u->n % 20 == 0)
			sendto(u->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void
userv_start(struct userv *u, enum userv_mode mode, struct cl_target *t)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	memset(u, 0, sizeof(*u));
	u->mode = mode;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u->fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ne(u->fd, -1);
	ck_assert_int_eq(bind(u->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(u->fd, (struct sockaddr *)&sin, &len), 0);
	memcpy(&t->ss, &sin, sizeof(sin));
	t->len = sizeof(sin);
	t->family = AF_INET;
	addr_format((struct sockaddr *)&sin, len, t->name, sizeof(t->name));
	ck_assert_int_eq(pthread_create(&u->th, NULL, userv_main, u), 0);
}

static void
userv_stop(struct userv *u)
{
	atomic_store(&u->stop, 1);
	pthread_join(u->th, NULL);
	close(u->fd);
}

/* 8 sources for 300 ms against a server in mode; returns the status. */
static int
udp_load(enum userv_mode mode, struct cl_bench_result *r, struct userv *u)
{
	struct cl_target t;
	struct cl_bench_opts o = { .target = &t, .udp = 1, .conns = 8,
	    .threads = 2, .size = 64, .duration_ms = 300, .timeout_ms = 100 };
	char err[CL_ERRLEN];
	int rc;

	userv_start(u, mode, &t);
	rc = cl_bench_run(&o, r, err, sizeof(err));
	userv_stop(u);
	return rc;
}

START_TEST(bdgram_good_server)
{
	struct cl_bench_result r;
	struct userv u;

	ck_assert_int_eq(udp_load(U_GOOD, &r, &u), CL_OK);
	ck_assert_uint_gt(r.ops, 100);
	ck_assert_uint_eq(r.mismatches, 0);
	ck_assert_uint_eq(r.lost, 0);
	ck_assert_uint_eq(r.opened, 8);
	ck_assert_uint_ge(r.ops_all, r.ops);
	ck_assert_uint_eq(r.bytes, r.ops * 64);
	/* Each source an address of its own, as per-address limits count. */
	ck_assert_uint_eq(u.nsources, 8);
}
END_TEST

START_TEST(bdgram_altered_echo)
{
	struct cl_bench_result r;
	struct userv u;

	ck_assert_int_eq(udp_load(U_FLIP, &r, &u), CL_MISMATCH);
	ck_assert_uint_eq(r.mismatches, 1);
}
END_TEST

START_TEST(bdgram_dropped_and_repeated)
{
	struct cl_bench_result r;
	struct userv u;

	/* Loss is counted, and the sources go on. */
	ck_assert_int_eq(udp_load(U_DROP, &r, &u), CL_OK);
	ck_assert_uint_gt(r.lost, 0);
	ck_assert_uint_gt(r.ops, 100);
	ck_assert_uint_eq(r.mismatches, 0);
	/* An echo twice is late, not a second answer. */
	ck_assert_int_eq(udp_load(U_TWICE, &r, &u), CL_OK);
	ck_assert_uint_gt(r.late, 0);
	ck_assert_uint_eq(r.mismatches, 0);
	ck_assert_uint_le(r.ops, u.n);
}
END_TEST

/*
 * A TCP server on a thread that holds what it reads until the client has
 * stopped sending for 200 ms, then echoes like any other: how much it got
 * before that is the client's window.
 */
#define WINDOW	100000
struct hold {
	int		 lfd;
	size_t		 held;
	pthread_t	 th;
};

static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *
hold_main(void *arg)
{
	static char buf[8 * 1024 * 1024];
	struct hold *h = arg;
	struct pollfd p = { .events = POLLIN };
	ssize_t n;
	int fd;

	if ((fd = accept(h->lfd, NULL, NULL)) == -1)
		return NULL;
	p.fd = fd;
	while (poll(&p, 1, 200) == 1 && h->held < sizeof(buf)) {
		n = recv(fd, buf + h->held, sizeof(buf) - h->held, 0);
		if (n <= 0)
			break;
		h->held += (size_t)n;
	}
	if (send_all(fd, buf, h->held) == 0)
		while ((n = recv(fd, buf, 65536, 0)) > 0 &&
		    send_all(fd, buf, (size_t)n) == 0)
			;
	close(fd);
	return NULL;
}

START_TEST(bulk_window_holds)
{
	struct cl_target t, refused;
	struct cl_bench_opts o = { .target = &t, .pattern = CL_BULK, .conns = 1,
	    .threads = 1, .size = 65536, .window = WINDOW, .duration_ms = 600,
	    .timeout_ms = 5000 };
	struct cl_bench_result r;
	struct hold h = { .held = 0 };
	char err[CL_ERRLEN];

	h.lfd = listener(&t, &refused);
	ck_assert_int_eq(pthread_create(&h.th, NULL, hold_main, &h), 0);
	ck_assert_int_eq(cl_bench_run(&o, &r, err, sizeof(err)), CL_OK);
	pthread_join(h.th, NULL);
	close(h.lfd);
	/* Not a byte beyond the window went out before an echo came back. */
	ck_assert_uint_eq(h.held, WINDOW);
	ck_assert_uint_gt(r.bytes_all, WINDOW);
	ck_assert_uint_eq(r.mismatches, 0);
}
END_TEST

/* check_echo's thresholds: "RTT,LOSS%", strictly. */
START_TEST(probe_limits)
{
	static const struct { const char *s; int ok; double rtt, loss; } c[] = {
		{ "100,20%", 1, 100, 20 },
		{ "0.5,0", 1, 0.5, 0 },
		{ "0,100%", 1, 0, 100 },
		{ "100", 0, 0, 0 },
		{ "100,", 0, 0, 0 },
		{ ",20%", 0, 0, 0 },
		{ "100,101%", 0, 0, 0 },
		{ "-1,20%", 0, 0, 0 },
		{ "100,20%x", 0, 0, 0 },
		{ "100,20%%", 0, 0, 0 },
		{ "1e9,20%", 0, 0, 0 },
		{ "", 0, 0, 0 },
	};
	struct cl_probe_limit l;
	char why[128];

	for (size_t i = 0; i < nitems(c); i++) {
		int rc = cl_probe_limit_parse(c[i].s, &l, why, sizeof(why));
		ck_assert_msg(rc == (c[i].ok ? 0 : -1), "\"%s\"", c[i].s);
		if (c[i].ok)
			ck_assert(l.rtt_ms == c[i].rtt && l.loss_pct == c[i].loss);
	}
}
END_TEST

/* The verdict: critical over warning, nothing echoed or a wrong echo is
 * critical whatever the thresholds; equal to a threshold is not over it. */
START_TEST(probe_judge)
{
	struct cl_probe_limit w = { 100, 20 }, c = { 500, 60 };
	struct cl_probe_result r = { .sent = 5, .echoed = 5, .rtt_sum_ms = 5 };

	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_OK);
	r.rtt_sum_ms = 5 * 100.0;
	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_OK);
	r.rtt_sum_ms = 5 * 100.5;
	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_WARNING);
	r.rtt_sum_ms = 5 * 501.0;
	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_CRITICAL);
	r.rtt_sum_ms = 4;
	r.echoed = 4;		/* 20% lost: not over 20 */
	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_OK);
	r.echoed = 3;		/* 40% */
	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_WARNING);
	r.echoed = 1;		/* 80% */
	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_CRITICAL);
	r.echoed = 0;
	r.rtt_sum_ms = 0;
	ck_assert_int_eq(cl_probe_judge(&r, 5, &(struct cl_probe_limit){ 1e6, 100 },
	    &(struct cl_probe_limit){ 1e6, 100 }), PROBE_CRITICAL);
	r.echoed = 5;
	r.wrong = true;
	ck_assert_int_eq(cl_probe_judge(&r, 5, &w, &c), PROBE_CRITICAL);
	ck_assert(cl_probe_loss(&r, 0) == 100.0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("client");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, args_port);
	tcase_add_test(tc, args_uint_size);
	tcase_add_test(tc, args_ms);
	tcase_add_test(tc, hist_quantiles);
	tcase_add_test(tc, hist_small_exact);
	tcase_add_test(tc, connect_falls_through);
	tcase_add_test(tc, connect_all_refused);
	tcase_add_test(tc, resolve_numeric);
	tcase_add_test(tc, wait_ready_or_deadline);
	tcase_add_test(tc, read_full_until_eof);
	tcase_add_test(tc, bdgram_verdicts);
	tcase_add_test(tc, bdgram_hint_server_limit);
	tcase_add_test(tc, bdgram_good_server);
	tcase_add_test(tc, bdgram_altered_echo);
	tcase_add_test(tc, bdgram_dropped_and_repeated);
	tcase_add_test(tc, bulk_window_holds);
	tcase_add_test(tc, probe_limits);
	tcase_add_test(tc, probe_judge);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
