/*
 * check_counters.c - the counters and process titles of the real echod.  The
 * counters are read as an unprivileged reader would: the master's stats
 * page mapped read-only (through /proc/PID/map_files, which needs
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE: the tests skip without it) and
 * stats_read().  Once `echod --status` exists, it can replace read_stats().
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "harness.h"
#include "stats.h"
#include "suites.h"

static struct echod e;
static struct stats_snapshot snap, before;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static void
start(const char *extra, const char *udp)
{
	ck_assert_int_eq(h_start_conf(&e, &(struct h_conf){ .udp = udp,
	    .extra = extra }), 0);
}

/*
 * The master's page, mapped read-only: the shared mapping of exactly the
 * page's size.  0, or -1 with errno (EPERM: map_files is not ours to open).
 */
static int
read_stats(pid_t master, struct stats_snapshot *out)
{
	size_t want = (sizeof(struct chan_page) + (size_t)getpagesize() - 1) &
	    ~((size_t)getpagesize() - 1);
	char path[64], line[512];
	unsigned long lo, hi;
	int rc = -1, err = ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)master);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (rc == -1 && fgets(line, sizeof(line), f) != NULL) {
		char perms[8];
		void *pg;
		int fd;

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    hi - lo != want || perms[3] != 's')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/map_files/%lx-%lx",
		    (long)master, lo, hi);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			err = errno;
			continue;
		}
		pg = mmap(NULL, want, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (pg == MAP_FAILED) {
			err = errno;
			continue;
		}
		if (stats_read(pg, out) == 0 && out->master_pid == master)
			rc = 0;
		munmap(pg, want);
	}
	fclose(f);
	if (rc == -1)
		errno = err;
	return rc;
}

/* read_stats(), or the test is skipped (from the caller: see skip_test). */
#define READ_OR_SKIP(out) do {						\
	if (read_stats(e.pid, (out)) == -1) {				\
		if (errno == EPERM || errno == EACCES)			\
			skip_test("cannot map the stats page: %s",	\
			    strerror(errno));				\
		ck_abort_msg("no stats page in echod (pid %ld): %s",	\
		    (long)e.pid, strerror(errno));			\
	}								\
} while (0)

/* Reads the counters until cond holds, for up to timeout_ms. */
#define WAIT_STATS(cond, timeout_ms) do {				\
	uint64_t end_ = h_now_ms() + (timeout_ms);			\
	bool ok_;							\
	while (!(ok_ = (read_stats(e.pid, &snap) == 0 && (cond))) &&	\
	    h_now_ms() < end_)						\
		h_tick();						\
	ck_assert_msg(ok_, "not within %d ms: %s", (timeout_ms), #cond);\
} while (0)

static uint64_t
sum(const uint64_t *v, int n)
{
	uint64_t t = 0;

	for (int i = 0; i < n; i++)
		t += v[i];
	return t;
}

/* Every total in b at least as high as in a (open aside: it may fall). */
static void
assert_not_lower(const struct stats_snapshot *a, const struct stats_snapshot *b)
{
	const struct stats_counts *x = &a->totals, *y = &b->totals;

	ck_assert_uint_ge(y->accepted, x->accepted);
	for (int i = 0; i < STATS_CLOSE_COUNT; i++)
		ck_assert_msg(y->closed[i] >= x->closed[i], "closed %s %llu < %llu",
		    stats_close_name(i), (unsigned long long)y->closed[i],
		    (unsigned long long)x->closed[i]);
	for (int i = 0; i < STATS_PROTO_COUNT; i++)
		ck_assert_uint_ge(y->bytes[i], x->bytes[i]);
	ck_assert_uint_ge(y->datagrams, x->datagrams);
	for (int i = 0; i < STATS_REFUSE_COUNT; i++)
		ck_assert_uint_ge(y->refused[i], x->refused[i]);
	for (int i = 0; i < STATS_DROP_COUNT; i++)
		ck_assert_uint_ge(y->dropped[i], x->dropped[i]);
	for (int i = 0; i < STATS_EXIT_COUNT; i++)
		ck_assert_uint_ge(b->exits[i], a->exits[i]);
	ck_assert_uint_ge(b->respawns, a->respawns);
}

/* Client-side ping-pong: rounds of len bytes, then a close. */
static void
ping_pong(int rounds, size_t len)
{
	static char buf[4096];
	int fd = h_connect(AF_INET, e.tcp4, 2000);

	ck_assert_int_ne(fd, -1);
	h_random(buf, len);
	for (int r = 0; r < rounds; r++)
		ck_assert_int_eq(h_echo(fd, buf, len, 2000), 0);
	close(fd);
}

/* A datagram from a client port of the kernel's choice (never a service
 * port: the loop guard would drop it). */
static void
udp_round(size_t len)
{
	static char buf[1024];

	h_random(buf, len);
	ck_assert_int_eq(h_udp_echo(AF_INET, e.udp4, buf, len, 2000), (ssize_t)len);
}

/*
 * A load of known size moves the counters by exactly that much: N
 * connections of R rounds, each closed by the client (EOF), and M
 * datagrams.  Every byte sent came back before the close, so the byte
 * counts are exact too: nothing is in flight.
 */
START_TEST(test_counts_match_the_load)
{
	enum { N = 24, R = 3, LEN = 700, M = 40, DLEN = 100 };

	start("workers = 2\n", "\"127.0.0.1:0\"");
	READ_OR_SKIP(&snap);
	ck_assert_int_eq(snap.master_pid, e.pid);
	ck_assert_str_eq(snap.version, PACKAGE_VERSION);
	ck_assert_uint_eq(snap.generation, 1);
	ck_assert_int_eq(snap.nworkers, 2);
	ck_assert_uint_eq(snap.workers[STATS_WSTATE_SERVING], 2);
	ck_assert_uint_eq(snap.totals.accepted, 0);

	for (int i = 0; i < N; i++)
		ping_pong(R, LEN);
	for (int i = 0; i < M; i++)
		udp_round(DLEN);
	WAIT_STATS(snap.totals.closed[STATS_CLOSE_EOF] == N &&
	    snap.totals.datagrams == M, 5000);
	ck_assert_uint_eq(snap.totals.accepted, N);
	ck_assert_uint_eq(snap.totals.open, 0);
	ck_assert_uint_eq(sum(snap.totals.closed, STATS_CLOSE_COUNT), N);
	ck_assert_uint_eq(snap.totals.bytes[STATS_PROTO_TCP], (uint64_t)N * R * LEN);
	ck_assert_uint_eq(snap.totals.bytes[STATS_PROTO_UDP], (uint64_t)M * DLEN);
	ck_assert_uint_eq(sum(snap.totals.refused, STATS_REFUSE_COUNT), 0);
	ck_assert_uint_eq(sum(snap.totals.dropped, STATS_DROP_COUNT), 0);
	/* and per worker, the same traffic */
	uint64_t acc = 0, bytes = 0;
	for (int i = 0; i < snap.nworkers; i++) {
		const struct stats_worker *w = &snap.worker[i];
		ck_assert_int_gt(w->pid, 0);
		ck_assert_uint_eq(w->generation, 1);
		timing_assert(w->heartbeat_age_ms < 5000, "heartbeat %llu ms old",
		    (unsigned long long)w->heartbeat_age_ms);
		acc += w->accepted;
		bytes += w->bytes;
	}
	ck_assert_uint_eq(acc, N);
	ck_assert_uint_eq(bytes, (uint64_t)N * R * LEN + (uint64_t)M * DLEN);
}
END_TEST

/*
 * Totals never go down: not when a worker is killed with SIGKILL (what it
 * had counted is kept, its open connection counted closed with it), not
 * across a reload (the old generation drains, a new one starts at zero).
 */
START_TEST(test_totals_survive_kill_and_reload)
{
	enum { N = 10, LEN = 500 };
	pid_t victim;
	int held;

	start("workers = 1\nshutdown_timeout = 30s\n", "\"127.0.0.1:0\"");
	READ_OR_SKIP(&snap);
	for (int i = 0; i < N; i++)
		ping_pong(2, LEN);
	udp_round(10);
	held = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_ne(held, -1);
	ck_assert_int_eq(h_echo(held, "held", 4, 2000), 0);
	/* published once a turn: the echo of "held" may not be yet */
	WAIT_STATS(snap.totals.closed[STATS_CLOSE_EOF] == N &&
	    snap.totals.open == 1 && snap.totals.datagrams == 1 &&
	    snap.totals.bytes[STATS_PROTO_TCP] == (uint64_t)N * 2 * LEN + 4, 5000);
	before = snap;
	victim = snap.worker[0].pid;

	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	WAIT_STATS(snap.exits[STATS_EXIT_SIGNAL] == 1 && snap.respawns == 1 &&
	    snap.workers[STATS_WSTATE_SERVING] == 1, 5000);
	assert_not_lower(&before, &snap);
	ck_assert_uint_eq(snap.totals.accepted, N + 1);
	ck_assert_uint_eq(snap.totals.open, 0);
	ck_assert_uint_eq(snap.totals.closed[STATS_CLOSE_WORKER_EXIT], 1);
	ck_assert_uint_eq(snap.totals.bytes[STATS_PROTO_TCP], (uint64_t)N * 2 * LEN + 4);
	ck_assert_uint_eq(snap.totals.datagrams, 1);
	ck_assert_int_ne(snap.worker[0].pid, victim);
	close(held);

	/* a connection held open across the reload is handed to generation
	 * 2 (issue 16): the old worker exits at once, and the totals stay */
	held = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_ne(held, -1);
	ck_assert_int_eq(h_echo(held, "x", 1, 2000), 0);
	before = snap;
	ck_assert_int_eq(kill(e.pid, SIGHUP), 0);
	WAIT_STATS(snap.reloads[STATS_RELOAD_OK] == 1 && snap.generation == 2 &&
	    snap.nworkers == 1 && snap.worker[0].generation == 2 &&
	    snap.exits[STATS_EXIT_CLEAN] == 1, 5000);
	assert_not_lower(&before, &snap);
	ck_assert_int_eq(h_echo(held, "y", 1, 2000), 0);	/* by generation 2 */
	ping_pong(1, 100);
	close(held);
	WAIT_STATS(snap.totals.closed[STATS_CLOSE_EOF] == N + 2 &&
	    snap.totals.open == 0, 5000);
	assert_not_lower(&before, &snap);
	ck_assert_uint_eq(snap.worker[0].generation, 2);
	ck_assert_uint_eq(snap.totals.accepted, N + 3);	/* adopted: not again */
	/* every byte echoed back before its connection closed: none in
	 * flight, so exact */
	ck_assert_uint_eq(snap.totals.bytes[STATS_PROTO_TCP],
	    (uint64_t)N * 2 * LEN + 4 + 1 + 1 + 100);

	/* a reload that fails is counted as one */
	h_write_conf(&e, "workers = nonsense\n");
	ck_assert_int_eq(kill(e.pid, SIGHUP), 0);
	WAIT_STATS(snap.reloads[STATS_RELOAD_FAILED] == 1, 5000);
	ck_assert_uint_eq(snap.generation, 2);
}
END_TEST

/* Refusals count by their reason: the deny list, the per-source limit;
 * datagrams dropped by theirs: the deny list, the loop guard. */
START_TEST(test_refusals_by_reason)
{
	struct in_addr a;
	int keep, fd;
	char c;

	start("workers = 1\ndeny = {\"127.0.0.2\"}\n"
	    "max_connections_per_source = 1\n", "\"127.0.0.1:0\"");
	READ_OR_SKIP(&snap);

	inet_pton(AF_INET, "127.0.0.2", &a);
	fd = h_connect_from(AF_INET, ntohl(a.s_addr), e.tcp4, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);	/* closed at the door */
	close(fd);
	WAIT_STATS(snap.totals.refused[STATS_REFUSE_DENY] == 1, 5000);

	keep = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(keep, "a", 1, 2000), 0);
	fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);
	close(fd);
	WAIT_STATS(snap.totals.refused[STATS_REFUSE_SOURCE_LIMIT] == 1, 5000);
	ck_assert_uint_eq(snap.totals.refused[STATS_REFUSE_DENY], 1);
	ck_assert_uint_eq(snap.totals.refused[STATS_REFUSE_EMFILE], 0);
	ck_assert_uint_eq(snap.totals.accepted, 1);	/* refusals are not */
	close(keep);

	/* UDP: from a denied source, and from a service port (port 7: root) */
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)e.udp4) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(u, (struct sockaddr *)&src, sizeof(src)), 0);
	for (int i = 0; i < 3; i++)
		sendto(u, "d", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
	close(u);
	WAIT_STATS(snap.totals.dropped[STATS_DROP_DENY] == 3, 5000);
	src.sin_port = htons(7);
	inet_pton(AF_INET, "127.0.0.1", &src.sin_addr);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (bind(u, (struct sockaddr *)&src, sizeof(src)) == 0) {
		sendto(u, "g", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
		WAIT_STATS(snap.totals.dropped[STATS_DROP_LOOP_GUARD] == 1, 5000);
	}
	close(u);
	ck_assert_uint_eq(snap.totals.datagrams, 0);
}
END_TEST

/* Out of descriptors, the shed clients count as "emfile" refusals. */
START_TEST(test_refusals_emfile)
{
	enum { N = 90 };
	int fd[N], shed = 0;

	e.nofile = 48;
	start("workers = 1\n", "");
	READ_OR_SKIP(&snap);
	for (int i = 0; i < N; i++) {
		char c;
		fd[i] = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_ne(fd[i], -1);
		if (send(fd[i], "x", 1, MSG_NOSIGNAL) == 1 &&
		    recv(fd[i], &c, 1, 0) <= 0)
			shed++;
	}
	ck_assert_int_gt(shed, 0);
	/* each shed client is one refusal; those still queued are not yet */
	WAIT_STATS(snap.totals.refused[STATS_REFUSE_EMFILE] >= (uint64_t)shed, 5000);
	ck_assert_uint_eq(snap.totals.refused[STATS_REFUSE_DENY], 0);
	ck_assert_uint_lt(snap.totals.accepted, N);
	for (int i = 0; i < N; i++)
		close(fd[i]);
}
END_TEST

/* A worker that fills up (max_connections) is counted as full, and its
 * waiting clients are not refused: they wait in the queue. */
START_TEST(test_full_is_not_a_refusal)
{
	int fd[3];

	start("workers = 1\nmax_connections = 2\n", "");
	READ_OR_SKIP(&snap);
	for (int i = 0; i < 3; i++) {
		fd[i] = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_ne(fd[i], -1);
	}
	ck_assert_int_eq(h_echo(fd[0], "a", 1, 2000), 0);
	ck_assert_int_eq(h_echo(fd[1], "b", 1, 2000), 0);
	WAIT_STATS(snap.totals.full == 1 && snap.totals.open == 2, 5000);
	ck_assert_uint_eq(sum(snap.totals.refused, STATS_REFUSE_COUNT), 0);
	close(fd[0]);
	ck_assert_int_eq(h_echo(fd[2], "c", 1, 2000), 0);	/* served in turn */
	WAIT_STATS(snap.totals.accepted == 3 && snap.totals.full == 2, 5000);
	close(fd[1]);
	close(fd[2]);
}
END_TEST

/* ps(1)'s view of pid: "args" or "comm". */
static bool
ps_field(pid_t pid, const char *field, char *buf, size_t len)
{
	char cmd[96];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ps -o %s= -p %ld", field, (long)pid);
	if ((p = popen(cmd, "re")) == NULL)
		return false;
	if (fgets(buf, (int)len, p) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	for (size_t n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
		buf[n - 1] = '\0';
	return pclose(p) == 0;
}

/* Waits until pid's title is want. */
static void
wait_title(pid_t pid, const char *want)
{
	char got[256] = "";

	for (uint64_t end = h_now_ms() + 5000; h_now_ms() < end; h_tick())
		if (h_cmdline(pid, got, sizeof(got)) == 0 &&
		    strcmp(got, want) == 0)
			break;
	ck_assert_msg(strcmp(got, want) == 0, "pid %ld: want \"%s\", got \"%s\"",
	    (long)pid, want, got);
}

static bool
pgrep_finds(pid_t pid)
{
	char line[32], want[32];
	bool found = false;
	FILE *p = popen("pgrep -x echod", "re");

	ck_assert_ptr_nonnull(p);
	snprintf(want, sizeof(want), "%ld", (long)pid);
	while (fgets(line, sizeof(line), p) != NULL)
		found |= strncmp(line, want, strlen(want)) == 0 &&
		    line[strlen(want)] == '\n';
	pclose(p);
	return found;
}

/* ps -o args shows what each process is, and follows reloads and drains;
 * comm stays "echod" for pgrep -x. */
START_TEST(test_titles)
{
	char buf[256], want[128];
	pid_t w[4];
	int held;

	start("workers = 2\nshutdown_timeout = 30s\n", "");
	wait_title(e.pid, "echod: master (generation 1, 2 workers)");
	ck_assert_int_eq(h_workers(e.pid, w, 4), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert(h_cmdline(w[i], buf, sizeof(buf)) == 0);
		ck_assert_msg(strcmp(buf, "echod: worker 0 (generation 1)") == 0 ||
		    strcmp(buf, "echod: worker 1 (generation 1)") == 0, "%s", buf);
		ck_assert(ps_field(w[i], "comm", buf, sizeof(buf)));
		ck_assert_str_eq(buf, "echod");
		ck_assert(pgrep_finds(w[i]));
	}
	ck_assert(ps_field(e.pid, "args", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "echod: master (generation 1, 2 workers)");
	ck_assert(ps_field(e.pid, "comm", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "echod");
	ck_assert(pgrep_finds(e.pid));

	/* A reload: the old workers hand their connections over and go; the
	 * held connection keeps being echoed by generation 2. */
	held = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(held, "x", 1, 2000), 0);
	ck_assert_int_eq(kill(e.pid, SIGHUP), 0);
	wait_title(e.pid, "echod: master (generation 2, 2 workers)");
	ck_assert_int_eq(h_echo(held, "y", 1, 2000), 0);
	for (uint64_t end = h_now_ms() + 10000; h_workers(e.pid, w, 4) != 2 &&
	    h_now_ms() < end; h_tick())
		;
	ck_assert_int_eq(h_workers(e.pid, w, 4), 2);
	for (int i = 0; i < 2; i++)
		ck_assert(h_cmdline(w[i], buf, sizeof(buf)) == 0 &&
		    strstr(buf, "(generation 2)") != NULL);

	/* A graceful stop: the worker holding it drains, and says so once it
	 * has read the order; the master says it stops. */
	ck_assert_int_eq(kill(e.pid, SIGTERM), 0);
	/* the idle worker may be gone already: 1 or 2 workers */
	for (uint64_t end = h_now_ms() + 5000; h_now_ms() < end; h_tick())
		if (h_cmdline(e.pid, buf, sizeof(buf)) == 0 &&
		    strstr(buf, "stopping"))
			break;
	ck_assert_msg(strcmp(buf, "echod: master (generation 2, 2 workers, "
	    "stopping)") == 0 || strcmp(buf, "echod: master (generation 2, "
	    "1 worker, stopping)") == 0, "master: %s", buf);
	int drainer = -1;
	for (uint64_t end = h_now_ms() + 5000; drainer == -1 && h_now_ms() < end;
	    h_tick())
		for (int i = 0; i < 2 && drainer == -1; i++)
			if (h_cmdline(w[i], buf, sizeof(buf)) == 0 &&
			    strstr(buf, "draining") != NULL)
				drainer = i;
	ck_assert_msg(drainer != -1, "no worker shows it drains");
	ck_assert(h_cmdline(w[drainer], buf, sizeof(buf)) == 0);
	snprintf(want, sizeof(want), "%.*s (generation 2, draining)",
	    (int)(strchr(buf, '(') - buf - 1), buf);
	ck_assert_str_eq(buf, want);
	ck_assert(ps_field(w[drainer], "args", buf, sizeof(buf)));
	ck_assert_str_eq(buf, want);
	close(held);
}
END_TEST

Suite *
counters_suite(void)
{
	Suite *s = suite_create("counters");
	TCase *tc = tcase_create("counters");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_counts_match_the_load);
	tcase_add_test(tc, test_totals_survive_kill_and_reload);
	tcase_add_test(tc, test_refusals_by_reason);
	tcase_add_test(tc, test_refusals_emfile);
	tcase_add_test(tc, test_full_is_not_a_refusal);
	tcase_add_test(tc, test_titles);
	suite_add_tcase(s, tc);
	return s;
}
