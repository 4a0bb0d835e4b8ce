/*
 * check_listen.c - listen_reconcile() on real loopback sockets: what it
 * binds, keeps and closes, how it matches addresses (resolved, never by
 * spelling), and that a failure (out of memory too) changes nothing.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "failalloc.h"
#include "listen.h"
#include "suites.h"

#define BACKLOG	16

static struct listeners ls;
static char err[256];
/* what note() was told, in order: "+tcp 127.0.0.1:5000", "-udp [::1]:7" */
static char notes[16][ADDR_STRLEN + 8];
static int nnotes;

static void
note(bool added, const struct listener *l)
{
	if (nnotes < 16)
		snprintf(notes[nnotes++], sizeof(notes[0]), "%c%s %s", added ? '+' : '-',
		    proto_name(l->proto), l->name);
}

static void
setup(void)
{
	memset(&ls, 0, sizeof(ls));
	nnotes = 0;
	err[0] = '\0';
}

static void
teardown(void)
{
	listen_close_all(&ls);
}

static int
reconcile(char **tcp, size_t ntcp, char **udp, size_t nudp)
{
	const struct listen_spec want = { .tcp = tcp, .n_tcp = ntcp,
	    .udp = udp, .n_udp = nudp, .backlog = BACKLOG };

	nnotes = 0;
	err[0] = '\0';
	return listen_reconcile(&ls, &want, note, err, sizeof(err));
}

static int
port_of(const struct listener *l)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->bound;

	return ntohs(sa->sa_family == AF_INET ?
	    ((const struct sockaddr_in *)sa)->sin_port :
	    ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* The listener whose bound name is name (as "127.0.0.1:5000"), or NULL. */
static const struct listener *
find(enum proto proto, const char *name)
{
	for (size_t i = 0; i < ls.n; i++)
		if (ls.v[i].proto == proto && strcmp(ls.v[i].name, name) == 0)
			return &ls.v[i];
	return NULL;
}

static bool
is_listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* Whether something on this process's side accepts TCP on 127.0.0.1:port. */
static bool
tcp_answers(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0;

	close(fd);
	return ok;
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static bool
have_ipv6(void)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
	    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd != -1 && bind(fd, (struct sockaddr *)&in6, sizeof(in6)) == 0;

	if (fd != -1)
		close(fd);
	return ok;
}

/* Binds every spec, each added once and told to note(). */
START_TEST(test_bind_new)
{
	char *tcp[] = { "127.0.0.1:0" }, *udp[] = { "127.0.0.1:0" };

	ck_assert_int_eq(reconcile(tcp, 1, udp, 1), 0);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_int_eq(nnotes, 2);
	ck_assert_int_eq(ls.v[0].proto, PROTO_TCP);
	ck_assert_int_eq(ls.v[1].proto, PROTO_UDP);
	for (size_t i = 0; i < 2; i++) {
		char want[ADDR_STRLEN + 8];
		ck_assert_int_gt(port_of(&ls.v[i]), 0);	/* the kernel's port, named */
		ck_assert_str_eq(ls.v[i].spec, "127.0.0.1:0");
		ck_assert(!ls.v[i].passed);
		snprintf(want, sizeof(want), "+%s %s", proto_name(ls.v[i].proto),
		    ls.v[i].name);
		ck_assert_str_eq(notes[i], want);
	}
	ck_assert(is_listening(ls.v[0].fd));
	ck_assert(tcp_answers(port_of(&ls.v[0])));
}
END_TEST

/*
 * The same configuration again keeps every socket: port 0 keeps the port
 * it got, and so does a spec naming that port, in another spelling.
 */
START_TEST(test_keep_by_resolved_address)
{
	char *tcp[] = { "127.0.0.1:0" }, spec[3][64];
	int fd, port;

	ck_assert_int_eq(reconcile(tcp, 1, NULL, 0), 0);
	fd = ls.v[0].fd;
	port = port_of(&ls.v[0]);

	ck_assert_int_eq(reconcile(tcp, 1, NULL, 0), 0);
	ck_assert_int_eq(nnotes, 0);
	ck_assert_uint_eq(ls.n, 1);
	ck_assert_int_eq(ls.v[0].fd, fd);

	snprintf(spec[0], sizeof(spec[0]), "127.0.0.1:%d", port);
	snprintf(spec[1], sizeof(spec[1]), "127.1:%d", port);	/* inet_aton's */
	snprintf(spec[2], sizeof(spec[2]), "localhost:%d", port);	/* /etc/hosts */
	for (int i = 0; i < 3; i++) {
		char *one[] = { spec[i] }, name[64];
		const struct listener *l;

		ck_assert_int_eq(reconcile(one, 1, NULL, 0), 0);
		snprintf(name, sizeof(name), "127.0.0.1:%d", port);
		ck_assert_msg((l = find(PROTO_TCP, name)) != NULL, "%s dropped %s",
		    spec[i], name);
		ck_assert_msg(l->fd == fd, "%s: the socket of %s was replaced",
		    spec[i], name);
		ck_assert_str_eq(l->spec, spec[i]);	/* the new spelling */
		/* "localhost" may name ::1 too: that one is new; nothing closed */
		for (int k = 0; k < nnotes; k++)
			ck_assert_msg(notes[k][0] == '+', "%s: %s", spec[i], notes[k]);
	}
	ck_assert(is_listening(fd));
}
END_TEST

/* From {a, b} to {a, c}: a kept, b closed, c bound; told in that order. */
START_TEST(test_keep_bind_close)
{
	char *tcp[] = { "127.0.0.1:0", "127.0.0.2:0" }, *udp[] = { "127.0.0.1:0" };
	char a[64], b[ADDR_STRLEN], want[ADDR_STRLEN + 8];
	int fda, portb;

	ck_assert_int_eq(reconcile(tcp, 2, NULL, 0), 0);
	ck_assert_uint_eq(ls.n, 2);
	fda = ls.v[0].fd;
	portb = port_of(&ls.v[1]);
	snprintf(b, sizeof(b), "%s", ls.v[1].name);
	snprintf(a, sizeof(a), "127.0.0.1:%d", port_of(&ls.v[0]));

	char *keep[] = { a };
	ck_assert_int_eq(reconcile(keep, 1, udp, 1), 0);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_int_eq(ls.v[0].fd, fda);
	ck_assert(is_listening(fda));
	ck_assert_int_eq(ls.v[1].proto, PROTO_UDP);
	ck_assert_ptr_null(find(PROTO_TCP, b));
	ck_assert_int_eq(nnotes, 2);
	snprintf(want, sizeof(want), "-tcp %s", b);
	ck_assert_str_eq(notes[0], want);
	snprintf(want, sizeof(want), "+udp %s", ls.v[1].name);
	ck_assert_str_eq(notes[1], want);
	/* b's socket is really closed: 127.0.0.2:portb refuses */
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(portb) };
	inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&in, sizeof(in)), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(fd);

	/* nothing wanted: everything closed */
	ck_assert_int_eq(reconcile(NULL, 0, NULL, 0), 0);
	ck_assert_uint_eq(ls.n, 0);
	ck_assert_int_eq(nnotes, 2);
}
END_TEST

/* An address listed twice, or two spellings of one, is bound once. */
START_TEST(test_twice_bound_once)
{
	char *tcp[] = { "127.0.0.1:0", "127.1:0", "127.0.0.1:0" };
	char *udp[] = { "127.0.0.1:0", "127.0.0.1:0" };
	char again[64];

	ck_assert_int_eq(reconcile(tcp, 3, udp, 2), 0);
	ck_assert_uint_eq(ls.n, 2);	/* one TCP, one UDP */
	ck_assert_int_eq(nnotes, 2);
	ck_assert_str_eq(ls.v[0].spec, "127.0.0.1:0");	/* the first spelling */

	/* a port named twice: the second would fail with EADDRINUSE */
	snprintf(again, sizeof(again), "127.0.0.1:%d", port_of(&ls.v[0]));
	char *twice[] = { again, again };
	listen_close_all(&ls);
	ck_assert_int_eq(reconcile(twice, 2, NULL, 0), 0);
	ck_assert_uint_eq(ls.n, 1);
}
END_TEST

/*
 * An added address that cannot be bound fails the whole reconcile: the old
 * sockets stay as they were and what was bound on the way is closed again.
 */
START_TEST(test_failed_bind_changes_nothing)
{
	char *tcp[] = { "127.0.0.1:0" }, *udp[] = { "127.0.0.1:0" };
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	char busy[64], keep[64], want[160];
	int blocker, fd[2], before;

	ck_assert_int_eq(reconcile(tcp, 1, udp, 1), 0);
	fd[0] = ls.v[0].fd;
	fd[1] = ls.v[1].fd;
	snprintf(keep, sizeof(keep), "127.0.0.1:%d", port_of(&ls.v[0]));

	/* a port another socket listens on (no SO_REUSEADDR helps there) */
	blocker = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(blocker, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_int_eq(listen(blocker, 1), 0);
	ck_assert_int_eq(getsockname(blocker, (struct sockaddr *)&in, &len), 0);
	snprintf(busy, sizeof(busy), "127.0.0.1:%d", ntohs(in.sin_port));

	before = open_fds();
	/* the kept one, a new one that binds, then the one that cannot */
	char *next[] = { keep, "127.0.0.2:0", busy };
	ck_assert_int_eq(reconcile(next, 3, NULL, 0), -1);
	snprintf(want, sizeof(want), "listen %s (tcp %s): %s", busy, busy,
	    strerror(EADDRINUSE));
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(nnotes, 0);
	ck_assert_uint_eq(ls.n, 2);	/* the UDP socket was not closed */
	ck_assert_int_eq(ls.v[0].fd, fd[0]);
	ck_assert_int_eq(ls.v[1].fd, fd[1]);
	ck_assert_int_eq(ls.v[1].proto, PROTO_UDP);
	ck_assert(is_listening(fd[0]));
	ck_assert_int_eq(open_fds(), before);	/* 127.0.0.2's socket closed */

	/* a spec that does not resolve: the same */
	char *bad[] = { keep, "127.0.0.1:no-such-service-echod" };
	ck_assert_int_eq(reconcile(bad, 2, NULL, 0), -1);
	ck_assert_ptr_nonnull(strstr(err, "listen 127.0.0.1:no-such-service-echod (tcp): "));
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_int_eq(ls.v[1].fd, fd[1]);
	ck_assert_int_eq(nnotes, 0);
	close(blocker);
}
END_TEST

/* A socket systemd passed is never closed, and never matched. */
START_TEST(test_passed_kept)
{
	char *tcp[] = { "127.0.0.1:0" };
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	ls.v = calloc(1, sizeof(*ls.v));
	ls.n = 1;
	ls.v[0] = (struct listener){ .fd = fd, .proto = PROTO_TCP, .passed = true,
	    .spec = "echod.socket", .asked_len = len, .bound_len = len };
	memcpy(&ls.v[0].asked, &in, len);
	memcpy(&ls.v[0].bound, &in, len);

	ck_assert_int_eq(reconcile(tcp, 1, NULL, 0), 0);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_int_eq(ls.v[0].fd, fd);
	ck_assert_int_eq(reconcile(NULL, 0, NULL, 0), 0);
	ck_assert_uint_eq(ls.n, 1);
	ck_assert_int_eq(ls.v[0].fd, fd);
	ck_assert(is_listening(fd));
}
END_TEST

/* IPv6: [::1] and 127.0.0.1 on one port are two sockets (IPV6_V6ONLY). */
START_TEST(test_ipv6)
{
	char *tcp[] = { "127.0.0.1:0" }, six[64], four[64];

	if (!have_ipv6())
		skip_test("no IPv6 loopback here");
	ck_assert_int_eq(reconcile(tcp, 1, NULL, 0), 0);
	snprintf(four, sizeof(four), "127.0.0.1:%d", port_of(&ls.v[0]));
	snprintf(six, sizeof(six), "[::1]:%d", port_of(&ls.v[0]));
	char *both[] = { four, six };
	int fd = ls.v[0].fd;
	ck_assert_msg(reconcile(both, 2, NULL, 0) == 0, "%s", err);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_int_eq(ls.v[0].fd, fd);
	ck_assert_str_eq(ls.v[1].name, six);
	ck_assert_int_eq(nnotes, 1);
	/* and [::1] spelled out in full is the same socket */
	char full[96];
	snprintf(full, sizeof(full), "[0:0:0:0:0:0:0:1]:%d", port_of(&ls.v[0]));
	char *spelled[] = { four, full };
	fd = ls.v[1].fd;
	ck_assert_int_eq(reconcile(spelled, 2, NULL, 0), 0);
	ck_assert_int_eq(nnotes, 0);
	ck_assert_int_eq(ls.v[1].fd, fd);
}
END_TEST

/*
 * Memory running out anywhere in a reconcile fails it as a whole: the old
 * sockets as they were, nothing bound on the way left open, nothing told;
 * never a success with an added listener quietly dropped.
 */
START_TEST(test_out_of_memory_changes_nothing)
{
	char *tcp[] = { "127.0.0.1:0" }, keep[64];
	int fd, before, rc = -1, k;

	ck_assert_int_eq(reconcile(tcp, 1, NULL, 0), 0);
	fd = ls.v[0].fd;
	snprintf(keep, sizeof(keep), "127.0.0.1:%d", port_of(&ls.v[0]));

	char *next[] = { keep, "127.0.0.2:0" }, *udp[] = { "127.0.0.1:0" };
	for (k = 1; k < 100; k++) {
		before = open_fds();
		failalloc_arm(k);
		rc = reconcile(next, 2, udp, 1);
		failalloc_disarm();
		if (!failalloc_failed())
			break;
		ck_assert_msg(rc == -1, "allocation %d failed, yet the reconcile "
		    "succeeded with %zu listeners", k, ls.n);
		ck_assert_msg(strstr(err, "out of memory") != NULL, "%s", err);
		ck_assert_int_eq(nnotes, 0);
		ck_assert_uint_eq(ls.n, 1);
		ck_assert_int_eq(ls.v[0].fd, fd);
		ck_assert(is_listening(fd));
		ck_assert_int_eq(open_fds(), before);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(ls.n, 3);
	ck_assert_int_eq(ls.v[0].fd, fd);
	ck_assert_int_eq(nnotes, 2);
}
END_TEST

Suite *
listen_suite(void)
{
	Suite *s = suite_create("listen");
	TCase *tc = tcase_create("listen");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bind_new);
	tcase_add_test(tc, test_keep_by_resolved_address);
	tcase_add_test(tc, test_keep_bind_close);
	tcase_add_test(tc, test_twice_bound_once);
	tcase_add_test(tc, test_failed_bind_changes_nothing);
	tcase_add_test(tc, test_passed_kept);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_out_of_memory_changes_nothing);
	suite_add_tcase(s, tc);
	return s;
}
