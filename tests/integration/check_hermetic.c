/*
 * check_hermetic.c - no test reads the system's echod.conf.  A test that
 * forgets -c would run echod on whatever SYSCONFDIR/echod.conf says (an
 * installed package's /etc/echod.conf on a build machine).  echod-sysconf
 * is echod built with SYSCONFDIR in the build tree, where these tests put
 * a file echod refuses: the harness must still start it.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "stresslib.h"
#include "suites.h"

#define POISON	"poisoned_by_a_system_echod_conf = 1\n"

static struct echod e;
static char bin[512], dflt[512];	/* echod-sysconf and its default file */

/* Runs bin with one argument; its exit status, stdout+stderr in out. */
static int
run(const char *arg, char *out, size_t len)
{
	char cmd[1200];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", bin, arg);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

static void
setup(void)
{
	const char *top = getenv("top_builddir");
	char help[2048], *p, *q, dir[512];
	FILE *f;

	h_init(&e);
	snprintf(bin, sizeof(bin), "%s/tests/integration/echod-sysconf",
	    top ? top : "..");
	ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
	/* its default, as --help says it: "(default PATH)" */
	run("--help", help, sizeof(help));
	ck_assert_ptr_nonnull(p = strstr(help, "(default "));
	p += strlen("(default ");
	ck_assert_ptr_nonnull(q = strchr(p, ')'));
	snprintf(dflt, sizeof(dflt), "%.*s", (int)(q - p), p);
	ck_assert_msg(strstr(dflt, "/tests/integration/") != NULL,
	    "echod-sysconf's default %s is not in the build tree", dflt);
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(dflt, '/') - dflt), dflt);
	ck_assert(mkdir(dir, 0755) == 0 || access(dir, W_OK) == 0);
	ck_assert_ptr_nonnull(f = fopen(dflt, "w"));
	fputs(POISON, f);
	fclose(f);
}

static void
teardown(void)
{
	h_cleanup(&e);
	unlink(dflt);
	if (strrchr(dflt, '/'))
		*strrchr(dflt, '/') = '\0', rmdir(dflt);
}

/* The control: without -c, this echod does read its default and refuses
 * it, so the next test would notice a harness that passes no -c. */
START_TEST(test_default_file_is_read)
{
	char out[2048];
	int st = run("-t", out, sizeof(out));

	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 78);
	ck_assert_msg(strstr(out, dflt) != NULL, "%s", out);
	ck_assert_msg(strstr(out, "poisoned_by_a_system_echod_conf") != NULL,
	    "%s", out);
}
END_TEST

/* The harness gives -c when the caller does not: echod starts and never
 * names its default file. */
START_TEST(test_harness_never_reads_default)
{
	const char *const argv[] = { "-f", "-w", "1", "-l", "127.0.0.1:0", NULL };

	e.wrapper = bin;
	ck_assert_msg(h_start(&e, argv, 10000) == 0, "did not start: %s",
	    sl_log_tail(&e));
	ck_assert(h_log_lacks(&e, dflt));
	ck_assert(h_log_lacks(&e, "built-in configuration"));
	/* and a reload reads the same empty file, not the default */
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded", 10000));
	ck_assert(h_log_lacks(&e, dflt));
}
END_TEST

/* A caller's own -c is left alone: no second -c. */
START_TEST(test_callers_config_kept)
{
	const char *const mine[] = { "-t", "-c", e.confpath, NULL };
	const char *const none[] = { "-t", NULL };
	const char *out[16];

	ck_assert_uint_eq(h_argv(&e, "echod", mine, out, 16), 4);
	ck_assert_str_eq(out[3], e.confpath);
	ck_assert_ptr_null(out[4]);
	ck_assert_uint_eq(h_argv(&e, "echod", none, out, 16), 4);
	ck_assert_str_eq(out[2], "-c");
	ck_assert_str_eq(out[3], e.emptyconf);
}
END_TEST

/*
 * h_start_conf(), the one way the suites start echod on a file: a key the
 * extra lines set is not written again (echod would warn "set twice"), the
 * others are, and the arguments follow -c.
 */
START_TEST(test_conf_keys_set_once)
{
	const char *const args[] = { "-p", e.pidfile, NULL };

	ck_assert_msg(h_start_conf(&e, &(struct h_conf){ .workers = 1, .udp = "",
	    .extra = "workers = 2\n  listen_udp = {\"127.0.0.1:0\"}\n",
	    .args = args }) == 0, "did not start: %s", sl_log_tail(&e));
	ck_assert_msg(h_log_lacks(&e, "set twice"), "%s", sl_log_tail(&e));
	ck_assert(h_wait_workers(&e, 2, 5000));
	ck_assert_int_gt(e.udp4, 0);
	ck_assert_int_gt(e.tcp4, 0);	/* listen_tcp: the default line */
	ck_assert_int_eq(access(e.pidfile, F_OK), 0);
}
END_TEST

Suite *
hermetic_suite(void)
{
	Suite *s = suite_create("hermetic");
	TCase *tc = tcase_create("hermetic");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_default_file_is_read);
	tcase_add_test(tc, test_harness_never_reads_default);
	tcase_add_test(tc, test_callers_config_kept);
	tcase_add_test(tc, test_conf_keys_set_once);
	suite_add_tcase(s, tc);
	return s;
}
