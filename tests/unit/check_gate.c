/*
 * check_gate.c - a worker's accept gate (gate.c): its TCP listeners in the
 * epoll set or not, as the load and the fair share (balance.c) say, the
 * "armed" flag its peers read, and the reserve descriptor spent to shed a
 * client when descriptors run out.  Real listeners on loopback, a real
 * epoll set, a stats page in memory.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "balance.h"
#include "channel.h"
#include "gate.h"
#include "listen.h"
#include "suites.h"

#define TAG	(1ULL << 63)

struct bench {
	int			 ep;
	struct listener		 v[2];	/* UDP first, then TCP: index 1 */
	struct listeners	 ls;
	struct chan_page	*page;
	struct gate		 g;
	struct sockaddr_in	 addr;	/* the TCP listener's */
};

static void
bench_init(struct bench *b)
{
	socklen_t len = sizeof(b->addr);

	memset(b, 0, sizeof(*b));
	b->addr = (struct sockaddr_in){ .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	b->v[0].fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	b->v[0].proto = PROTO_UDP;
	b->v[1].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	b->v[1].proto = PROTO_TCP;
	strcpy(b->v[1].name, "127.0.0.1:test");
	ck_assert_int_eq(bind(b->v[1].fd, (struct sockaddr *)&b->addr,
	    sizeof(b->addr)), 0);
	ck_assert_int_eq(listen(b->v[1].fd, 8), 0);
	ck_assert_int_eq(getsockname(b->v[1].fd, (struct sockaddr *)&b->addr,
	    &len), 0);
	b->ls = (struct listeners){ .v = b->v, .n = 2 };
	b->page = calloc(1, sizeof(*b->page));
	atomic_store(&b->page->hw, 2);
	b->ep = epoll_create1(EPOLL_CLOEXEC);
	gate_init(&b->g, b->ep, &b->ls, TAG, b->page, &b->page->stats[0]);
}

static void
bench_free(struct bench *b)
{
	close(b->v[0].fd);
	close(b->v[1].fd);
	close(b->ep);
	if (b->g.reserve_fd != -1)
		close(b->g.reserve_fd);
	free(b->page);
}

/* A client waits in the TCP listener's queue. */
static int
client(const struct bench *b)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(connect(fd, (const struct sockaddr *)&b->addr,
	    sizeof(b->addr)), 0);
	return fd;
}

/* What the epoll set says now: the tag of one ready listener, or 0. */
static uint64_t
ready(const struct bench *b)
{
	struct epoll_event ev;

	return epoll_wait(b->ep, &ev, 1, 0) == 1 ? ev.data.u64 : 0;
}

/* Armed: the TCP listener (and only it) is in the set, and peers see it. */
START_TEST(test_arm_and_disarm)
{
	struct bench b;
	int c;

	bench_init(&b);
	ck_assert_int_ne(b.g.reserve_fd, -1);
	ck_assert(!b.g.armed);
	c = client(&b);
	ck_assert_uint_eq(ready(&b), 0);		/* closed: nothing */
	gate_arm(&b.g, true);
	ck_assert_uint_eq(ready(&b), TAG | 1);
	ck_assert_uint_eq(atomic_load(&b.page->stats[0].armed), 1);
	ck_assert_int_eq(epoll_ctl(b.ep, EPOLL_CTL_DEL, b.v[0].fd, NULL), -1);
	ck_assert_int_eq(errno, ENOENT);		/* UDP is not the gate's */
	gate_arm(&b.g, false);
	ck_assert_uint_eq(ready(&b), 0);
	ck_assert_uint_eq(atomic_load(&b.page->stats[0].armed), 0);
	close(c);
	bench_free(&b);
}
END_TEST

/* Full or draining: closed, whatever the share; open again with room. */
START_TEST(test_full_and_draining)
{
	struct bench b;
	struct gate_load ld = { .nconns = 10, .max = 10, .now_ms = 1000 };

	bench_init(&b);
	gate_arm(&b.g, true);
	gate_update(&b.g, &ld);
	ck_assert(!b.g.armed);
	ld.nconns = 9;
	gate_update(&b.g, &ld);
	ck_assert(b.g.armed);
	ld.draining = true;
	gate_update(&b.g, &ld);
	ck_assert(!b.g.armed);
	bench_free(&b);
}
END_TEST

/* Over its share while a serving peer accepts, it steps back and looks
 * again soon; once the peer holds as many, it comes back. */
START_TEST(test_balance_steps_back)
{
	struct bench b;
	struct chan_stats *peer;
	struct gate_load ld = { .nconns = 100, .max = 1000, .now_ms = 1000 };

	bench_init(&b);
	peer = &b.page->stats[1];
	atomic_store(&peer->serving, 1);
	atomic_store(&peer->armed, 1);
	atomic_store(&peer->connections, 10);
	gate_arm(&b.g, true);
	gate_update(&b.g, &ld);
	ck_assert(!b.g.armed);
	ck_assert(b.g.balanced_out);
	ck_assert_uint_eq(gate_next_ms(&b.g, &ld, 99999),
	    1000 + BALANCE_RECHECK_MS);
	atomic_store(&peer->serving, 0);	/* a draining peer is no peer */
	gate_update(&b.g, &ld);
	ck_assert(b.g.armed);
	atomic_store(&peer->serving, 1);
	gate_update(&b.g, &ld);
	ck_assert(!b.g.armed);
	atomic_store(&peer->connections, 100);
	gate_update(&b.g, &ld);
	ck_assert(b.g.armed);
	ck_assert(!b.g.balanced_out);
	bench_free(&b);
}
END_TEST

/* Every descriptor taken: the gate spends its reserve to shed the waiting
 * client, closes, rests GATE_EMFILE_PAUSE_MS, and has a reserve again. */
START_TEST(test_emfile_sheds_with_reserve)
{
	struct bench b;
	struct gate_load ld = { .nconns = 0, .max = 10, .now_ms = 1000 };
	struct rlimit old, low;
	union sockaddr_any peer;
	socklen_t len = sizeof(peer);
	int c, fill[256], nfill = 0, fd;
	char byte;

	if (!test_forked())
		skip_test("lowers the descriptor limit: needs a forked test");
	bench_init(&b);
	gate_arm(&b.g, true);
	c = client(&b);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1 &&
	    fd < 200 && nfill < 256)
		fill[nfill++] = fd;
	ck_assert_int_ne(fd, -1);
	close(fd);
	low = old;
	low.rlim_cur = (rlim_t)fd;	/* every descriptor below it is taken */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	ck_assert_int_eq(gate_accept(&b.g, &b.v[1], &peer, &len, &ld), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(b.g.shed, 1);
	ck_assert(b.g.emfile);
	ck_assert(!b.g.armed);
	ck_assert_int_ne(b.g.reserve_fd, -1);
	ck_assert_uint_eq(gate_next_ms(&b.g, &ld, 99999),
	    1000 + GATE_EMFILE_PAUSE_MS);
	/* the shed client was closed: it reads the end */
	ck_assert_int_eq(recv(c, &byte, 1, 0), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	while (nfill > 0)
		close(fill[--nfill]);
	close(c);
	bench_free(&b);
}
END_TEST

Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("gate");

	tcase_add_test(tc, test_arm_and_disarm);
	tcase_add_test(tc, test_full_and_draining);
	tcase_add_test(tc, test_balance_steps_back);
	tcase_add_test(tc, test_emfile_sheds_with_reserve);
	suite_add_tcase(s, tc);
	return s;
}
