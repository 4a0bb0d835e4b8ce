/*
 * check_main.c - one runner for a set of suites, reporting in TAP so that
 * automake's harness counts every case.  Built twice: with SUITES_UNIT for
 * the module suites, with SUITES_INTEGRATION for those that run echod.
 * CK_RUN_SUITE / CK_RUN_CASE narrow a run, as with any Check runner.
 *
 * Check has no "skipped": a test that cannot run calls skip_test(), which
 * records "file <TAB> test <TAB> why" in a scratch file and returns (the
 * test passes as far as Check knows).  Check writes its TAP to a second
 * scratch file; the runner copies that to stdout, turning the "ok" line of
 * every recorded test into "ok N - ... # SKIP why".  Both files work in
 * fork mode (the test's process inherits the descriptor; one write() per
 * record, O_APPEND) and with CK_FORK=no.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "suites.h"

static int skip_fd = -1;

void
skip_record(const char *file, const char *func, const char *fmt, ...)
{
	char line[512], why[256];
	size_t flen = strlen(func);
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* START_TEST(name) defines name_fn */
	if (flen > 3 && strcmp(func + flen - 3, "_fn") == 0)
		flen -= 3;
	for (char *p = why; *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '#')
			*p = ' ';
	n = snprintf(line, sizeof(line), "%s\t%.*s\t%s\n", file, (int)flen,
	    func, why);
	if (skip_fd == -1 || n < 0 || (size_t)n >= sizeof(line) ||
	    write(skip_fd, line, (size_t)n) != n)
		ck_abort_msg("cannot record the skip of %.*s (%s)", (int)flen,
		    func, why);
}

static int saved_stderr = -1;

int
log_to_pipe(void)
{
	int p[2];

	unsetenv("JOURNAL_STREAM");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ne(dup2(p[1], STDERR_FILENO), -1);
	close(p[1]);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	log_init(LOG_TO_STDERR, "echod");
	return p[0];
}

void
log_unpipe(int rd)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(rd);
	/* the log's own file on the pipe goes too (log_init opened it) */
	log_init(LOG_TO_STDERR, "echod");
}

bool
test_forked(void)
{
	const char *f = getenv("CK_FORK");

	return f == NULL || strcmp(f, "no") != 0;
}

bool
timing_judged(void)
{
	const char *off = getenv("ECHOD_NO_TIMING");

	if (getenv("ECHOD_CI") != NULL)
		return true;
	return off == NULL || strcmp(off, "1") != 0;
}

/* A scratch file, already unlinked: only the descriptor is needed. */
static int
scratch(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/echod-check.XXXXXX", tmp ? tmp : "/tmp");
	if ((fd = mkostemp(path, O_APPEND | O_CLOEXEC)) == -1) {
		perror(path);
		exit(99);	/* a hard error to automake */
	}
	unlink(path);
	return fd;
}

static char *
slurp(int fd)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	if (buf == NULL || lseek(fd, 0, SEEK_SET) == -1)
		exit(99);
	while ((r = read(fd, buf + n, cap - n - 1)) > 0)
		if ((n += (size_t)r) == cap - 1 && (buf = realloc(buf, cap *= 2)) == NULL)
			exit(99);
	buf[n] = '\0';
	return buf;
}

/* The reason recorded for an "ok" line's test, or NULL.  Check writes
 * "ok N - FILE:TCASE:TEST: MESSAGE", FILE being the test's __FILE__. */
static const char *
skipped(char *skips, const char *tap, size_t *whylen)
{
	if (strncmp(tap, "ok ", 3) != 0)
		return NULL;
	for (char *rec = skips; *rec; rec = strchr(rec, '\n') + 1) {
		char file[256], test[128];
		const char *t1 = strchr(rec, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		const char *end = strchr(rec, '\n');

		if (t2 == NULL || end == NULL)
			break;
		snprintf(file, sizeof(file), " - %.*s:", (int)(t1 - rec), rec);
		snprintf(test, sizeof(test), ":%.*s: ", (int)(t2 - t1 - 1), t1 + 1);
		if (strstr(tap, file) != NULL && strstr(tap, test) != NULL) {
			*whylen = (size_t)(end - t2 - 1);
			return t2 + 1;
		}
	}
	return NULL;
}

static void
print_tap(int tapfd, int skipfd)
{
	char *tap = slurp(tapfd), *skips = slurp(skipfd), *next;

	for (char *line = tap; *line; line = next) {
		const char *why;
		char *msg;
		size_t wlen;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if ((why = skipped(skips, line, &wlen)) == NULL) {
			printf("%s\n", line);
			continue;
		}
		/* "ok N - FILE:TCASE:TEST: Passed" -> "ok N - FILE:TCASE:TEST # SKIP why" */
		if ((msg = strstr(line, ": Passed")) != NULL)
			*msg = '\0';
		printf("%s # SKIP %.*s\n", line, (int)wlen, why);
	}
	fflush(stdout);
	free(tap);
	free(skips);
}

int
main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed, tapfd = scratch();
	char tappath[64];

	skip_fd = scratch();
#ifdef SUITES_UNIT
	srunner_add_suite(sr, acl_suite());
	srunner_add_suite(sr, addr_suite());
	srunner_add_suite(sr, admit_suite());
	srunner_add_suite(sr, balance_suite());
	srunner_add_suite(sr, conf_suite());
	srunner_add_suite(sr, confsrc_suite());
	srunner_add_suite(sr, confparse_suite());
	srunner_add_suite(sr, conftext_suite());
	srunner_add_suite(sr, conn_suite());
	srunner_add_suite(sr, conn_end_suite());
	srunner_add_suite(sr, turn_suite());
	srunner_add_suite(sr, connlog_suite());
	srunner_add_suite(sr, control_suite());
	srunner_add_suite(sr, detach_suite());
	srunner_add_suite(sr, render_suite());
	srunner_add_suite(sr, fault_suite());
	srunner_add_suite(sr, gate_suite());
	srunner_add_suite(sr, handoff_wire_suite());
	srunner_add_suite(sr, handoff_worker_suite());
	srunner_add_suite(sr, handoff_master_suite());
	srunner_add_suite(sr, health_suite());
	srunner_add_suite(sr, journal_suite());
	srunner_add_suite(sr, proxy_suite());
	srunner_add_suite(sr, proxy_conn_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, metrics_sup_suite());
	srunner_add_suite(sr, observe_suite());
	srunner_add_suite(sr, fdstore_suite());
	srunner_add_suite(sr, listen_suite());
	srunner_add_suite(sr, shard_suite());
	srunner_add_suite(sr, pidfile_suite());
	srunner_add_suite(sr, pool_suite());
	srunner_add_suite(sr, master_slots_suite());
	srunner_add_suite(sr, pump_suite());
	srunner_add_suite(sr, reqsrv_suite());
	srunner_add_suite(sr, privdrop_suite());
	srunner_add_suite(sr, resolve_suite());
	srunner_add_suite(sr, source_suite());
	srunner_add_suite(sr, source_tcp_suite());
	srunner_add_suite(sr, source_udp_suite());
	srunner_add_suite(sr, logbudget_suite());
	srunner_add_suite(sr, stats_suite());
	srunner_add_suite(sr, strbuf_suite());
	srunner_add_suite(sr, title_suite());
	srunner_add_suite(sr, udp_suite());
	srunner_add_suite(sr, logq_suite());
	srunner_add_suite(sr, udp_batch_suite());
	srunner_add_suite(sr, pktinfo_suite());
#endif
#ifdef SUITES_INTEGRATION
	srunner_add_suite(sr, echo_suite());
	srunner_add_suite(sr, bulk_suite());
	srunner_add_suite(sr, lifecycle_suite());
	srunner_add_suite(sr, startfail_suite());
	srunner_add_suite(sr, sentsignals_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, confreload_suite());
	srunner_add_suite(sr, daemon_suite());
	srunner_add_suite(sr, pressure_suite());
	srunner_add_suite(sr, systemd_suite());
	srunner_add_suite(sr, guard_suite());
	srunner_add_suite(sr, udpguard_suite());
	srunner_add_suite(sr, udpshard_suite());
	srunner_add_suite(sr, listeners_suite());
	srunner_add_suite(sr, hermetic_suite());
	srunner_add_suite(sr, status_live_suite());
	srunner_add_suite(sr, metrics_live_suite());
	srunner_add_suite(sr, untrusted_suite());
	srunner_add_suite(sr, reqcost_suite());
	srunner_add_suite(sr, metricsproc_suite());
	srunner_add_suite(sr, rootpath_suite());
	srunner_add_suite(sr, counters_suite());
	srunner_add_suite(sr, balancer_suite());
	srunner_add_suite(sr, udpcount_suite());
	srunner_add_suite(sr, udpsrc_suite());
	srunner_add_suite(sr, logflood_suite());
	srunner_add_suite(sr, handoff_live_suite());
	srunner_add_suite(sr, handoff_store_suite());
	srunner_add_suite(sr, handoff_timing_suite());
	srunner_add_suite(sr, reload_suite());
	srunner_add_suite(sr, ctlrecord_suite());
#endif
	/* Check opens the path itself; the descriptor keeps it reachable. */
	snprintf(tappath, sizeof(tappath), "/proc/self/fd/%d", tapfd);
	srunner_set_tap(sr, tappath);
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	print_tap(tapfd, skip_fd);
	if (!timing_judged())
		printf("# ECHOD_NO_TIMING=1: wall-clock upper bounds not judged\n");
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
