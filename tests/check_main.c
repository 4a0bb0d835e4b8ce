/*
 * check_main.c - one runner for a set of suites, reporting in TAP so that
 * automake's harness counts every case.  Built twice: with SUITES_UNIT for
 * the module suites, with SUITES_INTEGRATION for those that run echod.
 * CK_RUN_SUITE / CK_RUN_CASE narrow a run, as with any Check runner.
 */
#include "config.h"

#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#ifdef SUITES_UNIT
	srunner_add_suite(sr, acl_suite());
	srunner_add_suite(sr, addr_suite());
	srunner_add_suite(sr, conf_suite());
	srunner_add_suite(sr, conn_suite());
	srunner_add_suite(sr, fault_suite());
	srunner_add_suite(sr, health_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, pidfile_suite());
	srunner_add_suite(sr, pool_suite());
	srunner_add_suite(sr, source_suite());
	srunner_add_suite(sr, udp_suite());
#endif
#ifdef SUITES_INTEGRATION
	srunner_add_suite(sr, echo_suite());
	srunner_add_suite(sr, lifecycle_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, pressure_suite());
	srunner_add_suite(sr, systemd_suite());
	srunner_add_suite(sr, guard_suite());
	srunner_add_suite(sr, listen_suite());
#endif
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
