/*
 * check_status_live.c - what echod shows of itself: `echod --status` over the
 * control socket (the metrics process is in check_metrics_live.c).  It must
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
#include "live.h"
#include "suites.h"


static struct echod e;
static struct live lv;

static void setup(void) { live_setup(&lv, &e); }
static void teardown(void) { live_teardown(&lv); }

/* --status until it says want (the workers publish on their next turn);
 * the last output in out. */
static bool
wait_status(const char *want, char *out, size_t outlen)
{
	uint64_t end = h_now_ms() + 5000;

	do {
		if (live_status(&lv, false, out, outlen, NULL, 0) == 0 &&
		    strstr(out, want))
			return true;
		h_tick();
	} while (h_now_ms() < end);
	return false;
}

START_TEST(test_status_after_known_load)
{
	char out[8192], err[512], path[300], cmd[600];

	live_start(&lv, "");
	live_load(&e, 20, 100);
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
	ck_assert_int_eq(live_status(&lv, true, out, sizeof(out), err,
	    sizeof(err)), 0);
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

	live_start(&lv, "stop_delay = 10m\n");
	ck_assert_int_eq(live_run(argv, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "serving\n");
	kill(e.pid, SIGTERM);
	ck_assert(h_wait_log(&e, "failing health checks", 10000));
	ck_assert_int_eq(live_run(argv, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_str_eq(out, "stopping\n");
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, "still", 5, 2000), 5);
	ck_assert_int_ne(h_stop(&e, SIGQUIT, 10000), -1);
	ck_assert_int_eq(live_run(argv, out, sizeof(out), err, sizeof(err)), 69);
	ck_assert_msg(strstr(err, "no echod answers at "), "%s", err);
}
END_TEST

START_TEST(test_status_nothing_answers)
{
	char err[512];
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	char conf[300];

	/* no file */
	snprintf(conf, sizeof(conf), "control_socket = \"%s\"\n", lv.ctl);
	h_write_conf(&e, conf);
	ck_assert_int_eq(live_status(&lv, false, NULL, 0, err, sizeof(err)), 69);
	ck_assert_msg(strstr(err, "no echod answers at ") &&
	    strstr(err, lv.ctl), "%s", err);
	/* a socket file nobody listens on */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(un.sun_path, lv.ctl);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	close(fd);
	ck_assert_int_eq(live_status(&lv, true, NULL, 0, err, sizeof(err)), 69);
	ck_assert_msg(strstr(err, "Connection refused"), "%s", err);
	/* control_socket = "": nothing to ask */
	h_write_conf(&e, "control_socket = \"\"\n");
	ck_assert_int_eq(live_status(&lv, false, NULL, 0, err, sizeof(err)), 69);
}
END_TEST

/* The control socket is 0600, and a second echod neither unlinks nor
 * takes over a live one; a stale one is replaced. */
START_TEST(test_live_socket_kept)
{
	struct echod e2;
	char out[4096], conf[512], pidtxt[32];
	struct stat st;

	live_start(&lv, "");
	ck_assert_int_eq(stat(lv.ctl, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	h_init(&e2);
	snprintf(conf, sizeof(conf), "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n"
	    "workers = 1\ncontrol_socket = \"%s\"\n", lv.ctl);
	const struct h_conf hc = {
	    .extra = conf };
	ck_assert(h_start_conf(&e2, &hc) == 0);
	ck_assert(h_log_has(&e2, "another process answers there"));
	/* still the first one's */
	ck_assert_int_eq(live_status(&lv, false, out, sizeof(out), NULL, 0), 0);
	ck_assert_msg(strstr(out, "generation 1, 2 workers"), "%s", out);
	ck_assert_int_eq(h_stop(&e2, SIGTERM, 10000) != -1, 1);
	h_cleanup(&e2);
	ck_assert_int_eq(live_status(&lv, false, out, sizeof(out), NULL, 0), 0);

	/* stale: the first one killed outright leaves its file */
	kill(e.pid, SIGKILL);
	h_wait_exit(e.pid, 5000);
	e.pid = -1;
	ck_assert_int_eq(stat(lv.ctl, &st), 0);
	live_start(&lv, "");
	ck_assert_int_eq(live_status(&lv, false, out, sizeof(out), NULL, 0), 0);
	snprintf(pidtxt, sizeof(pidtxt), "%ld", (long)e.pid);
	ck_assert(h_log_lacks(&e, "another process answers"));
	/* stopped: its file is gone */
	ck_assert(h_stop(&e, SIGTERM, 10000) != -1);
	e.pid = -1;
	ck_assert_int_eq(stat(lv.ctl, &st), -1);
}
END_TEST

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

	live_start(&lv, "");
	live_wd_start(lv.nfd);
	/* garbage gets an error line, then EOF */
	int fd = unix_connect(lv.ctl);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "\x01\xff garbage\n", 11), 11);
	ck_assert(live_closed_within(fd, 0) == false);
	r = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(r, 0);
	buf[r] = '\0';
	ck_assert_msg(strncmp(buf, "error: unknown request", 22) == 0, "%s", buf);
	close(fd);
	/* oversized: closed without an answer */
	fd = unix_connect(lv.ctl);
	memset(buf, 'x', 200);
	ck_assert_int_eq(write(fd, buf, 200), 200);
	ck_assert(live_closed_within(fd, 1000));
	close(fd);

	/* slowloris: all 8 places taken by clients that say nothing; the
	 * rest are closed at once; the silent ones after the 2 s timeout */
	for (int i = 0; i < 8; i++)
		ck_assert_int_ge(slow[i] = unix_connect(lv.ctl), 0);
	t0 = h_now_ms();
	for (int i = 0; i < 64; i++) {
		crowd[i] = unix_connect(lv.ctl);
		ck_assert_int_ge(crowd[i], 0);
	}
	for (int i = 0; i < 64; i++) {
		ck_assert_msg(live_closed_within(crowd[i], 1000), "crowd %d kept", i);
		close(crowd[i]);
	}
	timing_assert(h_now_ms() - t0 < 1500, "the crowd took %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(live_closed_within(slow[i], 4000), "slow %d kept", i);
		close(slow[i]);
	}
	ck_assert_msg(h_now_ms() - t0 >= 1500, "closed before the timeout");
	ck_assert_int_eq(live_status(&lv, false, out, sizeof(out), NULL, 0), 0);
	int n = live_wd_stop(&longest);
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
	const struct h_conf hc = {
	    .extra = conf };
	ck_assert_msg(h_start_conf(&e, &hc) == 0, "echod did not start");
	ck_assert(h_log_has(&e, "cannot make directory"));
	ck_assert(h_log_has(&e, "running without a control socket"));
	ck_assert_int_eq(live_status(&lv, false, out, sizeof(out), NULL, 0), 69);
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
	return s;
}
