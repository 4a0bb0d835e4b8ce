/* check_handoff_master.c - the master's side of the handoff: a batch from
 * an old worker is passed to a ready worker of the new generation, held
 * (never refused) while none is ready, ended once held past shutdown_timeout,
 * parked in systemd's store on a restart, and refused when it is not what
 * it says.  A struct pool is set up by hand, with socketpairs for the
 * workers' channels, as check_pool.c does. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handoff_master.h"
#include "handoff_wire.h"
#include "pool.h"
#include "suites.h"
#include "unitlib.h"
#include "util.h"

#define OLD	0	/* the draining worker's slot, generation 1 */
#define NEW	1	/* the new generation's worker, generation 2 */

static struct pool p;
static struct handoff_master r;
static int chan[2] = { -1, -1 };	/* the workers' ends, by slot */
static pid_t sleeper = -1;		/* the slots' pid: kill() never hits 0 */

static void
rig(bool ready)
{
	int sv[2];

	ck_assert_int_eq(pool_init(&p), 0);
	handoff_master_init(&r, &p);
	r.hold_ms = 3000;
	if ((sleeper = fork()) == 0)
		for (;;)
			pause();
	ck_assert_int_gt(sleeper, 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET |
		    SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
		chan[i] = sv[0];
		p.slot[i] = (struct slot){ .state = SLOT_RUNNING, .pid = sleeper,
		    .generation = 2, .cmd_fd = sv[1] };
	}
	p.hw = 2;
	p.slot[OLD].state = SLOT_DRAINING;
	p.slot[OLD].generation = 1;
	p.slot[OLD].handoff = SLOT_HANDOFF_ORDERED;
	atomic_store(&p.stats[NEW].ready, ready);
}

static void
unrig(void)
{
	handoff_master_abandon(&r);
	for (int i = 0; i < 2; i++)
		close(chan[i]);
	pool_free(&p);
	kill(sleeper, SIGKILL);
	waitpid(sleeper, NULL, 0);
}

/* The old worker hands n connections over, each owing "abc" and idle
 * 5 ms; the master reads its channel.  The clients are in client[]. */
static void
send_batch(size_t n, int *client)
{
	struct handoff_rec v[4] = { 0 };
	int fds[5];

	for (size_t k = 0; k < n; k++) {
		fds[k + 1] = u_tcp_pair(&client[k], NULL, NULL);
		v[k].peerlen = sizeof(v[k].peer);
		ck_assert_int_eq(getpeername(fds[k + 1], &v[k].peer.sa,
		    &v[k].peerlen), 0);
		v[k].idle_ms = 5;
		v[k].pend = "abc";
		v[k].pend_len = 3;
	}
	ck_assert_int_ne(fds[0] = handoff_encode(v, n), -1);
	ck_assert_int_eq(handoff_send(chan[OLD], HANDOFF_MSG_BATCH, fds, n + 1), 0);
	for (size_t k = 0; k <= n; k++)
		close(fds[k]);	/* the master holds the only copies now */
	handoff_master_on_channel(&r, OLD, 2);
}

/* The next message on slot i's channel: its type, or 0 if none. */
static char
next_msg(int i, int *fds, size_t *nfds)
{
	char type;

	if (handoff_recv(chan[i], &type, fds, HANDOFF_MAX_FDS, nfds) != 1) {
		ck_assert_int_eq(errno, EAGAIN);
		return 0;
	}
	return type;
}

/* The new worker's adopt message: n connections, each the client's own
 * and owing "abc", idle at least idle_ms.  Closes what it received. */
static void
expect_adopt(size_t n, const int *client, uint64_t idle_ms)
{
	int fds[HANDOFF_MAX_FDS];
	struct handoff_batch b;
	const char *why = NULL;
	size_t nfds;
	char c;

	ck_assert_int_eq(next_msg(NEW, fds, &nfds), HANDOFF_MSG_ADOPT);
	ck_assert_uint_eq(nfds, n + 1);
	ck_assert_msg(handoff_decode(fds[0], n, &b, &why) == 0, "%s", why);
	for (size_t k = 0; k < n; k++) {
		ck_assert_uint_eq(b.v[k].pend_len, 3);
		ck_assert(memcmp(b.v[k].pend, "abc", 3) == 0);
		ck_assert_uint_ge(b.v[k].idle_ms, idle_ms);
		ck_assert_int_eq(write(client[k], "x", 1), 1);
		ck_assert_int_eq(read(fds[k + 1], &c, 1), 1);
		ck_assert_int_eq(c, 'x');
	}
	handoff_batch_free(&b);
	for (size_t k = 0; k < nfds; k++)
		close(fds[k]);
}

/* The client got what it was owed, then the end. */
static void
expect_ended(int client)
{
	char buf[8];

	ck_assert_int_eq(read(client, buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "abc", 3) == 0);
	ck_assert_int_eq(read(client, buf, sizeof(buf)), 0);
}

/* A ready worker of the new generation: the batch goes straight to it,
 * and the old worker hears it was accepted. */
START_TEST(test_to_ready_worker)
{
	int client[2], fds[HANDOFF_MAX_FDS];
	size_t nfds;

	rig(true);
	send_batch(2, client);
	ck_assert_int_eq(next_msg(OLD, fds, &nfds), HANDOFF_MSG_ACCEPTED);
	expect_adopt(2, client, 5);
	ck_assert_uint_eq(r.moved, 2);
	ck_assert_uint_eq(r.nheld, 0);
	close(client[0]);
	close(client[1]);
	unrig();
}
END_TEST

/* None ready: the batch is held, not refused, until one is; the clients'
 * idle clocks run meanwhile. */
START_TEST(test_held_until_ready)
{
	int client[1], fds[HANDOFF_MAX_FDS];
	size_t nfds;

	rig(false);
	send_batch(1, client);
	ck_assert_int_eq(next_msg(OLD, fds, &nfds), HANDOFF_MSG_ACCEPTED);
	ck_assert_int_eq(next_msg(NEW, fds, &nfds), 0);
	ck_assert_uint_eq(r.nheld, 1);
	ck_assert_uint_eq(r.held[0].until_ms - r.held[0].since_ms, 3000);
	r.held[0].since_ms -= 1000;	/* held for a second */
	handoff_master_tick(&r, 2, 0);
	ck_assert_uint_eq(r.nheld, 1);	/* nobody yet, not past the limit */
	ck_assert_int_eq(next_msg(NEW, fds, &nfds), 0);
	atomic_store(&p.stats[NEW].ready, 1);
	handoff_master_tick(&r, 2, 0);
	ck_assert_uint_eq(r.nheld, 0);
	expect_adopt(1, client, 1005);
	ck_assert_uint_eq(r.moved, 1);
	ck_assert_uint_eq(r.ended, 0);
	close(client[0]);
	unrig();
}
END_TEST

/* Held past shutdown_timeout with no worker ready: each connection gets
 * the echo it was owed, then its end. */
START_TEST(test_held_at_most_shutdown_timeout)
{
	int client[2], fds[HANDOFF_MAX_FDS];
	size_t nfds;

	rig(false);
	r.hold_ms = 0;
	send_batch(2, client);
	ck_assert_int_eq(next_msg(OLD, fds, &nfds), HANDOFF_MSG_ACCEPTED);
	ck_assert_uint_eq(r.nheld, 1);
	handoff_master_tick(&r, 2, 0);
	ck_assert_uint_eq(r.nheld, 0);
	ck_assert_uint_eq(r.ended, 2);
	ck_assert_uint_eq(r.moved, 0);
	ck_assert_int_eq(next_msg(NEW, fds, &nfds), 0);
	for (int k = 0; k < 2; k++) {
		expect_ended(client[k]);
		close(client[k]);
	}
	unrig();
}
END_TEST

/* systemd's notification socket, as a unit with FDSTORE=max has it. */
static int
fake_notify(unsigned max, char *dir)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char n[16];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(n, sizeof(n), "%u", max);
	setenv("NOTIFY_SOCKET", a.sun_path, 1);
	setenv("FDSTORE", n, 1);
	return fd;
}

/* The next FDSTORE=1 message: its name's prefix matched, its descriptor
 * closed.  False when none is left. */
static bool
stored(int fd, const char *prefix)
{
	char buf[256], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	int got;

	if (n == -1)
		return false;
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "FDSTORE=1") && strstr(buf, prefix), "%s", buf);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_type == SCM_RIGHTS) {
			memcpy(&got, CMSG_DATA(c), sizeof(got));
			close(got);
		}
	return true;
}

/* A restart: the batch goes to systemd's store, as much as it has room
 * for (the state takes one); the rest is ended gracefully. */
START_TEST(test_parking)
{
	char dir[] = "/tmp/echod-hm.XXXXXX", path[64];
	int client[2], fds[HANDOFF_MAX_FDS], nfd;
	size_t nfds;

	nfd = fake_notify(2, dir);
	rig(true);
	r.parking = true;
	send_batch(2, client);
	ck_assert_int_eq(next_msg(OLD, fds, &nfds), HANDOFF_MSG_ACCEPTED);
	ck_assert_int_eq(next_msg(NEW, fds, &nfds), 0);
	ck_assert_uint_eq(r.parked, 1);
	ck_assert_uint_eq(r.ended, 1);
	ck_assert(stored(nfd, FDSTORE_STATE_PREFIX));
	ck_assert(stored(nfd, FDSTORE_CONN_PREFIX));
	ck_assert(!stored(nfd, ""));
	expect_ended(client[1]);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("FDSTORE");
	snprintf(path, sizeof(path), "%s/notify", dir);
	unlink(path);
	rmdir(dir);
	close(nfd);
	close(client[0]);
	close(client[1]);
	unrig();
}
END_TEST

/* A batch that is not what it says (a Unix socket for a connection) is
 * refused: the old worker drains it, the master keeps nothing of it. */
START_TEST(test_refused)
{
	struct handoff_rec v[1] = { { .pend = NULL } };
	int sv[2], fds[HANDOFF_MAX_FDS];
	size_t nfds;
	char c;

	rig(true);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	v[0].peerlen = sizeof(v[0].peer.in);
	v[0].peer.in.sin_family = AF_INET;
	fds[0] = handoff_encode(v, 1);
	fds[1] = sv[0];
	ck_assert_int_eq(handoff_send(chan[OLD], HANDOFF_MSG_BATCH, fds, 2), 0);
	close(fds[0]);
	close(sv[0]);
	handoff_master_on_channel(&r, OLD, 2);
	ck_assert_int_eq(next_msg(OLD, fds, &nfds), HANDOFF_MSG_REFUSED);
	ck_assert_int_eq(p.slot[OLD].handoff, SLOT_HANDOFF_NONE);
	ck_assert_int_eq(next_msg(NEW, fds, &nfds), 0);
	ck_assert_int_eq(read(sv[1], &c, 1), 0);	/* its copy closed */
	close(sv[1]);
	unrig();
}
END_TEST

Suite *
handoff_master_suite(void)
{
	Suite *s = suite_create("handoff_master");
	TCase *tc = tcase_create("handoff_master");

	tcase_add_test(tc, test_to_ready_worker);
	tcase_add_test(tc, test_held_until_ready);
	tcase_add_test(tc, test_held_at_most_shutdown_timeout);
	tcase_add_test(tc, test_parking);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}
