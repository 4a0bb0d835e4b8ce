/* check_expo.c - the three renderings of a snapshot: the status text,
 * JSON, and the Prometheus text format. */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expo.h"
#include "stats.h"
#include "suites.h"

static struct stats_snapshot snap;
static struct expo_buf b;

/* Two workers: one serving, one draining. */
static void
setup(void)
{
	memset(&snap, 0, sizeof(snap));
	memset(&b, 0, sizeof(b));
	strcpy(snap.version, "1.2.3");
	snap.master_pid = 100;
	snap.generation = 4;
	snap.start_ms = 1000000;
	snap.nworkers = 2;
	snap.worker[0] = (struct stats_worker){ .pid = 123, .slot = 0,
	    .generation = 4, .state = STATS_WSTATE_SERVING, .start_ms = 1001000,
	    .heartbeat_age_ms = 500, .open = 2, .accepted = 7, .bytes = 700 };
	snap.worker[1] = (struct stats_worker){ .pid = 124, .slot = 2,
	    .generation = 3, .state = STATS_WSTATE_DRAINING, .start_ms = 1000000,
	    .heartbeat_age_ms = 300, .open = 0, .accepted = 3, .bytes = 30 };
	snap.workers[STATS_WSTATE_SERVING] = 1;
	snap.workers[STATS_WSTATE_DRAINING] = 1;
	snap.totals.accepted = 10;
	snap.totals.open = 2;
	snap.totals.closed[STATS_CLOSE_EOF] = 8;
	snap.totals.bytes[STATS_PROTO_TCP] = 730;
	snap.totals.bytes[STATS_PROTO_UDP] = 5;
	snap.totals.datagrams = 1;
	snap.totals.refused[STATS_REFUSE_DENY] = 4;
	snap.reloads[STATS_RELOAD_OK] = 3;
	snap.exits[STATS_EXIT_CRASH] = 1;
}

static void
teardown(void)
{
	expo_buf_free(&b);
}

START_TEST(test_text)
{
	ck_assert_int_eq(expo_text(&snap, 1010000, &b), 0);
	ck_assert_str_eq(b.p,
	    "echod 1.2.3, pid 100, up 10s, generation 4, 2 workers\n"
	    "worker 0: pid 123, generation 4, serving, up 9s, 2 open, 7 accepted, 700 bytes, heartbeat 500ms ago\n"
	    "worker 2: pid 124, generation 3, draining, up 10s, 0 open, 3 accepted, 30 bytes, heartbeat 300ms ago\n"
	    "total: 2 open, 10 accepted, 8 closed, 735 bytes, 1 datagrams, 4 refused, 0 dropped, 3 reloads, 1 worker exits\n");
}
END_TEST

/* Valid JSON, judged by python3 (as a tool would read it), with no
 * workers and with two. */
START_TEST(test_json_valid)
{
	char path[] = "/tmp/echod-json-XXXXXX", cmd[256];

	for (int round = 0; round < 2; round++) {
		if (round == 0) {
			snap.nworkers = 0;
			snap.totals.accepted = 0;
			strcpy(snap.version, "a\"b\\c\n");
		} else {
			expo_buf_free(&b);	/* setup() forgets it */
			setup();
		}
		expo_buf_free(&b);
		ck_assert_int_eq(expo_json(&snap, 1010000, &b), 0);
		int fd = mkstemp(path);
		ck_assert_int_ge(fd, 0);
		FILE *f = fdopen(fd, "w");
		fwrite(b.p, 1, b.len, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; "
		    "d=json.load(open(\"%s\")); assert len(d[\"workers\"]) == %d "
		    "and d[\"accepted\"] == %d'", path, round ? 2 : 0, round ? 10 : 0);
		int rc = system(cmd);
		unlink(path);
		strcpy(path, "/tmp/echod-json-XXXXXX");
		ck_assert_msg(rc == 0, "not valid: %s", b.p);
	}
}
END_TEST

/* Every family has its HELP and TYPE before its samples, every label
 * value of the tables is there, and the version is escaped. */
START_TEST(test_prom)
{
	static const char *const families[] = {
		"echod_connections_accepted_total counter",
		"echod_connections_open gauge",
		"echod_connections_closed_total counter",
		"echod_bytes_echoed_total counter",
		"echod_datagrams_echoed_total counter",
		"echod_refused_total counter",
		"echod_datagrams_dropped_total counter",
		"echod_workers gauge",
		"echod_worker_exits_total counter",
		"echod_reloads_total counter",
		"echod_build_info gauge",
	};
	char want[128];

	snap.reloads[STATS_RELOAD_FAILED] = 2;
	strcpy(snap.version, "1.0\"x\\");
	ck_assert_int_eq(expo_prom(&snap, &b), 0);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(want, sizeof(want), "# TYPE %s\n", families[i]);
		char *t = strstr(b.p, want);
		ck_assert_msg(t != NULL, "no %s", want);
		snprintf(want, sizeof(want), "# HELP %.*s ",
		    (int)(strchr(families[i], ' ') - families[i]), families[i]);
		char *h = strstr(b.p, want);
		ck_assert_msg(h != NULL && h < t, "no HELP before %s", families[i]);
	}
	ck_assert(strstr(b.p, "\necho_" ) == NULL);
	ck_assert(strstr(b.p, "\nechod_connections_accepted_total 10\n"));
	ck_assert(strstr(b.p, "\nechod_reloads_total{result=\"failed\"} 2\n"));
	ck_assert(strstr(b.p, "\nechod_workers{state=\"draining\"} 1\n"));
	for (int i = 0; i < STATS_REFUSE_COUNT; i++) {
		snprintf(want, sizeof(want), "echod_refused_total{reason=\"%s\"} ",
		    stats_refuse_name((enum stats_refuse)i));
		ck_assert_msg(strstr(b.p, want), "no %s", want);
	}
	ck_assert(strstr(b.p, "\nechod_build_info{version=\"1.0\\\"x\\\\\"} 1\n"));
	ck_assert(b.p[b.len - 1] == '\n');
}
END_TEST

Suite *
expo_suite(void)
{
	Suite *s = suite_create("expo");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_json_valid);
	tcase_add_test(tc, test_prom);
	suite_add_tcase(s, tc);
	return s;
}
