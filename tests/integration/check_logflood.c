/*
 * check_logflood.c - no log line lost while the log is behind: echod's
 * stderr is a pipe that the test leaves unread while thousands of clients
 * connect, echo and close at full rate (two lines each), then reads it
 * all.  Every line is there, and echod says it dropped none (with the
 * log budget off: counting every line is the point).
 *
 * Then the budget: a flood from one source writes its budget's lines and
 * summaries that account for every line held back; refusals and denied
 * datagrams say which list refused them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define N_CONNS		3000	/* 6,000 lines: 100 times what the pipe holds */

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

struct out {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
};

/* Reads what the pipe holds now (or, with wait_ms, until EOF or then). */
static bool
out_read(struct out *o, int wait_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)wait_ms;

	for (;;) {
		struct pollfd pfd = { .fd = o->fd, .events = POLLIN };
		uint64_t now = h_now_ms();
		ssize_t n;

		if (o->cap - o->len < 65536) {
			o->cap = o->cap ? o->cap * 2 : 1 << 20;
			ck_assert_ptr_nonnull(o->buf = realloc(o->buf, o->cap + 1));
		}
		if (poll(&pfd, 1, wait_ms && now < end ? (int)(end - now) : 0) <= 0)
			return false;
		if ((n = read(o->fd, o->buf + o->len, o->cap - o->len)) <= 0)
			return n == 0;		/* EOF: echod is gone */
		o->len += (size_t)n;
		o->buf[o->len] = '\0';
	}
}

static unsigned
count(const struct out *o, const char *needle)
{
	unsigned n = 0;

	for (const char *p = o->buf; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_no_line_lost_behind_slow_log)
{
	struct out o = { .fd = -1 };
	int pfd[2], port = 0;
	const char *args[64], *p;

	h_write_conf(&e, "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n"
	    "workers = 2\nlog_connections = both\nlog_source_rate = 0\n"
	    "log_rate_limit = 0\ntcp_rate_limit = 0\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	h_argv(&e, h_echod_path(), argv, args, 64);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	if ((e.pid = fork()) == 0) {
		dup2(pfd[1], STDERR_FILENO);
		execv(h_echod_path(), (char *const *)args);
		_exit(127);
	}
	close(pfd[1]);
	o.fd = pfd[0];
	fcntl(o.fd, F_SETFL, O_NONBLOCK);
	for (uint64_t end = h_now_ms() + 10000; strstr(o.buf ? o.buf : "",
	    "ready: ") == NULL; ) {
		ck_assert_msg(h_now_ms() < end, "not ready: %s", o.buf ? o.buf : "");
		out_read(&o, 100);
	}
	ck_assert_ptr_nonnull(p = strstr(o.buf, "listening on tcp 127.0.0.1:"));
	port = atoi(p + strlen("listening on tcp 127.0.0.1:"));
	ck_assert_int_gt(port, 0);

	/* the pipe is not read from here on: it fills after some 600 lines */
	for (int i = 0; i < N_CONNS; i++) {
		int fd = h_connect(AF_INET, port, 5000);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(h_echo(fd, "x", 1, 5000), 0);
		close(fd);
	}
	ck_assert_int_eq(kill(e.pid, SIGTERM), 0);
	ck_assert_msg(out_read(&o, 30000), "no EOF on echod's stderr");
	ck_assert_int_ne(h_wait_exit(e.pid, 10000), -1);
	e.pid = 0;
	ck_assert_uint_eq(count(&o, "tcp connected to 127.0.0.1"), N_CONNS);
	ck_assert_uint_eq(count(&o, "tcp closed 127.0.0.1"), N_CONNS);
	ck_assert_uint_eq(count(&o, "log messages dropped"), 0);
	/* and each process says so */
	ck_assert_uint_eq(count(&o, ": exiting; 0 log lines dropped"), 2);
	ck_assert_uint_eq(count(&o, "stopped; 0 log lines dropped"), 1);
	close(o.fd);
	free(o.buf);
}
END_TEST

/* The whole log file, NUL-terminated, in o. */
static void
slurp(struct out *o)
{
	FILE *f = fopen(e.logpath, "r");

	ck_assert_ptr_nonnull(f);
	free(o->buf);
	ck_assert_ptr_nonnull(o->buf = malloc(1 << 22));
	o->len = fread(o->buf, 1, (1 << 22) - 1, f);
	o->buf[o->len] = '\0';
	fclose(f);
}

/* The counts of the summaries of source (as "1,234"), and how many. */
static unsigned long
summarized(const struct out *o, const char *source, unsigned *lines)
{
	char needle[64];
	unsigned long total = 0;
	const char *p = o->buf;

	snprintf(needle, sizeof(needle), ": %s: ", source);
	*lines = 0;
	while ((p = strstr(p, needle)) != NULL) {
		unsigned long n = 0;

		for (p += strlen(needle); (*p >= '0' && *p <= '9') || *p == ','; p++)
			if (*p != ',')
				n = n * 10 + (unsigned long)(*p - '0');
		ck_assert(strncmp(p, " connection lines not logged in the last ",
		    41) == 0);
		total += n;
		(*lines)++;
	}
	return total;
}

static void
udp_from(const char *src, int port)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ne(fd, -1);
	inet_pton(AF_INET, src, &from.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	ck_assert_int_eq(sendto(fd, "x", 1, 0, (struct sockaddr *)&to,
	    sizeof(to)), 1);
	close(fd);
}

#define FLOOD		2000
#define BUDGET_BURST	20
#define BUDGET_RATE	10

START_TEST(test_flood_within_budget)
{
	struct out o = { .fd = -1 };
	uint64_t t0, t1, t2;
	unsigned long held;
	unsigned closed, summaries;
	int fd;

	const struct h_conf hc = {
	    .extra = "listen_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {\"127.0.0.1:0\"}\nworkers = 2\n"
	    "log_source_rate = 10\nlog_source_burst = 20\n"
	    "allow = {\"127.0.0.0/24\"}\ndeny = {\"127.0.0.9\"}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	h_parse_ports(&e);

	/* who refused: one list or the other, said so */
	ck_assert_int_ne(fd = h_connect_from(AF_INET, 0x7f000009, e.tcp4, 5000), -1);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp refused 127.0.0.9 port ", 5000));
	ck_assert(h_wait_log(&e, ": denied by deny", 100));
	ck_assert_int_ne(fd = h_connect_from(AF_INET, 0x7f000105, e.tcp4, 5000), -1);
	close(fd);
	ck_assert(h_wait_log(&e, "tcp refused 127.0.1.5 port ", 5000));
	ck_assert(h_wait_log(&e, ": not in allow", 100));
	udp_from("127.0.0.9", e.udp4);
	ck_assert(h_wait_log(&e, "udp denied 127.0.0.9 port ", 5000));
	ck_assert(h_wait_log(&e, ": denied by deny", 100));

	t0 = h_now_ms();
	for (int i = 0; i < FLOOD; i++) {
		ck_assert_int_ne(fd = h_connect(AF_INET, e.tcp4, 5000), -1);
		ck_assert_int_eq(h_echo(fd, "x", 1, 5000), 0);
		close(fd);
	}
	t1 = h_now_ms();
	/* the first summary, once its 10 s are up (bounded) */
	ck_assert(h_wait_log(&e, ": 127.0.0.1: ", 20000));
	t2 = h_now_ms();
	ck_assert_int_eq(h_stop(&e, SIGTERM, 10000), 0);
	slurp(&o);
	closed = count(&o, "tcp closed 127.0.0.1 port ");
	held = summarized(&o, "127.0.0.1", &summaries);
	/* within the budget, and nothing lost: written + held back = all */
	ck_assert_uint_le(closed, BUDGET_BURST + BUDGET_RATE *
	    ((t2 - t0) / 1000 + 1));
	ck_assert_uint_eq(closed + held, FLOOD);
	/* one summary per 10 s pool-wide, and what each worker still held
	 * said as it ended */
	ck_assert_uint_le(summaries, (t2 - t0) / 10000 + 1 + 2);
	ck_assert_uint_eq(count(&o, "tcp connected to"), 0);	/* "close" */
	fprintf(stderr, "logflood: %d connections in %llu ms: %u lines, %lu "
	    "held back in %u summaries\n", FLOOD,
	    (unsigned long long)(t1 - t0), closed, held, summaries);
	free(o.buf);
}
END_TEST

/* tcp_rate_limit: past its burst, a source is closed at the door. */
START_TEST(test_connection_rate)
{
	int fd, refused = 0;
	char c;

	const struct h_conf hc = {
	    .extra = "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n"
	    "workers = 1\ntcp_rate_limit = 1\ntcp_rate_burst = 5\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	h_parse_ports(&e);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_ne(fd = h_connect(AF_INET, e.tcp4, 5000), -1);
		if (h_echo(fd, "x", 1, 2000) != 0) {
			refused++;
			ck_assert(read(fd, &c, 1) <= 0);
		}
		close(fd);
	}
	/* 5 in the burst, maybe one more if a second went by */
	ck_assert_int_ge(refused, 2);
	ck_assert(h_wait_log(&e, ": over the source's connection rate", 5000));
}
END_TEST

Suite *
logflood_suite(void)
{
	Suite *s = suite_create("logflood");
	TCase *tc = tcase_create("logflood");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_no_line_lost_behind_slow_log);
	tcase_add_test(tc, test_flood_within_budget);
	tcase_add_test(tc, test_connection_rate);
	suite_add_tcase(s, tc);
	return s;
}
