/* stress_abuse.c - hostile or broken clients: UDP floods and reflection,
 * one address hogging the pool, refused networks, garbage on the wire. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scenarios.h"

#define LO(n)	(0x7f000000u | (n))	/* 127.0.0.n */

static int
drain_udp(int fd)
{
	char buf[2048];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

/* Whether a datagram from src:sport comes back within ms. */
static bool
udp_answered(uint32_t src, int sport, int port, int ms)
{
	int fd = sl_udp_from(src, sport);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	bool got;

	if (fd == -1)
		return false;
	sl_udp_send(fd, AF_INET, port, "reflect?", 8);
	got = poll(&pfd, 1, ms) == 1;
	close(fd);
	return got;
}

#define FLOOD_PER_S	2000
#define FLOOD_S		2
#define RATE		100	/* echod.conf(5) defaults */
#define BURST		200

void
sc_udp_abuse(struct result *r)
{
	struct echod e;
	const char *const argv[] = { "-f", "-w", "2", "-l", "127.0.0.1:0", NULL };
	int flood = -1, calm = -1, sent = 0, echoed = 0, calm_sent = 0, calm_got = 0;

	h_init(&e);
	if (!sl_start(r, &e, argv))
		goto out;
	flood = sl_udp_from(LO(2), 0);
	calm = sl_udp_from(LO(3), 0);
	uint64_t t0 = h_now_ms(), next_calm = t0;
	/* 2,000 datagrams a second from 127.0.0.2, paced so the socket buffer
	 * never overflows; 20 a second from 127.0.0.3 */
	while (h_now_ms() < t0 + FLOOD_S * 1000) {
		uint64_t due = (h_now_ms() - t0) * FLOOD_PER_S / 1000;
		while ((uint64_t)sent < due && sl_udp_send(flood, AF_INET, e.udp4,
		    "flood", 5) == 0)
			sent++;
		if (h_now_ms() >= next_calm) {
			calm_sent += sl_udp_send(calm, AF_INET, e.udp4, "calm", 4) == 0;
			next_calm += 50;
		}
		echoed += drain_udp(flood);
		calm_got += drain_udp(calm);
		usleep(1000);
	}
	for (uint64_t end = h_now_ms() + 300; h_now_ms() < end; h_tick()) {
		echoed += drain_udp(flood);
		calm_got += drain_udp(calm);
	}
	double secs = FLOOD_S;
	int allowed = (int)(BURST + RATE * secs * 1.2) + 10;

	/* reflection: privileged source ports and every service port of
	 * udp.c's list (README, echod(8), echod.conf(5)) get nothing */
	static const int loops[] = { 7, 13, 19, 37, 123, 1023, 1900, 3702, 5353,
	    5683, 11211 };
	int reflected = 0, tried = 0, wanted = 0;
	char busy[64] = "";
	for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		if (getuid() != 0 && loops[i] < 1024)
			continue;
		wanted++;
		int fd = sl_udp_from(LO(4), loops[i]);
		if (fd == -1) {	/* not a try: a port this host uses */
			size_t len = strlen(busy);
			snprintf(busy + len, sizeof(busy) - len, " %d", loops[i]);
			continue;
		}
		close(fd);
		tried++;
		reflected += udp_answered(LO(4), loops[i], e.udp4, 200);
	}
	bool control = udp_answered(LO(4), 0, e.udp4, 1000);
	snprintf(r->figure, sizeof(r->figure), "flood %d datagrams in %d s from one "
	    "source: %d echoed (bar %d: burst %d + %d/s); other source %d/%d "
	    "answered; %d/%d loop-prone source ports answered%s%s",
	    sent, FLOOD_S, echoed, allowed, BURST, RATE, calm_got, calm_sent,
	    reflected, tried, busy[0] ? ", could not bind:" : "", busy);
	bar(r, echoed <= allowed, "the flood was not rate-limited");
	bar(r, echoed >= BURST * 9 / 10, "the flood was cut below its burst");
	bar(r, calm_got >= calm_sent - 1, "the other source suffered");
	bar(r, reflected == 0, "answered a loop-prone source port");
	bar(r, tried == wanted, "loop-prone source ports not tried:%s", busy);
	bar(r, control, "an ordinary source port got no answer");
out:
	if (flood != -1)
		close(flood);
	if (calm != -1)
		close(calm);
	h_cleanup(&e);
}

#define PER_SOURCE	5

void
sc_per_source(struct result *r)
{
	struct echod e;
	char conf[512];
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	int hog[2 * PER_SOURCE], other[PER_SOURCE], v6[PER_SOURCE];
	int hog_ok = 0, hog_refused = 0, other_ok = 0, v6_ok = 0;

	h_init(&e);
	snprintf(conf, sizeof(conf), "workers = 2\nlisten_tcp = {\"127.0.0.1:0\", "
	    "\"[::1]:0\"}\nlisten_udp = {}\nmax_connections_per_source = %d\n",
	    PER_SOURCE);
	h_write_conf(&e, conf);
	if (!sl_start(r, &e, argv))
		goto out;
	/* one address wants twice its share, across both workers */
	for (int i = 0; i < 2 * PER_SOURCE; i++) {
		hog[i] = h_connect_from(AF_INET, LO(2), e.tcp4, 1000);
		int p = hog[i] == -1 ? 0 : sl_probe(hog[i], "hog", 3, 500);
		hog_ok += p == 1;
		hog_refused += p == 0;
	}
	for (int i = 0; i < PER_SOURCE; i++) {
		other[i] = h_connect_from(AF_INET, LO(3), e.tcp4, 1000);
		other_ok += other[i] != -1 && sl_probe(other[i], "other", 5, 500) == 1;
		v6[i] = e.tcp6 ? h_connect_from(AF_INET6, 0, e.tcp6, 1000) : -1;
		v6_ok += v6[i] != -1 && sl_probe(v6[i], "six", 3, 500) == 1;
	}
	/* one leaves: its place is free again */
	for (int i = 0; i < 2 * PER_SOURCE; i++)
		if (hog[i] != -1 && sl_probe(hog[i], "x", 1, 200) == 1) {
			close(hog[i]);
			hog[i] = -1;
			break;
		}
	bool again = false;
	for (uint64_t end = h_now_ms() + 1000; !again && h_now_ms() < end; h_tick()) {
		int fd = h_connect_from(AF_INET, LO(2), e.tcp4, 500);
		again = fd != -1 && sl_probe(fd, "back", 4, 300) == 1;
		if (fd != -1)
			close(fd);
	}
	snprintf(r->figure, sizeof(r->figure), "limit %d: 127.0.0.2 got %d of %d "
	    "(%d refused without echo), 127.0.0.2 after one left: %s; "
	    "127.0.0.3 got %d of %d, ::1 got %d of %d",
	    PER_SOURCE, hog_ok, 2 * PER_SOURCE, hog_refused, again ? "served" : "refused",
	    other_ok, PER_SOURCE, v6_ok, PER_SOURCE);
	bar(r, hog_ok == PER_SOURCE, "the hog got %d connections", hog_ok);
	bar(r, hog_refused == PER_SOURCE, "the excess was not refused cleanly");
	bar(r, other_ok == PER_SOURCE, "another address was held back");
	bar(r, v6_ok == PER_SOURCE, "::1 was held back");
	bar(r, again, "a freed place was not given back");
	for (int i = 0; i < 2 * PER_SOURCE; i++)
		if (hog[i] != -1)
			close(hog[i]);
	for (int i = 0; i < PER_SOURCE; i++) {
		if (other[i] != -1)
			close(other[i]);
		if (v6[i] != -1)
			close(v6[i]);
	}
out:
	h_cleanup(&e);
}

/* 1: echoed, 0: closed without a byte echoed, -1: neither. */
static int
tcp_verdict(int family, uint32_t src, int port)
{
	int fd = h_connect_from(family, src, port, 1000);
	int v = fd == -1 ? 0 : sl_probe(fd, "knock", 5, 1000);

	if (fd != -1)
		close(fd);
	return v;
}

static const char acl_conf[] =
    "workers = 2\nlisten_tcp = {\"127.0.0.1:%d\", \"[::1]:%d\"}\n"
    "listen_udp = {\"127.0.0.1:%d\"}\nallow = {%s}\ndeny = {%s}\n";

void
sc_access(struct result *r)
{
	struct echod e;
	char conf[512], unit[512], fig[2][200];
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	int port = h_free_port(), uport = h_free_port();
	/* the unit is generated (echod.service.in): the build tree has it */
	const char *top = getenv("top_builddir");

	h_init(&e);
	snprintf(conf, sizeof(conf), acl_conf, port, port, uport,
	    "\"127.0.0.0/30\", \"::1/128\"", "\"127.0.0.2/32\"");
	h_write_conf(&e, conf);
	if (!sl_start(r, &e, argv))
		goto out;
	for (int phase = 0; phase < 2; phase++) {
		int a = tcp_verdict(AF_INET, LO(1), port);
		int b = tcp_verdict(AF_INET, LO(2), port);
		int c = tcp_verdict(AF_INET, LO(5), port);
		int d = tcp_verdict(AF_INET6, 0, port);
		bool ua = udp_answered(LO(1), 0, uport, 500);
		bool ub = udp_answered(LO(2), 0, uport, 300);
		snprintf(fig[phase], sizeof(fig[phase]), ".1 %d .2 %d .5 %d ::1 %d "
		    "udp .1 %d .2 %d", a, b, c, d, ua, ub);
		if (phase == 0) {
			/* allow 127.0.0.0/30 ::1, deny 127.0.0.2 */
			bar(r, a == 1 && d == 1 && ua, "allowed clients refused");
			bar(r, b == 0 && !ub, "a denied client got an echo");
			bar(r, c == 0, "a client outside allow got an echo");
			snprintf(conf, sizeof(conf), acl_conf, port, port, uport,
			    "\"127.0.0.0/8\"", "\"127.0.0.5/32\"");
			h_write_conf(&e, conf);
			kill(e.pid, SIGHUP);
			bar(r, h_wait_log(&e, "configuration reloaded", 5000),
			    "the reload failed");
		} else {
			/* allow 127/8, deny 127.0.0.5: ::1 is now outside */
			bar(r, a == 1 && b == 1 && ua && ub, "reload did not allow .2");
			bar(r, c == 0, "reload did not deny .5");
			bar(r, d == 0, "reload did not drop ::1 from allow");
		}
	}
	snprintf(unit, sizeof(unit), "%s/systemd/echod.service", top ? top : "..");
	bar(r, access(unit, R_OK) == 0, "%s: %s", unit, strerror(errno));
	snprintf(unit, sizeof(unit), "grep -qs '^#* *IPAddressAllow=' "
	    "'%s/systemd/echod.service'", top ? top : "..");
	bool documented = system(unit) == 0;
	snprintf(r->figure, sizeof(r->figure), "before reload: %s; after: %s "
	    "(1 echoed, 0 refused before any echo); unit documents IPAddressAllow=: %s",
	    fig[0], fig[1], documented ? "yes" : "no");
	bar(r, documented, "echod.service does not mention IPAddressAllow=");
out:
	h_cleanup(&e);
}

/* ---- garbage ------------------------------------------------------------- */

static int
garbage_random(int port)
{
	static unsigned char buf[1 << 20];
	int fd = h_connect(AF_INET, port, 2000), rc;

	h_random(buf, sizeof(buf));
	rc = fd == -1 ? -1 : h_echo(fd, buf, sizeof(buf), 5000);
	if (fd != -1)
		close(fd);
	return rc;
}

static int
garbage_zero_writes(int port)
{
	int fd = h_connect(AF_INET, port, 2000), rc;

	if (fd == -1)
		return -1;
	for (int i = 0; i < 100; i++)
		send(fd, "", 0, MSG_NOSIGNAL);
	rc = h_echo(fd, "after nothing", 13, 2000);
	close(fd);
	return rc;
}

static int
garbage_rst(int port)
{
	static unsigned char buf[256 * 1024];
	struct linger lg = { 1, 0 };

	for (int i = 0; i < 20; i++) {
		int fd = h_connect(AF_INET, port, 2000);
		if (fd == -1)
			return -1;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		(void)!send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		usleep(1000 * (i % 3));
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);	/* RST, with the echo half way */
	}
	return 0;
}

static int
garbage_half_close(int port)
{
	static unsigned char out[10000], in[10001];
	int fd = h_connect(AF_INET, port, 2000);
	size_t got = 0;
	ssize_t n;

	if (fd == -1)
		return -1;
	h_random(out, sizeof(out));
	if (send(fd, out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out))
		goto fail;
	shutdown(fd, SHUT_WR);
	/* all of it comes back, then the end: SO_RCVTIMEO bounds the wait */
	while ((n = recv(fd, in + got, sizeof(in) - got, 0)) > 0)
		got += (size_t)n;
	if (n != 0 || got != sizeof(out) || memcmp(in, out, got) != 0)
		goto fail;
	close(fd);
	/* and a client that says nothing and half-closes gets its end too */
	if ((fd = h_connect(AF_INET, port, 2000)) == -1)
		return -1;
	shutdown(fd, SHUT_WR);
	n = recv(fd, in, 1, 0);
	close(fd);
	return n == 0 ? 0 : -1;
fail:
	close(fd);
	return -1;
}

static int
garbage_datagrams(int port)
{
	static unsigned char buf[65507];	/* the largest IPv4 payload */
	int fd = sl_udp_from(0, 0), rc = 0;
	int sizes[] = { 65507, 0, 1, 65507 };
	static unsigned char in[65536];

	if (fd == -1)
		return -1;
	h_random(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (sl_udp_send(fd, AF_INET, port, buf, (size_t)sizes[i]) == -1 ||
		    poll(&pfd, 1, 1000) != 1 ||
		    recv(fd, in, sizeof(in), 0) != sizes[i] ||
		    memcmp(in, buf, (size_t)sizes[i]) != 0)
			rc = -1;	/* lost, cut short or altered */
	}
	close(fd);
	return rc;
}

void
sc_garbage(struct result *r)
{
	struct echod e;
	const char *const argv[] = { "-f", "-w", "1", "-l", "127.0.0.1:0", NULL };
	static const struct {
		const char *name;
		int (*run)(int port);
		bool udp;
	} cases[] = {
		{ "1 MiB of random bytes", garbage_random, false },
		{ "zero-length writes", garbage_zero_writes, false },
		{ "RST mid-echo x20", garbage_rst, false },
		{ "half-closed", garbage_half_close, false },
		{ "64 KiB and empty datagrams", garbage_datagrams, true },
	};
	pid_t w0, w1;
	int passed = 0;
	size_t len = 0;

	h_init(&e);
	if (!sl_start(r, &e, argv))
		goto out;
	for (uint64_t end = h_now_ms() + 2000; h_now_ms() < end &&
	    h_workers(e.pid, &w0, 1) < 1; h_tick())
		;
	/* a bystander on the same worker must not notice any of it */
	int by = h_connect(AF_INET, e.tcp4, 2000);
	bar(r, by != -1 && h_echo(by, "bystander", 9, 1000) == 0, "no bystander");
	int base = sl_fd_count(w0);
	len = (size_t)snprintf(r->figure, sizeof(r->figure), "worker fds %d;", base);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cases[i].run(cases[i].udp ? e.udp4 : e.tcp4);
		int fds = -1;
		for (uint64_t end = h_now_ms() + 2000; h_now_ms() < end; h_tick())
			if ((fds = sl_fd_count(w0)) <= base)
				break;
		bool same = h_workers(e.pid, &w1, 1) == 1 && w1 == w0;
		bool by_ok = h_echo(by, "still here", 10, 1000) == 0;
		len += (size_t)snprintf(r->figure + len, sizeof(r->figure) - len,
		    " %s: %s, fds %d%s%s;", cases[i].name, rc == 0 ? "ok" : "FAILED",
		    fds, same ? "" : ", WORKER DIED", by_ok ? "" : ", BYSTANDER CUT");
		if (len >= sizeof(r->figure))
			len = sizeof(r->figure) - 1;
		bar(r, rc == 0, "%s: wrong answer", cases[i].name);
		bar(r, same, "%s: the worker died", cases[i].name);
		bar(r, fds <= base, "%s: descriptors leaked (%d, was %d)",
		    cases[i].name, fds, base);
		bar(r, by_ok, "%s: the bystander was cut", cases[i].name);
		passed += rc == 0 && same && fds <= base && by_ok;
		if (!same)
			break;
	}
	if (by != -1)
		close(by);
	bar(r, h_stop(&e, SIGTERM, 5000) != -1, "echod did not stop");
	(void)passed;
out:
	h_cleanup(&e);
}
