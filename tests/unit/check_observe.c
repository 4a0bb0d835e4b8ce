/*
 * check_observe.c - observe.c, the master's side of --status and the
 * metrics: opening the control socket (in a temp dir) and the metrics
 * sockets (127.0.0.1:0), the snapshot the control socket answers (and
 * "busy" while the page is written), a reload that moves both or fails
 * and changes nothing, and closing every descriptor.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "ctlrecord.h"
#include "observe.h"
#include "stats.h"
#include "suites.h"
#include "unitlib.h"
#include "util.h"

static char dir[32];
static struct chan_page page;
static struct stats_book book;
static struct observe o;
static struct conf *confs[2];

static void
setup(void)
{
	char rec[64];

	strcpy(dir, "/tmp/echod-obs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* never the system's /run/echod/control.where */
	snprintf(rec, sizeof(rec), "%s/control.where", dir);
	setenv(CTLRECORD_ENV, rec, 1);
	memset(&page, 0, sizeof(page));
	stats_start(&book, &page, 7);
	memset(&o, 0, sizeof(o));
}

static void
teardown(void)
{
	char cmd[128];

	observe_close(&o);
	for (size_t i = 0; i < nitems(confs); i++) {
		conf_free(confs[i]);
		confs[i] = NULL;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	unsetenv(CTLRECORD_ENV);
}

/* A configuration with control_socket dir/<ctl> and metrics_listen. */
static struct conf *
load(int i, const char *ctl, const char *metrics)
{
	char file[128], err[CONF_ERRLEN];
	FILE *f;

	snprintf(file, sizeof(file), "%s/echod%d.conf", dir, i);
	ck_assert_ptr_nonnull(f = fopen(file, "w"));
	fprintf(f, "control_socket = \"%s/%s\"\nmetrics_listen = {%s}\n", dir,
	    ctl, metrics);
	fclose(f);
	conf_free(confs[i]);	/* a test may load one again */
	confs[i] = conf_load(file, err, sizeof(err));
	ck_assert_msg(confs[i] != NULL, "%s", err);
	return confs[i];
}

/* Connects to a metrics socket: 0, or -1 (nothing listens). */
static int
connect_tcp(const struct listener *l)
{
	int fd = socket(l->bound.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	rc = connect(fd, (const struct sockaddr *)&l->bound, l->bound_len);
	close(fd);
	return rc;
}

/* Sends req to the control socket at p and runs observe until the answer
 * ends (EOF) or 2 s pass; the answer. */
static const char *
ask_control(const char *p, const char *req)
{
	static char buf[4096];
	struct pollfd pfd[1 + OBSERVE_MAX_POLLFDS];
	uint64_t end = now_coarse_ms() + 2000;
	size_t n = 0;
	int fd = u_connect_unix(p);

	ck_assert_msg(fd != -1, "connect %s: %s", p, strerror(errno));
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (now_coarse_ms() < end) {
		observe_run(&o, now_coarse_ms());
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r == 0)
			break;
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		nfds_t k = 1 + observe_pollfds(&o, pfd + 1, OBSERVE_MAX_POLLFDS);
		(void)poll(pfd, k, 10);
	}
	close(fd);
	buf[n] = '\0';
	return buf;
}

static char *
ctl_path(const char *name)
{
	static char p[2][96];
	static int i;

	i = !i;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

START_TEST(test_open_and_close)
{
	char err[CONF_ERRLEN], rec[CONTROL_MAX_PATH];
	int fds[OBSERVE_MAX_FDS];
	struct stat st;
	size_t n;

	ck_assert_int_eq(observe_open(&o, load(0, "ctl", "\"127.0.0.1:0\""),
	    &page, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(ctl_path("ctl"), &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(ctlrecord_read(rec, sizeof(rec), confs[0]->src.v[0].name), 0);
	ck_assert_str_eq(rec, ctl_path("ctl"));
	ck_assert_uint_eq(o.metrics.ls.n, 1);
	ck_assert_int_eq(connect_tcp(&o.metrics.ls.v[0]), 0);
	/* what a worker must close: the two listening sockets, CLOEXEC */
	n = observe_fds(&o, fds);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		ck_assert(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
	struct listener l = o.metrics.ls.v[0];
	observe_close(&o);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(fcntl(fds[i], F_GETFD), -1);
	ck_assert_int_eq(connect_tcp(&l), -1);
	ck_assert_int_eq(u_connect_unix(ctl_path("ctl")), -1);
}
END_TEST

START_TEST(test_snapshot_answer)
{
	char err[CONF_ERRLEN];
	const char *a;

	ck_assert_int_eq(observe_open(&o, load(0, "ctl", ""), &page, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(o.metrics.ls.n, 0);
	a = ask_control(ctl_path("ctl"), "status\n");
	ck_assert_msg(strstr(a, "generation 7") != NULL, "%s", a);
	a = ask_control(ctl_path("ctl"), "status json\n");
	ck_assert_msg(strstr(a, "\"generation\": 7") != NULL, "%s", a);
	/* the master is writing the page: said, not a torn snapshot */
	atomic_store(&page.master.seq, 1);
	a = ask_control(ctl_path("ctl"), "status\n");
	ck_assert_str_eq(a, "error: the counters are busy; try again\n");
}
END_TEST

START_TEST(test_reload_moves_both)
{
	char err[CONF_ERRLEN];
	struct observe_plan p;
	unsigned serial;

	ck_assert_int_eq(observe_open(&o, load(0, "ctl", "\"127.0.0.1:0\""),
	    &page, err, sizeof(err)), 0);
	serial = o.metrics.serial;
	ck_assert_int_eq(observe_prepare(&o, confs[0], load(1, "ctl2",
	    "\"127.0.0.1:0\", \"127.0.0.2:0\""), &p, err, sizeof(err)), 0);
	/* prepared, not switched: the old ones serve */
	ck_assert_uint_eq(o.metrics.ls.n, 1);
	ck_assert_msg(strstr(ask_control(ctl_path("ctl"), "status\n"),
	    "generation 7") != NULL, "the old control socket answers");
	observe_commit(&o, confs[0], confs[1], &p);
	ck_assert_uint_eq(o.metrics.ls.n, 2);
	ck_assert_int_eq(connect_tcp(&o.metrics.ls.v[0]), 0);
	ck_assert_int_eq(connect_tcp(&o.metrics.ls.v[1]), 0);
	ck_assert_uint_ne(o.metrics.serial, serial);	/* a process restarts */
	ck_assert_int_eq(u_connect_unix(ctl_path("ctl")), -1);
	ck_assert_msg(strstr(ask_control(ctl_path("ctl2"), "status\n"),
	    "generation 7") != NULL, "the new control socket answers");
}
END_TEST

START_TEST(test_reload_same_keeps_process)
{
	char err[CONF_ERRLEN];
	struct observe_plan p;
	unsigned serial;

	ck_assert_int_eq(observe_open(&o, load(0, "ctl", "\"127.0.0.1:0\""),
	    &page, err, sizeof(err)), 0);
	int fd = o.metrics.ls.v[0].fd;
	serial = o.metrics.serial;
	/* port 0 keeps the socket it got: nothing to restart */
	ck_assert_int_eq(observe_prepare(&o, confs[0], load(1, "ctl",
	    "\"127.0.0.1:0\""), &p, err, sizeof(err)), 0);
	observe_commit(&o, confs[0], confs[1], &p);
	ck_assert_uint_eq(o.metrics.ls.n, 1);
	ck_assert_int_eq(o.metrics.ls.v[0].fd, fd);
	ck_assert_uint_eq(o.metrics.serial, serial);
}
END_TEST

START_TEST(test_failures_change_nothing)
{
	char err[CONF_ERRLEN];
	struct observe_plan p;

	/* TEST-NET-1 is no address of ours: the start fails, said, and
	 * leaves nothing open (teardown's close would find no snapshot) */
	ck_assert_int_eq(observe_open(&o, load(0, "ctl", "\"192.0.2.1:9\""),
	    &page, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "metrics_listen: ") == err &&
	    strstr(err, "192.0.2.1") != NULL, "%s", err);
	ck_assert_ptr_null(o.snap);
	ck_assert_int_eq(u_connect_unix(ctl_path("ctl")), -1);
	/* a reload that cannot bind keeps what serves */
	ck_assert_int_eq(observe_open(&o, load(0, "ctl", "\"127.0.0.1:0\""),
	    &page, err, sizeof(err)), 0);
	ck_assert_int_eq(observe_prepare(&o, confs[0], load(1, "ctl2",
	    "\"192.0.2.1:9\""), &p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "metrics_listen: ") == err, "%s", err);
	ck_assert_int_eq(u_connect_unix(ctl_path("ctl2")), -1);
	ck_assert_uint_eq(o.metrics.ls.n, 1);
	ck_assert_int_eq(connect_tcp(&o.metrics.ls.v[0]), 0);
	ck_assert_msg(strstr(ask_control(ctl_path("ctl"), "status\n"),
	    "generation 7") != NULL, "the old control socket answers");
}
END_TEST

Suite *
observe_suite(void)
{
	Suite *s = suite_create("observe");
	TCase *tc = tcase_create("observe");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_and_close);
	tcase_add_test(tc, test_snapshot_answer);
	tcase_add_test(tc, test_reload_moves_both);
	tcase_add_test(tc, test_reload_same_keeps_process);
	tcase_add_test(tc, test_failures_change_nothing);
	suite_add_tcase(s, tc);
	return s;
}
