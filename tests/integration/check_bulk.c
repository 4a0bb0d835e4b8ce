/*
 * check_bulk.c - the bulk path of the real echod: large random streams
 * come back exact, clients that send and never read make it hold at most
 * buffer_size each (counted to the byte from the kernel's queues), and the
 * zero-copy pipe is one per worker, not one per connection.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define BUFSZ		(64 * 1024)
#define NONREADERS	24

static struct echod e;

static void
start(void)
{
	char conf[256];

	h_init(&e);
	snprintf(conf, sizeof(conf), "buffer_size = %d\n"
	    "log_connections = false\n", BUFSZ);
	ck_assert_msg(h_start_conf(&e, &(struct h_conf){ .workers = 1,
	    .extra = conf }) == 0, "echod did not start; see %s", e.logpath);
}

static void
stop(void)
{
	h_cleanup(&e);
}

/* 64 MiB of random bytes, written while the echo is read. */
START_TEST(test_64mib_random_exact)
{
	size_t len = 64 << 20;
	char *buf = malloc(len);
	int fd;

	h_random(buf, len);
	fd = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_ne(fd, -1);
	ck_assert_msg(h_echo(fd, buf, len, 40000) == 0,
	    "64 MiB did not come back exact");
	close(fd);
	free(buf);
}
END_TEST

/* The send and receive queues of echod's end of the connection whose
 * client is at local port cport, from /proc/net/tcp; -1 if not found. */
static int
server_queues(int sport, int cport, unsigned long *tx, unsigned long *rx)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	int found = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned lport, rport, st;
		if (sscanf(line, " %*d: %*x:%x %*x:%x %x %lx:%lx", &lport, &rport,
		    &st, tx, rx) == 5 && (int)lport == sport && (int)rport == cport) {
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static int
local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	getsockname(fd, (struct sockaddr *)&sin, &len);
	return ntohs(sin.sin_port);
}

/* Sends until the path has been full for 300 ms (20 s at most); the bytes
 * sent. */
static size_t
fill(int fd, const char *chunk, size_t len)
{
	size_t total = 0;
	uint64_t stalled = 0, end = h_now_ms() + 20000;

	while (h_now_ms() < end) {
		ssize_t n = send(fd, chunk, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			total += (size_t)n;
			stalled = 0;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		if (stalled == 0)
			stalled = h_now_ms();
		else if (h_now_ms() - stalled > 300)
			break;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		poll(&p, 1, 20);
	}
	return total;
}

/*
 * Clients send and never read.  What echod holds for each is what it read
 * less what it sent back, both known from the kernel's queues once the
 * path is full: read = sent by the client - its send queue - echod's
 * receive queue; echoed = the client's receive queue + echod's send queue.
 * Neither may differ from it by more than buffer_size, however the last
 * write was cut short.  A small receive buffer on the client makes echod's
 * writes partial early and often.
 */
START_TEST(test_nonreaders_hold_at_most_buffer_size)
{
	static char chunk[1 << 16];
	int fd[NONREADERS], rcv = 8192;
	size_t sent[NONREADERS];
	long worst = -1;
	pid_t w[2];

	ck_assert_int_eq(h_workers(e.pid, w, 2), 1);
	long rss0 = h_rss_kb(w[0]);
	h_random(chunk, sizeof(chunk));
	for (int i = 0; i < NONREADERS; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ne(fd[i], -1);
		if (i % 2 == 0)
			setsockopt(fd[i], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
		struct sockaddr_storage ss;
		socklen_t sl = h_loopback(AF_INET, e.tcp4, &ss);
		ck_assert_int_eq(connect(fd[i], (struct sockaddr *)&ss, sl), 0);
		/* odd sizes, so rounds and partial writes fall anywhere */
		sent[i] = fill(fd[i], chunk, 1000 + (size_t)i * 4999 % 60000);
	}
	for (int i = 0; i < NONREADERS; i++) {
		int outq = 0, inq = 0;
		unsigned long stx, srx;
		ck_assert_int_eq(ioctl(fd[i], SIOCOUTQ, &outq), 0);
		ck_assert_int_eq(ioctl(fd[i], FIONREAD, &inq), 0);
		ck_assert_int_eq(server_queues(e.tcp4, local_port(fd[i]), &stx, &srx), 0);
		long taken = (long)sent[i] - outq - (long)srx;
		long echoed = (long)inq + (long)stx;
		long held = taken - echoed;
		ck_assert_msg(held >= 0 && held <= BUFSZ, "connection %d: echod "
		    "holds %ld bytes (read %ld, echoed %ld; buffer_size %d)", i,
		    held, taken, echoed, BUFSZ);
		worst = held > worst ? held : worst;
	}
	long rss1 = h_rss_kb(w[0]);
	ck_assert_msg(rss1 - rss0 <= NONREADERS * BUFSZ / 1024 + 2048,
	    "worker RSS grew by %ld KiB for %d non-readers", rss1 - rss0,
	    NONREADERS);
	fprintf(stderr, "check_bulk: %d non-readers: at most %ld bytes held for "
	    "one (buffer_size %d), worker RSS +%ld KiB\n", NONREADERS, worst, BUFSZ,
	    rss1 - rss0);
	for (int i = 0; i < NONREADERS; i++)
		close(fd[i]);
}
END_TEST

static int
count_pipes(pid_t pid)
{
	char path[64], link[64], p[320];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		ssize_t l;
		snprintf(p, sizeof(p), "%s/%s", path, d->d_name);
		if ((l = readlink(p, link, sizeof(link) - 1)) > 0) {
			link[l] = '\0';
			n += strncmp(link, "pipe:", 5) == 0;
		}
	}
	closedir(dir);
	return n;
}

/* 200 connections, some streaming: the worker has no more pipes than
 * with none (its one zero-copy pipe is there from the start). */
START_TEST(test_one_pipe_per_worker)
{
	static char chunk[256 << 10];
	int fd[200];
	pid_t w[2];

	ck_assert_int_eq(h_workers(e.pid, w, 2), 1);
	int before = count_pipes(w[0]);
	ck_assert_int_gt(before, 1);
	h_random(chunk, sizeof(chunk));
	for (int i = 0; i < 200; i++) {
		fd[i] = h_connect(AF_INET, e.tcp4, 5000);
		ck_assert_int_ne(fd[i], -1);
		if (i % 20 == 0)
			ck_assert_int_eq(h_echo(fd[i], chunk, sizeof(chunk), 10000), 0);
	}
	ck_assert_int_eq(h_echo(fd[199], "x", 1, 5000), 0);
	ck_assert_int_eq(count_pipes(w[0]), before);
	for (int i = 0; i < 200; i++)
		close(fd[i]);
}
END_TEST

Suite *
bulk_suite(void)
{
	Suite *s = suite_create("bulk");
	TCase *tc = tcase_create("bulk");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, test_64mib_random_exact);
	tcase_add_test(tc, test_nonreaders_hold_at_most_buffer_size);
	tcase_add_test(tc, test_one_pipe_per_worker);
	suite_add_tcase(s, tc);
	return s;
}
