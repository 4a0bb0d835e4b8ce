/* suites.h - every Check suite, exported as <module>_suite(), and the
 * runner's skip_test(). */
#ifndef ECHOD_TESTS_SUITES_H
#define ECHOD_TESTS_SUITES_H

#include <check.h>
#include <stdbool.h>

/*
 * Ends the running test as a TAP SKIP (printf-style reason): for a test
 * that cannot run here (no root, no IPv6), which must not count as a pass.
 * Returns from the test function, so call it from the test's own body.
 */
#define skip_test(...) do {					\
	skip_record(__FILE__, __func__, __VA_ARGS__);		\
	return;							\
} while (0)
void	skip_record(const char *file, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Whether each test runs in its own process (not CK_FORK=no, as under
 * valgrind): a test that changes process state (credentials, threads,
 * stderr) skips without it. */
bool	test_forked(void);
/*
 * Whether wall-clock upper bounds are judged ("a stop within 2 s", "no
 * watchdog gap over 800 ms").  Not with ECHOD_NO_TIMING=1, which the
 * package build sets: a build daemon is loaded, and load stretches any
 * bound.  Always under ECHOD_CI, which must run them.  Lower bounds ("not
 * before the timeout") and bounded waits for a condition stay judged.
 */
bool	timing_judged(void);
/* For a test whose point is a bound: a TAP SKIP when they are not judged. */
#define skip_unless_timing() do {					\
	if (!timing_judged())						\
		skip_test("wall-clock bounds off (ECHOD_NO_TIMING=1)");	\
} while (0)
/* For a bound inside a test that checks more: only that bound is let go. */
#define timing_assert(cond, ...) do {				\
	if (timing_judged())						\
		ck_assert_msg(cond, __VA_ARGS__);			\
} while (0)
/*
 * stderr becomes a pipe, blocking as a shell's pipe is, and the log (log.h)
 * writes to it: returns the pipe's non-blocking read end.  log_unpipe()
 * gives stderr and the log back, which with CK_FORK=no the next suite needs.
 */
int	log_to_pipe(void);
void	log_unpipe(int rd);

/* check_unit: one suite per module */
Suite	*acl_suite(void);
Suite	*addr_suite(void);
Suite	*admit_suite(void);
Suite	*balance_suite(void);
Suite	*conf_suite(void);
Suite	*confparse_suite(void);
Suite	*conftext_suite(void);
Suite	*confsrc_suite(void);
Suite	*conn_suite(void);
Suite	*conn_end_suite(void);
Suite	*turn_suite(void);
Suite	*connlog_suite(void);
Suite	*control_suite(void);
Suite	*detach_suite(void);
Suite	*udp_batch_suite(void);
Suite	*render_suite(void);
Suite	*fault_suite(void);
Suite	*gate_suite(void);
Suite	*handoff_wire_suite(void);
Suite	*handoff_worker_suite(void);
Suite	*health_suite(void);
Suite	*journal_suite(void);
Suite	*log_suite(void);
Suite	*logq_suite(void);
Suite	*metrics_suite(void);
Suite	*metrics_sup_suite(void);
Suite	*fdstore_suite(void);
Suite	*pidfile_suite(void);
Suite	*pktinfo_suite(void);
Suite	*pool_suite(void);
Suite	*master_slots_suite(void);
Suite	*handoff_master_suite(void);
Suite	*pump_suite(void);
Suite	*reqsrv_suite(void);
Suite	*privdrop_suite(void);
Suite	*proxy_suite(void);
Suite	*proxy_conn_suite(void);
Suite	*resolve_suite(void);
Suite	*source_suite(void);
Suite	*source_tcp_suite(void);
Suite	*source_udp_suite(void);
Suite	*logbudget_suite(void);
Suite	*strbuf_suite(void);
Suite	*title_suite(void);
Suite	*udp_suite(void);

/* The unit suites carry the module's name; an integration suite is named
 * for what it tests through the real binary, so that CK_RUN_SUITE picks
 * one suite in one runner. */
Suite	*listen_suite(void);		/* unit: listen_reconcile() */
Suite	*shard_suite(void);		/* unit: the workers' UDP sockets */
Suite	*stats_suite(void);		/* unit: the counters' page */
Suite	*observe_suite(void);		/* unit: observe.c */

/* check_integration: the real echod */
Suite	*listeners_suite(void);
Suite	*counters_suite(void);
Suite	*handoff_live_suite(void);
Suite	*handoff_store_suite(void);
/* tests/integration/check_handoff_timing.c: reload bursts, PROXY, idle */
Suite	*handoff_timing_suite(void);
Suite	*echo_suite(void);
Suite	*bulk_suite(void);
Suite	*lifecycle_suite(void);
Suite	*startfail_suite(void);
Suite	*sentsignals_suite(void);
Suite	*config_suite(void);
Suite	*confreload_suite(void);
Suite	*daemon_suite(void);
Suite	*pressure_suite(void);
Suite	*systemd_suite(void);
Suite	*guard_suite(void);
Suite	*udpguard_suite(void);
Suite	*udpshard_suite(void);
Suite	*hermetic_suite(void);
Suite	*balancer_suite(void);
Suite	*status_live_suite(void);
Suite	*metrics_live_suite(void);
Suite	*reqcost_suite(void);
Suite	*metricsproc_suite(void);
Suite	*rootpath_suite(void);
Suite	*udpcount_suite(void);
Suite	*udpsrc_suite(void);
Suite	*logflood_suite(void);
Suite	*untrusted_suite(void);
Suite	*reload_suite(void);
Suite	*ctlrecord_suite(void);

#endif
