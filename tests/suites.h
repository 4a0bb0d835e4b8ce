/* suites.h - every Check suite, exported as <module>_suite(). */
#ifndef ECHOD_TESTS_SUITES_H
#define ECHOD_TESTS_SUITES_H

#include <check.h>

Suite	*acl_suite(void);
Suite	*addr_suite(void);
Suite	*conf_suite(void);
Suite	*conn_suite(void);
Suite	*fault_suite(void);
Suite	*health_suite(void);
Suite	*log_suite(void);
Suite	*pidfile_suite(void);
Suite	*pool_suite(void);
Suite	*source_suite(void);
Suite	*udp_suite(void);

Suite	*echo_suite(void);
Suite	*lifecycle_suite(void);
Suite	*config_suite(void);
Suite	*pressure_suite(void);
Suite	*systemd_suite(void);
Suite	*guard_suite(void);
Suite	*listen_suite(void);

#endif
