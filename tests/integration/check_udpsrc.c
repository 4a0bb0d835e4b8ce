/*
 * check_udpsrc.c - a UDP echo leaves from the address its datagram was sent
 * to, on a socket bound to 0.0.0.0 or [::] (echod's own, or a dual-stack
 * one systemd-socket-activate passes), and by the route's way out.
 *
 * Two network namespaces of the test's own (root only; nothing outside
 * sees them, and they go with the test's process): the server's, with the
 * service addresses 192.0.2.7 and 2001:db8::7 on lo (and the prefixes
 * 192.0.2.128/25 and 2001:db8:a::/64 by local routes), and the client's,
 * with 198.51.100.9 and 2001:db8:c::9 on lo.  Two veth pairs join them,
 * and the routes are asymmetric: the client reaches the service over a,
 * the server routes the client over b.  The client's socket is connected
 * to the service address, so the kernel hands it only an echo from there.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define PORT		7007	/* the namespaces are the test's: any port */
#define WAIT_MS		5000

extern char **environ;

static struct echod e;
static int back = -1, cns = -1, sns = -1;	/* namespaces: ours, client, server */

static void setup(void) { h_init(&e); }

static void
teardown(void)
{
	h_cleanup(&e);
	if (back != -1 && setns(back, CLONE_NEWNET) == -1)
		perror("setns back");
	for (int *fd = (int []){ back, cns, sns }, i = 0; i < 3; i++)
		if (fd[i] != -1)
			close(fd[i]);
	back = cns = sns = -1;
}

/* Runs a command (words split at spaces) in the current namespace;
 * returns its wait status, or -1. */
static int
run(const char *fmt, ...)
{
	char line[256], *argv[24], *save = NULL;
	posix_spawn_file_actions_t fa;
	size_t n = 0;
	va_list ap;
	pid_t pid;
	int rc;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *w = strtok_r(line, " ", &save); w != NULL && n < 23;
	    w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	/* its errors to the test's output, its chatter (--help) nowhere */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc != 0 ? -1 : h_wait_exit(pid, 10000);
}

#define RUN(...)	ck_assert_msg(run(__VA_ARGS__) == 0, __VA_ARGS__)

/* Reverse-path filtering off: each side gets its replies by the other way. */
static void
no_rp_filter(const char *const ifs[])
{
	for (size_t i = 0; ifs[i] != NULL; i++) {
		char path[96];
		int fd;

		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter",
		    ifs[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		ck_assert_msg(fd != -1 && write(fd, "0\n", 2) == 2, "%s: %s", path,
		    strerror(errno));
		close(fd);
	}
}

static void
server_net(void)
{
	no_rp_filter((const char *const []){ "all", "default", NULL });
	RUN("ip link set lo up");
	RUN("ip addr add 192.0.2.7/32 dev lo");
	RUN("ip -6 addr add 2001:db8::7/128 dev lo");
	for (char c = 'a'; c <= 'b'; c++) {
		RUN("ip link add s%c type veth peer name c%c netns /proc/%d/fd/%d",
		    c, c, (int)getpid(), cns);
		RUN("ip addr add 10.99.%d.1/24 dev s%c", c - 'a' + 1, c);
		RUN("ip -6 addr add fd99:%d::1/64 dev s%c nodad", c - 'a' + 1, c);
		RUN("ip link set s%c up", c);
	}
	/* AnyIP: prefixes served by a local route, on no interface */
	RUN("ip route add local 192.0.2.128/25 dev lo");
	RUN("ip -6 route add local 2001:db8:a::/64 dev lo");
	RUN("ip route add 198.51.100.9/32 via 10.99.2.2 dev sb");
	RUN("ip -6 route add 2001:db8:c::9/128 via fd99:2::2 dev sb");
}

static void
client_net(void)
{
	no_rp_filter((const char *const []){ "all", "default", "ca", "cb", NULL });
	RUN("ip link set lo up");
	RUN("ip addr add 198.51.100.9/32 dev lo");
	RUN("ip -6 addr add 2001:db8:c::9/128 dev lo");
	for (char c = 'a'; c <= 'b'; c++) {
		RUN("ip addr add 10.99.%d.2/24 dev c%c", c - 'a' + 1, c);
		RUN("ip -6 addr add fd99:%d::2/64 dev c%c nodad", c - 'a' + 1, c);
		RUN("ip link set c%c up", c);
	}
	RUN("ip route add 192.0.2.0/24 via 10.99.1.1 dev ca");
	RUN("ip -6 route add 2001:db8::/32 via fd99:1::1 dev ca");
}

/* Makes both namespaces and leaves the test in the server's; false with
 * why filled when it cannot run here. */
static bool
nets(char *why, size_t whylen)
{
	if (geteuid() != 0 || !test_forked()) {
		snprintf(why, whylen, "root and a process of its own (CK_FORK)");
		return false;
	}
	if (run("ip -V") != 0) {
		snprintf(why, whylen, "ip(8) from iproute2");
		return false;
	}
	if ((back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1 ||
	    unshare(CLONE_NEWNET) == -1 ||
	    (cns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1 ||
	    unshare(CLONE_NEWNET) == -1 ||
	    (sns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "network namespaces: %s", strerror(errno));
		return false;
	}
	server_net();
	ck_assert_int_eq(setns(cns, CLONE_NEWNET), 0);
	client_net();
	ck_assert_int_eq(setns(sns, CLONE_NEWNET), 0);
	return true;
}

static socklen_t
sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return sizeof(*in);
	}
	ck_assert_msg(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1, "%s", addr);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	return sizeof(*in6);
}

/* The interface a received message came in by, from its IP(V6)_PKTINFO. */
static unsigned
arrived_on(struct msghdr *m)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			return (unsigned)pi.ipi_ifindex;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			return pi.ipi6_ifindex;
		}
	}
	return 0;
}

/* A socket of to's family, bound to from (NULL: any), connected to to. */
static int
client(const char *from, const char *to, int port)
{
	struct sockaddr_storage src, dst;
	socklen_t dlen = sockaddr_of(to, port, &dst), slen;
	int on = 1, fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(dst.ss_family == AF_INET ?
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) :
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on)), 0);
	if (from != NULL) {
		slen = sockaddr_of(from, 0, &src);
		ck_assert_msg(bind(fd, (struct sockaddr *)&src, slen) == 0,
		    "bind %s: %s", from, strerror(errno));
	}
	ck_assert_msg(connect(fd, (struct sockaddr *)&dst, dlen) == 0,
	    "connect %s: %s", to, strerror(errno));
	return fd;
}

/*
 * One datagram from `from` to to:port, and its echo back, which only
 * comes through if its source is to.  Fails the test on no echo within
 * timeout_ms; returns the interface the echo came in by.
 */
static unsigned
exchange(const char *from, const char *to, int port, int timeout_ms)
{
	char out[32], in[64], ctl[128];
	struct iovec iov = { in, sizeof(in) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct pollfd pfd = { .fd = client(from, to, port), .events = POLLIN };
	int len = snprintf(out, sizeof(out), "to %s", to);
	ssize_t n;

	ck_assert_int_eq(send(pfd.fd, out, (size_t)len, 0), len);
	ck_assert_msg(poll(&pfd, 1, timeout_ms) == 1, "no echo from %s:%d to %s "
	    "within %d ms (none, or from another address)", to, port,
	    from ? from : "a local address", timeout_ms);
	n = recvmsg(pfd.fd, &m, 0);
	ck_assert_msg(n == len && memcmp(in, out, (size_t)len) == 0,
	    "%s: echo of %zd bytes, not \"%s\"", to, n, out);
	close(pfd.fd);
	return arrived_on(&m);
}

/* From the client's namespace: the echo comes from to, over b. */
static void
from_client(const char *from, const char *to, int timeout_ms)
{
	ck_assert_int_eq(setns(cns, CLONE_NEWNET), 0);
	unsigned cb = if_nametoindex("cb"), got = exchange(from, to, PORT,
	    timeout_ms);
	ck_assert_msg(got == cb, "echo from %s came in by interface %u, not "
	    "%u (cb): its way out was not the route's", to, got, cb);
	ck_assert_int_eq(setns(sns, CLONE_NEWNET), 0);
}

static void
start_wildcard(void)
{
	char any[64];

	/* what -l 0.0.0.0:PORT -l [::]:PORT gives: TCP and UDP on both */
	snprintf(any, sizeof(any), "\"0.0.0.0:%d\", \"[::]:%d\"", PORT, PORT);
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){ .tcp = any,
	    .udp = any, .workers = 2 }), 0);
	ck_assert(h_log_has(&e, "listening on udp 0.0.0.0:7007"));
}

/* IPv4 on 0.0.0.0: 127.0.0.2 from the server's own namespace, and the
 * service address and an AnyIP one over the veths. */
START_TEST(test_source_v4)
{
	char why[128];

	if (!nets(why, sizeof(why)))
		skip_test("needs %s", why);
	start_wildcard();
	exchange(NULL, "127.0.0.2", PORT, WAIT_MS);
	exchange(NULL, "192.0.2.7", PORT, WAIT_MS);
	from_client("198.51.100.9", "192.0.2.7", WAIT_MS);
	from_client("198.51.100.9", "192.0.2.200", WAIT_MS);
	ck_assert(h_log_has(&e, "listening on udp [::]:7007"));
}
END_TEST

/* IPv6 on [::]: the service address from both namespaces, and an
 * address of a prefix served by a local route (AnyIP). */
START_TEST(test_source_v6)
{
	char why[128];

	if (!nets(why, sizeof(why)))
		skip_test("needs %s", why);
	start_wildcard();
	exchange(NULL, "2001:db8::7", PORT, WAIT_MS);
	from_client("2001:db8:c::9", "2001:db8::7", WAIT_MS);
	from_client("2001:db8:c::9", "2001:db8:a::9", WAIT_MS);
}
END_TEST

/*
 * A dual-stack socket, [::]:7007 from systemd-socket-activate --datagram
 * (echod binds none itself): IPv4 comes in as ::ffff:a.b.c.d and goes
 * back from a v4-mapped IPV6_PKTINFO source.  Its first datagram starts
 * echod, and waits in the socket until echod reads it.
 */
START_TEST(test_source_dual_stack)
{
	char why[128], spec[32];

	if (!nets(why, sizeof(why)))
		skip_test("needs %s", why);
	if (run("systemd-socket-activate --help") != 0)
		skip_test("needs systemd-socket-activate");
	snprintf(spec, sizeof(spec), "[::]:%d", PORT);
	e.wrapper = "systemd-socket-activate";
	const char *const argv[] = { "--datagram", "-l", spec, "--",
	    h_echod_path(), "-f", "-w", "1", NULL };
	h_spawn(&e, argv);
	ck_assert(h_wait_log(&e, "Listening on", WAIT_MS));
	exchange(NULL, "127.0.0.2", PORT, 10000);
	ck_assert(h_wait_log(&e, "using 1 socket passed by systemd", WAIT_MS));
	exchange(NULL, "2001:db8::7", PORT, WAIT_MS);
	from_client("198.51.100.9", "192.0.2.7", WAIT_MS);
	from_client("2001:db8:c::9", "2001:db8::7", WAIT_MS);
	from_client("2001:db8:c::9", "2001:db8:a::9", WAIT_MS);
}
END_TEST

Suite *
udpsrc_suite(void)
{
	Suite *s = suite_create("udpsrc");
	TCase *tc = tcase_create("udpsrc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_source_v4);
	tcase_add_test(tc, test_source_v6);
	tcase_add_test(tc, test_source_dual_stack);
	suite_add_tcase(s, tc);
	return s;
}
