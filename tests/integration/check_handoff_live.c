/* check_handoff_live.c - connections that live through reloads (issue 16),
 * handed from old workers to new ones byte-exact, and a worker that talks
 * out of turn on its channel.  Restarts through systemd's descriptor store
 * are in check_handoff_store.c. */
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
#include "harness.h"
#include "util.h"
#include "suites.h"
#define CONF_BASE "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" \
	"idle_timeout = 5m\nlog_connections = false\n"

static struct echod e;

static void
setup(void)
{
	h_init(&e);
	srandom((unsigned)h_now_ms());
}

static void
teardown(void)
{
	h_cleanup(&e);
}

/* ---- reload ------------------------------------------------------------ */

/* Waits until the master has exactly want workers (the old ones gone). */
static bool
workers_become(struct echod *x, int want, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	pid_t w[64];

	while (h_now_ms() < end) {
		if (h_workers(x->pid, w, 64) == want)
			return true;
		h_tick();
	}
	return false;
}

#define NPING	12
#define NSTALL	3

/* More reloads than POOL_MAX_DRAINING (3), each handing everything over;
 * clients mid-stream, some holding unsent echo in echod, live past
 * shutdown_timeout: every byte arrives once, in order. */
START_TEST(test_reloads_keep_connections)
{
	struct cl ping[NPING], stall[NSTALL];
	char want[64];

	const struct h_conf hc = {
	    .extra = "workers = 2\nshutdown_timeout = 1s\n" CONF_BASE };
	ck_assert(h_start_conf(&e, &hc) == 0);
	for (int i = 0; i < NPING; i++) {
		cl_open(&ping[i], e.tcp4, 0);
		ck_assert(cl_pingpong(&ping[i], 100, 3000));
	}
	for (int i = 0; i < NSTALL; i++) {
		cl_open(&stall[i], e.tcp4, 4096);
		cl_stall(&stall[i]);
	}
	uint64_t first = h_now_ms();
	for (int r = 1; r <= 5; r++) {
		kill(e.pid, SIGHUP);
		snprintf(want, sizeof(want), "configuration reloaded: generation %d",
		    r + 1);
		ck_assert_msg(h_wait_log(&e, want, 10000), "reload %d", r);
		ck_assert_msg(workers_become(&e, 2, 10000),
		    "reload %d: the old workers did not hand over and exit", r);
		for (int i = 0; i < NPING; i++)
			ck_assert_msg(cl_pingpong(&ping[i], 1 + (size_t)random() % 3000,
			    5000), "reload %d: client %d lost its echo", r, i);
	}
	/* The unsent echo travelled: a non-zero count was handed over. */
	ck_assert(h_log_has(&e, "handed to generation 6"));
	ck_assert_msg(h_log_lacks(&e, " (0 bytes unsent) handed to generation 2") ||
	    h_log_has(&e, "bytes unsent) handed to generation 2"), "no unsent bytes");
	/* Past shutdown_timeout (1 s) twice over since the first reload. */
	while (h_now_ms() - first < 2500)
		for (int i = 0; i < NPING; i++)
			ck_assert(cl_pingpong(&ping[i], 64, 5000));
	ck_assert(h_log_lacks(&e, "shutdown timeout"));
	ck_assert(h_log_lacks(&e, "refused"));
	for (int i = 0; i < NSTALL; i++) {
		cl_finish(&stall[i], "stalled client", 20000);
		cl_close(&stall[i]);
	}
	for (int i = 0; i < NPING; i++) {
		cl_finish(&ping[i], "ping-pong client", 5000);
		cl_close(&ping[i]);
	}
}
END_TEST

/* A new generation whose first worker dies before it is ready: the old
 * worker keeps serving meanwhile, and hands over only to a ready one. */
START_TEST(test_reload_new_generation_fails)
{
	const char *shim_path, *preload = h_crashshim_preload(&shim_path);
	static char env_pre[512], env_once[256];
	static char *env[5];
	char once[160];
	struct cl c;

	if (preload == NULL)
		skip_test("no crash shim at %s", shim_path);
	snprintf(once, sizeof(once), "%s/crash-once", e.dir);
	snprintf(env_pre, sizeof(env_pre), "%s", preload);
	snprintf(env_once, sizeof(env_once), "CRASHSHIM_ONCE=%s", once);
	env[0] = env_pre;
	env[1] = env_once;
	env[2] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	/* under ASan, a preloaded shim comes before its runtime */
	env[3] = "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0";
	env[4] = NULL;
	e.envp = env;
	const struct h_conf hc = {
	    .extra = "workers = 1\nshutdown_timeout = 30s\n" CONF_BASE };
	ck_assert(h_start_conf(&e, &hc) == 0);
	cl_open(&c, e.tcp4, 0);
	ck_assert(cl_pingpong(&c, 1000, 3000));

	/* the next worker to start dies in its set-up, slowly */
	int fd = open(once, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ne(fd, -1);
	close(fd);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2", 10000));
	ck_assert_msg(h_wait_log(&e, "exited with status 70", 10000),
	    "the new worker did not fail");
	/* the old worker still serves: nobody was ready to take it */
	ck_assert(cl_pingpong(&c, 1000, 3000));
	ck_assert_msg(h_wait_log(&e, "handed to generation 2", 10000),
	    "no handoff to the respawned worker");
	ck_assert(workers_become(&e, 1, 10000));
	ck_assert(cl_pingpong(&c, 1000, 3000));
	cl_finish(&c, "client", 5000);
	cl_close(&c);
}
END_TEST

/* ---- a worker that talks out of turn ---------------------------------- */

/* The worker's end of its channel to the master: the one unix SEQPACKET
 * socket among its descriptors, taken with pidfd_getfd(2) (the tests run
 * as root).  -1 if there is none or the kernel cannot. */
static int
worker_channel(pid_t w)
{
	char path[64], link[64], line[256];
	unsigned long seq[16], ino;
	size_t nseq = 0;
	int num = -1, pidfd, fd;
	FILE *f = fopen("/proc/net/unix", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL && nseq < nitems(seq)) {
		unsigned type;

		if (sscanf(line, "%*s %*s %*s %*s %x %*s %lu", &type, &ino) == 2 &&
		    type == SOCK_SEQPACKET)
			seq[nseq++] = ino;
	}
	fclose(f);
	for (int k = 0; k < 1024 && num == -1; k++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)w, k);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		for (size_t j = 0; j < nseq; j++)
			if (seq[j] == ino)
				num = k;
	}
	if (num == -1 || (pidfd = (int)syscall(SYS_pidfd_open, w, 0)) == -1)
		return -1;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, num, 0);
	close(pidfd);
	return fd;
}

/* Count of needle in the log. */
static int
log_count(const char *needle)
{
	char buf[1 << 16];
	int fd = open(e.logpath, O_RDONLY), n = 0;
	ssize_t len;

	ck_assert_int_ne(fd, -1);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	for (char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/*
 * A worker (its unprivileged user could have taken it over) floods its
 * channel with messages the master never asked for: the master says so once,
 * kills it, starts another, and goes on answering - it neither logs a line
 * per message nor stays in the loop reading them.
 */
START_TEST(test_channel_flood_kills_the_worker)
{
	pid_t w[2], w2[2];
	int fd, sent = 0;
	uint64_t end;

	const struct h_conf hc = {
	    .extra = CONF_BASE "workers = 1\ncontrol_socket = \"\"\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	ck_assert_int_eq(h_workers(e.pid, w, 2), 1);
	fd = worker_channel(w[0]);
	ck_assert_msg(fd != -1, "no channel in worker %ld: %s", (long)w[0],
	    strerror(errno));
	end = h_now_ms() + 3000;
	while (sent < 100000 && h_now_ms() < end) {
		if (send(fd, "Z", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
			sent++;
		else if (errno == EAGAIN)
			h_tick();
		else
			break;		/* the master closed its end: reaped */
	}
	ck_assert_int_gt(sent, 1);
	ck_assert(h_wait_log(&e, "an unknown message (0x5a) on its channel; "
	    "killing it", 5000));
	/* another worker, which echoes */
	end = h_now_ms() + 10000;
	while (!(h_workers(e.pid, w2, 2) == 1 && w2[0] != w[0]) && h_now_ms() < end)
		h_tick();
	ck_assert_int_ne(w2[0], w[0]);
	int c = h_connect(AF_INET, e.tcp4, 5000);
	ck_assert_int_eq(h_echo(c, "still here", 10, 5000), 0);
	close(c);
	close(fd);
	ck_assert_int_eq(log_count("on its channel"), 1);
}
END_TEST

Suite *
handoff_live_suite(void)
{
	Suite *s = suite_create("handoff-live");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reloads_keep_connections);
	tcase_add_test(tc, test_reload_new_generation_fails);
	tcase_add_test(tc, test_channel_flood_kills_the_worker);
	suite_add_tcase(s, tc);
	return s;
}
