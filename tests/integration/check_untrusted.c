/*
 * check_untrusted.c - what the real echod shows after a worker scribbled
 * on the shared stats page: `echod --status`, its --json and GET /metrics
 * stay printable ASCII and valid (python3, promtool), the version reading
 * "invalid".  The test writes the page as a worker could: through the
 * worker's own writable mapping, in /proc/PID/mem (the page's memfd is
 * sealed: no new mapping of it can be writable).  That needs the right
 * to trace the worker: the test skips without it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "harness.h"
#include "suites.h"

static struct echod e;
static int metrics_port;

static void setup(void) { h_init(&e); }
static void teardown(void) { h_cleanup(&e); }

static void
start(void)
{
	char ctl[160];

	snprintf(ctl, sizeof(ctl), "%s/control", e.dir);
	ck_assert_msg(h_start_conf(&e, &(struct h_conf){ .workers = 2,
	    .udp = "\"127.0.0.1:0\"", .control = ctl,
	    /* as root, metrics_listen needs a user (echod.conf(5)) */
	    .user = geteuid() == 0 ? "nobody" : NULL,
	    .extra = "metrics_listen = {\"127.0.0.1:0\"}\n" }) == 0,
	    "echod did not start");
	metrics_port = (int)h_log_last(&e, "metrics on 127.0.0.1:");
	ck_assert_int_gt(metrics_port, 0);
}

/* Where pid maps the stats page: its shared mapping of the page's size
 * (rounded up to whole pages).  0 if it has none. */
static unsigned long
page_addr(pid_t pid)
{
	size_t want = (sizeof(struct chan_page) + (size_t)getpagesize() - 1) &
	    ~((size_t)getpagesize() - 1);
	char path[64], line[512], perms[8];
	unsigned long lo, hi, addr = 0;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (addr == 0 && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    hi - lo == want && strcmp(perms, "rw-s") == 0)
			addr = lo;
	fclose(f);
	return addr;
}

/* Runs sh -c cmd; its output (at most len - 1 bytes) in out; the status. */
static int
shell(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "re");
	size_t n = 0, r;

	ck_assert_ptr_nonnull(p);
	while (n + 1 < len && (r = fread(out + n, 1, len - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	return pclose(p);
}

/* GET /metrics, the whole answer to EOF or 5 s. */
static void
scrape(char *out, size_t len)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = h_connect(AF_INET, metrics_port, 2000);
	uint64_t end = h_now_ms() + 5000;
	size_t n = 0;
	ssize_t r = 1;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (r > 0 && n + 1 < len && h_now_ms() < end &&
	    poll(&p, 1, (int)(end - h_now_ms())) == 1)
		if ((r = read(fd, out + n, len - 1 - n)) > 0)
			n += (size_t)r;
	out[n] = '\0';
	close(fd);
}

static bool
plain(const char *p)
{
	for (; *p; p++)
		if (*p != '\n' && *p != '\r' && (*p < 0x20 || *p > 0x7e))
			return false;
	return true;
}

/* Checks each output with the version field as v (len bytes, NUL or not),
 * written at the page's address addr in the worker whose memory is mem. */
static void
scribble_and_check(int mem, unsigned long addr, const char *v, size_t len)
{
	char out[65536], cmd[512], ver[STATS_VERSION_LEN] = { 0 };

	memcpy(ver, v, len);
	ck_assert_int_eq(pwrite(mem, ver, sizeof(ver), (off_t)(addr +
	    offsetof(struct chan_page, master.version))), (ssize_t)sizeof(ver));
	snprintf(cmd, sizeof(cmd), "%s --status -c %s", h_echod_path(), e.confpath);
	ck_assert_int_eq(shell(cmd, out, sizeof(out)), 0);
	ck_assert_msg(plain(out) && strncmp(out, "echod invalid, pid ", 19) == 0,
	    "--status: %s", out);
	snprintf(cmd, sizeof(cmd), "%s --status --json -c %s | python3 -c "
	    "'import json, sys; d = json.load(sys.stdin); "
	    "assert d[\"version\"] == \"invalid\", d'; echo $?",
	    h_echod_path(), e.confpath);
	ck_assert_int_eq(shell(cmd, out, sizeof(out)), 0);
	ck_assert_msg(strcmp(out, "0\n") == 0, "--json: %s", out);
	scrape(out, sizeof(out));
	ck_assert_msg(plain(out) && strstr(out,
	    "\nechod_build_info{version=\"invalid\"} 1\n"), "metrics: %s", out);
	char path[128];
	snprintf(path, sizeof(path), "%s/metrics.txt", e.dir);
	FILE *f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	fputs(strstr(out, "\r\n\r\n") + 4, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	ck_assert_msg(shell(cmd, out, sizeof(out)) == 0, "promtool: %s", out);
}

START_TEST(test_scribbled_version)
{
	static const char full[STATS_VERSION_LEN] = "0.1\x1b[2J\x1b]0;x\x07\xff"
	    "\xc2\x9b\"} 1\necho 1\\AAAA";
	static const char *const bad[] = {
		"0.1\x1b[2J", "0.1\xff\xfe", "0.1\"} 1\nechod_up 1",
	};
	pid_t w[4];

	if (system("command -v promtool >/dev/null") != 0) {
		if (getenv("ECHOD_CI"))
			ck_abort_msg("promtool is not installed (Debian: prometheus)");
		skip_test("promtool is not installed (Debian: prometheus)");
	}
	start();
	/* the master's children: the workers, and the metrics process,
	 * whose view of the page is read-only */
	int n = h_workers(e.pid, w, 4), k = 0;
	unsigned long addr = 0;
	while (k < n && (addr = page_addr(w[k])) == 0)
		k++;
	ck_assert_msg(addr != 0, "no writable stats page in %d children", n);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/mem", (long)w[k]);
	int mem = open(path, O_RDWR | O_CLOEXEC);
	if (mem == -1 && (errno == EPERM || errno == EACCES))
		skip_test("cannot write a worker's memory: not allowed to trace it");
	ck_assert_msg(mem != -1, "%s: %s", path, strerror(errno));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		scribble_and_check(mem, addr, bad[i], strlen(bad[i]));
	scribble_and_check(mem, addr, full, sizeof(full));
	close(mem);
}
END_TEST

Suite *
untrusted_suite(void)
{
	Suite *s = suite_create("untrusted");
	TCase *tc = tcase_create("page");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scribbled_version);
	suite_add_tcase(s, tc);
	return s;
}
