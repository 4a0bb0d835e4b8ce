/* check_confparse.c - the rules for one value (confparse.c), at their
 * edges: numbers, sizes, durations, the worker count, the log level, listen
 * specs and the PID file's path. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <syslog.h>

#include "confparse.h"
#include "suites.h"
#include "util.h"

START_TEST(test_number)
{
	static const struct { const char *s; int ok; uint64_t v; } cases[] = {
		{ "0", 1, 0 }, { "65535", 1, 65535 },
		{ "18446744073709551615", 1, UINT64_MAX },
		{ "", 0, 0 }, { "1k", 0, 0 }, { "-1", 0, 0 }, { "+1", 0, 0 },
		{ " 1", 0, 0 }, { "1 ", 0, 0 }, { "0x10", 0, 0 },
		/* past 64 bits: UINT64_MAX, out of every range ("must be
		 * 1..65535"), rather than "not a number" */
		{ "18446744073709551616", 1, UINT64_MAX },
	};
	for (size_t i = 0; i < nitems(cases); i++) {
		uint64_t v = 12345;
		const char *err;
		int rc = conf_parse_number(cases[i].s, &v, &err);
		ck_assert_msg((rc == 0) == cases[i].ok, "\"%s\"", cases[i].s);
		if (cases[i].ok)
			ck_assert_uint_eq(v, cases[i].v);
		else
			ck_assert_str_eq(err, "not a number");
	}
}
END_TEST

START_TEST(test_size)
{
	static const struct { const char *s; int ok; uint64_t v; } cases[] = {
		{ "0", 1, 0 }, { "1024", 1, 1024 }, { "1k", 1, 1024 },
		{ "16k", 1, 16384 }, { "16K", 1, 16384 }, { "1m", 1, 1048576 },
		{ "1M", 1, 1048576 }, { "2g", 1, 2147483648ULL },
		{ "", 0, 0 }, { "k", 0, 0 }, { "16kb", 0, 0 }, { "-1", 0, 0 },
		{ "1.5k", 0, 0 }, { " 16k", 0, 0 }, { "16 k", 0, 0 },
		{ "99999999999999999999", 0, 0 }, { "18446744073709551615k", 0, 0 },
	};
	for (size_t i = 0; i < nitems(cases); i++) {
		uint64_t v = 12345;
		const char *err;
		int rc = conf_parse_size(cases[i].s, &v, &err);
		ck_assert_msg((rc == 0) == cases[i].ok, "\"%s\"", cases[i].s);
		if (cases[i].ok)
			ck_assert_uint_eq(v, cases[i].v);
		else
			ck_assert_ptr_nonnull(err);
	}
}
END_TEST

START_TEST(test_duration)
{
	static const struct { const char *s; int ok; uint64_t ms; } cases[] = {
		{ "0", 1, 0 }, { "10", 1, 10000 }, { "10s", 1, 10000 },
		{ "250ms", 1, 250 }, { "5m", 1, 300000 }, { "1h", 1, 3600000 },
		{ "1d", 1, 86400000 }, { "s", 0, 0 }, { "10x", 0, 0 },
		{ "1.5s", 0, 0 }, { "10 s", 0, 0 }, { "", 0, 0 }, { "-5s", 0, 0 },
		{ "99999999999999999d", 0, 0 },
	};
	for (size_t i = 0; i < nitems(cases); i++) {
		uint64_t v = 0;
		const char *err;
		int rc = conf_parse_duration(cases[i].s, &v, &err);
		ck_assert_msg((rc == 0) == cases[i].ok, "\"%s\"", cases[i].s);
		if (cases[i].ok)
			ck_assert_uint_eq(v, cases[i].ms);
	}
}
END_TEST

START_TEST(test_workers)
{
	static const struct { const char *s; int ok, v; } cases[] = {
		{ "auto", 1, 0 }, { "1", 1, 1 }, { "1024", 1, 1024 },
		{ "0", 0, 0 }, { "1025", 0, 0 }, { "-1", 0, 0 }, { "two", 0, 0 },
		{ "", 0, 0 }, { "4k", 0, 0 }, { "Auto", 0, 0 },
	};
	for (size_t i = 0; i < nitems(cases); i++) {
		int v = -1;
		const char *err;
		int rc = conf_parse_workers(cases[i].s, &v, &err);
		ck_assert_msg((rc == 0) == cases[i].ok, "\"%s\"", cases[i].s);
		if (cases[i].ok)
			ck_assert_int_eq(v, cases[i].v);
		else
			ck_assert_str_eq(err, "must be 1..1024 or auto");
	}
}
END_TEST

START_TEST(test_log_level)
{
	const char *err;
	int v;

	ck_assert_int_eq(conf_parse_log_level("err", &v, &err), 0);
	ck_assert_int_eq(v, LOG_ERR);
	ck_assert_int_eq(conf_parse_log_level("debug", &v, &err), 0);
	ck_assert_int_eq(v, LOG_DEBUG);
	ck_assert_int_eq(conf_parse_log_level("verbose", &v, &err), -1);
	ck_assert_int_eq(conf_parse_log_level("INFO", &v, &err), -1);
}
END_TEST

/* What getaddrinfo() would read otherwise, or refuse only at start. */
START_TEST(test_listen_syntax)
{
	static const struct { const char *spec, *why; } bad[] = {
		{ "127.0.0.1:-1", "port must be a number 0..65535 or a service name" },
		{ "127.0.0.1:+7", "port must be a number 0..65535 or a service name" },
		{ "127.0.0.1:7 ", "port must be a number 0..65535 or a service name" },
		{ "[::1]:7x", "port must be a number 0..65535 or a service name" },
		{ "/run/echod.sock", "port must be a number 0..65535 or a service name" },
		{ "*", "port must be a number 0..65535 or a service name" },
		{ " 127.0.0.1:7", "not a host name or an IPv4 address" },
		{ "a b:7", "not a host name or an IPv4 address" },
		{ "-h:7", "not a host name or an IPv4 address" },
		{ "h\xc3\xa9:7", "not a host name or an IPv4 address" },
		{ "[127.0.0.1]:7", "brackets must hold an IPv6 address" },
		{ "[[::1]:7", "brackets must hold an IPv6 address" },
		{ "[localhost]:7", "brackets must hold an IPv6 address" },
		{ "[fe80::1%]:7", "brackets must hold an IPv6 address" },
		{ "127.0.0.1:65536", "port must be 0..65535" },
		{ "::1", "IPv6 addresses must be written in brackets, as [::1]:7" },
		{ "[::ffff:127.0.0.1]:7", "an IPv4-mapped IPv6 address cannot be "
		    "bound (IPv6 sockets are IPv6-only): write the IPv4 address" },
	};
	static const char *const good[] = {
		"127.0.0.1:0", "127.0.0.1:65535", "[::1]:7", "[::127.0.0.1]:7",
		"[fe80::1%lo]:7", "[FE80::1%1]:7", "127.1:7", "localhost:echo", "my-host.example_1:http-alt",
		"*:7", "7", "echo",
	};
	const char *why;

	for (size_t i = 0; i < nitems(bad); i++) {
		ck_assert_msg(conf_check_listen(bad[i].spec, &why) == -1, "%s",
		    bad[i].spec);
		ck_assert_str_eq(why, bad[i].why);
	}
	for (size_t i = 0; i < nitems(good); i++)
		ck_assert_msg(conf_check_listen(good[i], &why) == 0, "%s: %s",
		    good[i], why);
}
END_TEST

START_TEST(test_pidfile)
{
	char path[CONF_MAX_PATH + 2];
	const char *why;

	ck_assert_int_eq(conf_check_pidfile("/run/echod.pid", &why), 0);
	ck_assert_int_eq(conf_check_pidfile("echod.pid", &why), -1);
	ck_assert_str_eq(why, "must be an absolute path");
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[CONF_MAX_PATH] = '\0';
	ck_assert_int_eq(conf_check_pidfile(path, &why), 0);
	path[CONF_MAX_PATH] = 'a';
	path[CONF_MAX_PATH + 1] = '\0';
	ck_assert_int_eq(conf_check_pidfile(path, &why), -1);
	ck_assert_str_eq(why, "too long (at most 4088 bytes)");
}
END_TEST

Suite *
confparse_suite(void)
{
	Suite *s = suite_create("confparse");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_number);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_workers);
	tcase_add_test(tc, test_log_level);
	tcase_add_test(tc, test_listen_syntax);
	tcase_add_test(tc, test_pidfile);
	suite_add_tcase(s, tc);
	return s;
}
