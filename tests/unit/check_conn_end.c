/*
 * check_conn_end.c - the one way a worker's connection ends (conn_end.c):
 * each kind of end counted where the page says and nowhere else, and the
 * teardown done from what the connection holds - its list and nconns, its
 * source's count, its place in the epoll set, its socket.  A struct worker
 * made by hand, real sockets on loopback, a real epoll set.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "conn_end.h"
#include "proxy_conn.h"
#include "source.h"
#include "suites.h"
#include "worker_admit.h"
#include "worker_state.h"

struct bench {
	struct worker		 w;
	struct conf		 conf;
	struct chan_page	*page;
	int			 lfd;	/* a listener the connections come from */
	struct sockaddr_in	 addr;
};

static void
bench_init(struct bench *b)
{
	socklen_t len = sizeof(b->addr);

	memset(b, 0, sizeof(*b));
	b->conf.log_connections = CONF_LOGCONN_NONE;
	b->conf.max_connections_per_source = 1;
	b->page = calloc(1, sizeof(*b->page));
	atomic_store(&b->page->hw, 1);
	b->w.conf = &b->conf;
	b->w.shared = b->page;
	b->w.sources = source_init(1, 64);
	ck_assert_ptr_nonnull(b->w.sources);
	b->w.ep = epoll_create1(EPOLL_CLOEXEC);
	b->addr = (struct sockaddr_in){ .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(b->lfd, (struct sockaddr *)&b->addr,
	    sizeof(b->addr)), 0);
	ck_assert_int_eq(listen(b->lfd, 8), 0);
	ck_assert_int_eq(getsockname(b->lfd, (struct sockaddr *)&b->addr,
	    &len), 0);
}

static void
bench_free(struct bench *b)
{
	close(b->lfd);
	close(b->w.ep);
	source_unmap(b->w.sources);
	free(b->page);
}

/* A connection accepted from *client, on list l (NULL: none), in the
 * epoll set if watched, counted for its source if count. */
static struct conn *
make(struct bench *b, int *client, struct conn_list *l, bool watched,
    bool count)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct admit_policy p = worker_policy(&b->w);

	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(*client, (struct sockaddr *)&b->addr,
	    sizeof(b->addr)), 0);
	c->peerlen = sizeof(c->peer);
	c->fd = accept4(b->lfd, &c->peer.sa, &c->peerlen, SOCK_CLOEXEC);
	ck_assert_int_ne(c->fd, -1);
	if (count)
		ck_assert_int_eq(admit_client(&p, ADMIT_TCP, &c->peer.sa,
		    &c->counted), ADMIT_OK);
	if (watched) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		ck_assert_int_eq(epoll_ctl(b->w.ep, EPOLL_CTL_ADD, c->fd, &ev), 0);
		c->events = EPOLLIN;
	}
	if (l != NULL) {
		conn_list_append(l, c);
		b->w.nconns++;
	}
	return c;
}

/* The client sees its end: EOF (or a reset), never a wait. */
static void
assert_closed(int client)
{
	char byte;
	ssize_t n = recv(client, &byte, 1, MSG_DONTWAIT);

	ck_assert_msg(n == 0 || (n == -1 && errno == ECONNRESET),
	    "the connection is still open (%zd, %s)", n, strerror(errno));
	close(client);
}

/* May the source connect again (max_connections_per_source = 1)? */
static bool
source_free(struct bench *b, const struct sockaddr *sa)
{
	struct admit_policy p = worker_policy(&b->w);
	bool counted;

	if (admit_client(&p, ADMIT_TCP, sa, &counted) != ADMIT_OK)
		return false;
	admit_release(&p, sa);
	return true;
}

/* An open connection: closed[] only, off its list, its source free. */
START_TEST(test_close_open)
{
	struct bench b;
	struct sockaddr_in6 peer;
	int cl;

	bench_init(&b);
	struct conn *c = make(&b, &cl, &b.w.conns, true, true);
	memcpy(&peer, &c->peer, sizeof(peer));
	ck_assert(!source_free(&b, (struct sockaddr *)&peer));
	conn_end(&b.w, c, CONN_END_IDLE, "idle timeout");
	ck_assert_uint_eq(b.w.count.closed[STATS_CLOSE_IDLE], 1);
	ck_assert_uint_eq(b.w.count.closed[STATS_CLOSE_EOF], 0);
	ck_assert_uint_eq(b.w.count.refused[STATS_REFUSE_DENY], 0);
	ck_assert_uint_eq(b.w.nconns, 0);
	ck_assert_ptr_null(b.w.conns.head);
	ck_assert(source_free(&b, (struct sockaddr *)&peer));
	assert_closed(cl);
	bench_free(&b);
}
END_TEST

/* Refused at the door: refused[] by the verdict; nconns untouched. */
START_TEST(test_refused_at_the_door)
{
	struct bench b;
	int cl;

	bench_init(&b);
	b.w.nconns = 5;			/* others, not this one */
	struct conn *c = make(&b, &cl, NULL, false, false);
	conn_end(&b.w, c, conn_end_refusal(ADMIT_SOURCE_LIMIT), "limit");
	ck_assert_uint_eq(b.w.count.refused[STATS_REFUSE_SOURCE_LIMIT], 1);
	ck_assert_uint_eq(b.w.nconns, 5);
	assert_closed(cl);
	ck_assert_int_eq(conn_end_refusal(ADMIT_DENIED), CONN_END_DENY);
	ck_assert_int_eq(conn_end_refusal(ADMIT_NOT_ALLOWED), CONN_END_DENY);
	ck_assert_int_eq(conn_end_refusal(ADMIT_UNTRACKED),
	    CONN_END_SOURCE_TABLE);
	ck_assert_int_eq(conn_end_refusal(ADMIT_CONN_RATE), CONN_END_CONN_RATE);
	bench_free(&b);
}
END_TEST

/* A balancer's connection waiting for its header: its own counters, a
 * refusal "proxy" unless it was a health check; off the waiting list. */
START_TEST(test_header_ends)
{
	struct bench b;
	int cl[3];

	bench_init(&b);
	struct conn *v[3];
	for (int i = 0; i < 3; i++) {
		v[i] = make(&b, &cl[i], &b.w.waiting, true, false);
		ck_assert_int_eq(proxy_conn_start(v[i], 1000), 0);
	}
	conn_end(&b.w, v[0], CONN_END_BAD_HEADER, "not a PROXY header");
	conn_end(&b.w, v[1], CONN_END_HEADER_TIMEOUT, "not complete");
	conn_end(&b.w, v[2], CONN_END_HEALTH_CHECK, NULL);
	ck_assert_uint_eq(b.w.px.bad_headers, 1);
	ck_assert_uint_eq(b.w.px.timeouts, 1);
	ck_assert_uint_eq(b.w.px.health_checks, 1);
	ck_assert_uint_eq(b.w.count.refused[STATS_REFUSE_PROXY], 2);
	ck_assert_uint_eq(b.w.nconns, 0);
	ck_assert_ptr_null(b.w.waiting.head);
	for (int i = 0; i < 3; i++)
		assert_closed(cl[i]);
	bench_free(&b);
}
END_TEST

/*
 * A socket another process still holds (here: a dup) stays in the epoll
 * set after close(): an adopted or handed-over one must leave it first,
 * or its next event would point at freed memory.  Neither is counted.
 */
START_TEST(test_shared_socket_leaves_epoll)
{
	struct bench b;
	struct epoll_event ev;
	int cl[2], other[2];

	bench_init(&b);
	struct conn *handed = make(&b, &cl[0], &b.w.conns, true, true);
	struct conn *adopted = make(&b, &cl[1], &b.w.conns, true, false);
	adopted->adopted = true;
	other[0] = dup(handed->fd);
	other[1] = dup(adopted->fd);
	conn_end(&b.w, handed, CONN_END_HANDED, NULL);
	conn_end(&b.w, adopted, CONN_END_EOF, NULL);
	ck_assert_int_eq(write(cl[0], "x", 1), 1);
	ck_assert_int_eq(write(cl[1], "y", 1), 1);
	/* loopback delivers at once; 50 ms bounds the wait for the event the
	 * bug would give, which must not come */
	ck_assert_int_eq(epoll_wait(b.w.ep, &ev, 1, 50), 0);
	ck_assert_uint_eq(b.w.count.closed[STATS_CLOSE_EOF], 1);
	ck_assert_uint_eq(b.w.nconns, 0);
	for (int i = 0; i < 2; i++) {
		close(other[i]);
		assert_closed(cl[i]);
	}
	bench_free(&b);
}
END_TEST

Suite *
conn_end_suite(void)
{
	Suite *s = suite_create("conn_end");
	TCase *tc = tcase_create("conn_end");

	tcase_add_test(tc, test_close_open);
	tcase_add_test(tc, test_refused_at_the_door);
	tcase_add_test(tc, test_header_ends);
	tcase_add_test(tc, test_shared_socket_leaves_epoll);
	suite_add_tcase(s, tc);
	return s;
}
