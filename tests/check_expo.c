/* check_expo.c - the three renderings of a snapshot: the status text,
 * JSON, and the Prometheus text format; the page read as a worker wrote it. */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "expo.h"
#include "suites.h"

static struct expo_snap snap;
static struct expo_buf b;

static void
setup(void)
{
	ck_assert_int_eq(expo_snap_init(&snap), 0);
	memset(&b, 0, sizeof(b));
}

static void
teardown(void)
{
	expo_snap_free(&snap);
	expo_buf_free(&b);
}

/* Two workers as a page shows them: one serving, one draining; a slot
 * never used between them stays out. */
static struct chan_page *
two_workers(void)
{
	static struct chan_page pg;

	memset(&pg, 0, sizeof(pg));
	atomic_store(&pg.hw, 3);
	atomic_store(&pg.stats[0].heartbeat_ms, 1000);
	atomic_store(&pg.stats[0].ready, 1);
	atomic_store(&pg.stats[0].serving, 1);
	atomic_store(&pg.stats[0].accepted, 7);
	atomic_store(&pg.stats[0].connections, 2);
	atomic_store(&pg.stats[0].bytes, 700);
	atomic_store(&pg.stats[2].heartbeat_ms, 1200);
	atomic_store(&pg.stats[2].ready, 1);
	atomic_store(&pg.stats[2].accepted, 3);
	atomic_store(&pg.stats[2].bytes, 30);
	return &pg;
}

START_TEST(test_page_summed)
{
	expo_fill_page(&snap, two_workers(), 1500);
	ck_assert_uint_eq(snap.n, 2);
	ck_assert_int_eq(snap.w[0].slot, 0);
	ck_assert_int_eq(snap.w[1].slot, 2);
	ck_assert_uint_eq(snap.w[0].heartbeat_age_ms, 500);
	ck_assert_uint_eq(snap.accepted, 10);
	ck_assert_uint_eq(snap.open, 2);
	ck_assert_uint_eq(snap.bytes[EXPO_PROTO_TCP], 730);
	ck_assert_uint_eq(snap.workers[EXPO_WSTATE_SERVING], 1);
	ck_assert_uint_eq(snap.workers[EXPO_WSTATE_DRAINING], 1);
}
END_TEST

/* A page whose hw was written past the table is read within it. */
START_TEST(test_page_bound)
{
	struct chan_page *pg = two_workers();

	atomic_store(&pg->hw, 0xffffffff);
	expo_fill_page(&snap, pg, 1500);
	ck_assert_uint_eq(snap.n, 2);
}
END_TEST

START_TEST(test_text)
{
	expo_fill_page(&snap, two_workers(), 1500);
	snap.generation = 4;
	snap.w[0].pid = 123;
	snap.w[0].generation = 4;
	ck_assert_int_eq(expo_text(&snap, &b), 0);
	ck_assert_str_eq(b.p,
	    "generation 4, 2 workers\n"
	    "worker 0: pid 123, generation 4, serving, 2 open, 7 accepted, 700 bytes, heartbeat 500ms ago\n"
	    "worker 2: pid 0, generation 0, draining, 0 open, 3 accepted, 30 bytes, heartbeat 300ms ago\n"
	    "total: 2 open, 10 accepted, 0 closed, 730 bytes, 0 datagrams, 0 refused, 0 dropped\n");
}
END_TEST

/* Valid JSON, judged by python3 (as a tool would read it), with no
 * workers and with two. */
START_TEST(test_json_valid)
{
	char path[] = "/tmp/echod-json-XXXXXX", cmd[256];

	for (int round = 0; round < 2; round++) {
		if (round == 1)
			expo_fill_page(&snap, two_workers(), 1500);
		expo_buf_free(&b);
		ck_assert_int_eq(expo_json(&snap, &b), 0);
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

	expo_fill_page(&snap, two_workers(), 1500);
	snap.reloads[EXPO_RELOAD_FAILED] = 2;
	ck_assert_int_eq(expo_prom(&snap, "1.0\"x\\", &b), 0);
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
	for (int i = 0; i < EXPO_NREFUSE; i++) {
		snprintf(want, sizeof(want), "echod_refused_total{reason=\"%s\"} ",
		    expo_refuse_names[i]);
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
	tcase_add_test(tc, test_page_summed);
	tcase_add_test(tc, test_page_bound);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_json_valid);
	tcase_add_test(tc, test_prom);
	suite_add_tcase(s, tc);
	return s;
}
