/*
 * check_metrics_live.c - the Prometheus listener's metrics process of a
 * live echod, beside check_status_live.c: it must shrug off garbage, slow
 * and oversized requests and crowds, without delaying the master (its
 * WATCHDOG=1 keeps coming, read from a fake notify socket) or the echo
 * service.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "live.h"
#include "suites.h"
#define SCRAPERS	1000

static struct echod e;
static struct live lv;

static void setup(void) { live_setup(&lv, &e); }
static void teardown(void) { live_teardown(&lv); }

static int metrics_port;

/* As root, metrics_listen needs a user (echod.conf(5)). */
static const char *
metrics_user(void)
{
	return geteuid() == 0 ? "user = \"nobody\"\n" : "";
}

static void
start_metrics(const char *extra)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "metrics_listen = {\"127.0.0.1:0\"}\n%s%s",
	    strstr(extra, "user =") ? "" : metrics_user(), extra);
	live_start(&lv, conf);
	metrics_port = (int)h_log_last(&e, "metrics on 127.0.0.1:");
	ck_assert_int_gt(metrics_port, 0);
}

/* Sends req whole and reads the answer to EOF; its length, or -1 (the
 * connection closed with no answer gives 0). */
static ssize_t
http(const char *req, char *out, size_t outlen)
{
	int fd = h_connect(AF_INET, metrics_port, 2000);
	size_t n = 0;
	ssize_t r;

	if (fd == -1)
		return -1;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t end = h_now_ms() + 5000;
	while (n + 1 < outlen && h_now_ms() < end &&
	    poll(&p, 1, (int)(end - h_now_ms())) == 1 &&
	    (r = read(fd, out + n, outlen - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fd);
	return (ssize_t)n;
}

static const char *const metric_names[] = {
	"echod_connections_accepted_total", "echod_connections_open",
	"echod_connections_closed_total", "echod_bytes_echoed_total",
	"echod_datagrams_echoed_total", "echod_refused_total",
	"echod_datagrams_dropped_total", "echod_workers",
	"echod_worker_exits_total", "echod_reloads_total", "echod_build_info",
	"echod_worker_full_total",
};

START_TEST(test_metrics_promtool)
{
	char out[65536], path[300], cmd[600], want[128];

	start_metrics("");
	live_load(&e, 5, 64);
	/* the workers publish on their next turn */
	uint64_t end = h_now_ms() + 5000;
	do {
		ck_assert_int_gt(http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", out,
		    sizeof(out)), 0);
	} while (!strstr(out, "\necho_connections_accepted_total 5\n") &&
	    !strstr(out, "\nechod_connections_accepted_total 5\n") &&
	    h_now_ms() < end && (h_tick(), 1));
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.200s", out);
	ck_assert_msg(strstr(out, "\nechod_connections_accepted_total 5\n"), "%s", out);
	ck_assert(strstr(out, "\nechod_bytes_echoed_total{proto=\"tcp\"} 320\n"));
	ck_assert(strstr(out, "\nechod_workers{state=\"serving\"} 2\n"));
	for (size_t i = 0; i < sizeof(metric_names) / sizeof(metric_names[0]); i++) {
		snprintf(want, sizeof(want), "# HELP %s ", metric_names[i]);
		ck_assert_msg(strstr(out, want), "no %s", want);
		snprintf(want, sizeof(want), "# TYPE %s ", metric_names[i]);
		ck_assert_msg(strstr(out, want), "no %s", want);
	}
	/* promtool, on the body */
	if (system("command -v promtool >/dev/null") != 0) {
		if (getenv("ECHOD_CI"))
			ck_abort_msg("promtool is not installed (Debian: prometheus)");
		skip_test("promtool is not installed (Debian: prometheus)");
	}
	snprintf(path, sizeof(path), "%s/metrics.txt", e.dir);
	FILE *f = fopen(path, "w");
	ck_assert(f != NULL);
	fputs(strstr(out, "\r\n\r\n") + 4, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	ck_assert_msg(system(cmd) == 0, "promtool rejects: %s", out);
}
END_TEST

START_TEST(test_metrics_404)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"GET /metricsx HTTP/1.1\r\n\r\n",
		"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		"HEAD /metrics HTTP/1.0\r\n\r\n",
		"get /metrics HTTP/1.1\r\n\r\n",
		"\x16\x03\x01 garbage\r\n\r\n",
		"GET /metrics\r\n\r\n",
	};
	char out[4096];

	start_metrics("");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_gt(http(bad[i], out, sizeof(out)), 0);
		ck_assert_msg(strncmp(out, "HTTP/1.1 404 Not Found\r\n", 24) == 0,
		    "%zu: %.100s", i, out);
	}
	ck_assert_int_gt(http("GET /metrics?x=1 HTTP/1.0\n\n", out, sizeof(out)), 0);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.100s", out);
	/* oversized: closed, no answer */
	char *big = malloc(8192);
	memset(big, 'A', 8191);
	big[8191] = '\0';
	ck_assert_int_eq(http(big, out, sizeof(out)), 0);
	free(big);
}
END_TEST

/* The metrics process the log names last; 0: none yet. */
static pid_t
metrics_pid(void)
{
	return (pid_t)h_log_last(&e, "metrics process started (pid ");
}

/* As root with user = nobody: the metrics process is nobody's (real,
 * effective, saved), and it is respawned when it dies. */
START_TEST(test_metrics_unprivileged)
{
	char out[65536];
	pid_t pid;

	if (geteuid() != 0)
		skip_test("needs root, to run echod with user = nobody");
	start_metrics("user = \"nobody\"\n");
	ck_assert_int_gt(pid = metrics_pid(), 0);
	ck_assert_int_eq(h_status_field(pid, "Uid:"), 65534);
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Uid:", 4) == 0)
			ck_assert_msg(strcmp(line, "Uid:\t65534\t65534\t65534\t65534\n") == 0,
			    "%s", line);
	fclose(f);
	ck_assert_int_eq(h_status_field(e.pid, "Uid:"), 0);
	/* supervised like a worker */
	e.mark = 0;
	kill(pid, SIGKILL);
	ck_assert(h_wait_log(&e, "metrics process (pid", 5000));
	uint64_t end = h_now_ms() + 10000;
	while (metrics_pid() == pid && h_now_ms() < end)
		h_tick();
	ck_assert_int_ne(metrics_pid(), pid);
	ck_assert_int_gt(http("GET /metrics HTTP/1.1\r\n\r\n", out, sizeof(out)), 0);
	ck_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
}
END_TEST

/* The metrics process ends with the master, however the master ends: on a
 * graceful stop, and when it is killed outright. */
START_TEST(test_metrics_ends_with_master)
{
	pid_t pid;

	for (int round = 0; round < 2; round++) {
		start_metrics("");
		ck_assert_int_gt(pid = metrics_pid(), 0);
		ck_assert(h_pid_alive(pid));
		if (round == 0)
			ck_assert(h_stop(&e, SIGTERM, 10000) != -1);
		else {
			kill(e.pid, SIGKILL);
			h_wait_exit(e.pid, 5000);
		}
		e.pid = -1;
		uint64_t end = h_now_ms() + 5000;
		while (h_pid_alive(pid) && h_now_ms() < end)
			h_tick();
		ck_assert_msg(!h_pid_alive(pid), "round %d: the metrics process "
		    "outlived the master", round);
		/* the next round logs afresh */
		truncate(e.logpath, 0);
		e.mark = 0;
	}
}
END_TEST

/* A reload moves the metrics to a new port (the old one closes) and the
 * control socket to a new path; the counters count the reload and do not
 * go down. */
START_TEST(test_reload_moves_them)
{
	char conf[512], out[65536], ctl2[128];
	int old_port;

	start_metrics("");
	live_load(&e, 3, 10);
	old_port = metrics_port;
	metrics_port = h_free_port();
	snprintf(ctl2, sizeof(ctl2), "%s/control2", e.dir);
	snprintf(conf, sizeof(conf), "workers = 2\nlisten_tcp = {\"127.0.0.1:%d\"}\n"
	    "listen_udp = {}\ncontrol_socket = \"%s\"\n"
	    "metrics_listen = {\"127.0.0.1:%d\"}\n%s", e.tcp4, ctl2, metrics_port,
	    metrics_user());
	h_write_conf(&e, conf);
	e.mark = 0;
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	ck_assert(h_log_has(&e, "no more metrics on 127.0.0.1:"));
	/* the new metrics process serves the new port */
	uint64_t end = h_now_ms() + 10000;
	while (http("GET /metrics HTTP/1.1\r\n\r\n", out, sizeof(out)) <= 0 &&
	    h_now_ms() < end)
		h_tick();
	ck_assert_msg(strstr(out, "\nechod_reloads_total{result=\"ok\"} 1\n"), "%s", out);
	ck_assert_msg(strstr(out, "\nechod_connections_accepted_total 3\n"), "%s", out);
	ck_assert_int_eq(h_connect(AF_INET, old_port, 1000), -1);
	/* the control socket moved: the old file is gone, the new answers */
	ck_assert_int_eq(access(lv.ctl, F_OK), -1);
	ck_assert_int_eq(live_status(&lv, false, out, sizeof(out), NULL, 0), 0);
	ck_assert_msg(strstr(out, ", 1 reload, "), "%s", out);
}
END_TEST

/* Median echo round trip over n tries, microseconds. */
static uint64_t
echo_median_us(int fd, int n)
{
	uint64_t t[64];
	char b[32] = "ping";

	for (int i = 0; i < n && i < 64; i++) {
		struct timespec a, z;
		clock_gettime(CLOCK_MONOTONIC, &a);
		ck_assert_int_eq(h_echo(fd, b, sizeof(b), 2000), 0);
		clock_gettime(CLOCK_MONOTONIC, &z);
		t[i] = (uint64_t)(z.tv_sec - a.tv_sec) * 1000000 +
		    (uint64_t)((z.tv_nsec - a.tv_nsec) / 1000);
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			uint64_t x = t[j]; t[j] = t[j - 1]; t[j - 1] = x;
		}
	return t[n / 2];
}

/* Slowloris: 16 silent clients take every place, the next is closed at
 * once, and the 16 when their time is up. */
static void
slowloris_closed(void)
{
	int slow[16];
	uint64_t t0;

	for (int i = 0; i < 16; i++)
		ck_assert_int_ge(slow[i] = h_connect(AF_INET, metrics_port, 2000), 0);
	/* make sure all 16 are accepted before the next one */
	ck_assert_int_eq(write(slow[15], "G", 1), 1);
	int extra = h_connect(AF_INET, metrics_port, 2000);
	t0 = h_now_ms();
	ck_assert_msg(live_closed_within(extra, 1000), "a 17th client was kept");
	close(extra);
	for (int i = 0; i < 16; i++) {
		ck_assert_msg(live_closed_within(slow[i], 8000), "slow %d kept", i);
		close(slow[i]);
	}
	ck_assert_msg(h_now_ms() - t0 >= 3500, "closed before the timeout");
}

/* Up to SCRAPERS non-blocking connections begun to the metrics port; how
 * many (at least half, or the test fails). */
static int
open_scrapers(int *fds)
{
	int n = 0;

	for (; n < SCRAPERS; n++) {
		fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fds[n] == -1)
			break;
		struct sockaddr_storage ss;
		socklen_t len = h_loopback(AF_INET, metrics_port, &ss);
		if (connect(fds[n], (struct sockaddr *)&ss, len) == -1 &&
		    errno != EINPROGRESS) {
			close(fds[n]);
			break;
		}
	}
	ck_assert_msg(n >= SCRAPERS / 2, "only %d sockets", n);
	return n;
}

/* Each scraper sends its request once connected, then waits for EOF; the
 * echo round trip on efd measured once meanwhile (*during).  How many
 * are still open after 30 s. */
static int
scrape_all(const int *fds, int n, int efd, int *answered, uint64_t *during)
{
	static bool sent[SCRAPERS], done[SCRAPERS];
	char buf[8192];
	int left = n;
	uint64_t end = h_now_ms() + 30000;
	while (left > 0 && h_now_ms() < end) {
		for (int i = 0; i < n; i++) {
			if (done[i])
				continue;
			if (!sent[i]) {
				ssize_t w = send(fds[i], "GET /metrics HTTP/1.1\r\n\r\n", 25,
				    MSG_NOSIGNAL);
				if (w == 25)
					sent[i] = true;
				else if (w == -1 && errno != EAGAIN && errno != ENOTCONN) {
					done[i] = true, left--;
					continue;
				}
			}
			ssize_t r = read(fds[i], buf, sizeof(buf));
			if (r > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0)
				(*answered)++;
			if (r == 0 || (r == -1 && errno != EAGAIN && errno != ENOTCONN)) {
				done[i] = true;
				left--;
			}
		}
		/* the echo round trip with the crowd at the door */
		if (*during == 0)
			*during = echo_median_us(efd, 31);
		h_tick();
	}
	return left;
}

/*
 * Slowloris first: 16 silent clients take every place, the next are
 * closed at once.  Then 1000 scrapers at once: every one is answered or
 * closed within a bounded time; the master's watchdog keeps ticking and
 * the echo round trip stays near the one measured before.
 */
START_TEST(test_metrics_crowd)
{
	static int fds[SCRAPERS];
	int answered = 0;
	uint64_t longest = 0, t0, before, during = 0;

	start_metrics("");
	int efd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_ge(efd, 0);
	before = echo_median_us(efd, 31);
	live_wd_start(lv.nfd);

	slowloris_closed();

	t0 = h_now_ms();
	int n = open_scrapers(fds);
	int left = scrape_all(fds, n, efd, &answered, &during);
	uint64_t took = h_now_ms() - t0;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	ck_assert_msg(left == 0, "%d of %d scrapers still open after %llu ms",
	    left, n, (unsigned long long)took);
	ck_assert_msg(answered > 0, "no scraper answered");
	int ticks = live_wd_stop(&longest);
	ck_assert_msg(ticks > 0, "no WATCHDOG=1");
	timing_assert(longest <= 800, "WATCHDOG=1 gap of %llu ms",
	    (unsigned long long)longest);
	uint64_t after = echo_median_us(efd, 31);
	close(efd);
	fprintf(stderr, "# crowd: %d scrapers, %d answered, %llu ms; echo median "
	    "%llu us before, %llu during, %llu after\n", n, answered,
	    (unsigned long long)took, (unsigned long long)before,
	    (unsigned long long)during, (unsigned long long)after);
	/* generous: two cores shared with other test runs */
	ck_assert_msg(during <= 10 * before + 20000, "echo median %llu us during, "
	    "%llu before", (unsigned long long)during, (unsigned long long)before);
}
END_TEST

/* Started by a path longer than its title (as /usr/sbin/echod is), the
 * metrics process shows "echod: metrics" and nothing after it. */
START_TEST(test_metrics_title)
{
	char bin[PATH_MAX], got[512] = "";
	pid_t pid;

	ck_assert_ptr_nonnull(realpath(h_echod_path(), bin));
	ck_assert_uint_gt(strlen(bin), strlen("echod: metrics"));
	e.wrapper = bin;
	start_metrics("");
	ck_assert_int_gt(pid = metrics_pid(), 0);
	for (uint64_t end = h_now_ms() + 5000; h_now_ms() < end; h_tick())
		if (h_cmdline(pid, got, sizeof(got)) == 0 &&
		    strcmp(got, "echod: metrics") == 0)
			break;
	ck_assert_str_eq(got, "echod: metrics");
}
END_TEST

/* As root without user, metrics_listen is refused where the file is
 * judged: echod -t, the start (exit 78), and a reload (the running
 * configuration stays, and serves). */
START_TEST(test_metrics_refused_as_root)
{
	static const char why[] = "metrics_listen: echod runs as root and user "
	    "is unset, so the metrics process would parse HTTP as root";
	const char *const t[] = { "-t", "-c", e.confpath, NULL };
	const char *const f[] = { "-f", "-c", e.confpath, NULL };
	char conf[512], out[4096], err[4096];

	if (geteuid() != 0)
		skip_test("needs root: the refusal is root's");
	snprintf(conf, sizeof(conf), "listen_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\ncontrol_socket = \"%s\"\n"
	    "metrics_listen = {\"127.0.0.1:0\"}\n", lv.ctl);
	h_write_conf(&e, conf);
	ck_assert_int_eq(live_run(t, out, sizeof(out), err, sizeof(err)), 78);
	ck_assert_msg(strstr(err, ":4: metrics_listen: ") && strstr(err, why),
	    "%s", err);
	ck_assert_int_eq(live_run(f, out, sizeof(out), err, sizeof(err)), 78);
	ck_assert_msg(strstr(err, why), "%s", err);

	start_metrics("");
	h_write_conf(&e, conf);
	e.mark = 0;
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "reload failed: ", 10000));
	ck_assert(h_log_has(&e, why));
	ck_assert_int_gt(http("GET /metrics HTTP/1.1\r\n\r\n", out, sizeof(out)), 0);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.100s", out);
}
END_TEST

Suite *
metrics_live_suite(void)
{
	Suite *s = suite_create("metrics-live");
	TCase *tc = tcase_create("metrics");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_metrics_promtool);
	tcase_add_test(tc, test_metrics_404);
	tcase_add_test(tc, test_metrics_unprivileged);
	tcase_add_test(tc, test_reload_moves_them);
	tcase_add_test(tc, test_metrics_ends_with_master);
	tcase_add_test(tc, test_metrics_crowd);
	tcase_add_test(tc, test_metrics_title);
	tcase_add_test(tc, test_metrics_refused_as_root);
	suite_add_tcase(s, tc);
	return s;
}
