/*
 * check_connlog.c - a connection's two log lines are the bytes they were
 * when printf wrote them: the words (connlog.c), the client's address
 * (addr_host_port(), inet_ntop's text), and the lines as stderr, syslog
 * and the journal receive them.  The reference is the old code, kept here:
 * inet_ntop/getnameinfo for the address and snprintf with the old formats.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "connlog.h"
#include "log.h"
#include "suites.h"
#include "util.h"

#define LINE	1024	/* log.c's LINE_MAX_LEN */

/* The old code cut long lines with snprintf, and so does its copy here. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* addr_host_port() as it was: inet_ntop, getnameinfo for a scope. */
static void
old_host_port(const struct sockaddr *sa, socklen_t len, char *host,
    size_t hostlen, unsigned *port)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
	char serv[NI_MAXSERV];

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(*in) &&
	    inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)hostlen) != NULL) {
		*port = ntohs(in->sin_port);
		return;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(*in6) &&
	    in6->sin6_scope_id == 0 &&
	    inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)hostlen) != NULL) {
		*port = ntohs(in6->sin6_port);
		return;
	}
	if (getnameinfo(sa, len, host, (socklen_t)hostlen, serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, hostlen, "?");
		*port = 0;
		return;
	}
	*port = (unsigned)strtoul(serv, NULL, 10);
}

/* A client's address as the kernel gives it. */
struct peer {
	union sockaddr_any	sa;
	socklen_t		len;
};

static struct peer
peer(const char *text, unsigned port, unsigned scope)
{
	struct peer p;

	memset(&p, 0, sizeof(p));
	if (inet_pton(AF_INET, text, &p.sa.in.sin_addr) == 1) {
		p.sa.in.sin_family = AF_INET;
		p.sa.in.sin_port = htons((uint16_t)port);
		p.len = sizeof(p.sa.in);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &p.sa.in6.sin6_addr), 1);
		p.sa.in6.sin6_family = AF_INET6;
		p.sa.in6.sin6_port = htons((uint16_t)port);
		p.sa.in6.sin6_scope_id = scope;
		p.len = sizeof(p.sa.in6);
	}
	return p;
}

/* Every kind of client address, and the ports at both ends. */
static struct peer peers[16];
static size_t npeers;

static void
make_peers(void)
{
	static const char *v4[] = { "0.0.0.0", "127.0.0.1", "255.255.255.255",
	    "10.20.30.40", "192.0.2.7" };
	static const char *v6[] = { "::", "::1", "2001:db8::7",
	    "2001:db8:1:2:3:4:5:6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "::ffff:192.0.2.7", "::ffff:0.0.0.0" };
	static const unsigned ports[] = { 0, 7, 65535 };
	unsigned lo = if_nametoindex("lo");

	npeers = 0;
	for (size_t i = 0; i < nitems(v4); i++)
		peers[npeers++] = peer(v4[i], ports[i % nitems(ports)], 0);
	for (size_t i = 0; i < nitems(v6); i++)
		peers[npeers++] = peer(v6[i], ports[i % nitems(ports)], 0);
	/* scoped: "fe80::1%lo", and a scope no interface has: "%4242" */
	peers[npeers++] = peer("fe80::1", 65535, lo != 0 ? lo : 1);
	peers[npeers++] = peer("fe80::abcd:ef01:2345:6789", 0, 4242);
	ck_assert_uint_le(npeers, nitems(peers));
}

/* What log_event() and log_open() wrote, with the old formats. */
static void
old_open(char *buf, size_t len, const char *addr, unsigned port,
    const char *name, const char *via)
{
	if (via[0] != '\0')
		snprintf(buf, len, "tcp connected to %s port %u%s", addr, port,
		    via);
	else if (name != NULL && name[0] != '\0')
		snprintf(buf, len, "tcp connected to %s (%s) port %u", name,
		    addr, port);
	else
		snprintf(buf, len, "tcp connected to %s port %u", addr, port);
}

static void
old_close(char *buf, size_t len, const char *addr, unsigned port,
    const char *via, uint64_t bytes, uint64_t usec, const char *why)
{
	snprintf(buf, len, "tcp closed %s port %u%s: %llu bytes echoed "
	    "in %llu.%03llus%s%s", addr, port, via, (unsigned long long)bytes,
	    (unsigned long long)(usec / 1000000),
	    (unsigned long long)(usec / 1000 % 1000),
	    why ? ", " : "", why ? why : "");
}

/* proxy_conn_via() as it was. */
static void
old_via(char *buf, size_t len, const struct peer *v)
{
	char host[64];
	unsigned port;

	buf[0] = '\0';
	if (v == NULL)
		return;
	old_host_port(&v->sa.sa, v->len, host, sizeof(host), &port);
	snprintf(buf, len, " via %s port %u", host, port);
}

/* The fields as worker.c fills them now, the address formatted once. */
struct fields {
	char			addr[64], bal[64];
	struct log_conn_fields	f;
};

static void
fill(struct fields *x, const struct peer *p, const struct peer *v,
    const char *name)
{
	memset(x, 0, sizeof(*x));
	x->f.proto = "tcp";
	x->f.addr = x->addr;
	x->f.host = name;
	addr_host_port(&p->sa.sa, p->len, x->addr, sizeof(x->addr), &x->f.port);
	if (v != NULL) {
		addr_host_port(&v->sa.sa, v->len, x->bal, sizeof(x->bal),
		    &x->f.via_port);
		x->f.via = x->bal;
	}
}

static char long_name[1500], long_why[2000];

static void
make_long(void)
{
	for (size_t i = 0; i < sizeof(long_name) - 1; i++)
		long_name[i] = "abcdefghijklmnopqrstuvwxyz.-0123456789"[i % 38];
	long_name[sizeof(long_name) - 1] = '\0';
	memset(long_why, 'w', sizeof(long_why) - 1);
	long_why[sizeof(long_why) - 1] = '\0';
}

/* The address text: the IPv4 formatter writes inet_ntop's bytes, and the
 * rest goes where it went. */
START_TEST(test_address_as_before)
{
	char got[64], want[64];
	unsigned gp, wp;

	make_peers();
	for (size_t i = 0; i < npeers; i++) {
		addr_host_port(&peers[i].sa.sa, peers[i].len, got, sizeof(got), &gp);
		old_host_port(&peers[i].sa.sa, peers[i].len, want, sizeof(want), &wp);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(gp, wp);
		/* and with buffers too short for it: "?" and port 0, as before */
		for (size_t n = 1; n <= strlen(want) + 1; n++) {
			memset(got, 'g', sizeof(got));
			memset(want, 'g', sizeof(want));
			addr_host_port(&peers[i].sa.sa, peers[i].len, got, n, &gp);
			old_host_port(&peers[i].sa.sa, peers[i].len, want, n, &wp);
			ck_assert_msg(memcmp(got, want, sizeof(got)) == 0,
			    "peer %zu, %zu bytes: \"%.*s\", not \"%.*s\"", i, n,
			    (int)n, got, (int)n, want);
			ck_assert_uint_eq(gp, wp);
		}
	}
	/* every value of every byte of an IPv4 address, one at a time */
	for (unsigned b = 0; b < 4; b++) {
		for (unsigned v = 0; v < 256; v++) {
			struct peer p = peer("1.2.3.4", 7, 0);

			((unsigned char *)&p.sa.in.sin_addr.s_addr)[b] = (unsigned char)v;
			addr_host_port(&p.sa.sa, p.len, got, sizeof(got), &gp);
			old_host_port(&p.sa.sa, p.len, want, sizeof(want), &wp);
			ck_assert_str_eq(got, want);
		}
	}
}
END_TEST

/* Both lines, for every address, balancer, name, count, duration and
 * reason, as the old formats wrote them. */
START_TEST(test_words_as_printf)
{
	static const char *names[] = { NULL, "", "localhost",
	    "host-7.example.org" };
	static const uint64_t bytes[] = { 0, 5, 1000000, UINT64_MAX };
	/* 0, 999 and 1000 ms, and the edges of a millisecond and a second */
	static const uint64_t usecs[] = { 0, 999, 1000, 999000, 999999,
	    1000000, 1000999, 61234567, UINT64_MAX };
	static const char *whys[] = { NULL, "idle timeout",
	    "Connection reset by peer" };
	char got[LINE], want[LINE], via[96];
	struct fields x;

	make_peers();
	const struct peer *vias[] = { NULL, &peers[3], &peers[7] };
	for (size_t i = 0; i < npeers; i++)
	for (size_t v = 0; v < nitems(vias); v++) {
		old_via(via, sizeof(via), vias[v]);
		for (size_t n = 0; n < nitems(names); n++) {
			if (vias[v] != NULL && names[n] != NULL)
				continue;	/* a balancer's clients go unnamed */
			fill(&x, &peers[i], vias[v], names[n]);
			ck_assert_uint_eq(connlog_open_text(got, sizeof(got), &x.f),
			    strlen(got));
			old_open(want, sizeof(want), x.addr, x.f.port, names[n], via);
			ck_assert_str_eq(got, want);
		}
		fill(&x, &peers[i], vias[v], NULL);
		for (size_t b = 0; b < nitems(bytes); b++)
		for (size_t u = 0; u < nitems(usecs); u++)
		for (size_t w = 0; w < nitems(whys); w++) {
			x.f.bytes = bytes[b];
			x.f.usec = usecs[u];
			ck_assert_uint_eq(connlog_close_text(got, sizeof(got),
			    &x.f, whys[w]), strlen(got));
			old_close(want, sizeof(want), x.addr, x.f.port, via,
			    bytes[b], usecs[u], whys[w]);
			ck_assert_str_eq(got, want);
		}
	}
}
END_TEST

/* Too long for the line: cut where snprintf cut, at every size. */
START_TEST(test_words_cut_as_printf)
{
	char got[LINE + 8], want[LINE + 8], via[96];
	struct fields x;

	make_peers();
	make_long();
	old_via(via, sizeof(via), &peers[6]);
	fill(&x, &peers[8], &peers[6], NULL);
	x.f.bytes = UINT64_MAX;
	x.f.usec = 1000000;
	for (size_t len = 1; len <= 200; len++) {
		memset(got, 'g', sizeof(got));
		memset(want, 'g', sizeof(want));
		connlog_close_text(got, len, &x.f, "idle timeout");
		old_close(want, len, x.addr, x.f.port, via, x.f.bytes, x.f.usec,
		    "idle timeout");
		ck_assert_msg(memcmp(got, want, sizeof(got)) == 0, "%zu bytes: "
		    "\"%s\", not \"%s\"", len, got, want);
		memset(got, 'g', sizeof(got));
		memset(want, 'g', sizeof(want));
		connlog_open_text(got, len, &x.f);
		old_open(want, len, x.addr, x.f.port, NULL, via);
		ck_assert_mem_eq(got, want, sizeof(got));
	}
	/* a name or a reason longer than the line */
	fill(&x, &peers[1], NULL, long_name);
	connlog_open_text(got, LINE, &x.f);
	old_open(want, LINE, x.addr, x.f.port, long_name, "");
	ck_assert_uint_eq(strlen(got), LINE - 1);
	ck_assert_str_eq(got, want);
	x.f.bytes = 5;
	x.f.usec = 1500;
	connlog_close_text(got, LINE, &x.f, long_why);
	old_close(want, LINE, x.addr, x.f.port, "", 5, 1500, long_why);
	ck_assert_uint_eq(strlen(got), LINE - 1);
	ck_assert_str_eq(got, want);
}
END_TEST

/* --- the lines as the log writes them ------------------------------- */

static int rd = -1;		/* the read end of the pipe that is stderr */

static void
setup(void)
{
	rd = log_to_pipe();
	log_setlevel(LOG_INFO);
	log_setprefix("worker 0");
	make_peers();
	make_long();
}

static void
teardown(void)
{
	log_setprefix(NULL);
	log_unpipe(rd);
}

/* One record: a line from the pipe, or a datagram from a socket. */
static size_t
take(int fd, char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	buf[0] = '\0';
	if (poll(&pfd, 1, 2000) != 1)
		return 0;
	n = read(fd, buf, len - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

/* The line as log_conn() made it of the old words: the prefix, then
 * vsnprintf into what is left of LINE. */
static void
old_msg(char *msg, const char *words)
{
	snprintf(msg, LINE, "worker 0: %s", words);
}

START_TEST(test_stderr_lines)
{
	char got[4 * LINE], want[4 * LINE], msg[LINE], words[4 * LINE];
	char via[96];
	long pid = (long)getpid();
	struct fields x;

	old_via(via, sizeof(via), &peers[11]);
	fill(&x, &peers[11], &peers[11], NULL);
	connlog_open(&x.f);
	take(rd, got, sizeof(got));
	old_open(words, sizeof(words), x.addr, x.f.port, NULL, via);
	old_msg(msg, words);
	snprintf(want, sizeof(want), "echod[%ld]: %s\n", pid, msg);
	ck_assert_str_eq(got, want);

	x.f.bytes = 64;
	x.f.usec = 1000;
	connlog_close(&x.f, NULL);
	take(rd, got, sizeof(got));
	old_close(words, sizeof(words), x.addr, x.f.port, via, 64, 1000, NULL);
	old_msg(msg, words);
	snprintf(want, sizeof(want), "echod[%ld]: %s\n", pid, msg);
	ck_assert_str_eq(got, want);

	/* named past the line's end: cut, the prefix counted */
	fill(&x, &peers[0], NULL, long_name);
	connlog_open(&x.f);
	take(rd, got, sizeof(got));
	old_open(words, sizeof(words), x.addr, x.f.port, long_name, "");
	old_msg(msg, words);
	snprintf(want, sizeof(want), "echod[%ld]: %s\n", pid, msg);
	ck_assert_str_eq(got, want);

	/* below info: nothing */
	log_setlevel(LOG_NOTICE);
	connlog_close(&x.f, "idle timeout");
	ck_assert_uint_eq(take(rd, got, sizeof(got)), 0);
}
END_TEST

/*
 * A private /run or /dev for a moment, with our socket where log.c looks
 * for the journal's or syslog's: log_init() connects to it, and the mount
 * goes away again.  -1 with errno when this process may not (not root).
 * Only in a forked test: the mount namespace and the log's target stay
 * with the process.
 */
static int
fake_log_socket(const char *dir, const char *path, enum log_target t)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd;

	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=755") == -1)
		return -1;
	if (strcmp(dir, "/run") == 0) {
		ck_assert_int_eq(mkdir("/run/systemd", 0755), 0);
		ck_assert_int_eq(mkdir("/run/systemd/journal", 0755), 0);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(fd, -1);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	log_init(t, "echod");
	ck_assert_int_eq(umount2(dir, MNT_DETACH), 0);
	return fd;
}

/* The journal's entry: the line, then every field, as jadd() wrote them. */
START_TEST(test_journal_entries)
{
	char got[8192], want[8192], msg[LINE], words[4 * LINE], via[96];
	long pid = (long)getpid();
	struct stat st;
	char stream[64];
	struct fields x;
	int fd;

	if (!test_forked())
		skip_test("mounts and logs to a journal: needs CK_FORK=yes");
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	if ((fd = fake_log_socket("/run", "/run/systemd/journal/socket",
	    LOG_TO_STDERR)) == -1)
		skip_test("a mount namespace of its own: %s", strerror(errno));
	ck_assert_int_eq(log_gettarget(), LOG_TO_JOURNAL);

	/* opened through a balancer */
	old_via(via, sizeof(via), &peers[6]);
	fill(&x, &peers[5], &peers[6], NULL);
	connlog_open(&x.f);
	take(fd, got, sizeof(got));
	old_open(words, sizeof(words), x.addr, x.f.port, NULL, via);
	old_msg(msg, words);
	snprintf(want, sizeof(want), "MESSAGE=%s\nPRIORITY=%d\n"
	    "SYSLOG_IDENTIFIER=echod\nSYSLOG_PID=%ld\nECHOD_EVENT=open\n"
	    "CLIENT_PROTOCOL=tcp\nCLIENT_ADDRESS=%s\nCLIENT_PORT=%u\n"
	    "BALANCER_ADDRESS=%s\nBALANCER_PORT=%u\n", msg, LOG_INFO, pid,
	    x.addr, x.f.port, x.bal, x.f.via_port);
	ck_assert_str_eq(got, want);

	/* named by the resolver */
	fill(&x, &peers[13], NULL, "localhost");
	connlog_open(&x.f);
	take(fd, got, sizeof(got));
	old_open(words, sizeof(words), x.addr, x.f.port, "localhost", "");
	old_msg(msg, words);
	snprintf(want, sizeof(want), "MESSAGE=%s\nPRIORITY=%d\n"
	    "SYSLOG_IDENTIFIER=echod\nSYSLOG_PID=%ld\nECHOD_EVENT=open\n"
	    "CLIENT_PROTOCOL=tcp\nCLIENT_ADDRESS=%s\nCLIENT_PORT=%u\n"
	    "CLIENT_HOST=localhost\n", msg, LOG_INFO, pid, x.addr, x.f.port);
	ck_assert_str_eq(got, want);

	/* closed, the extremes of the numbers, with a reason */
	fill(&x, &peers[2], NULL, NULL);
	x.f.bytes = UINT64_MAX;
	x.f.usec = 999000;
	connlog_close(&x.f, "Connection reset by peer");
	take(fd, got, sizeof(got));
	old_close(words, sizeof(words), x.addr, x.f.port, "", x.f.bytes,
	    x.f.usec, "Connection reset by peer");
	old_msg(msg, words);
	snprintf(want, sizeof(want), "MESSAGE=%s\nPRIORITY=%d\n"
	    "SYSLOG_IDENTIFIER=echod\nSYSLOG_PID=%ld\nECHOD_EVENT=close\n"
	    "CLIENT_PROTOCOL=tcp\nCLIENT_ADDRESS=%s\nCLIENT_PORT=%u\n"
	    "BYTES=%llu\nDURATION_USEC=%llu\n", msg, LOG_INFO, pid, x.addr,
	    x.f.port, (unsigned long long)x.f.bytes,
	    (unsigned long long)x.f.usec);
	ck_assert_str_eq(got, want);

	/* a name longer than the line: cut in MESSAGE, whole in CLIENT_HOST */
	fill(&x, &peers[0], NULL, long_name);
	connlog_open(&x.f);
	take(fd, got, sizeof(got));
	old_open(words, sizeof(words), x.addr, x.f.port, long_name, "");
	old_msg(msg, words);
	snprintf(want, sizeof(want), "MESSAGE=%s\nPRIORITY=%d\n"
	    "SYSLOG_IDENTIFIER=echod\nSYSLOG_PID=%ld\nECHOD_EVENT=open\n"
	    "CLIENT_PROTOCOL=tcp\nCLIENT_ADDRESS=%s\nCLIENT_PORT=%u\n"
	    "CLIENT_HOST=%s\n", msg, LOG_INFO, pid, x.addr, x.f.port, long_name);
	ck_assert_str_eq(got, want);
	close(fd);
}
END_TEST

/* syslog's datagram: "<30>echod[pid]: " and the line. */
START_TEST(test_syslog_lines)
{
	char got[4 * LINE], want[4 * LINE], msg[LINE], words[4 * LINE];
	long pid = (long)getpid();
	struct fields x;
	int fd;

	if (!test_forked())
		skip_test("mounts and logs to syslog: needs CK_FORK=yes");
	if ((fd = fake_log_socket("/dev", "/dev/log", LOG_TO_SYSLOG)) == -1)
		skip_test("a mount namespace of its own: %s", strerror(errno));
	ck_assert_int_eq(log_gettarget(), LOG_TO_SYSLOG);
	fill(&x, &peers[12], NULL, NULL);
	x.f.bytes = 0;
	x.f.usec = 0;
	connlog_close(&x.f, NULL);
	take(fd, got, sizeof(got));
	old_close(words, sizeof(words), x.addr, x.f.port, "", 0, 0, NULL);
	old_msg(msg, words);
	snprintf(want, sizeof(want), "<%d>echod[%ld]: %s", LOG_DAEMON | LOG_INFO,
	    pid, msg);
	ck_assert_str_eq(got, want);

	fill(&x, &peers[1], NULL, long_name);
	connlog_open(&x.f);
	take(fd, got, sizeof(got));
	old_open(words, sizeof(words), x.addr, x.f.port, long_name, "");
	old_msg(msg, words);
	snprintf(want, sizeof(want), "<%d>echod[%ld]: %s", LOG_DAEMON | LOG_INFO,
	    pid, msg);
	ck_assert_str_eq(got, want);
	close(fd);
}
END_TEST

Suite *
connlog_suite(void)
{
	Suite *s = suite_create("connlog");
	TCase *tw = tcase_create("words");
	TCase *tl = tcase_create("log");

	tcase_add_test(tw, test_address_as_before);
	tcase_add_test(tw, test_words_as_printf);
	tcase_add_test(tw, test_words_cut_as_printf);
	suite_add_tcase(s, tw);
	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_set_timeout(tl, 10);
	tcase_add_test(tl, test_stderr_lines);
	tcase_add_test(tl, test_journal_entries);
	tcase_add_test(tl, test_syslog_lines);
	suite_add_tcase(s, tl);
	return s;
}
