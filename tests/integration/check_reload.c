/*
 * check_reload.c - a reload is all or nothing, and -t checks every address
 * echod binds, with the real binary.  A reload that fails on one part
 * (a metrics address taken or unknown, a control socket that cannot be
 * made) leaves every listener as it was and says nothing of listening;
 * -t and a start refuse an unknown metrics_listen address with exit 78;
 * -t --socket-activated does not judge the echo lists the unit ignores.
 */
#include "config.h"

#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

static struct echod e;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

#define BAD_SERVICE	"127.0.0.1:nosuchservice-echod"

/* A TCP port on 127.0.0.1 that another socket listens on: *fd holds it. */
static int
held_port(int *fd)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(AF_INET, 0, &ss);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(*fd, -1);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&ss, len), 0);
	ck_assert_int_eq(listen(*fd, 1), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&ss, &len), 0);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
echoes(int port)
{
	int fd = h_connect(AF_INET, port, 2000);

	ck_assert_msg(fd != -1, "127.0.0.1:%d refuses", port);
	ck_assert_int_eq(h_echo(fd, "still here", 10, 2000), 0);
	close(fd);
}

/* As root the metrics process needs a user of its own (echod.conf(5)). */
static const char *
metrics_user(void)
{
	return geteuid() == 0 ? "user = \"nobody\"\n" : "";
}

/* One worker, echo on a, metrics on m, the control socket ctl. */
static void
start_on(int a, int m, const char *ctl)
{
	char tcp[64], metrics[64];

	snprintf(tcp, sizeof(tcp), "\"127.0.0.1:%d\"", a);
	snprintf(metrics, sizeof(metrics), "metrics_listen = {\"127.0.0.1:%d\"}\n",
	    m);
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){ .tcp = tcp,
	    .workers = 1, .control = ctl, .extra = metrics,
	    .user = geteuid() == 0 ? "nobody" : NULL }), 0);
	echoes(a);
}

/* How many descriptors the master holds. */
static int
master_fds(void)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)e.pid);
	ck_assert_ptr_nonnull(dir = opendir(path));
	while ((d = readdir(dir)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* Sends SIGHUP and waits for want; then nothing of the listeners moved,
 * and what the reload bound before it failed is closed again. */
static void
reload_fails(const char *want)
{
	size_t off = h_log_size(&e);
	int fds = master_fds();

	kill(e.pid, SIGHUP);
	ck_assert_msg(h_wait_log(&e, want, 5000), "no \"%s\" in the log", want);
	/* "no longer listening on" too */
	ck_assert(h_log_lacks_since(&e, off, "listening on"));
	ck_assert(h_log_lacks_since(&e, off, "metrics on"));
	ck_assert(h_log_lacks_since(&e, off, "configuration reloaded"));
	ck_assert_int_eq(master_fds(), fds);
}

/* The pid the log last gave the metrics process, or 0. */
static long
metrics_pid(void)
{
	return h_log_last(&e, "metrics process started (pid ");
}

/* The master's workers, not its metrics process (told by pid: under
 * valgrind no title shows); returns how many. */
static int
workers(pid_t *out, int max)
{
	pid_t all[16];
	int n = h_workers(e.pid, all, 16), k = 0;
	long metrics = metrics_pid();

	ck_assert_int_gt(metrics, 0);
	for (int i = 0; i < n && k < max; i++)
		if (all[i] != metrics)
			out[k++] = all[i];
	return k;
}

/* The worker is killed; once its replacement runs, port still echoes
 * (the master still holds its listener). */
static void
worker_replaced_serves(int port)
{
	pid_t before[8], after[8];
	uint64_t end = h_now_ms() + 10000;
	int n;

	ck_assert_int_eq(workers(before, 8), 1);
	kill(before[0], SIGKILL);
	do {
		h_tick();
		n = workers(after, 8);
	} while ((n != 1 || after[0] == before[0]) && h_now_ms() < end);
	ck_assert_msg(n == 1 && after[0] != before[0], "no new worker");
	echoes(port);
}

/*
 * listen_tcp {A} -> {B} and metrics_listen {M1} -> {M1, M2}, M2 taken:
 * the reload fails, and B was never bound (it accepted connections nobody
 * served), A still serves, after its worker is replaced too.
 */
START_TEST(test_metrics_taken_moves_nothing)
{
	char ctl[128], conf[512], want[256];
	int a = h_free_port(), b = h_free_port(), m1 = h_free_port(), holder;
	int m2 = held_port(&holder);

	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	start_on(a, m1, ctl);
	snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\ncontrol_socket = \"%s\"\nmetrics_listen = "
	    "{\"127.0.0.1:%d\", \"127.0.0.1:%d\"}\n%s", b, ctl, m1, m2,
	    metrics_user());
	h_write_conf(&e, conf);
	snprintf(want, sizeof(want), "reload failed: metrics_listen: listen "
	    "127.0.0.1:%d (tcp 127.0.0.1:%d): Address already in use; the "
	    "running configuration stays", m2, m2);
	reload_fails(want);
	ck_assert_int_eq(h_connect(AF_INET, b, 1000), -1);
	echoes(a);
	worker_replaced_serves(a);
	int fd = h_connect(AF_INET, m1, 2000);
	ck_assert_int_ne(fd, -1);	/* the metrics socket stays too */
	close(fd);
	close(holder);
}
END_TEST

/* The same when M2 is a name that does not resolve: the file's error,
 * with its line. */
START_TEST(test_metrics_unknown_moves_nothing)
{
	char ctl[128], conf[512], want[512];
	int a = h_free_port(), b = h_free_port(), m1 = h_free_port();

	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	start_on(a, m1, ctl);
	snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\ncontrol_socket = \"%s\"\nmetrics_listen = "
	    "{\"127.0.0.1:%d\", \"" BAD_SERVICE "\"}\n%s", b, ctl, m1,
	    metrics_user());
	h_write_conf(&e, conf);
	snprintf(want, sizeof(want), "reload failed: %s:5: metrics_listen: \""
	    BAD_SERVICE "\": no such service (see /etc/services); the running "
	    "configuration stays", e.confpath);
	reload_fails(want);
	ck_assert_int_eq(h_connect(AF_INET, b, 1000), -1);
	worker_replaced_serves(a);
}
END_TEST

/*
 * A new control socket that cannot be made (its directory would be under
 * a regular file) fails the reload too: before, echod went on without one,
 * having moved the echo listener.  The old control socket stays.
 */
START_TEST(test_control_unmade_moves_nothing)
{
	char ctl[128], bad[160], conf[512], want[256];
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int a = h_free_port(), b = h_free_port(), m = h_free_port();

	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	snprintf(bad, sizeof(bad), "%s/echod.conf/sub/control", e.dir);
	start_on(a, m, ctl);
	snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\ncontrol_socket = \"%s\"\nmetrics_listen = "
	    "{\"127.0.0.1:%d\"}\n%s", b, bad, m, metrics_user());
	h_write_conf(&e, conf);
	snprintf(want, sizeof(want), "reload failed: control socket %s: cannot "
	    "make directory ", bad);
	reload_fails(want);
	ck_assert(h_log_lacks(&e, "running without a control socket"));
	ck_assert_int_eq(h_connect(AF_INET, b, 1000), -1);
	worker_replaced_serves(a);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_uint_lt(strlen(ctl), sizeof(un.sun_path));
	memcpy(un.sun_path, ctl, strlen(ctl) + 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	close(fd);
}
END_TEST

/*
 * metrics_listen that does not resolve: -t says FILE:LINE and exits 78
 * (it passed), a start exits 78 binding nothing (it exited 1, which the
 * unit's RestartPreventExitStatus=78 restarted in a loop), and
 * --socket-activated does not spare it: echod binds it under the unit too.
 */
START_TEST(test_t_metrics_unknown)
{
	const char *const t[] = { "-t", "-c", e.confpath, NULL };
	const char *const ta[] = { "-t", "--socket-activated", "-c", e.confpath,
	    NULL };
	const char *const start[] = { "-f", "-c", e.confpath, NULL };
	char conf[256], want[256];
	int port = h_free_port();

	snprintf(conf, sizeof(conf), "workers = 1\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\n\nmetrics_listen = {\"" BAD_SERVICE "\"}\n", port);
	h_write_conf(&e, conf);
	snprintf(want, sizeof(want), "%s:5: metrics_listen: \"" BAD_SERVICE
	    "\": no such service (see /etc/services)", e.confpath);
	ck_assert_int_eq(h_run_status(&e, t), 78);
	ck_assert_msg(h_wait_log(&e, want, 1000), "no \"%s\"", want);
	ck_assert_int_eq(h_run_status(&e, ta), 78);
	ck_assert_msg(h_wait_log(&e, want, 1000), "no \"%s\"", want);
	ck_assert_int_eq(h_run_status(&e, start), 78);
	ck_assert_msg(h_wait_log(&e, want, 1000), "no \"%s\"", want);
	ck_assert(h_log_lacks(&e, "listening on"));
	ck_assert_int_eq(h_connect(AF_INET, port, 1000), -1);
}
END_TEST

/*
 * The unit's ExecReload= runs -t without the sockets: --socket-activated
 * judges the file as the running echod does, ignoring the echo lists, and
 * goes only with -t.
 */
START_TEST(test_t_socket_activated)
{
	const char *const t[] = { "-t", "-c", e.confpath, NULL };
	const char *const ta[] = { "-t", "--socket-activated", "-c", e.confpath,
	    NULL };
	const char *const alone[] = { "-f", "--socket-activated", "-c",
	    e.confpath, NULL };

	h_write_conf(&e, "workers = 1\nlisten_tcp = {\"" BAD_SERVICE "\"}\n");
	ck_assert_int_eq(h_run_status(&e, t), 78);
	ck_assert(h_wait_log(&e, ":2: listen_tcp: \"" BAD_SERVICE "\"", 1000));
	ck_assert_int_eq(h_run_status(&e, ta), 0);
	ck_assert(h_wait_log(&e, "test is successful", 1000));
	ck_assert_int_eq(h_run_status(&e, alone), 64);
	ck_assert(h_wait_log(&e, "--socket-activated goes with -t", 1000));
}
END_TEST

Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_metrics_taken_moves_nothing);
	tcase_add_test(tc, test_metrics_unknown_moves_nothing);
	tcase_add_test(tc, test_control_unmade_moves_nothing);
	tcase_add_test(tc, test_t_metrics_unknown);
	tcase_add_test(tc, test_t_socket_activated);
	suite_add_tcase(s, tc);
	return s;
}
