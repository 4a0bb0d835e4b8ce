/* check_expo.c - the three renderings of a snapshot: the status text,
 * JSON, and the Prometheus text format; and what a hostile worker can put
 * in them through the page (a version of any bytes, any worker count). */
#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render.h"
#include "stats.h"
#include "suites.h"
#include "util.h"

static struct stats_snapshot snap;
static struct render_buf b;

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
	snap.totals.full = 6;
	snap.reloads[STATS_RELOAD_OK] = 3;
	snap.exits[STATS_EXIT_CRASH] = 1;
}

static void
teardown(void)
{
	render_buf_free(&b);
}

START_TEST(test_text)
{
	ck_assert_int_eq(render_text(&snap, NULL, 1010000, &b), 0);
	ck_assert_str_eq(b.p,
	    "echod 1.2.3, pid 100, up 10s, generation 4, 2 workers\n"
	    "worker 0: pid 123, generation 4, serving, up 9s, 2 open, 7 accepted, 700 bytes, heartbeat 500ms ago\n"
	    "worker 2: pid 124, generation 3, draining, up 10s, 0 open, 3 accepted, 30 bytes, heartbeat 300ms ago\n"
	    "total: 2 open, 10 accepted, 8 closed, 735 bytes, 1 datagram, 4 refused, 0 dropped, 6 times full, 3 reloads, 1 worker exit, 0 log lines held back\n"
	    "refused (connections closed at the door): 4 deny\n");
}
END_TEST

/* The total says how many; the next lines say why, by reason, as the
 * metrics' labels name them, and only those that happened. */
START_TEST(test_text_why)
{
	snap.totals.dropped[STATS_DROP_RATE_LIMIT] = 3;
	snap.totals.dropped[STATS_DROP_DENY] = 1;
	snap.totals.refused[STATS_REFUSE_DENY] = 0;
	snap.totals.refused[STATS_REFUSE_SOURCE_LIMIT] = 1;
	snap.nworkers = 1;
	ck_assert_int_eq(render_text(&snap, NULL, 1010000, &b), 0);
	ck_assert_msg(strstr(b.p, ", 1 worker\n") && strstr(b.p,
	    ", 1 refused, 4 dropped, 6 times full, 3 reloads, 1 worker exit, 0 log lines held back\n"
	    "refused (connections closed at the door): 1 source_limit\n"
	    "dropped (datagrams not echoed): 3 rate_limit, 1 deny\n"), "%s", b.p);
}
END_TEST

/* The stored configuration serving: the text says which file was refused
 * and why, the JSON too, the metrics the page's flag. */
START_TEST(test_fallback)
{
	const struct render_fallback fb = { "/etc/echod.conf",
	    "/etc/echod.conf:3: workers: must be 1..1024 or auto, got \"lots\"" };
	char path[] = "/tmp/echod-json-XXXXXX", cmd[400];

	ck_assert_int_eq(render_text(&snap, &fb, 1010000, &b), 0);
	ck_assert_msg(strstr(b.p, "2 workers\nconfig: fallback (/etc/echod.conf "
	    "refused: /etc/echod.conf:3: workers: must be 1..1024 or auto, got "
	    "\"lots\"); the last good configuration serves\nworker 0:"), "%s", b.p);
	render_buf_free(&b);
	ck_assert_int_eq(render_json(&snap, &fb, 1010000, &b), 0);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, b.p, b.len), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json; d=json.load(open("
	    "\"%s\"))[\"config\"]; assert d[\"fallback\"] is True and "
	    "d[\"file\"] == \"/etc/echod.conf\" and d[\"reason\"].endswith("
	    "\"got \\\"lots\\\"\"), d'", path);
	int rc = system(cmd);
	unlink(path);
	ck_assert_msg(rc == 0, "json: %s", b.p);
	render_buf_free(&b);
	ck_assert_int_eq(render_json(&snap, NULL, 1010000, &b), 0);
	ck_assert_msg(strstr(b.p, "\n  \"config\": {\"fallback\": false},\n"),
	    "%s", b.p);
	render_buf_free(&b);
	ck_assert_int_eq(render_prom(&snap, &b), 0);
	ck_assert_msg(strstr(b.p, "# TYPE echod_config_fallback gauge\n"
	    "echod_config_fallback 0\n"), "%s", b.p);
	render_buf_free(&b);
	snap.fallback = true;
	ck_assert_int_eq(render_prom(&snap, &b), 0);
	ck_assert_msg(strstr(b.p, "\necho"
	    "d_config_fallback 1\n"), "%s", b.p);
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
			snap.totals.full = 0;
			strcpy(snap.version, "a\"b\\c\n");
		} else {
			render_buf_free(&b);	/* setup() forgets it */
			setup();
		}
		render_buf_free(&b);
		ck_assert_int_eq(render_json(&snap, NULL, 1010000, &b), 0);
		int fd = mkstemp(path);
		ck_assert_int_ge(fd, 0);
		FILE *f = fdopen(fd, "w");
		fwrite(b.p, 1, b.len, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; "
		    "d=json.load(open(\"%s\")); assert len(d[\"workers\"]) == %d "
		    "and d[\"accepted\"] == %d and d[\"full\"] == %d'", path,
		    round ? 2 : 0, round ? 10 : 0, round ? 6 : 0);
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
		"echod_worker_full_total counter",
		"echod_workers gauge",
		"echod_worker_exits_total counter",
		"echod_reloads_total counter",
		"echod_config_fallback gauge",
		"echod_build_info gauge",
	};
	char want[128];

	snap.reloads[STATS_RELOAD_FAILED] = 2;
	strcpy(snap.version, "1.0\"x\\");
	ck_assert_int_eq(render_prom(&snap, &b), 0);
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
	ck_assert(strstr(b.p, "\nechod_worker_full_total 6\n"));
	ck_assert(strstr(b.p, "\nechod_reloads_total{result=\"failed\"} 2\n"));
	ck_assert(strstr(b.p, "\nechod_workers{state=\"draining\"} 1\n"));
	for (int i = 0; i < STATS_REFUSE_COUNT; i++) {
		snprintf(want, sizeof(want), "echod_refused_total{reason=\"%s\"} ",
		    stats_refuse_name((enum stats_refuse)i));
		ck_assert_msg(strstr(b.p, want), "no %s", want);
	}
	/* the visible form 1.0"x\\, quoted */
	ck_assert(strstr(b.p, "\nechod_build_info{version=\"1.0\\\"x\\\\\\\\\"} 1\n"));
	ck_assert(b.p[b.len - 1] == '\n');
}
END_TEST

/* ---- untrusted strings ------------------------------------------------- */

/* Bytes a worker can write where the master put the version, and their
 * visible form (echod(8), "MONITORING"). */
static const struct {
	const char	*v, *vis;
} hostile[] = {
	{ "1.0\x1b[2J\x1b]0;owned\x07", "1.0\\x1b[2J\\x1b]0;owned\\x07" },
	{ "\xff\xfe\xc3(", "\\xff\\xfe\\xc3(" },		/* invalid UTF-8 */
	{ "\xc2\x9b" "31m", "\\xc2\\x9b31m" },		/* C1 CSI, valid UTF-8 */
	{ "\xe2\x80\xae" "ab", "\\xe2\\x80\\xaeab" },	/* right-to-left override */
	{ "a\"b\\c\nd\re\x7f", "a\"b\\\\c\\x0ad\\x0de\\x7f" },
	{ "1.0\"} 9\nechod_up 1", "1.0\"} 9\\x0aechod_up 1" },
};

/* Printable ASCII and newlines only: no terminal escape, valid UTF-8. */
static bool
plain(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != '\n' && (p[i] < 0x20 || p[i] > 0x7e))
			return false;
	return true;
}

static size_t
lines(const char *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += p[i] == '\n';
	return n;
}

/* s with backslash and double quote escaped, as JSON and Prometheus
 * quote a string of printable ASCII. */
static const char *
quoted(const char *s)
{
	static char out[256];
	size_t n = 0;

	for (; *s && n + 2 < sizeof(out); s++) {
		if (*s == '\\' || *s == '"')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
	return out;
}

/*
 * A strict reader of a Prometheus label value (text format 0.0.4): from
 * after the opening quote to the closing one, with only \\, \" and \n as
 * escapes and no raw newline.  The value it stands for, or NULL.
 */
static const char *
prom_value(const char *p)
{
	static char out[256];
	size_t n = 0;

	for (; *p != '"'; p++) {
		if (*p == '\0' || *p == '\n' || n + 1 >= sizeof(out))
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p != '\\' && *p != '"' && *p != 'n')
				return NULL;
			out[n++] = *p == 'n' ? '\n' : *p;
		} else
			out[n++] = *p;
	}
	if (strcmp(p, "\"} 1\n") != 0)
		return NULL;
	out[n] = '\0';
	return out;
}

/* Runs sh -c cmd on the text in a scratch file named by the %s in cmd. */
static int
judge(const char *cmd, const char *text, size_t len)
{
	char path[] = "/tmp/echod-expo-XXXXXX", line[512];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, text, len), 0);
	close(fd);
	snprintf(line, sizeof(line), cmd, path);
	int rc = system(line);
	unlink(path);
	return rc;
}

/* Each format shows the version in its visible form, in nothing but
 * printable ASCII, and stays valid: python3 reads the JSON strictly as
 * UTF-8, a strict parser reads the label, promtool the exposition. */
START_TEST(test_hostile_version)
{
	const char *vis = hostile[_i].vis;
	/* the refused file's name and the reason quote the file: any bytes */
	const struct render_fallback fb = { hostile[_i].v, hostile[_i].v };
	char want[512];

	memset(snap.version, 0, sizeof(snap.version));
	memcpy(snap.version, hostile[_i].v, strlen(hostile[_i].v));

	ck_assert_int_eq(render_text(&snap, &fb, 1010000, &b), 0);
	ck_assert_msg(plain(b.p, b.len), "text: %s", b.p);
	/* head, config, workers, total and the refused reasons */
	ck_assert_uint_eq(lines(b.p, b.len), 4 + (size_t)snap.nworkers);
	snprintf(want, sizeof(want), "echod %s, pid 100, up 10s,", vis);
	ck_assert_msg(strncmp(b.p, want, strlen(want)) == 0, "text: %s", b.p);
	snprintf(want, sizeof(want), "\nconfig: fallback (%s refused: %s); ",
	    vis, vis);
	ck_assert_msg(strstr(b.p, want), "text: %s", b.p);

	render_buf_free(&b);
	ck_assert_int_eq(render_json(&snap, &fb, 1010000, &b), 0);
	ck_assert_msg(plain(b.p, b.len), "json: %s", b.p);
	snprintf(want, sizeof(want), "\n  \"version\": \"%s\",\n", quoted(vis));
	ck_assert_msg(strstr(b.p, want), "json: %s", b.p);
	snprintf(want, sizeof(want), "\"reason\": \"%s\"}", quoted(vis));
	ck_assert_msg(strstr(b.p, want), "json: %s", b.p);
	ck_assert_msg(judge("python3 -c 'import json; json.load(open(\"%s\", "
	    "encoding=\"utf-8\", errors=\"strict\"))'", b.p, b.len) == 0,
	    "json: %s", b.p);

	render_buf_free(&b);
	ck_assert_int_eq(render_prom(&snap, &b), 0);
	ck_assert_msg(plain(b.p, b.len), "prom: %s", b.p);
	const char *info = strstr(b.p, "\nechod_build_info{version=\"");
	ck_assert_msg(info, "prom: %s", b.p);
	const char *v = prom_value(info + strlen("\nechod_build_info{version=\""));
	ck_assert_msg(v != NULL && strcmp(v, vis) == 0, "prom: %s", info);
	ck_assert_uint_eq(lines(info + 1, strlen(info + 1)), 1);
	if (system("command -v promtool >/dev/null") != 0) {
		if (getenv("ECHOD_CI"))
			ck_abort_msg("promtool is not installed (Debian: prometheus)");
		skip_test("promtool is not installed (Debian: prometheus)");
	}
	ck_assert_msg(judge("promtool check metrics < %s", b.p, b.len) == 0,
	    "promtool rejects: %s", b.p);
}
END_TEST

/* A version that fills its field with no NUL ends there. */
START_TEST(test_version_without_nul)
{
	char want[128];

	memset(snap.version, 'A', sizeof(snap.version));
	snprintf(want, sizeof(want), "echod %.*s, pid 100, up 10s,",
	    (int)sizeof(snap.version), snap.version);
	ck_assert_int_eq(render_text(&snap, NULL, 1010000, &b), 0);
	ck_assert_msg(strncmp(b.p, want, strlen(want)) == 0, "text: %s", b.p);
	render_buf_free(&b);
	snprintf(want, sizeof(want), "\"version\": \"%.*s\",",
	    (int)sizeof(snap.version), snap.version);
	ck_assert_int_eq(render_json(&snap, NULL, 1010000, &b), 0);
	ck_assert_msg(strstr(b.p, want), "json: %s", b.p);
	render_buf_free(&b);
	snprintf(want, sizeof(want), "{version=\"%.*s\"} 1\n",
	    (int)sizeof(snap.version), snap.version);
	ck_assert_int_eq(render_prom(&snap, &b), 0);
	ck_assert_msg(strstr(b.p, want), "prom: %s", b.p);
}
END_TEST

/* A worker count outside [0, STATS_MAX_WORKERS] is no loop bound. */
START_TEST(test_worker_count_bounded)
{
	static const int counts[] = { STATS_MAX_WORKERS + 1000, -5 };
	char cmd[256];

	for (size_t i = 0; i < nitems(counts); i++) {
		size_t n = counts[i] < 0 ? 0 : STATS_MAX_WORKERS;

		snap.nworkers = counts[i];
		render_buf_free(&b);
		ck_assert_int_eq(render_text(&snap, NULL, 1010000, &b), 0);
		ck_assert_uint_eq(lines(b.p, b.len), 3 + n);	/* + refused */
		render_buf_free(&b);
		ck_assert_int_eq(render_json(&snap, NULL, 1010000, &b), 0);
		snprintf(cmd, sizeof(cmd), "python3 -c 'import json; assert "
		    "len(json.load(open(\"%%s\"))[\"workers\"]) == %zu'", n);
		ck_assert_msg(judge(cmd, b.p, b.len) == 0, "json: %.300s", b.p);
	}
}
END_TEST

Suite *
render_suite(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_json_valid);
	tcase_add_test(tc, test_prom);
	tcase_add_test(tc, test_text_why);
	tcase_add_test(tc, test_fallback);
	suite_add_tcase(s, tc);
	tc = tcase_create("untrusted");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_hostile_version, 0, (int)nitems(hostile));
	tcase_add_test(tc, test_version_without_nul);
	tcase_add_test(tc, test_worker_count_bounded);
	suite_add_tcase(s, tc);
	return s;
}
