/*
 * check_status_live.c - what echod shows of itself: `echod --status` over the
 * control socket, and the Prometheus listener's metrics process.  Both must
 * shrug off garbage, slow and oversized requests and crowds, without
 * delaying the master (its WATCHDOG=1 keeps coming, read from a fake
 * notify socket) or the echo service.
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
#include "suites.h"

#define SCRAPERS	1000

static struct echod e;
static char ctl[100];
static int nfd = -1;
static char env_notify[160];
static char *envp[] = { env_notify, "WATCHDOG_USEC=1000000",
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

static void
setup(void)
{
	h_init(&e);
	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	nfd = h_notify_socket(&e, SOCK_CLOEXEC | SOCK_NONBLOCK, env_notify,
	    sizeof(env_notify));
	ck_assert_int_ne(nfd, -1);
	e.envp = envp;
}

static void
teardown(void)
{
	h_cleanup(&e);
	close(nfd);
}

/* echod on a loopback port with the control socket in the scratch
 * directory; extra is more of the file. */
static void
start(const char *extra)
{
	char conf[1024];

	snprintf(conf, sizeof(conf), "workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {\"127.0.0.1:0\"}\ncontrol_socket = \"%s\"\n%s", ctl, extra);
	h_write_conf(&e, conf);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_msg(h_start(&e, argv, 10000) == 0, "echod did not start");
}

/*
 * Runs echod with argv (NULL-terminated, after the program name) and
 * gathers its stdout (and stderr, if err) within timeout_ms.  Returns the
 * exit status, or -1 (killed after the timeout).
 */
static int
run(const char *const argv[], char *out, size_t outlen, char *err, size_t errlen)
{
	const char *args[16] = { h_echod_path() };
	int po[2], pe[2], st = -1;
	size_t no = 0, ne = 0;
	pid_t pid;

	for (int i = 0; argv[i] && i < 14; i++)
		args[i + 1] = argv[i];
	ck_assert(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0);
	if ((pid = fork()) == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	uint64_t end = h_now_ms() + 10000;
	struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	while (h_now_ms() < end && (p[0].fd != -1 || p[1].fd != -1)) {
		if (poll(p, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			char *b = i ? err : out;
			size_t *n = i ? &ne : &no, len = i ? errlen : outlen;
			char junk[256];
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t r = b && *n + 1 < len ? read(p[i].fd, b + *n, len - 1 - *n) :
			    read(p[i].fd, junk, sizeof(junk));
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else if (b && *n + 1 < len)
				*n += (size_t)r;
		}
	}
	if (out)
		out[no] = '\0';
	if (err)
		err[ne] = '\0';
	for (int i = 0; i < 2; i++)
		if (p[i].fd != -1)
			close(p[i].fd);
	if ((st = h_wait_exit(pid, 2000)) == -1) {
		kill(pid, SIGKILL);
		h_wait_exit(pid, 2000);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
status(bool json, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *const text[] = { "--status", "-c", e.confpath, NULL };
	const char *const js[] = { "--status", "--json", "-c", e.confpath, NULL };

	return run(json ? js : text, out, outlen, err, errlen);
}

/* n connections of ping-pong, each len bytes, one after another. */
static void
load(int n, size_t len)
{
	char buf[512];

	ck_assert(len <= sizeof(buf));
	for (int i = 0; i < n; i++) {
		int fd = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_ge(fd, 0);
		h_random(buf, len);
		ck_assert_int_eq(h_echo(fd, buf, len, 2000), 0);
		close(fd);
	}
}

/* --status until it says want (the workers publish on their next turn);
 * the last output in out. */
static bool
wait_status(const char *want, char *out, size_t outlen)
{
	uint64_t end = h_now_ms() + 5000;

	do {
		if (status(false, out, outlen, NULL, 0) == 0 && strstr(out, want))
			return true;
		h_tick();
	} while (h_now_ms() < end);
	return false;
}

START_TEST(test_status_after_known_load)
{
	char out[8192], err[512], path[300], cmd[600];

	start("");
	load(20, 100);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, "0123456789", 10, 2000), 10);
	ck_assert_msg(wait_status("total: 0 open, 20 accepted, 20 closed, 2070 bytes, "
	    "7 datagrams, 0 refused, 0 dropped, 0 times full, 0 reloads, "
	    "0 worker exits, "
	    "0 log lines held back\n", out, sizeof(out)), "--status: %s", out);
	ck_assert_msg(strstr(out, "generation 1, 2 workers\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "worker 0: pid ") && strstr(out, "worker 1: pid "),
	    "%s", out);

	/* --json: valid JSON, with the same totals */
	ck_assert_int_eq(status(true, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strstr(out, "\"accepted\": 20,\n"), "%s", out);
	snprintf(path, sizeof(path), "%s/status.json", e.dir);
	FILE *f = fopen(path, "w");
	ck_assert(f != NULL);
	fputs(out, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; d=json.load(open(\"%s\")); "
	    "assert d[\"accepted\"] == 20 and d[\"bytes\"][\"tcp\"] == 2000 and "
	    "d[\"datagrams\"] == 7 and d[\"bytes\"][\"udp\"] == 70 and "
	    "d[\"closed\"][\"eof\"] == 20 and d[\"open\"] == 0 and "
	    "len(d[\"workers\"]) == 2 and d[\"pid\"] == %ld, d'", path, (long)e.pid);
	ck_assert_msg(system(cmd) == 0, "not the JSON expected: %s", out);
}
END_TEST

/*
 * --status --health, the anycast route's check: 0 "serving" while echod
 * serves; 1 "stopping" from SIGTERM on, through stop_delay, while UDP is
 * still echoed (an echo probe could not tell); 69 once nothing answers.
 */
START_TEST(test_health_stopping)
{
	const char *const argv[] = { "--status", "--health", "-c", e.confpath, NULL };
	char out[64], err[256];

	start("stop_delay = 10m\n");
	ck_assert_int_eq(run(argv, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "serving\n");
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "failing health checks", 10000));
	ck_assert_int_eq(run(argv, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_str_eq(out, "stopping\n");
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, "still", 5, 2000), 5);
	ck_assert_int_ne(h_stop(&e, SIGQUIT, 10000), -1);
	ck_assert_int_eq(run(argv, out, sizeof(out), err, sizeof(err)), 69);
	ck_assert_msg(strstr(err, "no echod answers at "), "%s", err);
}
END_TEST

START_TEST(test_status_nothing_answers)
{
	char err[512];
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	char conf[300];

	/* no file */
	snprintf(conf, sizeof(conf), "control_socket = \"%s\"\n", ctl);
	h_write_conf(&e, conf);
	ck_assert_int_eq(status(false, NULL, 0, err, sizeof(err)), 69);
	ck_assert_msg(strstr(err, "no echod answers at ") && strstr(err, ctl), "%s", err);
	/* a socket file nobody listens on */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(un.sun_path, ctl);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	close(fd);
	ck_assert_int_eq(status(true, NULL, 0, err, sizeof(err)), 69);
	ck_assert_msg(strstr(err, "Connection refused"), "%s", err);
	/* control_socket = "": nothing to ask */
	h_write_conf(&e, "control_socket = \"\"\n");
	ck_assert_int_eq(status(false, NULL, 0, err, sizeof(err)), 69);
}
END_TEST

/* The control socket is 0600, and a second echod neither unlinks nor
 * takes over a live one; a stale one is replaced. */
START_TEST(test_live_socket_kept)
{
	struct echod e2;
	char out[4096], conf[512], pidtxt[32];
	struct stat st;

	start("");
	ck_assert_int_eq(stat(ctl, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	h_init(&e2);
	snprintf(conf, sizeof(conf), "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n"
	    "workers = 1\ncontrol_socket = \"%s\"\n", ctl);
	h_write_conf(&e2, conf);
	const char *const argv[] = { "-f", "-c", e2.confpath, NULL };
	ck_assert(h_start(&e2, argv, 10000) == 0);
	ck_assert(h_log_has(&e2, "another process answers there"));
	/* still the first one's */
	ck_assert_int_eq(status(false, out, sizeof(out), NULL, 0), 0);
	ck_assert_msg(strstr(out, "generation 1, 2 workers"), "%s", out);
	ck_assert_int_eq(h_stop(&e2, SIGTERM, 10000) != -1, 1);
	h_cleanup(&e2);
	ck_assert_int_eq(status(false, out, sizeof(out), NULL, 0), 0);

	/* stale: the first one killed outright leaves its file */
	kill(e.pid, SIGKILL);
	h_wait_exit(e.pid, 5000);
	e.pid = -1;
	ck_assert_int_eq(stat(ctl, &st), 0);
	start("");
	ck_assert_int_eq(status(false, out, sizeof(out), NULL, 0), 0);
	snprintf(pidtxt, sizeof(pidtxt), "%ld", (long)e.pid);
	ck_assert(!h_log_has(&e, "another process answers"));
	/* stopped: its file is gone */
	ck_assert(h_stop(&e, SIGTERM, 10000) != -1);
	e.pid = -1;
	ck_assert_int_eq(stat(ctl, &st), -1);
}
END_TEST

/*
 * The master's WATCHDOG=1, timed as it arrives by a thread reading the
 * fake notify socket, so that a test busy elsewhere does not stretch the
 * gaps it measures.
 */
static struct {
	pthread_t	 t;
	atomic_bool	 stop;
	_Atomic uint64_t longest, count, last;
} wd;

static void *
wd_loop(void *arg)
{
	char buf[512];

	(void)arg;
	while (!atomic_load(&wd.stop)) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		if (poll(&p, 1, 50) != 1)
			continue;
		ssize_t r = recv(nfd, buf, sizeof(buf) - 1, 0);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		if (strstr(buf, "WATCHDOG=1") == NULL)
			continue;
		uint64_t now = h_now_ms(), last = atomic_load(&wd.last);
		if (last && now - last > atomic_load(&wd.longest))
			atomic_store(&wd.longest, now - last);
		atomic_store(&wd.last, now);
		atomic_fetch_add(&wd.count, 1);
	}
	return NULL;
}

static void
wd_start(void)
{
	atomic_store(&wd.stop, false);
	atomic_store(&wd.longest, 0);
	atomic_store(&wd.count, 0);
	atomic_store(&wd.last, 0);
	ck_assert_int_eq(pthread_create(&wd.t, NULL, wd_loop, NULL), 0);
}

/* Stops the thread; the WATCHDOG=1 count, the longest gap in *longest. */
static int
wd_stop(uint64_t *longest)
{
	atomic_store(&wd.stop, true);
	pthread_join(wd.t, NULL);
	/* the time since the last one counts too */
	uint64_t tail = h_now_ms() - atomic_load(&wd.last);
	*longest = atomic_load(&wd.longest);
	if (tail > *longest)
		*longest = tail;
	return (int)atomic_load(&wd.count);
}

/* A connection that is closed by the other side within ms: true. */
static bool
closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];

	uint64_t end = h_now_ms() + (uint64_t)ms;
	while (h_now_ms() < end) {
		if (poll(&p, 1, (int)(end - h_now_ms())) == 1) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r == 0 || (r == -1 && errno == ECONNRESET))
				return true;
			if (r == -1)
				return false;
		}
	}
	return false;
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Garbage, oversized and slow requests, and a crowd on the control
 * socket: none delays the master's loop. */
START_TEST(test_control_abuse)
{
	int slow[8], crowd[64];
	uint64_t longest = 0, t0;
	char buf[512], out[4096];
	ssize_t r;

	start("");
	wd_start();
	/* garbage gets an error line, then EOF */
	int fd = unix_connect(ctl);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "\x01\xff garbage\n", 11), 11);
	ck_assert(closed_within(fd, 0) == false);
	r = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(r, 0);
	buf[r] = '\0';
	ck_assert_msg(strncmp(buf, "error: unknown request", 22) == 0, "%s", buf);
	close(fd);
	/* oversized: closed without an answer */
	fd = unix_connect(ctl);
	memset(buf, 'x', 200);
	ck_assert_int_eq(write(fd, buf, 200), 200);
	ck_assert(closed_within(fd, 1000));
	close(fd);

	/* slowloris: all 8 places taken by clients that say nothing; the
	 * rest are closed at once; the silent ones after the 2 s timeout */
	for (int i = 0; i < 8; i++)
		ck_assert_int_ge(slow[i] = unix_connect(ctl), 0);
	t0 = h_now_ms();
	for (int i = 0; i < 64; i++) {
		crowd[i] = unix_connect(ctl);
		ck_assert_int_ge(crowd[i], 0);
	}
	for (int i = 0; i < 64; i++) {
		ck_assert_msg(closed_within(crowd[i], 1000), "crowd %d kept", i);
		close(crowd[i]);
	}
	timing_assert(h_now_ms() - t0 < 1500, "the crowd took %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(closed_within(slow[i], 4000), "slow %d kept", i);
		close(slow[i]);
	}
	ck_assert_msg(h_now_ms() - t0 >= 1500, "closed before the timeout");
	ck_assert_int_eq(status(false, out, sizeof(out), NULL, 0), 0);
	int n = wd_stop(&longest);
	ck_assert_msg(n >= 1, "no WATCHDOG=1");
	timing_assert(n >= 4 && longest <= 800, "%d WATCHDOG=1, longest gap %llu ms",
	    n, (unsigned long long)longest);
}
END_TEST

/* Where the socket's directory cannot be made, echod says so once and
 * runs without it. */
START_TEST(test_no_directory)
{
	char conf[256], out[256];

	snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\ncontrol_socket = \"%s/echod.log/x/control\"\n", e.dir);
	/* its directory would be in a file: it cannot be made */
	h_write_conf(&e, conf);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_msg(h_start(&e, argv, 10000) == 0, "echod did not start");
	ck_assert(h_log_has(&e, "cannot make directory"));
	ck_assert(h_log_has(&e, "running without a control socket"));
	ck_assert_int_eq(status(false, out, sizeof(out), NULL, 0), 69);
	/* said once: a reload with the same path says nothing more */
	e.mark = 0;
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	FILE *f = fopen(e.logpath, "r");
	char line[512];
	int n = 0;
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, "cannot make directory") != NULL;
	if (f)
		fclose(f);
	ck_assert_int_eq(n, 1);
}
END_TEST

/* ---- metrics ----------------------------------------------------------- */

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
	const char *p;

	snprintf(conf, sizeof(conf), "metrics_listen = {\"127.0.0.1:0\"}\n%s%s",
	    strstr(extra, "user =") ? "" : metrics_user(), extra);
	start(conf);
	FILE *f = fopen(e.logpath, "r");
	char line[512];
	metrics_port = 0;
	while (f && fgets(line, sizeof(line), f))
		if ((p = strstr(line, "metrics on 127.0.0.1:")) != NULL)
			metrics_port = atoi(p + strlen("metrics on 127.0.0.1:"));
	if (f)
		fclose(f);
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
	load(5, 64);
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

static pid_t
metrics_pid(void)
{
	FILE *f = fopen(e.logpath, "r");
	char line[512];
	const char *p;
	pid_t pid = 0;

	while (f && fgets(line, sizeof(line), f))
		if ((p = strstr(line, "metrics process started (pid ")) != NULL)
			pid = (pid_t)atol(p + strlen("metrics process started (pid "));
	if (f)
		fclose(f);
	return pid;
}

static long
uid_of(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = atol(line + strlen(field));
	if (f)
		fclose(f);
	return v;
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
	ck_assert_int_eq(uid_of(pid, "Uid:"), 65534);
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Uid:", 4) == 0)
			ck_assert_msg(strcmp(line, "Uid:\t65534\t65534\t65534\t65534\n") == 0,
			    "%s", line);
	fclose(f);
	ck_assert_int_eq(uid_of(e.pid, "Uid:"), 0);
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
	load(3, 10);
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
	ck_assert_int_eq(access(ctl, F_OK), -1);
	ck_assert_int_eq(status(false, out, sizeof(out), NULL, 0), 0);
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

/*
 * Slowloris first: 16 silent clients take every place, the next are
 * closed at once.  Then 1000 scrapers at once: every one is answered or
 * closed within a bounded time; the master's watchdog keeps ticking and
 * the echo round trip stays near the one measured before.
 */
START_TEST(test_metrics_crowd)
{
	static int fds[SCRAPERS];
	int slow[16], answered = 0, closed = 0;
	uint64_t longest = 0, t0, before, during = 0;
	char buf[8192];

	start_metrics("");
	int efd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_ge(efd, 0);
	before = echo_median_us(efd, 31);
	wd_start();

	for (int i = 0; i < 16; i++)
		ck_assert_int_ge(slow[i] = h_connect(AF_INET, metrics_port, 2000), 0);
	/* make sure all 16 are accepted before the next one */
	ck_assert_int_eq(write(slow[15], "G", 1), 1);
	int extra = h_connect(AF_INET, metrics_port, 2000);
	t0 = h_now_ms();
	ck_assert_msg(closed_within(extra, 1000), "a 17th client was kept");
	close(extra);
	for (int i = 0; i < 16; i++) {
		ck_assert_msg(closed_within(slow[i], 8000), "slow %d kept", i);
		close(slow[i]);
	}
	ck_assert_msg(h_now_ms() - t0 >= 3500, "closed before the timeout");

	t0 = h_now_ms();
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
	/* each sends its request once connected, then waits for EOF */
	static bool sent[SCRAPERS], done[SCRAPERS];
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
					done[i] = true, closed++, left--;
					continue;
				}
			}
			ssize_t r = read(fds[i], buf, sizeof(buf));
			if (r > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0)
				answered++;
			if (r == 0 || (r == -1 && errno != EAGAIN && errno != ENOTCONN)) {
				done[i] = true;
				left--;
			}
		}
		/* the echo round trip with the crowd at the door */
		if (during == 0)
			during = echo_median_us(efd, 31);
		h_tick();
	}
	uint64_t took = h_now_ms() - t0;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	ck_assert_msg(left == 0, "%d of %d scrapers still open after %llu ms",
	    left, n, (unsigned long long)took);
	ck_assert_msg(answered > 0, "no scraper answered");
	int ticks = wd_stop(&longest);
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

/* /proc/PID/cmdline, its NULs as spaces and trailing spaces cut. */
static bool
args_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return true;
}

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
		if (args_of(pid, got, sizeof(got)) &&
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
	    "metrics_listen = {\"127.0.0.1:0\"}\n", ctl);
	h_write_conf(&e, conf);
	ck_assert_int_eq(run(t, out, sizeof(out), err, sizeof(err)), 78);
	ck_assert_msg(strstr(err, ":4: metrics_listen: ") && strstr(err, why),
	    "%s", err);
	ck_assert_int_eq(run(f, out, sizeof(out), err, sizeof(err)), 78);
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
status_live_suite(void)
{
	Suite *s = suite_create("status-live");
	TCase *tc = tcase_create("control");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_status_after_known_load);
	tcase_add_test(tc, test_status_nothing_answers);
	tcase_add_test(tc, test_health_stopping);
	tcase_add_test(tc, test_live_socket_kept);
	tcase_add_test(tc, test_control_abuse);
	tcase_add_test(tc, test_no_directory);
	suite_add_tcase(s, tc);
	tc = tcase_create("metrics");
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
