/*
 * check_metrics.c - the metrics process's HTTP side: where a request head
 * ends, and which requests get the metrics (GET /metrics, a query string
 * allowed, HTTP/1.x) and which 404.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "render.h"
#include "metrics.h"
#include "stats.h"
#include "suites.h"

START_TEST(test_complete)
{
	ck_assert_uint_eq(metrics_http_complete("GET /metrics HTTP/1.1\r\n", 23), 0);
	ck_assert_uint_eq(metrics_http_complete("GET / HTTP/1.1\r\n\r\n", 18), 18);
	ck_assert_uint_eq(metrics_http_complete("GET / HTTP/1.0\n\nxyz", 19), 16);
	ck_assert_uint_eq(metrics_http_complete("\r\n\r", 3), 0);
	ck_assert_uint_eq(metrics_http_complete("", 0), 0);
}
END_TEST

static const char *
reply(const char *req)
{
	static struct chan_page page;		/* all zero: no worker yet */
	static struct stats_snapshot snap;
	static struct render_buf out;

	render_buf_free(&out);
	metrics_http_reply(&page, &snap, req, &out);
	ck_assert(!out.oom);
	return out.p;
}

START_TEST(test_routes)
{
	static const char *const not_found[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"GET /metricsx HTTP/1.1\r\n\r\n",
		"GET /metrics/ HTTP/1.1\r\n\r\n",
		"POST /metrics HTTP/1.1\r\n\r\n",
		"HEAD /metrics HTTP/1.1\r\n\r\n",
		"get /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics\r\n\r\n",
		"GET /metrics FTP/1.0\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++)
		ck_assert_msg(strncmp(reply(not_found[i]), "HTTP/1.1 404 Not Found\r\n",
		    24) == 0, "%zu: %s", i, not_found[i]);
	const char *r = reply("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(strncmp(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\nContent-Length: ", 80) == 0, "%s", r);
	const char *body = strstr(r, "\r\n\r\n") + 4;
	ck_assert_uint_eq(strtoul(strstr(r, "Content-Length: ") + 16, NULL, 10),
	    strlen(body));
	ck_assert(strstr(body, "\nechod_connections_accepted_total 0\n"));
	ck_assert(strncmp(reply("GET /metrics?name[]=x HTTP/1.0\n\n"),
	    "HTTP/1.1 200 OK\r\n", 17) == 0);
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("http");

	tcase_add_test(tc, test_complete);
	tcase_add_test(tc, test_routes);
	suite_add_tcase(s, tc);
	return s;
}
