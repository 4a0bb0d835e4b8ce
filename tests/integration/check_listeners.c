/* check_listeners.c - the listeners with the real binary: a UDP port another
 * process holds is refused (at start and on reload), and a listener
 * respelled on reload keeps its socket. */
#include "config.h"

#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

/* A socket on loopback at a port the kernel picks; *port says which. */
static int
bound(int family, int type, bool reuseaddr, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(family, 0, &ss);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), on = 1;

	ck_assert_int_ne(fd, -1);
	if (reuseaddr)
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A port free right now for this family and type. */
static int
free_port(int family, int type)
{
	int port, fd = bound(family, type, false, &port);

	close(fd);
	return port;
}

static const char *
loop_host(int family)
{
	return family == AF_INET6 ? "[::1]" : "127.0.0.1";
}

/* The inodes of the sockets the master holds; returns how many.  The
 * tests that count them run without a control socket. */
static int
master_sockets(unsigned long *out, int max)
{
	char path[64], link[64], line[512];
	static unsigned long unix_ino[8192];
	int nunix = 0;
	struct dirent *d;
	DIR *dir;
	FILE *f;
	int n = 0;

	/* Not the channels to the workers (AF_UNIX): only the listeners. */
	if ((f = fopen("/proc/net/unix", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) && nunix < 8192) {
			unsigned long ino;
			if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu", &ino) == 1)
				unix_ino[nunix++] = ino;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)e.pid);
	ck_assert_ptr_nonnull(dir = opendir(path));
	while ((d = readdir(dir)) != NULL && n < max) {
		char fdpath[384];
		ssize_t len;
		bool is_unix = false;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, d->d_name);
		if ((len = readlink(fdpath, link, sizeof(link) - 1)) <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &out[n]) != 1)
			continue;
		for (int i = 0; i < nunix && !is_unix; i++)
			is_unix = unix_ino[i] == out[n];
		if (!is_unix)
			n++;
	}
	closedir(dir);
	return n;
}

/*
 * A process holds a UDP port with SO_REUSEADDR: echod binding it too would
 * share the port and the other process would get the datagrams.  Start-up
 * must fail with the address and the reason, for IPv4 and IPv6.
 */
START_TEST(test_udp_held_port_refused_at_start)
{
	static const int families[] = { AF_INET, AF_INET6 };

	for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
		int f = families[k], port, holder, st;
		char conf[256], want[200], spec[64];

		holder = bound(f, SOCK_DGRAM, true, &port);
		snprintf(spec, sizeof(spec), "%s:%d", loop_host(f), port);
		snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
		    "listen_udp = {\"%s\"}\n", spec);
		const struct h_conf hc = {
		    .extra = conf, .nowait = true };
		h_start_conf(&e, &hc);
		st = h_wait_exit(e.pid, 5000);
		ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
		    "%s held with SO_REUSEADDR: echod did not fail (0x%x)", spec, st);
		e.pid = -1;
		snprintf(want, sizeof(want), "listen %s (udp %s): Address already in use",
		    spec, spec);
		ck_assert_msg(h_log_has(&e, want), "no \"%s\" in the log", want);
		ck_assert(h_log_lacks(&e, "ready: "));
		close(holder);
		h_cleanup(&e);
		h_init(&e);
	}
}
END_TEST

/* The same on reload: the reload fails, says why, and the old listeners
 * keep serving. */
START_TEST(test_udp_held_port_refused_on_reload)
{
	char conf[256], want[240];
	int port, holder;

	const struct h_conf hc = {
	    .extra = "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {\"127.0.0.1:0\"}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	ck_assert_int_gt(e.udp4, 0);
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, "before", 6, 2000), 6);

	holder = bound(AF_INET, SOCK_DGRAM, true, &port);
	/* the running port, spelled out, and the held one */
	snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {\"127.0.0.1:%d\", \"127.0.0.1:%d\"}\n", e.udp4, port);
	h_write_conf(&e, conf);
	kill(e.pid, SIGHUP);
	snprintf(want, sizeof(want), "reload failed: listen 127.0.0.1:%d (udp "
	    "127.0.0.1:%d): Address already in use; the running configuration "
	    "stays", port, port);
	ck_assert_msg(h_wait_log(&e, want, 5000), "no \"%s\" in the log", want);
	ck_assert(h_log_lacks(&e, "configuration reloaded"));
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, "after", 5, 2000), 5);
	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "tcp too", 7, 2000), 0);
	close(fd);
	close(holder);
}
END_TEST

/*
 * Respelling every listener on reload (127.0.0.1 as localhost, [::1] as
 * [0:0:0:0:0:0:0:1], one address listed twice) binds nothing and closes
 * nothing: the sockets are the same ones, a connection open across the
 * reload is still served, and every address still answers.
 */
START_TEST(test_respelled_listener_kept)
{
	int p4 = free_port(AF_INET, SOCK_STREAM), p6 = free_port(AF_INET6, SOCK_STREAM);
	int u4 = free_port(AF_INET, SOCK_DGRAM), u6 = free_port(AF_INET6, SOCK_DGRAM);
	unsigned long before[32], after[32];
	char conf[512], no[128];
	int nb, na, fd, open_fd;
	size_t off;

	snprintf(conf, sizeof(conf), "workers = 1\ncontrol_socket = \"\"\n"
	    "listen_tcp = {\"127.0.0.1:%d\", \"[::1]:%d\"}\n"
	    "listen_udp = {\"127.0.0.1:%d\", \"[::1]:%d\"}\n", p4, p6, u4, u6);
	const struct h_conf hc = {
	    .extra = conf };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	open_fd = h_connect(AF_INET, p4, 2000);
	ck_assert_int_ne(open_fd, -1);
	ck_assert_int_eq(h_echo(open_fd, "before", 6, 2000), 0);
	nb = master_sockets(before, 32);
	/* 4 listeners, and each UDP one's socket for worker 0 (shard.h) */
	ck_assert_int_eq(nb, 6);

	snprintf(conf, sizeof(conf), "workers = 1\ncontrol_socket = \"\"\n"
	    "listen_tcp = {\"localhost:%d\", \"[0:0:0:0:0:0:0:1]:%d\"}\n"
	    "listen_udp = {\"localhost:%d\", \"127.0.0.1:%d\", \"[::0:1]:%d\"}\n",
	    p4, p6, u4, u4, u6);
	h_write_conf(&e, conf);
	off = h_log_size(&e);
	kill(e.pid, SIGHUP);
	ck_assert_msg(h_wait_log(&e, "configuration reloaded", 5000),
	    "the respelled reload failed");
	ck_assert(h_log_lacks_since(&e, off, "reload failed"));
	ck_assert(h_log_lacks_since(&e, off, "no longer listening on"));
	/* localhost may also name ::1; a socket for that is new, not rebound */
	snprintf(no, sizeof(no), "listening on tcp 127.0.0.1:%d", p4);
	ck_assert_msg(h_log_lacks_since(&e, off, no), "rebound: %s", no);
	snprintf(no, sizeof(no), "listening on tcp [::1]:%d", p6);
	ck_assert_msg(h_log_lacks_since(&e, off, no), "rebound: %s", no);
	snprintf(no, sizeof(no), "listening on udp 127.0.0.1:%d", u4);
	ck_assert_msg(h_log_lacks_since(&e, off, no), "rebound: %s", no);
	snprintf(no, sizeof(no), "listening on udp [::1]:%d", u6);
	ck_assert_msg(h_log_lacks_since(&e, off, no), "rebound: %s", no);
	ck_assert(h_wait_log(&e, "ready: 1 worker", 5000));

	na = master_sockets(after, 32);
	for (int i = 0; i < nb; i++) {
		bool kept = false;
		for (int j = 0; j < na; j++)
			kept |= before[i] == after[j];
		ck_assert_msg(kept, "socket %lu was replaced", before[i]);
	}
	ck_assert_int_eq(h_echo(open_fd, "across", 6, 2000), 0);
	close(open_fd);
	fd = h_connect(AF_INET, p4, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "v4", 2, 2000), 0);
	close(fd);
	fd = h_connect(AF_INET6, p6, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "v6", 2, 2000), 0);
	close(fd);
	ck_assert_int_eq(h_udp_echo(AF_INET, u4, "u4", 2, 2000), 2);
	ck_assert_int_eq(h_udp_echo(AF_INET6, u6, "u6", 2, 2000), 2);
}
END_TEST

/*
 * A scope id on an address that is not link-local is ignored by the kernel:
 * [::1%1]:P binds [::1]:P.  Listed next to [::1]:P it is the same address
 * (bound once, not EADDRINUSE at start), and a reload that respells one as
 * the other keeps the socket.
 */
START_TEST(test_scope_id_respelled)
{
	int p6 = free_port(AF_INET6, SOCK_STREAM), u6 = free_port(AF_INET6, SOCK_DGRAM);
	unsigned lo = if_nametoindex("lo");
	unsigned long before[8], after[8];
	char conf[512];
	int nb, na, fd;
	size_t off;

	ck_assert_uint_gt(lo, 0);
	snprintf(conf, sizeof(conf), "workers = 1\ncontrol_socket = \"\"\n"
	    "listen_tcp = {\"[::1%%%u]:%d\", \"[::1]:%d\"}\n"
	    "listen_udp = {\"[::1]:%d\"}\n", lo, p6, p6, u6);
	const struct h_conf hc = {
	    .extra = conf };
	ck_assert_msg(h_start_conf(&e, &hc) == 0, "start failed");
	nb = master_sockets(before, 8);
	ck_assert_int_eq(nb, 3);	/* and the UDP socket for worker 0 */

	snprintf(conf, sizeof(conf), "workers = 1\ncontrol_socket = \"\"\n"
	    "listen_tcp = {\"[::1]:%d\"}\nlisten_udp = {\"[::1%%%u]:%d\"}\n",
	    p6, lo, u6);
	h_write_conf(&e, conf);
	off = h_log_size(&e);
	kill(e.pid, SIGHUP);
	ck_assert_msg(h_wait_log(&e, "configuration reloaded", 5000),
	    "the reload failed");
	ck_assert(h_log_lacks_since(&e, off, "no longer listening on"));
	ck_assert(h_wait_log(&e, "ready: 1 worker", 5000));
	na = master_sockets(after, 8);
	ck_assert_int_eq(na, 3);
	for (int i = 0; i < nb; i++) {
		bool kept = false;
		for (int j = 0; j < na; j++)
			kept |= after[j] == before[i];
		ck_assert_msg(kept, "socket %lu was replaced", before[i]);
	}
	fd = h_connect(AF_INET6, p6, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(h_echo(fd, "v6", 2, 2000), 0);
	close(fd);
	ck_assert_int_eq(h_udp_echo(AF_INET6, u6, "u6", 2, 2000), 2);
}
END_TEST

Suite *
listeners_suite(void)
{
	Suite *s = suite_create("listeners");
	TCase *tc = tcase_create("listeners");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_udp_held_port_refused_at_start);
	tcase_add_test(tc, test_udp_held_port_refused_on_reload);
	tcase_add_test(tc, test_respelled_listener_kept);
	tcase_add_test(tc, test_scope_id_respelled);
	suite_add_tcase(s, tc);
	return s;
}
