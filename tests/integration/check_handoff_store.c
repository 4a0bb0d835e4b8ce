/* check_handoff_store.c - connections that live through restarts (issue
 * 16): parked in a fake systemd's descriptor store (fakesd.h) for the next
 * echod, byte-exact; what the store cannot take ends gracefully. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "byteclient.h"
#include "fakesd.h"
#include "harness.h"
#include "util.h"
#include "suites.h"
#define CONF_BASE "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" \
	"idle_timeout = 5m\nlog_connections = false\n"

static struct echod e, e2;
static char *e2_env;	/* set: one more variable for the second echod */

/* The first echod, under the fake systemd, with a restart pending. */
static void
start_parking(const char *conf, const char *fdstore)
{
	static char env_store[64];
	static char *env[8];

	fake_open(&e);
	snprintf(env_store, sizeof(env_store), "FDSTORE=%s", fdstore);
	env[0] = fk.env;
	env[1] = env_store;
	env[2] = "ECHOD_TEST_RESTART_PENDING=1";
	env[3] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	env[4] = NULL;
	e.envp = env;
	const struct h_conf hc = {
	    .extra = conf, .nowait = true };
	h_start_conf(&e, &hc);
	ck_assert_msg(fake_until_log(&e, "ready: ", 10000), "echod did not start");
	h_parse_ports(&e);
}

/* The second echod, from the store, in its own scratch directory. */
static void
start_from_store(const char *conf, bool expect_ready)
{
	h_init(&e2);
	h_write_conf(&e2, conf);
	const char *const argv[] = { "-f", "-c", e2.confpath, NULL };
	fake_spawn(&e2, argv, e2_env);
	if (expect_ready)
		ck_assert_msg(fake_until_log(&e2, "ready: ", 10000),
		    "the second echod did not start; see %s", e2.logpath);
}

static void
setup(void)
{
	h_init(&e);
	memset(&e2, 0, sizeof(e2));
	e2.pid = -1;
	e2_env = NULL;
	fk.fd = -1;
	srandom((unsigned)h_now_ms());
}

static void
teardown(void)
{
	h_cleanup(&e);
	if (e2.dir[0])
		h_cleanup(&e2);
	fake_close();
}

/* ---- restart through the descriptor store ------------------------------ */

#define NPARK	300	/* past one message's 253 descriptors */

/* SIGTERM with a restart pending: every connection, with its unsent
 * echo, goes to the store in batches; the next echod takes them from
 * LISTEN_FDS, serves them byte-exact and removes them from the store. */
START_TEST(test_restart_through_store)
{
	static struct cl c[NPARK], st[2];

	start_parking("workers = 1\nshutdown_timeout = 10s\n" CONF_BASE, "1000");
	for (int i = 0; i < NPARK; i++) {
		cl_open(&c[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&c[i], 50, 3000));
	}
	for (int i = 0; i < 2; i++) {
		cl_open(&st[i], e.tcp4, 4096);
		cl_stall(&st[i]);
	}
	uint64_t t0 = h_now_ms();
	kill(e.pid, SIGTERM);
	int status = fake_until_exit(e.pid, 10000);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the first echod did not exit 0");
	e.pid = -1;
	/* no drain: parking does not wait out shutdown_timeout */
	timing_assert(h_now_ms() - t0 < 5000, "took %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	ck_assert_uint_eq(fake_count("echod-c-"), NPARK + 2);
	ck_assert_uint_eq(fake_count("echod-s-"), 2);	/* 302 = 252 + 50 */
	ck_assert_uint_le(fk.most_fds, 253);
	ck_assert(h_log_has(&e, "parked with systemd"));

	/* clients keep talking while nobody serves them */
	for (int i = 0; i < NPARK; i++)
		cl_send(&c[i], 10);
	start_from_store("workers = 2\n" CONF_BASE, true);
	ck_assert(h_log_has(&e2, "302 connections taken back"));
	for (int i = 0; i < NPARK; i++)
		ck_assert_msg(cl_pingpong(&c[i], 100, 5000), "client %d", i);
	/* every connection's name is removed from the store; the
	 * configuration stays there for the next start */
	uint64_t end = h_now_ms() + 5000;
	size_t left;
	do {
		while (fake_one(50))
			;
		left = 0;
		for (size_t i = 0; i < fk.n; i++)
			left += strcmp(fk.v[i].name, "echod-conf") != 0 &&
			    !fake_removed(fk.v[i].name);
	} while (left > 0 && h_now_ms() < end);
	for (size_t i = 0; i < fk.n; i++)
		ck_assert_msg(strcmp(fk.v[i].name, "echod-conf") == 0 ||
		    fake_removed(fk.v[i].name), "%s not removed", fk.v[i].name);
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);
	/* the new echod holds the only copy: a half-close ends it */
	for (int i = 0; i < 2; i++) {
		cl_finish(&st[i], "stalled client", 20000);
		cl_close(&st[i]);
	}
	for (int i = 0; i < NPARK; i++) {
		cl_finish(&c[i], "client", 5000);
		cl_close(&c[i]);
	}
}
END_TEST

/* FDSTORE caps what is stored, state included; the rest end gracefully. */
START_TEST(test_store_cap)
{
	struct cl c[20];
	size_t ended = 0;

	start_parking("workers = 1\n" CONF_BASE, "11");
	for (int i = 0; i < 20; i++) {
		cl_open(&c[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&c[i], 100, 3000));
	}
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	/* the configuration kept beside them counts too */
	ck_assert_uint_eq(fake_count("echod-c-") + fake_count("echod-s-") +
	    fake_holds("echod-conf"), 11);
	ck_assert(h_log_has(&e, "descriptor store full (FDSTORE=11)"));
	/* the 10 not stored were shut down, each after all its echo */
	for (int i = 0; i < 20; i++) {
		struct pollfd p = { .fd = c[i].fd, .events = POLLIN };
		poll(&p, 1, 200);
		ck_assert(cl_recv(&c[i]));
		ended += c[i].eof;
		if (c[i].eof)
			ck_assert_uint_eq(c[i].nrecv, c[i].nsent);
		cl_close(&c[i]);
	}
	ck_assert_uint_eq(ended, 11);	/* 9 stored, with 1 state and the conf */
}
END_TEST

/* No restart pending: SIGTERM drains as always, no connection is stored. */
START_TEST(test_stop_drains)
{
	static char *env[4];
	struct cl c;

	fake_open(&e);
	env[0] = fk.env;
	env[1] = "FDSTORE=100";
	env[2] = "ECHOD_TEST_RESTART_PENDING=0";
	env[3] = NULL;
	e.envp = env;
	const struct h_conf hc = {
	    .extra = "workers = 1\n" CONF_BASE, .nowait = true };
	h_start_conf(&e, &hc);
	ck_assert(fake_until_log(&e, "ready: ", 10000));
	h_parse_ports(&e);
	cl_open(&c, e.tcp4, 0);
	ck_assert(cl_pingpong(&c, 100, 3000));
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_log(&e, "stopping gracefully", 5000));
	ck_assert(cl_pingpong(&c, 100, 3000));	/* still served while draining */
	cl_finish(&c, "draining client", 5000);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	/* no connection: only the configuration, which systemd drops itself
	 * when the unit stops with no job */
	ck_assert_uint_eq(fake_count("echod-c-") + fake_count("echod-s-"), 0);
	cl_close(&c);
}
END_TEST

/* The next echod refuses its configuration (exit 78): it still sends the
 * unsent echo it took, shuts the connections and empties the store. */
START_TEST(test_failed_start_ends_stored)
{
	struct cl c[3];

	start_parking("workers = 1\n" CONF_BASE, "100");
	for (int i = 0; i < 3; i++) {
		cl_open(&c[i], e.tcp4, 4096);
		cl_stall(&c[i]);
	}
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	ck_assert_uint_eq(fake_count("echod-c-"), 3);
	/* nothing good stored to fall back to (see test_restart_refused_file) */
	fake_forget("echod-conf");
	start_from_store("workers = lots\n", false);
	int status = fake_until_exit(e2.pid, 10000);
	e2.pid = -1;
	ck_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 78);
	for (size_t i = 0; i < fk.n; i++)
		ck_assert_msg(strcmp(fk.v[i].name, "echod-conf") == 0 ||
		    fake_removed(fk.v[i].name), "%s", fk.v[i].name);
	/* all the echo echod had read, then the end: no more than that */
	for (int i = 0; i < 3; i++) {
		uint64_t end = h_now_ms() + 10000;
		while (!c[i].eof && h_now_ms() < end) {
			struct pollfd p = { .fd = c[i].fd, .events = POLLIN };
			poll(&p, 1, 100);
			ck_assert(cl_recv(&c[i]));
		}
		ck_assert_msg(c[i].eof, "client %d not ended", i);
		ck_assert_uint_gt(c[i].nrecv, 0);
		cl_close(&c[i]);
	}
	ck_assert(h_log_has(&e2, "ending 3 connections"));
}
END_TEST

/* `echod --status [--json] -c file`'s output in out, or false. */
static bool
status_of(const char *file, bool json, char *out, size_t len)
{
	char cmd[600];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s --status %s -c %s", h_echod_path(),
	    json ? "--json" : "", file);
	if ((p = popen(cmd, "re")) == NULL)
		return false;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p) == 0;
}

/*
 * A restart onto a file with a typo: the new echod says why the file is
 * refused, exactly as -t would, then serves with the configuration the
 * echod before it stored, connections included, and says so in STATUS
 * and --status.  The fixed file and a reload put it back on the file.
 */
START_TEST(test_restart_refused_file)
{
	char conf[512], out[8192], want[512];
	struct cl c[3];

	snprintf(conf, sizeof(conf), "workers = 1\ncontrol_socket = \"%s/ctl\"\n"
	    CONF_BASE, e.dir);
	start_parking(conf, "100");
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);
	for (int i = 0; i < 3; i++) {
		cl_open(&c[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&c[i], 100, 3000));
	}
	kill(e.pid, SIGTERM);
	ck_assert(fake_until_exit(e.pid, 10000) != -1);
	e.pid = -1;
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);	/* left for the next */
	e2_env = "FDSTORE=100";
	start_from_store("workers = lots\n", true);
	ck_assert(h_log_has(&e2, "echod.conf:1: workers: must be 1..1024 or "
	    "auto, got \"lots\""));
	ck_assert(h_log_has(&e2, "serving the last good configuration"));
	ck_assert(h_log_has(&e2, "3 connections taken back"));
	for (int i = 0; i < 3; i++)
		ck_assert_msg(cl_pingpong(&c[i], 100, 5000), "client %d", i);
	ck_assert_msg(fake_until_log(&e2, "ready: 1 worker", 1000) ||
	    strncmp(fk.status, "FALLBACK: ", 10) == 0, "STATUS: %s", fk.status);
	for (uint64_t end = h_now_ms() + 5000; h_now_ms() < end &&
	    strncmp(fk.status, "FALLBACK: ", 10) != 0;)
		fake_one(50);
	ck_assert_msg(strstr(fk.status, e2.confpath) != NULL &&
	    strncmp(fk.status, "FALLBACK: ", 10) == 0, "STATUS: %s", fk.status);
	/* --status, through e's file: it names the control socket that the
	 * stored configuration, e's, made */
	ck_assert_msg(status_of(e.confpath, false, out, sizeof(out)), "%s", out);
	snprintf(want, sizeof(want), "\nconfig: fallback (%s refused: %s:1: "
	    "workers: must be 1..1024 or auto, got \"lots\"); ", e2.confpath,
	    e2.confpath);
	ck_assert_msg(strstr(out, want) != NULL, "--status: %s", out);
	ck_assert_msg(status_of(e.confpath, true, out, sizeof(out)), "%s", out);
	ck_assert_msg(strstr(out, "\"config\": {\"fallback\": true, \"file\": "),
	    "--status --json: %s", out);
	/* fixed: a reload reads the file, and keeps it as the good one */
	size_t stored = fk.n;
	snprintf(conf, sizeof(conf), "workers = 2\ncontrol_socket = \"%s/ctl\"\n"
	    CONF_BASE, e.dir);
	h_write_conf(&e2, conf);
	kill(e2.pid, SIGHUP);
	ck_assert(fake_until_log(&e2, "the stored configuration is replaced", 5000));
	ck_assert(fake_until_log(&e2, "ready: 2 workers", 10000));
	while (fake_one(50))
		;
	ck_assert_uint_eq(fake_holds("echod-conf"), 1);
	ck_assert_uint_gt(fk.n, stored);
	for (uint64_t end = h_now_ms() + 7000; h_now_ms() < end &&
	    strncmp(fk.status, "FALLBACK: ", 10) == 0;)
		fake_one(50);
	ck_assert_msg(strncmp(fk.status, "FALLBACK: ", 10) != 0, "STATUS: %s",
	    fk.status);
	ck_assert_msg(status_of(e.confpath, false, out, sizeof(out)), "%s", out);
	ck_assert_msg(strstr(out, "config: fallback") == NULL, "--status: %s", out);
	for (int i = 0; i < 3; i++) {
		ck_assert(cl_pingpong(&c[i], 100, 5000));
		cl_close(&c[i]);
	}
}
END_TEST

/* A store whose state does not parse: the socket is ended and removed,
 * never served with bytes missing; echod starts anyway. */
START_TEST(test_bad_stored_state)
{
	int ls, cfd, sfd, mfd;
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	char buf[8];

	fake_open(&e);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	getsockname(ls, (struct sockaddr *)&sa, &len);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sa, len), 0);
	sfd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	close(ls);
	mfd = memfd_create("garbage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_eq(write(mfd, "not a state, not at all", 23), 23);
	fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW);
	fk.v = calloc(2, sizeof(*fk.v));
	fk.cap = fk.n = 2;
	strcpy(fk.v[0].name, "echod-s-1");
	fk.v[0].fd = mfd;
	strcpy(fk.v[1].name, "echod-c-1");
	fk.v[1].fd = sfd;
	start_from_store("workers = 1\n" CONF_BASE, true);
	ck_assert(h_log_has(&e2, "stored connection echod-s-1: state of unknown format"));
	ck_assert(h_log_has(&e2, "stored connection echod-c-1: no state stored with it"));
	uint64_t end = h_now_ms() + 5000;
	while (fk.nremoved < 2 && h_now_ms() < end)
		fake_one(50);
	ck_assert(fake_removed("echod-c-1") && fake_removed("echod-s-1"));
	/* the store's copy is gone too: the client sees the end */
	struct pollfd p = { .fd = cfd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(recv(cfd, buf, sizeof(buf), 0), 0);
	close(cfd);
}
END_TEST

Suite *
handoff_store_suite(void)
{
	Suite *s = suite_create("handoff-store");
	TCase *tc = tcase_create("store");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_restart_through_store);
	tcase_add_test(tc, test_store_cap);
	tcase_add_test(tc, test_stop_drains);
	tcase_add_test(tc, test_failed_start_ends_stored);
	tcase_add_test(tc, test_restart_refused_file);
	tcase_add_test(tc, test_bad_stored_state);
	suite_add_tcase(s, tc);
	return s;
}
